import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RSSI_ESTIMATOR, emaStep, median, sortedMedian, sortedTrimmedMean, startRssi, trimmedMean, updateRssi, validateRssiEstimatorConfig,
  type RssiEstimatorConfig, type RssiEstimatorState,
} from '#gateway/presence/rssi-estimators.ts';

const config = (overrides: Partial<RssiEstimatorConfig>): RssiEstimatorConfig => ({ ...DEFAULT_RSSI_ESTIMATOR, ...overrides });

/** Feeds [atMs, rssiDbm] pairs; returns the estimate after each. */
const feed = (values: readonly (readonly [number, number])[], estimator: RssiEstimatorConfig): { state: RssiEstimatorState; estimates: number[] } => {
  const [[firstMs, firstDbm], ...rest] = values as [readonly [number, number], ...(readonly [number, number])[]];
  const state = startRssi(firstDbm, firstMs, estimator);
  const estimates = [state.rssiDbm];
  for (const [atMs, rssiDbm] of rest) estimates.push(updateRssi(state, rssiDbm, atMs, estimator));
  return { state, estimates };
};
const every100ms = (values: readonly number[]): [number, number][] => values.map((v, i) => [i * 100, v]);

describe('robust statistics', () => {
  it.each([
    [[3], 3], [[1, 2], 1.5], [[5, 1, 3], 3], [[4, 1, 3, 2], 2.5], [[-70, -70, -100, -70, -71], -70],
  ])('median of %j is %d', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it.each([
    [[-70, -71, -69, -100], 0.25, -70.5], // cuts −100 and −69
    [[-70, -71, -69], 0.25, -70], // n = 3 cuts none: the plain mean
    [[1, 2, 3, 4, 5, 6, 7, 8], 0.25, 4.5],
    [[1, 2, 3, 100], 0, 26.5],
  ])('trimmed mean of %j cutting %d each side is %d', (values, trim, expected) => {
    expect(trimmedMean(values, trim)).toBeCloseTo(expected, 10);
  });

  it('returns NaN for no values', () => {
    expect(sortedMedian([], 0)).toBeNaN();
    expect(sortedTrimmedMean([], 0.25, 0)).toBeNaN();
  });

  it('keeps the median and any trimmed mean within the range of the values', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -127, max: 20 }), { minLength: 1, maxLength: 64 }), fc.double({ min: 0, max: 0.49, noNaN: true }), (values, trim) => {
        const lo = Math.min(...values);
        const hi = Math.max(...values);
        for (const v of [median(values), trimmedMean(values, trim)]) {
          expect(v).toBeGreaterThanOrEqual(lo);
          expect(v).toBeLessThanOrEqual(hi);
        }
      }),
    );
  });

  it('weighs an EMA step by elapsed time: τ later it has moved 1 − 1/e of the way', () => {
    expect(emaStep(-80, -60, 1_000, 1_000)).toBeCloseTo(-80 + 20 * (1 - Math.exp(-1)), 10);
    expect(emaStep(-80, -60, 0, 1_000)).toBe(-80);
    expect(emaStep(-80, -60, -50, 1_000)).toBe(-80); // a late packet does not move it backwards in time
  });
});

describe('windowed estimator', () => {
  it('ignores one deep fade in a steady window (median and trimmed mean) where the last packet alone follows it', () => {
    const packets = every100ms([-70, -70, -71, -70, -69, -70, -70, -82]);
    expect(feed(packets, config({ robust: 'median' })).estimates.at(-1)).toBe(-70);
    expect(feed(packets, config({ robust: 'trimmed-mean' })).estimates.at(-1)).toBeCloseTo(-70, 0);
    expect(feed(packets, config({ robust: 'last' })).estimates.at(-1)).toBe(-82);
  });

  it('forgets packets older than windowMs', () => {
    const estimator = config({ robust: 'median', windowMs: 1_000 });
    const { state, estimates } = feed([[0, -90], [100, -90], [200, -90], [1_500, -60]], estimator);
    expect(estimates.at(-1)).toBe(-60);
    expect(state.count).toBe(1);
  });

  it('holds at most maxSamples packets, the newest', () => {
    const estimator = config({ robust: 'median', windowMs: 60_000, maxSamples: 4 });
    const { state, estimates } = feed(every100ms([-90, -90, -90, -90, -60, -60, -60]), estimator);
    expect(state.count).toBe(4);
    expect(state.ring.length).toBe(8);
    expect(estimates.at(-1)).toBe(-60); // −90, −60, −60, −60
  });

  it('starts small: a device heard once holds a window of two', () => {
    const state = startRssi(-70, 0, DEFAULT_RSSI_ESTIMATOR);
    expect(state.ring.length).toBe(4);
    expect(state.count).toBe(1);
  });

  it('follows the EMA or the Kalman filter after the window when asked', () => {
    const packets = every100ms([-90, -90, -90, -60, -60, -60, -60, -60, -60, -60]);
    const windowOnly = feed(packets, config({ robust: 'median', windowMs: 400 })).estimates.at(-1)!;
    const withEma = feed(packets, config({ robust: 'median', windowMs: 400, smoothing: 'ema', emaTimeConstantMs: 1_000 })).estimates.at(-1)!;
    const withKalman = feed(packets, config({ robust: 'median', windowMs: 400, smoothing: 'kalman' })).estimates.at(-1)!;
    expect(windowOnly).toBe(-60);
    expect(withEma).toBeLessThan(-60);
    expect(withEma).toBeGreaterThan(-90);
    expect(withKalman).toBeLessThan(-60);
    expect(withKalman).toBeGreaterThan(-90);
  });

  it('matches the statistic over the packets in the window, for any stream (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 3_000 }), rssiDbm: fc.integer({ min: -110, max: -30 }) }), { minLength: 1, maxLength: 120 }),
        fc.constantFrom('median', 'trimmed-mean', 'last') as fc.Arbitrary<'median' | 'trimmed-mean' | 'last'>,
        fc.integer({ min: 1, max: 20 }),
        (packets, robust, maxSamples) => {
          const estimator = config({ robust, maxSamples, windowMs: 4_000 });
          const kept: [number, number][] = [];
          let atMs = 0;
          let state: RssiEstimatorState | undefined;
          for (const { gapMs, rssiDbm } of packets) {
            atMs += gapMs;
            const estimate = state === undefined ? (state = startRssi(rssiDbm, atMs, estimator)).rssiDbm : updateRssi(state, rssiDbm, atMs, estimator);
            kept.push([atMs, rssiDbm]);
            // The reference: the newest packets within windowMs, at most maxSamples (and one for 'last').
            const inWindow = kept.filter(([t]) => atMs - t < estimator.windowMs).slice(-(robust === 'last' ? 1 : maxSamples)).map(([, v]) => v);
            const values = inWindow.length > 0 ? inWindow : [rssiDbm];
            const expected = robust === 'last' ? rssiDbm : robust === 'median' ? median(values) : trimmedMean(values, estimator.trimFraction);
            expect(estimate).toBeCloseTo(expected, 9);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    [{ robust: 'mode' }, /estimator\.robust/],
    [{ smoothing: 'lowpass' }, /estimator\.smoothing/],
    [{ windowMs: 50 }, /estimator\.windowMs/],
    [{ maxSamples: 0 }, /estimator\.maxSamples/],
    [{ maxSamples: 2.5 }, /estimator\.maxSamples/],
    [{ trimFraction: -0.1 }, /estimator\.trimFraction/],
    [{ emaTimeConstantMs: 0 }, /estimator\.emaTimeConstantMs/],
    [{ kalman: { processNoiseDb2PerS: 0, measurementNoiseDb2: 16 } }, /estimator\.kalman/],
  ])('refuses %o, naming the field', (overrides, message) => {
    expect(() => validateRssiEstimatorConfig(config(overrides as Partial<RssiEstimatorConfig>))).toThrow(message);
  });
});
