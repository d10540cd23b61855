import type pg from 'pg';
import type { Row } from './rows.ts';
import { createTickBatches, type Pending } from './tick-batches.ts';

// The runner under PostgreSQL's set-based hot path (postgres-presence-batch.ts, postgres-promotion-batch.ts): the
// calls handed in during one turn of the event loop are split into rounds in which each key (a shopper) appears
// once, in the order handed in, and each round runs as ONE transaction (`runRound`, one result per call). A call
// alone takes the single-call path unchanged. A round that fails for any reason is rolled back whole, and its calls
// then go one by one through the single-call path (at once: their keys are distinct), so only the call at fault
// fails. Every transaction is reported to `observe` (metrics.ts batchMetrics).

export type Query = (sql: string, params?: readonly unknown[], retried?: boolean) => Promise<pg.QueryResult<Row>>;

/** One transaction of a set-based batch: its kind, how many calls it took together, and whether it failed and went one by one. */
export type BatchObservation = { kind: 'presence' | 'send'; calls: number; fellBack: boolean };

/** Splits items into rounds in which each key (a shopper) appears once, keeping each key's items in the order handed in. */
export function roundsBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const rounds: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const round = seen.get(key(item)) ?? 0;
    seen.set(key(item), round + 1);
    (rounds[round] ??= []).push(item);
  }
  return rounds;
}

export type SetBatchOptions<I, R> = {
  kind: BatchObservation['kind'];
  /** The key a round holds once. */
  keyOf: (item: I) => string;
  transaction: <T>(work: (q: Query) => Promise<T>) => Promise<T>;
  /** The round's calls in one transaction; throws if any part fails. */
  runRound: (q: Query, items: readonly I[]) => Promise<R[]>;
  /** The single-call path: a call alone, and each call of a round that failed. */
  single: (item: I) => Promise<R>;
  /** Calls per turn at most; the rest go in the next. */
  maxBatch: number;
  observe?: (batch: BatchObservation) => void;
};

export function createSetBatches<I, R>(options: SetBatchOptions<I, R>): (item: I) => Promise<R> {
  const { kind, observe } = options;
  const alone = (entry: Pending<I, R>): Promise<void> => options.single(entry.item).then(entry.resolve, entry.reject);
  const run = async (round: Pending<I, R>[]): Promise<void> => {
    if (round.length === 1) {
      observe?.({ kind, calls: 1, fellBack: false });
      return alone(round[0]!);
    }
    let results: R[];
    try {
      results = await options.transaction((q) => options.runRound(q, round.map((entry) => entry.item)));
    } catch {
      observe?.({ kind, calls: round.length, fellBack: true });
      await Promise.all(round.map(alone));
      return;
    }
    observe?.({ kind, calls: round.length, fellBack: false });
    round.forEach((entry, i) => entry.resolve(results[i]!));
  };
  const batches = createTickBatches<I, R>((batch) => {
    void (async () => {
      // Round after round: a key's second call sees its first one's commit.
      for (const round of roundsBy(batch, (entry) => options.keyOf(entry.item))) await run(round);
    })();
  }, options.maxBatch);
  return (item) => batches.add(item);
}
