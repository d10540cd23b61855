import type { Logger } from 'pino';
import { cutoffs, type RetainedKind, type RetentionWindows } from '../domain/retention.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import { singleFlight } from '../single-flight.ts';

// The retention purge (RET-2, RET-3, RET-4): each run deletes, kind by kind, what is past its window at
// the injected clock's now, and reports every purge — an empty one too, since RET-4 says every purge
// writes an entry — to the audit callback as { what, count, cutoffMs }. A purge that fails (the delete,
// or writing its audit entry) is the alert: an error log line and vicino_retention_failures_total; the
// run goes on with the other kinds, and the next run retries, since its cutoff covers everything the
// failed one missed.

/** What one purge did, as the audit log records it. No identifier: a kind, a row count and an instant. */
export type RetentionAuditEntry = { what: RetainedKind; count: number; cutoffMs: number };

/** A failed purge; count is set when the rows were deleted and only the audit entry failed. */
export type PurgeFailure = { what: RetainedKind; cutoffMs: number; stage: 'purge' | 'audit'; error: string; count?: number };

export type PurgeRunReport = { atMs: number; purged: RetentionAuditEntry[]; failed: PurgeFailure[] };

/** Rows per delete statement: small enough that one batch holds its locks for milliseconds. */
export const DEFAULT_PURGE_BATCH_LIMIT = 1_000;

export type PurgeJobDeps = {
  store: Pick<Store, 'purgeBefore'>;
  windows: RetentionWindows;
  now: () => number;
  logger: Logger;
  metrics: Pick<Metrics, 'retentionPurgedRows' | 'retentionFailures'>;
  /** Writes the purge's audit entry (ACC-1's log); a rejection counts as a failed purge. */
  audit: (entry: RetentionAuditEntry) => void | Promise<void>;
  batchLimit?: number;
  /**
   * Runs before anything is purged: the analytics rollup (server/analytics/rollup-job.ts), so raw presence
   * events are reduced to anonymous counts before they go. Its failure is its own alert; the purge goes on
   * (retention comes first).
   */
  beforePurge?: () => Promise<unknown>;
};

export type PurgeJob = {
  /** One pass over every kind; a run asked for while one is going returns that one's report. */
  run(): Promise<PurgeRunReport>;
};

export function createPurgeJob(deps: PurgeJobDeps): PurgeJob {
  const { store, windows, now, logger, metrics, audit } = deps;
  const batchLimit = deps.batchLimit ?? DEFAULT_PURGE_BATCH_LIMIT;

  async function purgeAll(): Promise<PurgeRunReport> {
    await deps.beforePurge?.().catch(() => undefined);
    const atMs = now();
    const report: PurgeRunReport = { atMs, purged: [], failed: [] };
    for (const { kind: what, cutoffMs } of cutoffs(windows, atMs)) {
      let stage: PurgeFailure['stage'] = 'purge';
      let count: number | undefined;
      try {
        const { deleted, batches } = await store.purgeBefore(what, cutoffMs, batchLimit);
        count = deleted;
        metrics.retentionPurgedRows.inc({ what }, deleted);
        const entry: RetentionAuditEntry = { what, count: deleted, cutoffMs };
        stage = 'audit';
        await audit(entry);
        report.purged.push(entry);
        logger.debug({ what, count: deleted, batches, cutoffMs }, 'retention purge done');
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        metrics.retentionFailures.inc({ what });
        report.failed.push({ what, cutoffMs, stage, error: message, ...(count === undefined ? {} : { count }) });
        // When only the audit entry failed, the rows are gone: this line is then their only record.
        logger.error({ what, cutoffMs, stage, count, err: message, alert: 'retention' }, 'retention purge failed; the next run retries');
      }
    }
    return report;
  }

  return { run: singleFlight(purgeAll) };
}
