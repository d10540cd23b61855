import { BUCKET_NAMES, BUCKETS, DWELL_BIN_EDGES_S, type CampaignGroupCounts, type ZoneCell, type ZoneDwellCell } from '../domain/analytics.ts';
import { bucketsEndingIn, type LocalBucketKind } from '../domain/local-buckets.ts';
import { HOLDOUT_VARIANT } from '../domain/campaign.ts';
import { num, numOrNull, type Row } from './rows.ts';
import type { PromotionDraft } from './store.ts';

// The analytics statements shared by both SQL adapters (issue 6; migration 18), written with `?`
// placeholders; PostgreSQL numbers them (numbered()). Portable SQL only: integer division of BIGINTs,
// CASE, COUNT(DISTINCT), LIKE … ESCAPE, INSERT … SELECT … ON CONFLICT DO NOTHING.

/** `?` placeholders as `$1`, `$2`… (the statements here hold no `?` inside a string literal). */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${(n += 1)}`);
}

/** What the recordPromotion INSERT writes beyond the original columns, from the draft and the consent read in its transaction. */
export function promotionAnalyticsValues(draft: PromotionDraft, analyticsGranted: boolean): {
  status: 'pending' | 'held-out'; variant: string | null; analytics: 0 | 1; conversionZones: string | null; conversionUntilMs: number | null;
} {
  // The caller's view of P3 counts too: it read consent with lapses applied (CON-6), which the stored state has not yet written down.
  analyticsGranted = analyticsGranted && draft.analyticsActive !== false;
  return {
    status: draft.heldOut === true ? 'held-out' : 'pending',
    variant: draft.heldOut === true ? HOLDOUT_VARIANT : (draft.variant ?? null),
    // P3 at the exposure: without it neither the exposure nor a conversion enters analytics.
    analytics: analyticsGranted ? 1 : 0,
    conversionZones: draft.attribution === undefined || !analyticsGranted ? null : `,${draft.attribution.conversionZoneIds.join(',')},`,
    conversionUntilMs: draft.attribution === undefined || !analyticsGranted ? null : draft.createdAtMs + draft.attribution.windowS * 1000,
  };
}

/** Columns and placeholders the INSERT gains (after message): status is set by it too. */
export const PROMOTION_ANALYTICS_COLUMNS = 'variant, analytics, conversion_zones, conversion_until_ms';

/**
 * The open: first time kept, and an open is an acknowledgement too (the app has it). Parameters: atMs,
 * atMs, id, shopperId. A held-out row was never sent, so it cannot be opened.
 */
export const MARK_OPENED = `UPDATE promotions SET opened_at_ms = COALESCE(opened_at_ms, ?), acked_at_ms = COALESCE(acked_at_ms, ?),
  status = CASE WHEN status = 'pending' THEN 'acked' ELSE status END
  WHERE id = ? AND shopper_id = ? AND status NOT IN ('cancelled', 'held-out')`;

/** The exposures a promotion row is: delivered (treatment) or held out (control); of the table as named, or aliased. */
export const exposedRow = (table?: string): string => {
  const column = (name: string): string => (table === undefined ? name : `${table}.${name}`);
  return `(${column('status')} = 'held-out' OR ${column('delivered_at_ms')} IS NOT NULL)`;
};
const EXPOSED = exposedRow();

/**
 * The conversion: one UPDATE, on the shopper's rows only (index promotions_conversion), of exposures with
 * P3, of a shopper not restricted (DSR-4), in this store, still open (window not past, not converted), attributing to this zone. Parameters:
 * atMs, shopperId, atMs, atMs, storeId, the zone's LIKE pattern.
 */
export const RECORD_CONVERSIONS = `UPDATE promotions SET converted_at_ms = ?
  WHERE shopper_id = ? AND conversion_until_ms >= ? AND created_at_ms <= ? AND store_id = ? AND converted_at_ms IS NULL AND analytics = 1
    AND ${EXPOSED} AND conversion_zones LIKE ? ESCAPE '\\'
    AND EXISTS (SELECT 1 FROM shoppers s WHERE s.id = promotions.shopper_id AND s.restricted = 0)`;

/** The LIKE pattern matching ",zoneId," in conversion_zones; zone IDs may hold "_", which LIKE must not read as a wildcard. */
export const conversionZonePattern = (zoneId: string): string => `%,${zoneId.replace(/[\\%_]/g, (ch) => `\\${ch}`)},%`;

/** Per experiment group: P3 exposures only. Parameter: campaignId. */
export const CAMPAIGN_GROUP_COUNTS = `SELECT variant,
    COUNT(DISTINCT shopper_id) AS shoppers,
    COUNT(*) AS exposures,
    SUM(CASE WHEN delivered_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS deliveries,
    SUM(CASE WHEN opened_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS opens,
    SUM(CASE WHEN redeemed_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS redemptions,
    SUM(CASE WHEN converted_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS conversions,
    COUNT(DISTINCT CASE WHEN converted_at_ms IS NOT NULL THEN shopper_id END) AS converted_shoppers
  FROM promotions WHERE campaign_id = ? AND analytics = 1 AND ${EXPOSED}
  GROUP BY variant`;

export function toGroupCounts(row: Row): CampaignGroupCounts {
  return {
    variant: row.variant === null ? null : String(row.variant),
    shoppers: num(row.shoppers), exposures: num(row.exposures), deliveries: num(row.deliveries), opens: num(row.opens),
    redemptions: num(row.redemptions), conversions: num(row.conversions), convertedShoppers: num(row.converted_shoppers),
  };
}

// The rollup (AN-1, AN-2, AN-3, P3). The events counted: of one store, of shoppers whose analytics consent is
// granted and who are neither restricted nor erased, in zones not marked sensitive, timed in one bucket
// [start, end) of the store's own time zone (domain/local-buckets.ts). Parameters: bucketStartMs, storeId,
// startS, endS.
const COUNTED_EVENTS = `SELECT e.store_id, e.zone_id, e.shopper_id, e.kind, e.dwell_s, CAST(? AS BIGINT) AS bucket_start_ms
  FROM presence_events e
  JOIN zones z ON z.store_id = e.store_id AND z.id = e.zone_id
  JOIN consent_state c ON c.shopper_id = e.shopper_id AND c.purpose = 'analytics'
  JOIN shoppers s ON s.id = e.shopper_id
  WHERE e.store_id = ? AND e.at_s >= ? AND e.at_s < ? AND z.sensitive = 0 AND c.granted = 1 AND s.restricted = 0 AND s.erased_at_ms IS NULL`;

/** Distinct shoppers per zone in one bucket, at least minShoppers. Parameters: rollupParams. */
export const ROLLUP_FOOTFALL = `INSERT INTO zone_footfall (store_id, zone_id, bucket_ms, bucket_start_ms, shoppers)
  SELECT store_id, zone_id, CAST(? AS BIGINT), bucket_start_ms, COUNT(DISTINCT shopper_id) FROM (${COUNTED_EVENTS}) t
  WHERE 1 = 1
  GROUP BY store_id, zone_id, bucket_start_ms HAVING COUNT(DISTINCT shopper_id) >= ?
  ON CONFLICT (store_id, zone_id, bucket_ms, bucket_start_ms) DO NOTHING`;

/** Bin of a dwell (seconds), from the domain's edges. */
const DWELL_BIN_CASE = `CASE ${DWELL_BIN_EDGES_S.map((edge, i) => ({ edge, i })).slice(1).reverse().map(({ edge, i }) => `WHEN MAX(dwell_s) >= ${edge} THEN ${i}`).join(' ')} ELSE 0 END`;

/**
 * Distinct shoppers per zone and dwell bin in one bucket: each shopper's longest dwell among their exits
 * from the zone in that bucket, binned. Parameters as ROLLUP_FOOTFALL.
 */
export const ROLLUP_DWELL = `INSERT INTO zone_dwell (store_id, zone_id, bucket_ms, bucket_start_ms, dwell_bin, shoppers)
  SELECT store_id, zone_id, CAST(? AS BIGINT), bucket_start_ms, dwell_bin, COUNT(*) FROM (
    SELECT store_id, zone_id, bucket_start_ms, shopper_id, ${DWELL_BIN_CASE} AS dwell_bin
    FROM (${COUNTED_EVENTS}) t WHERE kind = 'exit' GROUP BY store_id, zone_id, bucket_start_ms, shopper_id
  ) d
  WHERE 1 = 1
  GROUP BY store_id, zone_id, bucket_start_ms, dwell_bin HAVING COUNT(*) >= ?
  ON CONFLICT (store_id, zone_id, bucket_ms, bucket_start_ms, dwell_bin) DO NOTHING`;

/** One store's bucket that a rollup pass counts. */
export type RollupBucket = { storeId: string; startMs: number; endMs: number };

/** The parameters of ROLLUP_FOOTFALL and ROLLUP_DWELL for one bucket (bounds on whole minutes, so whole seconds). */
export const rollupParams = (bucketMs: number, bucket: RollupBucket, minShoppers: number): (number | string)[] =>
  [bucketMs, bucket.startMs, bucket.storeId, bucket.startMs / 1000, bucket.endMs / 1000, minShoppers];

/** The stores' time zones, for their buckets. */
export const LIST_STORE_ZONES = 'SELECT id, timezone FROM stores ORDER BY id';

/**
 * Every store's buckets of the size that end after the watermark (afterMs) and by untilMs, each in the store's
 * own time zone: exactly the buckets this pass closes. A bucket may start before afterMs; its events are
 * still held (the retention window is longer than a day plus the grace).
 */
export function rollupBuckets(stores: readonly Row[], bucketMs: number, afterMs: number, untilMs: number): RollupBucket[] {
  const kind = bucketKindOf(bucketMs);
  return stores.flatMap((store) => bucketsEndingIn(String(store.timezone), kind, afterMs, untilMs).map((b) => ({ storeId: String(store.id), ...b })));
}

/** A watermark row that means "never rolled up". */
export const NO_WATERMARK = -1;
export const ENSURE_WATERMARK = `INSERT INTO analytics_rollups (bucket_ms, rolled_until_ms) VALUES (?, ${NO_WATERMARK}) ON CONFLICT (bucket_ms) DO NOTHING`;
export const SET_WATERMARK = `UPDATE analytics_rollups SET rolled_until_ms = ? WHERE bucket_ms = ? AND rolled_until_ms < ?`;
export const EARLIEST_EVENT_S = `SELECT MIN(at_s) AS at_s FROM presence_events`;

/**
 * Where a pass starts: the watermark (every bucket ending by it is rolled up), else the earliest event held
 * (no bucket ends before it with anything to count), else untilMs (nothing to do).
 */
export function rollupStart(watermark: number, earliestEventS: number | null, untilMs: number): number {
  if (watermark !== NO_WATERMARK) return watermark;
  if (earliestEventS === null) return untilMs;
  return Math.min(untilMs, earliestEventS * 1000);
}

/** The bucket kind of a size, or a RangeError naming bucketMs (AN-1: 15 minutes or more). */
function bucketKindOf(bucketMs: number): LocalBucketKind {
  const kind = BUCKET_NAMES.find((name) => BUCKETS[name] === bucketMs);
  if (kind === undefined) throw new RangeError(`rollupZoneAnalytics: bucketMs must be one of ${BUCKET_NAMES.map((name) => `${BUCKETS[name]} (${name})`).join(', ')} (AN-1: 15 minutes or more), got ${bucketMs}`);
  return kind;
}

export function checkRollupArguments(bucketMs: number, untilMs: number, minShoppers: number): void {
  bucketKindOf(bucketMs);
  if (!(Number.isSafeInteger(untilMs) && untilMs >= 0)) throw new RangeError(`rollupZoneAnalytics: untilMs must be a non-negative integer instant (ms), got ${untilMs}`);
  if (!(Number.isSafeInteger(minShoppers) && minShoppers >= 10)) throw new RangeError(`rollupZoneAnalytics: minShoppers must be at least 10 (AN-1), got ${minShoppers}`);
}

export const LIST_FOOTFALL = `SELECT zone_id, bucket_start_ms, shoppers FROM zone_footfall WHERE store_id = ? AND bucket_ms = ? AND bucket_start_ms >= ? AND bucket_start_ms < ? ORDER BY zone_id, bucket_start_ms`;
export const LIST_DWELL = `SELECT zone_id, bucket_start_ms, dwell_bin, shoppers FROM zone_dwell WHERE store_id = ? AND bucket_ms = ? AND bucket_start_ms >= ? AND bucket_start_ms < ? ORDER BY zone_id, bucket_start_ms, dwell_bin`;

export const toZoneCell = (row: Row): ZoneCell => ({ zoneId: String(row.zone_id), bucketStartMs: num(row.bucket_start_ms), shoppers: num(row.shoppers) });
export const toZoneDwellCell = (row: Row): ZoneDwellCell => ({ ...toZoneCell(row), bin: num(row.dwell_bin) });
export const watermarkOf = (row: Row | undefined): number | undefined => {
  const value = row === undefined ? null : numOrNull(row.rolled_until_ms);
  return value === null || value === NO_WATERMARK ? undefined : value;
};
