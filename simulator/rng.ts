// A small, fast, seeded PRNG so every simulation run can be replayed from its seed.
// Generator: xoshiro128** (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c),
// 128-bit state, period 2^128 − 1, seeded through splitmix32 so that nearby seeds give unrelated streams.

export type Rng = {
  /** The seed this stream was created from (a fork's seed is derived from its parent's and its label). */
  readonly seed: number;
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** Normally distributed (Box–Muller). */
  normal(mean: number, sd: number): number;
  /** Exponentially distributed with the given rate (mean 1 / rate). */
  exponential(rate: number): number;
  /** A uniformly chosen element; throws RangeError on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** n uniformly random bytes. */
  bytes(n: number): Buffer;
  /**
   * An independent stream derived from this stream's seed and `label` only, never from how many
   * numbers have been drawn. So `fork('advertiser:7')` is the same stream whatever else the run does,
   * and adding a component does not perturb the others. The same label gives the same stream.
   */
  fork(label: string): Rng;
};

const TWO_POW_32 = 0x1_0000_0000;

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`RNG seed must be a finite number, got ${seed}`);
  // Fold the seed's high bits into 32 (seeds beyond 2^32 must not collide with their low half).
  const folded = (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_POW_32) >>> 0, 0x9e3779b9);
  let mix = folded >>> 0;
  const splitmix32 = (): number => {
    mix = (mix + 0x9e3779b9) >>> 0;
    let z = mix;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix32();
  let s1 = splitmix32();
  let s2 = splitmix32();
  let s3 = splitmix32();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point

  const uint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const next = (): number => uint32() / TWO_POW_32;

  // Box–Muller yields two independent normals per pair of uniforms; keep the spare.
  let spare: number | undefined;
  const standardNormal = (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u1 = 1 - next(); // (0, 1]: log(0) is −∞
    const u2 = next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };

  return {
    seed: folded >>> 0,
    next,
    uint32,
    int(min, max) {
      if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
        throw new RangeError(`int(min, max) needs integers with min ≤ max, got ${min}, ${max}`);
      }
      return min + Math.floor(next() * (max - min + 1));
    },
    normal: (mean, sd) => mean + sd * standardNormal(),
    exponential(rate) {
      if (!(rate > 0)) throw new RangeError(`exponential(rate) needs rate > 0, got ${rate}`);
      return -Math.log(1 - next()) / rate;
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick() from an empty array');
      return items[Math.floor(next() * items.length)] as T;
    },
    bytes(n) {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) {
        let word = uint32();
        for (let j = i; j < Math.min(i + 4, n); j += 1) {
          out[j] = word & 0xff;
          word >>>= 8;
        }
      }
      return out;
    },
    fork: (label) => createRng(hashLabel(folded >>> 0, label)),
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** FNV-1a over the label's UTF-16 code units, started from the parent seed, then avalanched (murmur3 fmix32). */
function hashLabel(parentSeed: number, label: string): number {
  let h = (0x811c9dc5 ^ parentSeed) >>> 0;
  for (let i = 0; i < label.length; i += 1) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
