// Group commit for the embedded Store. A SQLite commit costs far more than the hot path's statements do
// (docs/campaigns.md, "The hot path": ~190 µs of a presence event's ~270 µs went to COMMIT), so the writes that arrive
// while the event loop is busy — one per message the ingress handles at once — are committed together:
// at the next turn of the event loop, in one BEGIN IMMEDIATE transaction, each write in a savepoint of
// its own (a better-sqlite3 transaction function called inside another one), so one that fails is rolled
// back alone and rejects alone. Each caller's promise settles after the commit, so whatever is
// acknowledged is durable; a commit that fails rejects every write of the batch, none of which then holds.

import { createTickBatches } from './tick-batches.ts';

export type GroupCommit = {
  /** Runs `write` (synchronous, atomic on its own) in the next batch; settles once that batch committed. */
  run<T>(write: () => T): Promise<T>;
  /** Commits whatever is waiting now (before the database closes). */
  flushNow(): void;
};


/** What one batch cost: its writes and the time from BEGIN to the end of COMMIT (the event loop was blocked for it). */
export type CommitObserver = (batch: { writes: number; ms: number }) => void;

/**
 * transaction: runs its callback in one transaction (BEGIN IMMEDIATE … COMMIT, or ROLLBACK and throw).
 * maxBatch bounds the writes of one transaction; the rest wait for the next.
 */
export function createGroupCommit(transaction: (work: () => void) => void, options: { maxBatch?: number; observe?: CommitObserver } = {}): GroupCommit {
  const batches = createTickBatches<() => unknown, unknown>((batch) => {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    const startedMs = performance.now();
    try {
      transaction(() => {
        outcomes.length = 0;
        for (const { item: write } of batch) {
          try {
            outcomes.push({ ok: true, value: write() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    } finally {
      options.observe?.({ writes: batch.length, ms: performance.now() - startedMs });
    }
    batch.forEach((entry, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) entry.resolve(outcome.value);
      else entry.reject(outcome.error);
    });
  }, options.maxBatch ?? 256);

  return {
    run: <T>(write: () => T): Promise<T> => batches.add(write) as Promise<T>,
    flushNow: () => batches.drain(),
  };
}
