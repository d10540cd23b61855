import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RSSI_FILTER, startEstimate, updateEstimate, type RssiEstimate } from '#gateway/presence/rssi-filter.ts';

const PACKET_MS = 100; // a phone advertising at 10 Hz

/** Feeds values one packet apart, starting one packet after the estimate. */
const feed = (estimate: RssiEstimate, values: readonly number[]): RssiEstimate[] => {
  const out: RssiEstimate[] = [];
  let current = estimate;
  for (const value of values) {
    current = updateEstimate(current, value, current.atMs + PACKET_MS);
    out.push(current);
  }
  return out;
};

describe('RSSI filter', () => {
  it('starts at the first reading with the measurement variance', () => {
    expect(startEstimate(-70, 5_000)).toEqual({ rssiDbm: -70, varianceDb2: DEFAULT_RSSI_FILTER.measurementNoiseDb2, atMs: 5_000 });
  });

  it('converges to a constant input', () => {
    const estimates = feed(startEstimate(-95, 0), Array<number>(50).fill(-60));
    expect(estimates.at(-1)!.rssiDbm).toBeCloseTo(-60, 1);
  });

  it('moves towards any constant input without overshooting it', () => {
    fc.assert(
      fc.property(fc.integer({ min: -110, max: -30 }), fc.integer({ min: -110, max: -30 }), (start, target) => {
        let distance = Math.abs(start - target);
        for (const estimate of feed(startEstimate(start, 0), Array<number>(30).fill(target))) {
          const next = Math.abs(estimate.rssiDbm - target);
          expect(next).toBeLessThanOrEqual(distance);
          distance = next;
        }
      }),
    );
  });

  it('damps a single −6 dB multipath burst to less than half its size', () => {
    const settled = feed(startEstimate(-70, 0), Array<number>(40).fill(-70)).at(-1)!;
    const afterBurst = updateEstimate(settled, -76, settled.atMs + PACKET_MS);
    const moved = settled.rssiDbm - afterBurst.rssiDbm;
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(3);
  });

  it('follows a real step change within a few seconds', () => {
    const settled = feed(startEstimate(-70, 0), Array<number>(40).fill(-70)).at(-1)!;
    const afterStep = feed(settled, Array<number>(30).fill(-85)).at(-1)!; // 3 s
    expect(afterStep.rssiDbm).toBeLessThan(-82);
  });

  it('loses variance with every sample at a steady rate, down to a floor', () => {
    const variances = feed(startEstimate(-70, 0), Array<number>(40).fill(-70)).map((estimate) => estimate.varianceDb2);
    for (let i = 1; i < variances.length; i += 1) expect(variances[i]).toBeLessThanOrEqual(variances[i - 1]!);
    expect(variances.at(-1)!).toBeLessThan(DEFAULT_RSSI_FILTER.measurementNoiseDb2 / 4);
    expect(variances.at(-1)!).toBeGreaterThan(0);
  });

  it('gains variance again over a silence, so it trusts the next reading more', () => {
    const settled = feed(startEstimate(-70, 0), Array<number>(40).fill(-70)).at(-1)!;
    const soon = updateEstimate(settled, -80, settled.atMs + PACKET_MS);
    const late = updateEstimate(settled, -80, settled.atMs + 10_000);
    expect(late.rssiDbm).toBeLessThan(soon.rssiDbm);
  });

  it('does not move its clock backwards on a late packet', () => {
    const estimate = updateEstimate(startEstimate(-70, 1_000), -72, 500);
    expect(estimate.atMs).toBe(1_000);
    expect(Number.isFinite(estimate.rssiDbm)).toBe(true);
  });
});
