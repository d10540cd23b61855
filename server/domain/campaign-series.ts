import { kAnonymity, type BucketName } from './analytics.ts';
import type { LocalBucket } from './local-buckets.ts';

// A campaign over time (the console's chart): per closed time bucket, its deliveries, opens and
// redemptions — each dated when it happened (delivered, opened, redeemed), of exposures recorded with
// analytics consent (P3) only, as the campaign report counts them (analytics.ts, docs/analytics.md).
// k-anonymous (AN-1): a cell whose events come from fewer than k distinct shoppers is withheld (null),
// and a withheld cell looks the same as an empty one. Pure: the Store tallies, this decides what is shown.

export const SERIES_METRICS = ['deliveries', 'opens', 'redemptions'] as const;
export type SeriesMetric = (typeof SERIES_METRICS)[number];

/** What happened in one bucket for one metric: how many events, from how many distinct shoppers. */
export type SeriesTally = { events: number; shoppers: number };

/** The Store's tally of one bucket (Store.campaignActivity); a bucket with nothing has zeros. */
export type CampaignActivityBucket = LocalBucket & Record<SeriesMetric, SeriesTally>;

export type CampaignSeriesPoint = { bucketStartMs: number; bucketEndMs: number } & Record<SeriesMetric, number | null>;

export type CampaignSeries = {
  campaignId: string;
  /** The time zone on whose wall clock the buckets are aligned (the placed stores' own, else UTC). */
  timezone: string;
  bucket: BucketName;
  fromMs: number;
  toMs: number;
  k: number;
  points: CampaignSeriesPoint[];
};

/** The series from the Store's tallies: every bucket, each cell shown only from k distinct shoppers up. */
export function campaignSeries(input: {
  campaignId: string; timezone: string; bucket: BucketName; fromMs: number; toMs: number; k?: number; activity: readonly CampaignActivityBucket[];
}): CampaignSeries {
  const k = kAnonymity(input.k);
  const shown = (tally: SeriesTally): number | null => (tally.shoppers >= k ? tally.events : null);
  return {
    campaignId: input.campaignId, timezone: input.timezone, bucket: input.bucket, fromMs: input.fromMs, toMs: input.toMs, k,
    points: input.activity.map((b) => ({
      bucketStartMs: b.startMs, bucketEndMs: b.endMs, deliveries: shown(b.deliveries), opens: shown(b.opens), redemptions: shown(b.redemptions),
    })),
  };
}

/**
 * The time zone a campaign's buckets follow: its placed stores' common time zone, or UTC when they differ
 * (or none is known) — a "day" must mean the same hours for every row of one series.
 */
export function seriesTimeZone(placedStoreTimeZones: readonly string[]): string {
  const zones = new Set(placedStoreTimeZones);
  return zones.size === 1 ? [...zones][0]! : 'UTC';
}
