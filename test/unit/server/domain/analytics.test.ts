import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  campaignReport, dwellBin, kAnonymity, K_ANONYMITY_FLOOR, newcombeDifference, wilsonInterval, zoneReport, type CampaignGroupCounts,
} from '#server/domain/analytics.ts';

describe('Newcombe hybrid score interval (method 10)', () => {
  // Newcombe RG (1998), Interval estimation for the difference between independent proportions: comparison
  // of eleven methods. Statistics in Medicine 17:873–890, Table II, method 10, to 4 decimals.
  const table: [number, number, number, number, number, number][] = [
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
    [0, 10, 0, 10, -0.2775, 0.2775],
    [10, 10, 0, 20, 0.6791, 1],
    [10, 10, 0, 10, 0.6075, 1],
  ];
  it.each(table)('%i/%i − %i/%i gives %f to %f', (x1, n1, x2, n2, lower, upper) => {
    const ci = newcombeDifference(x1, n1, x2, n2);
    expect(ci.estimate).toBeCloseTo(x1 / n1 - x2 / n2, 12);
    expect(ci.lower).toBeCloseTo(lower, 4);
    expect(ci.upper).toBeCloseTo(upper, 4);
  });

  it('matches the Wilson interval of Newcombe 1998 (Stat Med 17:857) for 81/263: 0.2553 to 0.3662', () => {
    const w = wilsonInterval(81, 263);
    expect(w.lower).toBeCloseTo(0.2553, 4);
    expect(w.upper).toBeCloseTo(0.3662, 4);
  });

  it('always contains the estimate and stays within [-1, 1]', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 500 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }),
      (n1, n2, a, b) => {
        const x1 = Math.round(a * n1);
        const x2 = Math.round(b * n2);
        const ci = newcombeDifference(x1, n1, x2, n2);
        return ci.lower <= ci.estimate + 1e-12 && ci.estimate <= ci.upper + 1e-12 && ci.lower >= -1 - 1e-12 && ci.upper <= 1 + 1e-12;
      }));
  });

  it('refuses impossible counts, naming them', () => {
    expect(() => wilsonInterval(3, 2)).toThrow(/x=3, n=2/);
    expect(() => wilsonInterval(0, 0)).toThrow(RangeError);
  });
});

const group = (variant: string | null, shoppers: number, convertedShoppers: number, extra: Partial<CampaignGroupCounts> = {}): CampaignGroupCounts => ({
  variant, shoppers, exposures: shoppers, deliveries: variant === 'holdout' ? 0 : shoppers, opens: 0, redemptions: 0, conversions: convertedShoppers, convertedShoppers, ...extra,
});

describe('campaign report', () => {
  it('reports each group, and the uplift of the pooled variants over the holdout with its interval', () => {
    const report = campaignReport('cmp-1', [group('a', 40, 30, { redemptions: 10, opens: 20 }), group('b', 30, 26), group('holdout', 80, 48)]);
    expect(report.groups.map((g) => [g.variant, g.shoppers, g.suppressed])).toEqual([['a', 40, false], ['b', 30, false], ['holdout', 80, false]]);
    expect(report.groups[0]!.redemptionRate).toBe(0.25);
    expect(report.groups[0]!.conversionRate).toBe(0.75);
    // Pooled: 56/70 against 48/80 — Newcombe's example (a).
    expect(report.uplift.status).toBe('ok');
    if (report.uplift.status !== 'ok') return;
    expect(report.uplift.absolute.estimate).toBeCloseTo(0.2, 10);
    expect(report.uplift.absolute.lower).toBeCloseTo(0.0524, 4);
    expect(report.uplift.absolute.upper).toBeCloseTo(0.3339, 4);
    expect(report.uplift.relative).toBeCloseTo(0.2 / 0.6, 10);
    expect(report.variants.map((v) => v.uplift.status)).toEqual(['ok', 'ok']);
  });

  it('withholds every count of a group below k, and says "not enough data" for the uplift', () => {
    const report = campaignReport('cmp-1', [group('a', 50, 10), group('holdout', 9, 1)]);
    const holdout = report.groups.find((g) => g.holdout)!;
    expect(holdout).toMatchObject({ suppressed: true, shoppers: null, conversions: null, conversionRate: null });
    expect(report.uplift).toEqual({ status: 'not-enough-data', reason: 'the holdout has fewer than 10 shoppers' });
  });

  it('says "not enough data" without a holdout, or with no treated shopper', () => {
    expect(campaignReport('c', [group(null, 100, 5)]).uplift.status).toBe('not-enough-data');
    expect(campaignReport('c', [group(null, 100, 5)]).groups[0]!.variant).toBe('default');
    expect(campaignReport('c', [group('holdout', 100, 5)]).uplift).toEqual({ status: 'not-enough-data', reason: 'no treated shoppers yet' });
  });

  it('gives no relative uplift when the holdout never converted', () => {
    const report = campaignReport('c', [group('a', 20, 5), group('holdout', 20, 0)]);
    expect(report.uplift.status === 'ok' && report.uplift.relative).toBeNull();
  });
});

describe('k-anonymity', () => {
  it('defaults to 10 and refuses anything lower', () => {
    expect(kAnonymity()).toBe(K_ANONYMITY_FLOOR);
    expect(kAnonymity(25)).toBe(25);
    expect(() => kAnonymity(9)).toThrow(/at least 10 \(AN-1\), got 9/);
    expect(() => kAnonymity(10.5)).toThrow(RangeError);
    expect(() => campaignReport('c', [], 5)).toThrow(/AN-1/);
  });

  it('suppresses zone cells below k and reports the whole grid of closed buckets', () => {
    const H = 3_600_000;
    const report = zoneReport({
      storeId: 's', timezone: 'UTC', bucket: '1h', fromMs: 0, toMs: 4 * H, rolledUntilMs: 3 * H, zoneIds: ['b', 'a'], k: 12,
      footfall: [{ zoneId: 'a', bucketStartMs: 0, shoppers: 12 }, { zoneId: 'a', bucketStartMs: H, shoppers: 11 }],
      dwell: [{ zoneId: 'a', bucketStartMs: 0, bin: 2, shoppers: 30 }],
    });
    // Three closed buckets (the fourth is not rolled up yet) × two zones.
    expect(report.footfall).toHaveLength(6);
    expect(report.footfall[0]).toEqual({ zoneId: 'a', bucketStartMs: 0, bucketEndMs: H, shoppers: 12, suppressed: false });
    expect(report.footfall[1]).toEqual({ zoneId: 'a', bucketStartMs: H, bucketEndMs: 2 * H, shoppers: null, suppressed: true });
    expect(report.footfall.filter((c) => !c.suppressed)).toHaveLength(1);
    expect(report.dwell).toHaveLength(6 * 5);
    expect(report.dwell.filter((c) => !c.suppressed)).toEqual([{ zoneId: 'a', bucketStartMs: 0, bucketEndMs: H, bin: '5-15m', shoppers: 30, suppressed: false }]);
  });

  it('lists a New York store\'s days from its own midnights, 25 hours on the night the clocks go back', () => {
    const H = 3_600_000;
    const midnight = Date.parse('2026-10-31T04:00:00Z'); // Saturday 31 October, 00:00 EDT
    const report = zoneReport({
      storeId: 's', timezone: 'America/New_York', bucket: '1d', fromMs: midnight, toMs: midnight + 72 * H, rolledUntilMs: midnight + 72 * H, zoneIds: ['a'],
      footfall: [{ zoneId: 'a', bucketStartMs: midnight + 24 * H, shoppers: 40 }], dwell: [],
    });
    expect(report.footfall.map((c) => [new Date(c.bucketStartMs).toISOString(), (c.bucketEndMs - c.bucketStartMs) / H, c.shoppers])).toEqual([
      ['2026-10-31T04:00:00.000Z', 24, null], ['2026-11-01T04:00:00.000Z', 25, 40],
    ]);
    expect(report.timezone).toBe('America/New_York');
  });
});

describe('buckets and bins', () => {
  it('bins dwell times at 1, 5, 15 and 30 minutes', () => {
    expect([0, 59, 60, 299, 300, 899, 900, 1799, 1800, 86_400].map(dwellBin)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  });
});
