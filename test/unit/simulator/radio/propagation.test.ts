import { describe, expect, it } from 'vitest';
import { createRng } from '#simulator/rng.ts';
import { receptionProbability, rssiAt, type LinkParams } from '#simulator/radio/propagation.ts';

const exact = (overrides: Partial<LinkParams> = {}): LinkParams => ({
  txPowerAt1mDbm: -59,
  distanceM: 1,
  pathLossExponent: 2,
  shadowingSigmaDb: 0,
  multipathBurstProbability: 0,
  multipathBurstDb: -6,
  rssiOffsetDb: 0,
  ...overrides,
});

describe('rssiAt', () => {
  const rng = createRng(1);

  it('without shadowing or fades, follows the log-distance law exactly', () => {
    expect(rssiAt(exact({ distanceM: 1 }), rng)).toBe(-59);
    expect(rssiAt(exact({ distanceM: 10 }), rng)).toBe(-79); // −10·2·log10(10) = −20 dB
    expect(rssiAt(exact({ distanceM: 10, pathLossExponent: 3 }), rng)).toBe(-89);
    expect(rssiAt(exact({ distanceM: 100 }), rng)).toBe(-99);
  });

  it('adds the receiver offset and rounds to a whole dBm', () => {
    expect(rssiAt(exact({ distanceM: 10, rssiOffsetDb: 3 }), rng)).toBe(-76);
    expect(rssiAt(exact({ distanceM: 3 }), rng)).toBe(-69); // −59 − 9.54
  });

  it('treats anything closer than half a metre as half a metre', () => {
    const atHalf = rssiAt(exact({ distanceM: 0.5 }), rng);
    expect(atHalf).toBe(-53); // −59 + 6.02
    expect(rssiAt(exact({ distanceM: 0 }), rng)).toBe(atHalf);
    expect(rssiAt(exact({ distanceM: 0.01 }), rng)).toBe(atHalf);
  });

  it('applies a multipath fade when one happens', () => {
    expect(rssiAt(exact({ distanceM: 10, multipathBurstProbability: 1, multipathBurstDb: -6 }), rng)).toBe(-85);
  });

  it('clamps to the range a controller can report, −127..20 dBm', () => {
    expect(rssiAt(exact({ txPowerAt1mDbm: 40, distanceM: 0.5 }), rng)).toBe(20);
    expect(rssiAt(exact({ txPowerAt1mDbm: -120, distanceM: 500, pathLossExponent: 4 }), rng)).toBe(-127);
  });

  it('falls with distance on average, even with shadowing and fades', () => {
    const noisy = { shadowingSigmaDb: 6, multipathBurstProbability: 0.1, pathLossExponent: 2.5 };
    const meanAt = (distanceM: number): number => {
      let sum = 0;
      for (let i = 0; i < 2_000; i += 1) sum += rssiAt(exact({ ...noisy, distanceM }), rng);
      return sum / 2_000;
    };
    const means = [1, 2, 4, 8, 16, 32].map(meanAt);
    for (let i = 1; i < means.length; i += 1) expect(means[i]).toBeLessThan(means[i - 1] as number);
    // Doubling the distance costs 10·n·log10(2) ≈ 7.5 dB at n = 2.5.
    expect((means[0] as number) - (means[1] as number)).toBeGreaterThan(6.5);
    expect((means[0] as number) - (means[1] as number)).toBeLessThan(8.5);
  });

  it('spreads readings by the shadowing sigma', () => {
    const values = Array.from({ length: 5_000 }, () => rssiAt(exact({ distanceM: 5, shadowingSigmaDb: 5 }), rng));
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    expect(mean).toBeCloseTo(-59 - 20 * Math.log10(5), 0);
    expect(sd).toBeGreaterThan(4.7);
    expect(sd).toBeLessThan(5.3);
  });

  it('is reproducible from the RNG seed', () => {
    const link = exact({ distanceM: 7, shadowingSigmaDb: 4, multipathBurstProbability: 0.2 });
    const run = (seed: number) => { const r = createRng(seed); return Array.from({ length: 50 }, () => rssiAt(link, r)); };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
  });
});

describe('receptionProbability', () => {
  it('is one half at the sensitivity', () => {
    expect(receptionProbability(-95, -95)).toBeCloseTo(0.5, 10);
    expect(receptionProbability(-90, -90)).toBeCloseTo(0.5, 10);
  });

  it('rises with signal strength, from nothing well below the sensitivity to nearly certain above it', () => {
    const levels = [-127, -105, -98, -95, -92, -85, -60];
    const probabilities = levels.map((rssi) => receptionProbability(rssi));
    for (let i = 1; i < probabilities.length; i += 1) expect(probabilities[i]).toBeGreaterThan(probabilities[i - 1] as number);
    expect(probabilities[0]).toBeLessThan(1e-6);
    expect(probabilities.at(-1)).toBeGreaterThan(0.999);
  });

  it('never exceeds the delivery rate left by packet loss', () => {
    expect(receptionProbability(-40, -95, 0.1)).toBeCloseTo(0.9, 6);
    expect(receptionProbability(-40, -95, 1)).toBe(0);
  });

  it('keeps out-of-range packet loss within 0..1', () => {
    expect(receptionProbability(-40, -95, -0.5)).toBeCloseTo(1, 6);
    expect(receptionProbability(-40, -95, 2)).toBe(0);
  });
});
