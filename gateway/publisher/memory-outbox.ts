import { createOutboxQueue, type EventOutbox } from './event-outbox.ts';

// The embedded outbox: the same contract as the disk one, held in memory. For simulated gateways, the
// demo and tests; a process restart loses what it holds (disk-outbox.ts does not).

export type MemoryOutboxOptions = {
  /** Bound on the payload bytes held; past it the oldest events go, each one counted as overflow. */
  maxBytes: number;
  now: () => number;
};

export function createMemoryOutbox(options: MemoryOutboxOptions): EventOutbox {
  if (!Number.isInteger(options.maxBytes) || options.maxBytes < 1) throw new RangeError(`outbox maxBytes must be a positive integer, got ${options.maxBytes}`);
  const queue = createOutboxQueue({ now: options.now });
  let n = 0;
  return {
    async open() {},
    append(payload, expiresAtMs) {
      const bytes = Buffer.byteLength(payload);
      if (bytes > options.maxBytes) {
        queue.count('overflow');
        return;
      }
      while (queue.stats().liveBytes + bytes > options.maxBytes && queue.dropOldest('overflow'));
      n += 1;
      queue.push({ n, payload, expiresAtMs, bytes, segment: 0 });
    },
    take: (max) => queue.take(max),
    ack: (entry) => queue.ack(entry),
    release: (entry) => queue.release(entry),
    purgeExpired: () => queue.purgeExpired(),
    stats() {
      const { liveBytes, ...rest } = queue.stats();
      return { ...rest, bytes: liveBytes };
    },
    async close() {},
  };
}
