import { describe, expect, it } from 'vitest';
import { createZoneRollupJob } from '#server/analytics/rollup-job.ts';
import { createMetrics, counterValue } from '#server/metrics.ts';
import { createPurgeJob } from '#server/retention/purge-job.ts';
import { retentionWindows } from '#server/domain/retention.ts';
import type { Store, ZoneRollupResult } from '#server/store/store.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';

// The rollup job and its place before the purge, over fakes of the Store port that record what they saw.

const NOW = Date.UTC(2030, 0, 15, 10, 7);

function fakeStore(fail: number[] = []): Pick<Store, 'rollupZoneAnalytics'> & { calls: [number, number, number][] } {
  const calls: [number, number, number][] = [];
  return {
    calls,
    async rollupZoneAnalytics(bucketMs, untilMs, minShoppers): Promise<ZoneRollupResult> {
      calls.push([bucketMs, untilMs, minShoppers]);
      if (fail.includes(bucketMs)) throw new Error('database unavailable');
      return { bucketMs, fromMs: untilMs - bucketMs, rolledUntilMs: untilMs, footfallCells: 2, dwellCells: 1 };
    },
  };
}

describe('zone rollup job', () => {
  it('rolls up every bucket size that fits the presence window, up to a grace period ago, at k 10', async () => {
    const store = fakeStore();
    const metrics = createMetrics();
    const job = createZoneRollupJob({ store, now: () => NOW, presenceEventsMs: 86_400_000, metrics, logger: createLogSink().logger });
    await job.run();
    // 10:07 minus 5 min grace is 10:02: every bucket ending by then, of any size and in any store's time zone,
    // is closed (the Store picks each store's local buckets: contract suite).
    expect(store.calls).toEqual([
      [900_000, Date.UTC(2030, 0, 15, 10, 2), 10],
      [3_600_000, Date.UTC(2030, 0, 15, 10, 2), 10],
      [86_400_000, Date.UTC(2030, 0, 15, 10, 2), 10],
    ]);
    expect(await counterValue(metrics.analyticsRollupCells, { bucket: '15m', kind: 'footfall' })).toBe(2);
    expect(await counterValue(metrics.analyticsRollupCells, { kind: 'dwell' })).toBe(3);
  });

  it('skips daily buckets when presence events are kept less than a day (they could not be counted)', () => {
    const job = createZoneRollupJob({ store: fakeStore(), now: () => NOW, presenceEventsMs: 12 * 3_600_000, metrics: createMetrics(), logger: createLogSink().logger });
    expect(job.buckets).toEqual(['15m', '1h']);
  });

  it('tries every size when one fails, then fails the run, counted and logged as an alert', async () => {
    const store = fakeStore([3_600_000]);
    const metrics = createMetrics();
    const sink = createLogSink();
    const job = createZoneRollupJob({ store, now: () => NOW, presenceEventsMs: 86_400_000, metrics, logger: sink.logger });
    await expect(job.run()).rejects.toThrow('database unavailable');
    expect(store.calls).toHaveLength(3);
    expect(await counterValue(metrics.analyticsRollupFailures)).toBe(1);
    expect(sink.lines().some((line) => line.alert === 'analytics-rollup' && line.bucket === '1h')).toBe(true);
  });
});

describe('the purge runs the rollup first', () => {
  it('rolls up before deleting anything, and still purges when the rollup fails (retention comes first)', async () => {
    for (const rollupFails of [false, true]) {
      const order: string[] = [];
      const job = createPurgeJob({
        store: { purgeBefore: async (kind) => (order.push(`purge:${kind}`), { deleted: 0, batches: 1 }) },
        windows: retentionWindows({ eventSequencesMs: 60_000 }), now: () => NOW, logger: createLogSink().logger, metrics: createMetrics(), audit: () => undefined,
        beforePurge: async () => {
          order.push('rollup');
          if (rollupFails) throw new Error('rollup failed');
        },
      });
      const report = await job.run();
      expect(order[0]).toBe('rollup');
      expect(order).toContain('purge:presence-events');
      expect(report.failed).toEqual([]);
    }
  });
});
