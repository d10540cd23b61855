import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { IdSchema } from '#gateway/protocol/index.ts';
import {
  BUCKET_NAMES, BUCKETS, campaignReport, DWELL_BIN_LABELS, kAnonymity, MAX_REPORT_BUCKETS, zoneReport, type CampaignReport, type GroupReport, type Uplift, type ZoneReport,
} from '../domain/analytics.ts';
import { CampaignIdSchema, placementStoreIds } from '../domain/campaign.ts';
import { campaignSeries, seriesTimeZone, type CampaignSeries } from '../domain/campaign-series.ts';
import { toCsv, type CsvCell } from '../domain/csv.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { bucketsBack, bucketsWithin, localBucketAt } from '../domain/local-buckets.ts';
import type { AppDeps } from '../app.ts';

// Analytics API (issue 6 item 5; docs/analytics.md): aggregates only, k-anonymous (AN-1), no per-shopper
// row and no sequence of zones (AN-2), sensitive zones left out (AN-3), P3 shoppers only. JSON, or CSV with
// `.csv` or `?format=csv`. Authenticated as the other /v1/admin routes are (the roles issue grants it to
// admin, marketer and analyst as `analytics.read`).

const FormatSchema = z.enum(['json', 'csv']).default('json');

/** An instant: ISO 8601 with an offset ("2030-01-01T09:00:00Z") or epoch milliseconds. */
const InstantSchema = z.union([
  z.string().regex(/^\d{1,15}$/, 'must be epoch milliseconds or an ISO 8601 date-time').transform(Number),
  z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with an offset, or epoch milliseconds' }).transform((value) => Date.parse(value)),
]);

/** How many buckets a zone report shows when `from` is not given: a day of quarters or hours, or 30 days. */
const DEFAULT_REPORT_BUCKETS = { '15m': 96, '1h': 24, '1d': 30 } as const;

export const CampaignQuerySchema = z.object({ format: FormatSchema }).strict();

export const ZonesQuerySchema = z
  .object({
    from: InstantSchema.optional(),
    to: InstantSchema.optional(),
    bucket: z.enum(BUCKET_NAMES as [keyof typeof BUCKETS, ...(keyof typeof BUCKETS)[]], { message: `must be one of ${BUCKET_NAMES.join(', ')}` }).default('1h'),
    format: FormatSchema,
  })
  .strict();

/** A campaign over time: closed buckets only (from–to as for zones; by default the last day of hours, or 30 days). */
export const SeriesQuerySchema = ZonesQuerySchema;

/** `:id` or `:id.csv`: IDs hold no "." (CampaignIdSchema), so the suffix is unambiguous. */
function withSuffix(raw: string, format: 'json' | 'csv'): { id: string; format: 'json' | 'csv' } {
  return raw.endsWith('.csv') ? { id: raw.slice(0, -4), format: 'csv' } : { id: raw, format };
}

const iso = (ms: number): string => new Date(ms).toISOString();

const GROUP_COLUMNS = [
  'campaign_id', 'variant', 'holdout', 'suppressed', 'shoppers', 'exposures', 'deliveries', 'opens', 'redemptions', 'conversions', 'converted_shoppers',
  'redemption_rate', 'conversion_rate', 'uplift_status', 'uplift_absolute', 'uplift_lower_95', 'uplift_upper_95', 'uplift_relative',
] as const;

function upliftCells(uplift: Uplift | undefined): CsvCell[] {
  if (uplift === undefined) return [null, null, null, null, null];
  if (uplift.status !== 'ok') return [uplift.status, null, null, null, null];
  return [uplift.status, uplift.absolute.estimate, uplift.absolute.lower, uplift.absolute.upper, uplift.relative];
}

/** One row per group (holdout included) and a last row 'all-variants' for the pooled uplift. */
export function campaignCsv(report: CampaignReport): string {
  const row = (g: GroupReport): CsvCell[] => [
    report.campaignId, g.variant, g.holdout, g.suppressed, g.shoppers, g.exposures, g.deliveries, g.opens, g.redemptions, g.conversions, g.convertedShoppers,
    g.redemptionRate, g.conversionRate, ...upliftCells(g.holdout ? undefined : report.variants.find((v) => v.variant === g.variant)?.uplift),
  ];
  const pooled: CsvCell[] = [report.campaignId, 'all-variants', false, null, null, null, null, null, null, null, null, null, null, ...upliftCells(report.uplift)];
  return toCsv(GROUP_COLUMNS, [...report.groups.map(row), pooled]);
}

/** Footfall rows (dwell_bin empty), then dwell rows; suppressed cells have an empty count. */
export function zonesCsv(report: ZoneReport): string {
  return toCsv(['store_id', 'zone_id', 'bucket', 'bucket_start', 'bucket_end', 'metric', 'dwell_bin', 'shoppers', 'suppressed'], [
    ...report.footfall.map((c): CsvCell[] => [report.storeId, c.zoneId, report.bucket, iso(c.bucketStartMs), iso(c.bucketEndMs), 'footfall', null, c.shoppers, c.suppressed]),
    ...report.dwell.map((c): CsvCell[] => [report.storeId, c.zoneId, report.bucket, iso(c.bucketStartMs), iso(c.bucketEndMs), 'dwell', c.bin, c.shoppers, c.suppressed]),
  ]);
}

/** One row per closed bucket; a withheld (fewer than k shoppers) or empty cell is empty. */
export function seriesCsv(series: CampaignSeries): string {
  return toCsv(['campaign_id', 'bucket', 'bucket_start', 'bucket_end', 'deliveries', 'opens', 'redemptions'],
    series.points.map((p): CsvCell[] => [series.campaignId, series.bucket, iso(p.bucketStartMs), iso(p.bucketEndMs), p.deliveries, p.opens, p.redemptions]));
}

const sendCsv = (reply: FastifyReply, filename: string, body: string): FastifyReply =>
  reply.type('text/csv; charset=utf-8; header=present').header('content-disposition', `attachment; filename="${filename}"`).send(body);

export async function analyticsRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;
  const k = kAnonymity(deps.analyticsK);
  // Authenticated and authorised (analytics.read: admin, marketer, analyst) by auth/admin-access.ts, as every /v1/admin route.

  app.get('/v1/admin/analytics/campaigns/:campaignId', async (request, reply) => {
    const { campaignId: raw } = parseOrThrow(z.object({ campaignId: z.string().max(80) }), request.params, 'INVALID_PARAMS');
    const query = parseOrThrow(CampaignQuerySchema, request.query, 'INVALID_PARAMS');
    const { id, format } = withSuffix(raw, query.format);
    parseOrThrow(z.object({ campaignId: CampaignIdSchema }), { campaignId: id }, 'INVALID_PARAMS');
    if ((await store.getCampaign(id)) === undefined) throw new ApiError('NOT_FOUND', `no campaign ${id}`, ['campaignId']);
    const report = campaignReport(id, await store.campaignGroupCounts(id), k);
    return format === 'csv' ? sendCsv(reply, `campaign-${id}.csv`, campaignCsv(report)) : report;
  });

  const zones = async (storeId: string, query: z.infer<typeof ZonesQuerySchema>, format: 'json' | 'csv', reply: FastifyReply): Promise<unknown> => {
    const bucketMs = BUCKETS[query.bucket];
    const storeRecord = await store.getStore(storeId);
    const known = await store.listZones(storeId);
    if (storeRecord === undefined || known.length === 0) throw new ApiError('NOT_FOUND', `no store ${storeId}`, ['storeId']);
    // Buckets follow the store's wall clock (local days, local hours): domain/local-buckets.ts.
    const { timezone } = storeRecord;
    const toMs = query.to ?? localBucketAt(timezone, query.bucket, now()).startMs;
    // By default the last 24 hours' buckets (15-minute and hourly) or the last 30 days, whole local buckets.
    const fromMs = query.from ?? bucketsBack(timezone, query.bucket, toMs, DEFAULT_REPORT_BUCKETS[query.bucket]);
    if (fromMs >= toMs) throw new ApiError('INVALID_PARAMS', `to: must be after from (${iso(fromMs)})`, ['to']);
    // A local day is 23 to 25 hours: the count is checked with room for that, before any bucket is listed.
    if ((toMs - fromMs) / bucketMs > MAX_REPORT_BUCKETS * (query.bucket === '1d' ? 25 / 24 : 1)) throw new ApiError('INVALID_PARAMS', `from: at most ${MAX_REPORT_BUCKETS} buckets of ${query.bucket} per report; narrow from–to or use a larger bucket`, ['from']);
    const report = zoneReport({
      storeId, timezone, bucket: query.bucket, fromMs, toMs, k,
      rolledUntilMs: (await store.zoneRollupWatermark(bucketMs)) ?? fromMs,
      // AN-3: sensitive zones are never reported (nor rolled up).
      zoneIds: known.filter((zone) => !zone.sensitive).map((zone) => zone.id),
      footfall: await store.listZoneFootfall(storeId, bucketMs, fromMs, toMs),
      dwell: await store.listZoneDwell(storeId, bucketMs, fromMs, toMs),
    });
    return format === 'csv' ? sendCsv(reply, `zones-${storeId}-${query.bucket}.csv`, zonesCsv(report)) : { ...report, dwellBins: DWELL_BIN_LABELS };
  };

  /**
   * A campaign's deliveries, opens and redemptions per closed time bucket (domain/campaign-series.ts), on the
   * wall clock of its placed stores' time zone (UTC when they differ). The current bucket is never shown
   * while it fills: a count watched as it grows would tell one shopper's moment apart (AN-1).
   */
  const series = async (raw: string, query: z.infer<typeof SeriesQuerySchema>, format: 'json' | 'csv', reply: FastifyReply): Promise<unknown> => {
    const { campaignId } = parseOrThrow(z.object({ campaignId: CampaignIdSchema }), { campaignId: raw }, 'INVALID_PARAMS');
    const record = await store.getCampaign(campaignId);
    if (record === undefined) throw new ApiError('NOT_FOUND', `no campaign ${campaignId}`, ['campaignId']);
    const placed = placementStoreIds(record.campaign.placement);
    const timezone = seriesTimeZone((await store.listStores()).filter((s) => placed === undefined || placed.includes(s.id)).map((s) => s.timezone));
    const currentStartMs = localBucketAt(timezone, query.bucket, now()).startMs;
    const toMs = Math.min(query.to ?? currentStartMs, currentStartMs);
    const fromMs = query.from ?? bucketsBack(timezone, query.bucket, toMs, DEFAULT_REPORT_BUCKETS[query.bucket]);
    if (fromMs >= toMs) throw new ApiError('INVALID_PARAMS', `to: must be after from (${iso(fromMs)}), and buckets end at the current one's start (${iso(currentStartMs)})`, ['to']);
    if ((toMs - fromMs) / BUCKETS[query.bucket] > MAX_REPORT_BUCKETS * (query.bucket === '1d' ? 25 / 24 : 1)) {
      throw new ApiError('INVALID_PARAMS', `from: at most ${MAX_REPORT_BUCKETS} buckets of ${query.bucket} per report; narrow from–to or use a larger bucket`, ['from']);
    }
    const activity = await store.campaignActivity(campaignId, bucketsWithin(timezone, query.bucket, fromMs, toMs));
    const result = campaignSeries({ campaignId, timezone, bucket: query.bucket, fromMs, toMs, k, activity });
    return format === 'csv' ? sendCsv(reply, `campaign-${campaignId}-${query.bucket}.csv`, seriesCsv(result)) : result;
  };

  app.get('/v1/admin/analytics/campaigns/:campaignId/series', async (request, reply) => {
    const { campaignId } = parseOrThrow(z.object({ campaignId: z.string().max(80) }), request.params, 'INVALID_PARAMS');
    const query = parseOrThrow(SeriesQuerySchema, request.query, 'INVALID_PARAMS');
    return series(campaignId, query, query.format, reply);
  });
  app.get('/v1/admin/analytics/campaigns/:campaignId/series.csv', async (request, reply) => {
    const { campaignId } = parseOrThrow(z.object({ campaignId: z.string().max(80) }), request.params, 'INVALID_PARAMS');
    const query = parseOrThrow(SeriesQuerySchema, request.query, 'INVALID_PARAMS');
    return series(campaignId, query, 'csv', reply);
  });

  app.get('/v1/admin/analytics/stores/:storeId/zones', async (request, reply) => {
    const { storeId } = parseOrThrow(z.object({ storeId: IdSchema }), request.params, 'INVALID_PARAMS');
    const query = parseOrThrow(ZonesQuerySchema, request.query, 'INVALID_PARAMS');
    return zones(storeId, query, query.format, reply);
  });
  app.get('/v1/admin/analytics/stores/:storeId/zones.csv', async (request, reply) => {
    const { storeId } = parseOrThrow(z.object({ storeId: IdSchema }), request.params, 'INVALID_PARAMS');
    const query = parseOrThrow(ZonesQuerySchema, request.query, 'INVALID_PARAMS');
    return zones(storeId, query, 'csv', reply);
  });
}
