import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '#simulator/rng.ts';
import { pointInPolygon } from '#server/domain/geometry.ts';
import { localClock, localToUtcMs } from '#simulator/world/local-time.ts';
import { createPositionCursor, createRouter, planStoreVisit, poissonArrivals, weightedSample } from '#simulator/world/store-visits.ts';

const square = (x: number, y: number, w: number, h: number) => [{ x, y }, { x: x + w, y }, { x: x + w, y: y + h }, { x, y: y + h }];

describe('poissonArrivals', () => {
  it('brings the expected number on average, only inside each hour, with no arrivals at rate 0', () => {
    const rates = [{ fromMs: 0, toMs: 3_600_000, perHour: 120 }, { fromMs: 3_600_000, toMs: 7_200_000, perHour: 0 }, { fromMs: 7_200_000, toMs: 10_800_000, perHour: 30 }];
    const counts = Array.from({ length: 200 }, (_, seed) => poissonArrivals(createRng(seed), rates));
    const mean = counts.reduce((sum, a) => sum + a.length, 0) / counts.length;
    expect(mean).toBeGreaterThan(145);
    expect(mean).toBeLessThan(155);
    for (const arrivals of counts) expect(arrivals.filter((t) => t >= 3_600_000 && t < 7_200_000)).toEqual([]);
  });
});

describe('weightedSample', () => {
  it('draws distinct items, never one of weight 0', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 1, max: 6 }), (seed, k) => {
      const items = ['a', 'b', 'c', 'd', 'never'];
      const chosen = weightedSample(createRng(seed), items, (item) => (item === 'never' ? 0 : 1), k);
      expect(new Set(chosen).size).toBe(chosen.length);
      expect(chosen).not.toContain('never');
      expect(chosen.length).toBe(Math.min(k, 4));
    }));
  });
});

describe('createRouter', () => {
  it('walks along the corridor graph between the nodes nearest to each end', () => {
    const route = createRouter({ nodes: { a: { x: 0, y: 0 }, b: { x: 10, y: 0 }, c: { x: 10, y: 10 } }, edges: [['a', 'b'], ['b', 'c']] });
    expect(route({ x: 0, y: 1 }, { x: 11, y: 10 })).toEqual([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }]);
    expect(createRouter(undefined)({ x: 0, y: 0 }, { x: 5, y: 5 })).toEqual([]);
  });
});

describe('planStoreVisit', () => {
  it('stops inside each chosen zone for its dwell, starts and ends at an entrance, and moves continuously', () => {
    const zones = [{ id: 'a', polygon: square(0, 0, 10, 10), weight: 1 }, { id: 'b', polygon: square(10, 0, 10, 10), weight: 1 }];
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), (seed) => {
      const visit = planStoreVisit({
        rng: createRng(seed), startMs: 1_000, entrances: [{ x: 0, y: 5 }], zones, stopsPerVisit: [1, 2], dwellS: { medianS: 30, sigma: 0.5 },
        walkingSpeedMps: { mean: 1.2, sd: 0.1 }, route: createRouter(undefined),
      });
      for (const stop of visit.stops) {
        expect(pointInPolygon(stop.at, zones.find((z) => z.id === stop.zoneId)!.polygon)).toBe(true);
        expect(stop.leaveMs).toBeGreaterThan(stop.arriveMs);
      }
      const at = createPositionCursor(visit);
      expect(at(visit.startMs)).toEqual({ x: 0, y: 5 });
      expect(at(visit.endMs)).toEqual({ x: 0, y: 5 });
      expect(at(visit.endMs + 1)).toBeUndefined();
      // Never faster than the fastest walker (2.5 m/s) between two samples a second apart.
      for (let t = visit.startMs; t + 1_000 <= visit.endMs; t += 1_000) {
        const [p, q] = [at(t)!, at(t + 1_000)!];
        expect(Math.hypot(q.x - p.x, q.y - p.y)).toBeLessThanOrEqual(2.5 + 1e-9);
      }
    }), { numRuns: 50 });
  });
});

describe('local time', () => {
  it('turns a store\'s opening time into UTC with its own offset, daylight saving included', () => {
    expect(new Date(localToUtcMs('2026-03-02', '08:00', 'Europe/Berlin')).toISOString()).toBe('2026-03-02T07:00:00.000Z');
    expect(new Date(localToUtcMs('2026-07-02', '08:00', 'Europe/Berlin')).toISOString()).toBe('2026-07-02T06:00:00.000Z');
    expect(new Date(localToUtcMs('2026-07-02', '08:00', 'America/New_York')).toISOString()).toBe('2026-07-02T12:00:00.000Z');
    expect(localClock(localToUtcMs('2026-03-29', '10:30', 'Europe/Rome'), 'Europe/Rome')).toBe('10:30');
  });
});
