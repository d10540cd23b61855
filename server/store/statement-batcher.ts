// Set-based batching for PostgreSQL's small hot-path writes — a promotion marked delivered, an app's ack —
// which were each a statement and a commit (with its WAL flush) of their own: the calls made during one turn
// of the event loop go out as ONE statement over arrays. Each call settles with its own result once that
// statement has committed; if it fails, every call of the batch rejects with its error.

import { createTickBatches } from './tick-batches.ts';

export type StatementBatcher<I, R> = { run(item: I): Promise<R> };

/** runBatch answers one result per item, in the items' order. */
export function createStatementBatcher<I, R>(runBatch: (items: readonly I[]) => Promise<readonly R[]>, maxBatch = 500): StatementBatcher<I, R> {
  const batches = createTickBatches<I, R>((batch) => {
    runBatch(batch.map((entry) => entry.item)).then((results) => {
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} writes answered ${results.length} results`);
      batch.forEach((entry, i) => entry.resolve(results[i]!));
    }).catch((error: unknown) => {
      for (const entry of batch) entry.reject(error);
    });
  }, maxBatch);
  return { run: (item) => batches.add(item) };
}
