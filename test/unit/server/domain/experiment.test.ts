import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExperimentSchema, type Experiment } from '#server/domain/campaign.ts';
import { assignGroup, assignmentPoint, deriveExperimentKey, groupAt, variantLabel } from '#server/domain/experiment.ts';

const key = deriveExperimentKey(Buffer.alloc(32, 7));
const experiment = (holdoutPercent: number, weights: number[]): Experiment =>
  ExperimentSchema.parse({ holdoutPercent, variants: weights.map((weight, i) => ({ id: `v${i}`, weight })) });

/** Pearson's chi-square statistic of observed counts against expected shares. */
function chiSquare(observed: Record<string, number>, expectedShare: Record<string, number>, n: number): number {
  return Object.entries(expectedShare).reduce((sum, [group, share]) => sum + ((observed[group] ?? 0) - n * share) ** 2 / (n * share), 0);
}

function tally(exp: Experiment, n: number, campaignId = 'cmp-ab'): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i += 1) {
    const label = variantLabel(assignGroup(key, { id: campaignId, experiment: exp }, `sh_${i}`))!;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

describe('experiment assignment', () => {
  it('gives a shopper the same group every time, and on every instance deriving the key from the same master key', () => {
    const exp = experiment(10, [1, 1]);
    const again = deriveExperimentKey(Buffer.alloc(32, 7));
    for (let i = 0; i < 200; i += 1) {
      expect(assignGroup(again, { id: 'cmp-1', experiment: exp }, `sh_${i}`)).toEqual(assignGroup(key, { id: 'cmp-1', experiment: exp }, `sh_${i}`));
    }
  });

  it('cannot be computed without the master key: another key gives unrelated points', () => {
    const other = deriveExperimentKey(Buffer.alloc(32, 9));
    const same = Array.from({ length: 1000 }, (_, i) => assignmentPoint(key, 'cmp-1', `sh_${i}`) < 0.5 === assignmentPoint(other, 'cmp-1', `sh_${i}`) < 0.5)
      .filter(Boolean).length;
    // Independent halves agree about half the time (binomial(1000, ½): 500 ± 4.5σ).
    expect(same).toBeGreaterThan(430);
    expect(same).toBeLessThan(570);
  });

  it('assigns independently per campaign', () => {
    const a = Array.from({ length: 1000 }, (_, i) => assignmentPoint(key, 'cmp-a', `sh_${i}`) < 0.5);
    const b = Array.from({ length: 1000 }, (_, i) => assignmentPoint(key, 'cmp-b', `sh_${i}`) < 0.5);
    const agree = a.filter((x, i) => x === b[i]).length;
    expect(agree).toBeGreaterThan(430);
    expect(agree).toBeLessThan(570);
  });

  it('splits 100 000 shoppers as configured: 10 % holdout, variants 1:1 (chi-square, 2 d.f., below the 0.999 quantile 13.82)', () => {
    const n = 100_000;
    const counts = tally(experiment(10, [1, 1]), n);
    expect(chiSquare(counts, { holdout: 0.1, v0: 0.45, v1: 0.45 }, n)).toBeLessThan(13.82);
  });

  it('honours unequal weights 1:3:6 with a 20 % holdout (chi-square, 3 d.f., below 16.27)', () => {
    const n = 100_000;
    const counts = tally(experiment(20, [1, 3, 6]), n, 'cmp-weights');
    expect(chiSquare(counts, { holdout: 0.2, v0: 0.08, v1: 0.24, v2: 0.48 }, n)).toBeLessThan(16.27);
    expect(counts.v2! / counts.v0!).toBeGreaterThan(5.5);
    expect(counts.v2! / counts.v0!).toBeLessThan(6.5);
  });

  it('holds out nobody at holdoutPercent 0', () => {
    const counts = tally(experiment(0, [1]), 5000, 'cmp-none');
    expect(counts).toEqual({ v0: 5000 });
  });

  it('maps every point of [0, 1) to a group, in order: holdout, then the variants by cumulative weight', () => {
    const exp = experiment(25, [1, 3]);
    expect(groupAt(exp, 0)).toEqual({ kind: 'holdout' });
    expect(groupAt(exp, 0.2499)).toEqual({ kind: 'holdout' });
    expect(variantLabel(groupAt(exp, 0.25))).toBe('v0');
    expect(variantLabel(groupAt(exp, 0.4374))).toBe('v0');
    expect(variantLabel(groupAt(exp, 0.4376))).toBe('v1');
    expect(variantLabel(groupAt(exp, 1 - 2 ** -52))).toBe('v1');
    fc.assert(fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (u) => ['holdout', 'v0', 'v1'].includes(variantLabel(groupAt(exp, u))!)));
  });

  it('refuses a point outside [0, 1)', () => {
    expect(() => groupAt(experiment(10, [1]), 1)).toThrow(/u must be in \[0, 1\)/);
    expect(() => groupAt(experiment(10, [1]), Number.NaN)).toThrow(RangeError);
  });

  it('labels no experiment as null', () => {
    expect(variantLabel(undefined)).toBeNull();
  });
});
