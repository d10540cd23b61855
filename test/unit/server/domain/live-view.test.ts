import { describe, expect, it } from 'vitest';
import { liveView } from '#server/domain/live-view.ts';

// The live view's rules (AN-1, AN-3): occupancy from k up only, never for a sensitive zone; a zone's event
// rate only where its occupancy shows; the store's rate without sensitive zones.

const zones = [
  { id: 'entrance', name: 'Entrance', sensitive: false },
  { id: 'bakery', name: 'Bakery', sensitive: false },
  { id: 'pharmacy', name: 'Pharmacy', sensitive: true },
];
const view = (occupancy: Record<string, number>, events: Record<string, number> = {}, k?: number) => liveView({
  storeId: 'store-1', atMs: 1_000, ...(k === undefined ? {} : { k }), zones,
  occupancy: Object.entries(occupancy).map(([zoneId, shoppers]) => ({ zoneId, shoppers })),
  events: Object.entries(events).map(([zoneId, n]) => ({ zoneId, events: n })),
});
const occupancyOf = (v: ReturnType<typeof view>) => Object.fromEntries(v.zones.map((z) => [z.zoneId, z.occupancy]));

describe('liveView', () => {
  it('shows a zone\'s occupancy from exactly k shoppers up; below k, and zero, it is null', () => {
    expect(occupancyOf(view({ entrance: 10, bakery: 9 }))).toEqual({ entrance: 10, bakery: null, pharmacy: null });
    expect(occupancyOf(view({}))).toEqual({ entrance: null, bakery: null, pharmacy: null });
    expect(occupancyOf(view({ entrance: 12, bakery: 30 }, {}, 15))).toEqual({ entrance: null, bakery: 30, pharmacy: null });
  });

  it('never shows a sensitive zone, however full', () => {
    const v = view({ pharmacy: 500 }, { pharmacy: 900 });
    expect(v.zones.find((z) => z.zoneId === 'pharmacy')).toEqual({ zoneId: 'pharmacy', name: 'Pharmacy', sensitive: true, occupancy: null, eventsPerSecond: null });
    expect(v.eventsPerSecond).toBe(0);
  });

  it('gives a zone\'s events per second only where its occupancy shows, and the store\'s without sensitive zones', () => {
    const v = view({ entrance: 20, bakery: 2 }, { entrance: 35, bakery: 4, pharmacy: 50 });
    expect(v.zones.map((z) => [z.zoneId, z.eventsPerSecond])).toEqual([['entrance', 3.5], ['bakery', null], ['pharmacy', null]]);
    expect(v.eventsPerSecond).toBe(3.9);
    expect(v.windowS).toBe(10);
  });

  it('ignores counts of zones the store no longer has, and refuses a k below 10', () => {
    expect(view({ gone: 50 }).zones.map((z) => z.zoneId)).toEqual(['entrance', 'bakery', 'pharmacy']);
    expect(() => view({}, {}, 5)).toThrow(RangeError);
  });
});
