import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOccupancyCounter, DEFAULT_OCCUPANCY, suppressBelow, validateOccupancyConfig } from '#gateway/presence/occupancy.ts';
import type { Pseudonym } from '#gateway/protocol/pseudonym.ts';

const pseudonym = (n: number): Pseudonym => (n * 0x9e3779b1 >>> 0).toString(16).padStart(8, '0').concat('0'.repeat(24)) as Pseudonym;
const devices = (from: number, to: number): Pseudonym[] => Array.from({ length: to - from }, (_, i) => pseudonym(from + i));
const MINUTE = 60_000;
const T0 = 1_900_000_000_000 - (1_900_000_000_000 % (60 * MINUTE)); // an hour boundary

describe('occupancy counter', () => {
  it('defaults to 60 s windows and k = 5 (the gateway enables it only when configured)', () => {
    expect(DEFAULT_OCCUPANCY).toEqual({ windowMs: 60_000, minCount: 5, maxDistinct: 10_000 });
  });

  it('counts distinct devices present during each window: those present at its start and each enter', () => {
    const counter = createOccupancyCounter({}, T0 - 30_000);
    expect(counter.roll(T0 - 1_000, [])).toBeUndefined(); // still the first window
    // The first window was joined part way: not published.
    expect(counter.roll(T0, devices(0, 3))).toBeUndefined();
    for (const p of [...devices(3, 8), ...devices(0, 2), pseudonym(5)]) counter.add(p); // repeats count once
    expect(counter.size()).toBe(8);
    expect(counter.roll(T0 + MINUTE + 400, devices(6, 8))).toEqual({ startMs: T0, endMs: T0 + MINUTE, count: 8, saturated: false });
    // The next window starts with those present at its start, and nothing else.
    expect(counter.size()).toBe(2);
  });

  it('suppresses a count below k as null', () => {
    const counter = createOccupancyCounter({ minCount: 5 }, T0);
    counter.roll(T0 + MINUTE, devices(0, 4));
    expect(counter.roll(T0 + 2 * MINUTE, devices(0, 4))).toMatchObject({ count: null });
    expect(counter.roll(T0 + 3 * MINUTE, devices(0, 5))).toMatchObject({ count: null }); // the window closed held 4
    expect(counter.roll(T0 + 4 * MINUTE, [])).toMatchObject({ count: 5 });
    expect(counter.roll(T0 + 5 * MINUTE, [])).toMatchObject({ count: null }); // 0 is below k too
  });

  it('aligns windows on multiples of windowMs and skips to the window containing now after a stall', () => {
    const counter = createOccupancyCounter({ windowMs: 5 * MINUTE }, T0 - 2 * MINUTE);
    counter.roll(T0 + 3 * MINUTE, devices(0, 6)); // the first whole window starts at T0 (aligned to 5 min)
    expect(counter.roll(T0 + 17 * MINUTE, devices(0, 6))).toEqual({ startMs: T0, endMs: T0 + 5 * MINUTE, count: 6, saturated: false });
    expect(counter.roll(T0 + 20 * MINUTE, [])).toEqual({ startMs: T0 + 15 * MINUTE, endMs: T0 + 20 * MINUTE, count: 6, saturated: false });
  });

  it('holds at most maxDistinct fingerprints and then reports that bound as a lower bound', () => {
    const counter = createOccupancyCounter({ maxDistinct: 10, minCount: 2 }, T0);
    counter.roll(T0 + MINUTE, []);
    for (const p of devices(0, 50)) counter.add(p);
    expect(counter.size()).toBe(10);
    expect(counter.roll(T0 + 2 * MINUTE, [])).toEqual({ startMs: T0 + MINUTE, endMs: T0 + 2 * MINUTE, count: 10, saturated: true });
    counter.add(pseudonym(1));
    expect(counter.roll(T0 + 3 * MINUTE, [])).toMatchObject({ saturated: false });
  });

  it('counts exactly the distinct devices of a random window (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 400 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 50 }), (enters, atStart) => {
        const counter = createOccupancyCounter({ minCount: 2 }, T0);
        counter.roll(T0 + MINUTE, atStart.map(pseudonym));
        for (const n of enters) counter.add(pseudonym(n));
        const distinct = new Set([...enters, ...atStart]).size;
        expect(counter.roll(T0 + 2 * MINUTE, [])?.count).toBe(suppressBelow(distinct, 2));
      }),
    );
  });

  it.each([
    [{ windowMs: 59_999 }, /windowMs.*60 s/],
    [{ windowMs: 90_000.5 }, /windowMs/],
    [{ minCount: 1 }, /minCount/],
    [{ maxDistinct: 3 }, /maxDistinct/],
  ])('refuses %o, naming the field', (overrides, message) => {
    expect(() => validateOccupancyConfig({ ...DEFAULT_OCCUPANCY, ...overrides })).toThrow(message);
    expect(() => createOccupancyCounter(overrides)).toThrow(message);
  });
});
