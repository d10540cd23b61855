// Lanes: work under one key runs in the order it was handed in, one at a time; work under different
// keys runs concurrently. The ingress keys presence by shopper, so the zone arbiter sees each shopper's
// events in arrival order while other shoppers' events are handled meanwhile. Nothing is queued here
// beyond what the caller hands in: the ingress hands in at most one message per MQTT connection.

export type OrderedLanes = {
  /** Runs task after every task handed in earlier under the same key has settled (fulfilled or not). */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Keys with work queued or running. */
  size(): number;
};

export function createOrderedLanes(): OrderedLanes {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run(key, task) {
      const previous = tails.get(key) ?? Promise.resolve();
      const result = previous.then(task, task);
      const tail = result.then(() => undefined, () => undefined);
      tails.set(key, tail);
      // The lane is forgotten once its last task settles, so the map holds only keys with work.
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    size: () => tails.size,
  };
}
