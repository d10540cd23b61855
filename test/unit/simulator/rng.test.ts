import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRng, type Rng } from '#simulator/rng.ts';

const draw = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.next());
const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;
const sd = (values: number[]): number => {
  const m = mean(values);
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
};

describe('createRng', () => {
  it('replays the same sequence from the same seed, across every kind of draw', () => {
    const script = (rng: Rng) => [rng.next(), rng.int(-5, 5), rng.normal(0, 1), rng.exponential(2), rng.pick(['a', 'b', 'c']), rng.bytes(7).toString('hex'), rng.uint32()];
    const a = createRng(42);
    const b = createRng(42);
    for (let i = 0; i < 100; i += 1) expect(script(a)).toEqual(script(b));
  });

  it('gives unrelated sequences for neighbouring seeds', () => {
    const a = draw(createRng(1), 50);
    const b = draw(createRng(2), 50);
    expect(a.filter((v, i) => v === b[i])).toHaveLength(0);
  });

  it('does not confuse a seed beyond 2^32 with its low 32 bits', () => {
    expect(draw(createRng(2 ** 32 + 5), 5)).not.toEqual(draw(createRng(5), 5));
  });

  it('is reproduced from its reported seed', () => {
    const original = createRng(-123_456);
    expect(draw(createRng(original.seed), 10)).toEqual(draw(original, 10));
  });

  it('rejects a seed that is not a finite number', () => {
    expect(() => createRng(Number.NaN)).toThrow(RangeError);
  });

  describe('fork', () => {
    it('derives a stream from the seed and label only, however much the parent has drawn', () => {
      const fresh = createRng(7);
      const used = createRng(7);
      draw(used, 1_000);
      expect(draw(used.fork('advertiser:1'), 20)).toEqual(draw(fresh.fork('advertiser:1'), 20));
    });

    it('does not advance the parent', () => {
      const a = createRng(7);
      const b = createRng(7);
      draw(a.fork('x'), 10);
      expect(draw(a, 10)).toEqual(draw(b, 10));
    });

    it('gives different labels, and the parent, independent streams', () => {
      const parent = createRng(7);
      const streams = [parent.fork('channel'), parent.fork('advertiser:1'), parent.fork('advertiser:2'), createRng(7)].map((rng) => draw(rng, 50));
      for (let i = 0; i < streams.length; i += 1) {
        for (let j = i + 1; j < streams.length; j += 1) {
          expect(streams[i]?.filter((v, k) => v === streams[j]?.[k])).toHaveLength(0);
        }
      }
    });

    it('forks of forks are as reproducible as forks', () => {
      expect(draw(createRng(9).fork('a').fork('b'), 5)).toEqual(draw(createRng(9).fork('a').fork('b'), 5));
      expect(draw(createRng(9).fork('a').fork('b'), 5)).not.toEqual(draw(createRng(9).fork('b').fork('a'), 5));
    });
  });

  describe('distributions', () => {
    const rng = createRng(2024);

    it('next() is uniform in [0, 1)', () => {
      const values = draw(rng, 20_000);
      expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...values)).toBeLessThan(1);
      expect(mean(values)).toBeCloseTo(0.5, 1);
      // Each tenth of the range gets about a tenth of the draws.
      for (let decile = 0; decile < 10; decile += 1) {
        const share = values.filter((v) => Math.floor(v * 10) === decile).length / values.length;
        expect(share).toBeGreaterThan(0.09);
        expect(share).toBeLessThan(0.11);
      }
    });

    it('int(min, max) covers both ends and nothing outside', () => {
      const seen = new Set(Array.from({ length: 2_000 }, () => rng.int(-2, 3)));
      expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2, 3]);
    });

    it('normal(mean, sd) has that mean and standard deviation', () => {
      const values = Array.from({ length: 20_000 }, () => rng.normal(-70, 4));
      expect(mean(values)).toBeCloseTo(-70, 0);
      expect(sd(values)).toBeGreaterThan(3.9);
      expect(sd(values)).toBeLessThan(4.1);
    });

    it('exponential(rate) has mean 1 / rate and is never negative', () => {
      const values = Array.from({ length: 20_000 }, () => rng.exponential(0.5));
      expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
      expect(mean(values)).toBeGreaterThan(1.9);
      expect(mean(values)).toBeLessThan(2.1);
    });

    it('pick() reaches every element', () => {
      const items = ['aisle', 'till', 'door'] as const;
      expect(new Set(Array.from({ length: 200 }, () => rng.pick(items)))).toEqual(new Set(items));
    });

    it('bytes(n) returns n bytes of every value', () => {
      expect(rng.bytes(0)).toHaveLength(0);
      expect(rng.bytes(5)).toHaveLength(5);
      expect(new Set(rng.bytes(20_000)).size).toBe(256);
    });
  });

  describe('rejects what it cannot draw from', () => {
    const rng = createRng(1);
    it('an empty array to pick from', () => expect(() => rng.pick([])).toThrow(RangeError));
    it('an inverted or fractional int range', () => {
      expect(() => rng.int(3, 2)).toThrow(RangeError);
      expect(() => rng.int(0.5, 2)).toThrow(RangeError);
    });
    it('a non-positive exponential rate', () => expect(() => rng.exponential(0)).toThrow(RangeError));
  });

  it('int(min, max) stays within its bounds for any seed and range (property)', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: -1_000, max: 1_000 }), fc.nat(1_000), (seed, min, span) => {
      const rng = createRng(seed);
      for (let i = 0; i < 20; i += 1) {
        const value = rng.int(min, min + span);
        if (!Number.isInteger(value) || value < min || value > min + span) return false;
      }
      return true;
    }));
  });
});
