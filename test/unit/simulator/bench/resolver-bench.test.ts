import { describe, expect, it } from 'vitest';
import { runResolverBench } from '#simulator/bench/resolver-bench.ts';

describe('runResolverBench', () => {
  it('measures the compact index and the Map it replaced on the same shoppers, and both hold every pseudonym', async () => {
    const lines: string[] = [];
    const results = await runResolverBench({ shoppers: [300], lookups: 2_000, rounds: 1, print: (line) => lines.push(line) });
    expect(results.map((r) => r.implementation)).toEqual(['compact', 'map (before)']);
    for (const r of results) {
      expect(r.shoppers).toBe(300);
      expect(r.oneKey.pseudonyms).toBe(300 * 3);
      expect(r.twoKeys.pseudonyms).toBe(300 * 3 * 2);
      expect(r.oneKey.roll.cpuMs).toBeGreaterThan(0);
      expect(r.oneKey.percentOfCore).toBeGreaterThan(r.oneKey.rollPercentOfCore);
      expect(r.oneKey.hitsPerSec).toBeGreaterThan(0);
      expect(r.oneKey.missesPerSec).toBeGreaterThan(0);
    }
    expect(lines.some((line) => line.startsWith('  before ÷ after: memory'))).toBe(true);
  });

  it('skips the Map past baselineUpTo', async () => {
    const results = await runResolverBench({ shoppers: [50, 100], baselineUpTo: 50, lookups: 500, rounds: 1, print: () => undefined });
    expect(results.map((r) => `${r.implementation} ${r.shoppers}`)).toEqual(['compact 50', 'map (before) 50', 'compact 100']);
  });
});
