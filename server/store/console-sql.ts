import { SERIES_METRICS, type CampaignActivityBucket, type SeriesMetric } from '../domain/campaign-series.ts';
import type { GatewayStatusReport } from '../domain/gateway-report.ts';
import type { LocalBucket } from '../domain/local-buckets.ts';
import { num, type Row } from './rows.ts';
import type { ZoneEventCount, ZoneOccupancy } from './store.ts';

// The statements behind the console's live view and campaign chart, shared by both SQL adapters and
// written with `?` placeholders (PostgreSQL numbers them: analytics-sql.ts numbered()). They count; the
// routes decide what may be shown (k-anonymity, sensitive zones: AN-1, AN-3).

/**
 * Present shoppers per current zone (the zone arbiter's state, a JSON column: each dialect names its own
 * JSON read of current.zoneId). A state whose claims have all gone stale has no current zone once the
 * arbiter's sweep has run; `last_seen_ms >= ?` also leaves out one the sweep has not reached yet.
 * Only shoppers with presence consent (P1) who are neither restricted (DSR-4) nor erased count.
 * Parameters: storeId, seenSinceMs.
 */
export const zoneOccupancySql = (currentZone: string): string => `SELECT ${currentZone} AS zone_id, COUNT(*) AS shoppers
  FROM zone_states z
  JOIN shoppers s ON s.id = z.shopper_id
  JOIN consent_state c ON c.shopper_id = z.shopper_id AND c.purpose = 'presence'
  WHERE z.store_id = ? AND z.last_seen_ms >= ? AND ${currentZone} IS NOT NULL
    AND c.granted = 1 AND s.restricted = 0 AND s.erased_at_ms IS NULL
  GROUP BY ${currentZone}`;

export const toZoneOccupancy = (row: Row): ZoneOccupancy => ({ zoneId: String(row.zone_id), shoppers: num(row.shoppers) });

/**
 * Sequence claims (one per gateway event accepted, Store.acceptSequence) of the store's gateways timed in
 * [fromMs, toMs), per the gateway's zone: storage, not an instance's memory, so every instance sees all of
 * them. Parameters: storeId, fromMs, toMs.
 */
export const ZONE_EVENT_COUNTS = `SELECT g.zone_id, COUNT(*) AS events
  FROM event_sequences e JOIN gateways g ON g.id = e.gateway_id
  WHERE g.store_id = ? AND e.at_ms >= ? AND e.at_ms < ?
  GROUP BY g.zone_id`;

export const toZoneEventCount = (row: Row): ZoneEventCount => ({ zoneId: String(row.zone_id), events: num(row.events) });

const MINUTE_MS = 60_000;

/** When each metric happened. */
const METRIC_COLUMNS: Record<SeriesMetric, string> = { deliveries: 'delivered_at_ms', opens: 'opened_at_ms', redemptions: 'redeemed_at_ms' };

/**
 * One metric's events of a campaign in [fromMs, toMs), P3 exposures only (as the campaign report counts
 * them), per shopper and minute: the rows foldCampaignActivity turns into per-bucket tallies. Every local
 * bucket starts and ends on a whole minute (zone offsets and their transitions do), so a minute lies in one
 * bucket. Parameters: campaignId, fromMs, toMs.
 */
export const campaignActivitySql = (metric: SeriesMetric): string => {
  const column = METRIC_COLUMNS[metric];
  return `SELECT shopper_id, ${column} / ${MINUTE_MS} AS slot, COUNT(*) AS events FROM promotions
    WHERE campaign_id = ? AND analytics = 1 AND ${column} >= ? AND ${column} < ?
    GROUP BY shopper_id, ${column} / ${MINUTE_MS}`;
};

/** Checks the buckets of Store.campaignActivity: contiguous, in order, on whole minutes. Throws a RangeError naming the bucket at fault. */
export function checkActivityBuckets(buckets: readonly LocalBucket[]): void {
  buckets.forEach((bucket, i) => {
    const where = `campaignActivity: buckets[${i}]`;
    if (!(Number.isSafeInteger(bucket.startMs) && Number.isSafeInteger(bucket.endMs) && bucket.endMs > bucket.startMs)) throw new RangeError(`${where} must be integer instants with endMs after startMs`);
    if (bucket.startMs % MINUTE_MS !== 0 || bucket.endMs % MINUTE_MS !== 0) throw new RangeError(`${where} must start and end on whole minutes`);
    if (i > 0 && buckets[i - 1]!.endMs !== bucket.startMs) throw new RangeError(`${where} must start where buckets[${i - 1}] ends`);
  });
}

/** The per-metric rows (shopper, minute, events) as per-bucket tallies: events summed, shoppers counted once per bucket. */
export function foldCampaignActivity(buckets: readonly LocalBucket[], rows: Record<SeriesMetric, readonly Row[]>): CampaignActivityBucket[] {
  const out: CampaignActivityBucket[] = buckets.map((b) => ({
    startMs: b.startMs, endMs: b.endMs, deliveries: { events: 0, shoppers: 0 }, opens: { events: 0, shoppers: 0 }, redemptions: { events: 0, shoppers: 0 },
  }));
  /** The bucket holding the instant (binary search over contiguous buckets), or -1. */
  const indexOf = (atMs: number): number => {
    let low = 0;
    let high = buckets.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const bucket = buckets[middle]!;
      if (atMs < bucket.startMs) high = middle - 1;
      else if (atMs >= bucket.endMs) low = middle + 1;
      else return middle;
    }
    return -1;
  };
  for (const metric of SERIES_METRICS) {
    const seen = buckets.map(() => new Set<string>());
    for (const row of rows[metric]) {
      const i = indexOf(num(row.slot) * MINUTE_MS);
      if (i < 0) continue;
      out[i]![metric].events += num(row.events);
      seen[i]!.add(String(row.shopper_id));
    }
    seen.forEach((shoppers, i) => {
      out[i]![metric].shoppers = shoppers.size;
    });
  }
  return out;
}

/**
 * A gateway's status with something to report (its version, its counters): seen, online or not, and each
 * part given replaces the last (a part not given, NULL here, keeps it). Parameters: atMs, online, version,
 * counts JSON, atMs, id. A status with neither updates only last_seen_at_ms and online.
 */
export const MARK_GATEWAY_REPORTED = `UPDATE gateways SET last_seen_at_ms = ?, online = ?, version = COALESCE(?, version), status_counts = COALESCE(?, status_counts), reported_at_ms = ?
  WHERE id = ?`;

/** The report's columns: undefined when the status carries neither part (nothing to report). */
export function gatewayReportColumns(report: GatewayStatusReport | undefined): { version: string | null; counts: string | null } | undefined {
  const version = report?.version ?? null;
  const counts = report?.counts === undefined ? null : JSON.stringify(report.counts);
  return version === null && counts === null ? undefined : { version, counts };
}
