import { HOLDOUT_VARIANT } from './campaign.ts';
import { bucketsWithin } from './local-buckets.ts';

// Analytics (issue 6 item 5), pure: the campaign report (deliveries, opens, redemptions, attributed
// conversions per experiment group, and the uplift of treatment over holdout with a 95 % interval) and
// the zone report (footfall and dwell per closed time bucket), both k-anonymous (AN-1). The Store counts;
// this file decides what may be shown and computes the statistics. See docs/analytics.md.
//
// Consent basis: only exposures recorded while the shopper had granted analytics (P3) are counted, and
// only P3 shoppers enter the zone rollups (server/store/analytics-sql.ts).

/** AN-1: the smallest k a report may use. A controller may set a stricter (larger) k, never a smaller one. */
export const K_ANONYMITY_FLOOR = 10;

/** Validates a configured k: an integer of at least K_ANONYMITY_FLOOR. Throws a RangeError naming it. */
export function kAnonymity(k: number = K_ANONYMITY_FLOOR): number {
  if (!Number.isSafeInteger(k) || k < K_ANONYMITY_FLOOR) throw new RangeError(`analytics k must be an integer of at least ${K_ANONYMITY_FLOOR} (AN-1), got ${k}`);
  return k;
}

// AN-1: time buckets of 15 minutes or more. Each is aligned on its store's own wall clock
// (local-buckets.ts): a day runs from local midnight to local midnight (23 or 25 hours on a DST change),
// an hour from the local hour. The size names the kind of bucket.
export const BUCKETS = { '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type BucketName = keyof typeof BUCKETS;
export const BUCKET_NAMES = Object.keys(BUCKETS) as BucketName[];

/** Dwell histogram bins, by the lower edge in seconds: [0, 60), [60, 300), [300, 900), [900, 1800), [1800, ∞). */
export const DWELL_BIN_EDGES_S = [0, 60, 300, 900, 1800] as const;
export const DWELL_BIN_LABELS = ['0-1m', '1-5m', '5-15m', '15-30m', '30m+'] as const;
export type DwellBinLabel = (typeof DWELL_BIN_LABELS)[number];

/** The bin index of a dwell time. */
export function dwellBin(dwellS: number): number {
  let bin = 0;
  DWELL_BIN_EDGES_S.forEach((edge, i) => {
    if (dwellS >= edge) bin = i;
  });
  return bin;
}

// ——— Confidence interval for a difference of two proportions ———
//
// Newcombe's hybrid score interval (Newcombe 1998, Statistics in Medicine 17:873–890, method 10): the
// Wilson score interval of each proportion, combined. Chosen over Wald (even with continuity correction)
// because conversion rates are small and groups (the holdout especially) can be small: Wald's coverage
// collapses near 0, and it can give limits outside [-1, 1] or a zero-width interval at 0/n; method 10
// keeps close to nominal coverage there, never overshoots, and needs no iteration.

/** z for a two-sided 95 % interval: Φ⁻¹(0.975). */
export const Z_95 = 1.959963984540054;

export type Interval = { lower: number; upper: number };

/** Wilson score interval for x successes in n trials (no continuity correction); n > 0. */
export function wilsonInterval(x: number, n: number, z = Z_95): Interval {
  if (!(Number.isSafeInteger(n) && n > 0 && Number.isSafeInteger(x) && x >= 0 && x <= n)) throw new RangeError(`wilsonInterval: need 0 <= x <= n, n > 0 (got x=${x}, n=${n})`);
  const p = x / n;
  const z2 = z * z;
  const centre = (2 * n * p + z2) / (2 * (n + z2));
  const half = (z * Math.sqrt(z2 + 4 * n * p * (1 - p))) / (2 * (n + z2));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/** The difference p1 − p2 and its Newcombe hybrid score interval (method 10). */
export function newcombeDifference(x1: number, n1: number, x2: number, n2: number, z = Z_95): { estimate: number } & Interval {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const w1 = wilsonInterval(x1, n1, z);
  const w2 = wilsonInterval(x2, n2, z);
  const d = p1 - p2;
  return {
    estimate: d,
    lower: d - Math.sqrt((p1 - w1.lower) ** 2 + (w2.upper - p2) ** 2),
    upper: d + Math.sqrt((w1.upper - p1) ** 2 + (p2 - w2.lower) ** 2),
  };
}

// ——— The campaign report ———

/**
 * Counts of one experiment group of a campaign, as the Store reads them: P3 exposures only. An exposure is
 * a delivered promotion (treatment) or a held-out row (control); variant null = no experiment.
 */
export type CampaignGroupCounts = {
  variant: string | null;
  /** Distinct shoppers with at least one exposure. */
  shoppers: number;
  exposures: number;
  deliveries: number;
  opens: number;
  redemptions: number;
  /** Exposures followed by an attributed conversion. */
  conversions: number;
  /** Distinct shoppers with at least one converted exposure. */
  convertedShoppers: number;
};

export type GroupReport = {
  /** The variant's ID, 'holdout', or 'default' for a campaign without an experiment. */
  variant: string;
  holdout: boolean;
  /** AN-1: fewer than k distinct shoppers; every count is then withheld (null). */
  suppressed: boolean;
  shoppers: number | null;
  exposures: number | null;
  deliveries: number | null;
  opens: number | null;
  redemptions: number | null;
  conversions: number | null;
  convertedShoppers: number | null;
  /** redemptions / deliveries, or null. */
  redemptionRate: number | null;
  /** convertedShoppers / shoppers: the share of exposed shoppers who converted (the uplift's unit). */
  conversionRate: number | null;
};

export type Uplift =
  | {
      status: 'ok';
      method: 'newcombe-hybrid-score';
      confidence: 0.95;
      treatment: { shoppers: number; converted: number };
      holdout: { shoppers: number; converted: number };
      /** Treatment minus holdout conversion rate, with its 95 % interval. */
      absolute: { estimate: number } & Interval;
      /** The absolute uplift over the holdout's rate; null when that rate is 0. */
      relative: number | null;
    }
  | { status: 'not-enough-data'; reason: string };

export type CampaignReport = {
  campaignId: string;
  k: number;
  groups: GroupReport[];
  /** Every variant together against the holdout; per-variant uplifts are in `variants`. */
  uplift: Uplift;
  variants: { variant: string; uplift: Uplift }[];
};

const DEFAULT_VARIANT = 'default';
const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

function groupReport(counts: CampaignGroupCounts, k: number): GroupReport {
  const variant = counts.variant ?? DEFAULT_VARIANT;
  const holdout = counts.variant === HOLDOUT_VARIANT;
  if (counts.shoppers < k) {
    return {
      variant, holdout, suppressed: true, shoppers: null, exposures: null, deliveries: null, opens: null, redemptions: null, conversions: null,
      convertedShoppers: null, redemptionRate: null, conversionRate: null,
    };
  }
  return {
    variant, holdout, suppressed: false, ...omitVariant(counts),
    redemptionRate: ratio(counts.redemptions, counts.deliveries), conversionRate: ratio(counts.convertedShoppers, counts.shoppers),
  };
}

function omitVariant(counts: CampaignGroupCounts): Omit<CampaignGroupCounts, 'variant'> {
  const { variant: _variant, ...rest } = counts;
  return rest;
}

/** Treatment vs control, on distinct shoppers (the unit of assignment): "not enough data" below k in either group. */
export function uplift(treatment: { shoppers: number; converted: number }, holdout: { shoppers: number; converted: number } | undefined, k: number): Uplift {
  if (holdout === undefined || holdout.shoppers === 0) return { status: 'not-enough-data', reason: 'no held-out shoppers: set experiment.holdoutPercent above 0' };
  if (treatment.shoppers === 0) return { status: 'not-enough-data', reason: 'no treated shoppers yet' };
  if (holdout.shoppers < k) return { status: 'not-enough-data', reason: `the holdout has fewer than ${k} shoppers` };
  if (treatment.shoppers < k) return { status: 'not-enough-data', reason: `the treatment has fewer than ${k} shoppers` };
  const absolute = newcombeDifference(treatment.converted, treatment.shoppers, holdout.converted, holdout.shoppers);
  const controlRate = holdout.converted / holdout.shoppers;
  return {
    status: 'ok', method: 'newcombe-hybrid-score', confidence: 0.95, treatment, holdout, absolute,
    relative: controlRate === 0 ? null : absolute.estimate / controlRate,
  };
}

/** The campaign report from the Store's group counts, k-anonymous (AN-1). */
export function campaignReport(campaignId: string, counts: readonly CampaignGroupCounts[], k: number = K_ANONYMITY_FLOOR): CampaignReport {
  kAnonymity(k);
  const sorted = [...counts].sort((a, b) => (a.variant ?? '').localeCompare(b.variant ?? ''));
  const control = sorted.find((c) => c.variant === HOLDOUT_VARIANT);
  const treated = sorted.filter((c) => c.variant !== HOLDOUT_VARIANT);
  const holdout = control === undefined ? undefined : { shoppers: control.shoppers, converted: control.convertedShoppers };
  // Groups are disjoint by shopper (assignment is per shopper), so their shoppers add up.
  const pooled = treated.reduce((sum, c) => ({ shoppers: sum.shoppers + c.shoppers, converted: sum.converted + c.convertedShoppers }), { shoppers: 0, converted: 0 });
  return {
    campaignId, k,
    groups: sorted.map((c) => groupReport(c, k)),
    uplift: uplift(pooled, holdout, k),
    variants: treated.map((c) => ({ variant: c.variant ?? DEFAULT_VARIANT, uplift: uplift({ shoppers: c.shoppers, converted: c.convertedShoppers }, holdout, k) })),
  };
}

// ——— The zone report ———

/** One rolled-up cell as stored: never below K_ANONYMITY_FLOOR shoppers (smaller cells are not written). */
export type ZoneCell = { zoneId: string; bucketStartMs: number; shoppers: number };
export type ZoneDwellCell = ZoneCell & { bin: number };

export type ZoneReport = {
  storeId: string;
  /** The store's time zone, on whose wall clock the buckets are aligned. */
  timezone: string;
  bucket: BucketName;
  fromMs: number;
  toMs: number;
  k: number;
  /** Buckets ending by this instant are rolled up; later ones are not reported yet. */
  rolledUntilMs: number;
  /** Every (zone, bucket): distinct shoppers, or null and suppressed when fewer than k (or none). */
  footfall: { zoneId: string; bucketStartMs: number; bucketEndMs: number; shoppers: number | null; suppressed: boolean }[];
  /** Every (zone, bucket, dwell bin): distinct shoppers whose dwell ended in the bucket, in that bin; suppressed below k. */
  dwell: { zoneId: string; bucketStartMs: number; bucketEndMs: number; bin: DwellBinLabel; shoppers: number | null; suppressed: boolean }[];
};

/** At most this many buckets in one zone report. */
export const MAX_REPORT_BUCKETS = 1000;

/**
 * The zone report over [fromMs, toMs) for the (non-sensitive) zones given: the full grid, every cell below
 * k suppressed. A missing cell and a small one look the same (AN-1: no "fewer than k" is distinguishable from 0).
 */
export function zoneReport(input: {
  storeId: string; timezone: string; bucket: BucketName; fromMs: number; toMs: number; k?: number; rolledUntilMs: number;
  zoneIds: readonly string[]; footfall: readonly ZoneCell[]; dwell: readonly ZoneDwellCell[];
}): ZoneReport {
  const k = kAnonymity(input.k);
  const buckets = bucketsWithin(input.timezone, input.bucket, input.fromMs, Math.min(input.toMs, input.rolledUntilMs));
  const footfallOf = new Map(input.footfall.map((c) => [`${c.zoneId}\0${c.bucketStartMs}`, c.shoppers]));
  const dwellOf = new Map(input.dwell.map((c) => [`${c.zoneId}\0${c.bucketStartMs}\0${c.bin}`, c.shoppers]));
  const shown = (n: number | undefined): { shoppers: number | null; suppressed: boolean } =>
    n !== undefined && n >= k ? { shoppers: n, suppressed: false } : { shoppers: null, suppressed: true };
  const zoneIds = [...input.zoneIds].sort();
  return {
    storeId: input.storeId, timezone: input.timezone, bucket: input.bucket, fromMs: input.fromMs, toMs: input.toMs, k, rolledUntilMs: input.rolledUntilMs,
    footfall: zoneIds.flatMap((zoneId) => buckets.map(({ startMs: bucketStartMs, endMs: bucketEndMs }) =>
      ({ zoneId, bucketStartMs, bucketEndMs, ...shown(footfallOf.get(`${zoneId}\0${bucketStartMs}`)) }))),
    dwell: zoneIds.flatMap((zoneId) => buckets.flatMap(({ startMs: bucketStartMs, endMs: bucketEndMs }) =>
      DWELL_BIN_LABELS.map((bin, i) => ({ zoneId, bucketStartMs, bucketEndMs, bin, ...shown(dwellOf.get(`${zoneId}\0${bucketStartMs}\0${i}`)) })))),
  };
}
