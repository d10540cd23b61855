// A bounded FIFO of pseudonymised events waiting for the broker. When full, the oldest entry goes
// (a stale presence event is worth less than a fresh one) and the caller counts it.

export type Outbox<T> = {
  push(item: T): T | undefined;
  unshift(item: T): void;
  shift(): T | undefined;
  readonly size: number;
};

export function createOutbox<T>(capacity: number): Outbox<T> {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`outbox capacity must be a positive integer, got ${capacity}`);
  let items: (T | undefined)[] = new Array(capacity);
  let head = 0;
  let size = 0;
  return {
    /** Appends; returns the evicted oldest item when the outbox was full. */
    push(item) {
      let evicted: T | undefined;
      if (size === capacity) {
        evicted = items[head];
        items[head] = undefined;
        head = (head + 1) % capacity;
        size -= 1;
      }
      items[(head + size) % capacity] = item;
      size += 1;
      return evicted;
    },
    /** Puts an item back at the front (a publish that failed); drops it if there is no room. */
    unshift(item) {
      if (size === capacity) return;
      head = (head - 1 + capacity) % capacity;
      items[head] = item;
      size += 1;
    },
    shift() {
      if (size === 0) return undefined;
      const item = items[head];
      items[head] = undefined;
      head = (head + 1) % capacity;
      size -= 1;
      if (size === 0) items = new Array(capacity);
      return item;
    },
    get size() {
      return size;
    },
  };
}
