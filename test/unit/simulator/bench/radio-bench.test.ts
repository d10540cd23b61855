import { describe, expect, it } from 'vitest';
import { runRadioBench } from '#simulator/bench/radio-bench.ts';

describe('runRadioBench', () => {
  it('runs a small store and accounts for every packet', () => {
    const result = runRadioBench({ advertisers: 20, receivers: 3, virtualSeconds: 2 });
    expect(result.virtualMs).toBe(2_000);
    // 20 advertisers at 100 ms + advDelay: about 19 events each in 2 s.
    expect(result.emitted).toBeGreaterThan(300);
    expect(result.emitted).toBeLessThanOrEqual(400);
    expect(result.delivered + result.lost).toBe(3 * result.emitted);
    expect(result.discovered).toBe(result.delivered);
    expect(result.realTimeFactor).toBeCloseTo(result.virtualMs / result.wallMs, 6);
  });

  it('measures the same traffic for the same seed', () => {
    const counts = ({ emitted, delivered, lost }: ReturnType<typeof runRadioBench>) => ({ emitted, delivered, lost });
    const small = { advertisers: 10, receivers: 2, virtualSeconds: 1, seed: 3 };
    expect(counts(runRadioBench(small))).toEqual(counts(runRadioBench(small)));
  });
});
