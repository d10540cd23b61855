// The queue under group commit (group-commit.ts) and the statement batcher (statement-batcher.ts): calls
// made during one turn of the event loop are handed over together, at the next turn, at most maxBatch at a
// time (the rest at the turn after). Each call gets a promise settled by whoever runs the batch.

export type Pending<I, R> = { item: I; resolve: (value: R) => void; reject: (error: unknown) => void };

export type TickBatches<I, R> = {
  add(item: I): Promise<R>;
  /** Hands over whatever waits now, batch after batch, without waiting for the next turn. */
  drain(): void;
};

export function createTickBatches<I, R>(run: (batch: Pending<I, R>[]) => void, maxBatch: number): TickBatches<I, R> {
  let queue: Pending<I, R>[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    if (queue.length > 0) schedule();
    run(batch);
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  return {
    add(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
    drain() {
      while (queue.length > 0) flush();
    },
  };
}
