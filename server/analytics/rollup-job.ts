import type { Logger } from 'pino';
import { BUCKET_NAMES, BUCKETS, K_ANONYMITY_FLOOR, type BucketName } from '../domain/analytics.ts';
import type { Metrics } from '../metrics.ts';
import type { Store, ZoneRollupResult } from '../store/store.ts';
import { singleFlight } from '../single-flight.ts';

// The zone analytics rollup (issue 6 item 5; docs/analytics.md). Raw presence events live 24 h at most
// (RET-2); before they go, each closed bucket (15 min, 1 h and — with the full 24 h window — 1 day) is
// reduced to anonymous counts: distinct analytics-consenting shoppers per zone, and per dwell bin, cells
// below the k floor never written (Store.rollupZoneAnalytics).
//
// Exactly once across instances: buckets are deterministic (aligned on each store's local wall clock,
// domain/local-buckets.ts, and closed once their end is graceMs past), and each size's watermark is read
// under a lock, the buckets ending after it counted, the cells inserted with ON CONFLICT DO NOTHING and the
// watermark advanced in one transaction — a second instance finds the work done.
//
// Ordering with the purge: the purge job runs this first, in the same run (purge-job.ts beforePurge), and
// it runs on its own timer every few minutes, so a 15-minute or hourly bucket is rolled up within minutes
// of closing, hours before its events reach 24 h. Retention comes first: if a rollup fails, the purge still
// deletes what is past its window (privacy over completeness) and the failure is an alert
// (vicino_analytics_rollup_failures_total). A daily bucket closes when its first events are already 24 h
// old: those the purge took before the day closed (the first graceMs + one rollup interval after the store's
// local midnight, when stores are normally shut) are not in its count.

/** A bucket closes this long after its end: events arriving later than that are not counted in it. */
export const DEFAULT_ROLLUP_GRACE_MS = 5 * 60_000;
/** How often the server runs the rollup on its own (besides before every purge). */
export const ROLLUP_INTERVAL_MS = 5 * 60_000;

export type ZoneRollupJobDeps = {
  store: Pick<Store, 'rollupZoneAnalytics'>;
  now: () => number;
  /** The presence events' retention window: a bucket size longer than it cannot be counted and is not rolled up. */
  presenceEventsMs: number;
  graceMs?: number;
  metrics: Pick<Metrics, 'analyticsRollupCells' | 'analyticsRollupFailures'>;
  logger: Logger;
};

export type ZoneRollupJob = {
  /** One pass over every bucket size; a run asked for while one is going returns that one. Throws if a size failed (after trying all). */
  run(): Promise<ZoneRollupResult[]>;
  /** The bucket sizes rolled up under this retention window. */
  readonly buckets: readonly BucketName[];
};

export function createZoneRollupJob(deps: ZoneRollupJobDeps): ZoneRollupJob {
  const { store, now, metrics, logger } = deps;
  const graceMs = deps.graceMs ?? DEFAULT_ROLLUP_GRACE_MS;
  const buckets = BUCKET_NAMES.filter((name) => BUCKETS[name] <= deps.presenceEventsMs);

  async function rollupAll(): Promise<ZoneRollupResult[]> {
    const atMs = now();
    const results: ZoneRollupResult[] = [];
    let failure: Error | undefined;
    for (const name of buckets) {
      const bucketMs = BUCKETS[name];
      try {
        // Every bucket that ended graceMs ago or earlier is closed, in whatever time zone its store keeps.
        const result = await store.rollupZoneAnalytics(bucketMs, atMs - graceMs, K_ANONYMITY_FLOOR);
        metrics.analyticsRollupCells.inc({ bucket: name, kind: 'footfall' }, result.footfallCells);
        metrics.analyticsRollupCells.inc({ bucket: name, kind: 'dwell' }, result.dwellCells);
        results.push(result);
        logger.debug({ bucket: name, fromMs: result.fromMs, rolledUntilMs: result.rolledUntilMs, footfallCells: result.footfallCells, dwellCells: result.dwellCells }, 'analytics rollup done');
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        metrics.analyticsRollupFailures.inc();
        logger.error({ bucket: name, err: failure.message, alert: 'analytics-rollup' }, 'analytics rollup failed; the next run retries');
      }
    }
    if (failure !== undefined) throw failure;
    return results;
  }

  return { run: singleFlight(rollupAll), buckets };
}
