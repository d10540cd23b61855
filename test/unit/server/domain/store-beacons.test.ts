import { describe, expect, it } from 'vitest';
import { IOS_REGION_LIMIT, monitoringRegions, sightingEventId } from '#server/domain/store-beacons.ts';

const UUID_A = '11111111-2222-4333-8444-555555555555';
const UUID_B = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';

describe('monitoring regions', () => {
  it('asks for one region per UUID and major, however many zones (minors) a store has', () => {
    const beacons = [1, 2, 3].flatMap((minor) => [{ uuid: UUID_B, major: 7, minor }, { uuid: UUID_A, major: 1, minor }, { uuid: UUID_A, major: 2, minor }]);
    expect(monitoringRegions(beacons)).toEqual([{ uuid: UUID_A, major: 1 }, { uuid: UUID_A, major: 2 }, { uuid: UUID_B, major: 7 }]);
  });

  it('widens to one region per UUID when stores would need more than iOS\'s 20', () => {
    const chain = Array.from({ length: 25 }, (_, major) => ({ uuid: UUID_A, major }));
    expect(monitoringRegions([...chain, { uuid: UUID_B, major: 1 }])).toEqual([{ uuid: UUID_A }, { uuid: UUID_B }]);
    expect(monitoringRegions(chain.slice(0, IOS_REGION_LIMIT))).toHaveLength(IOS_REGION_LIMIT);
  });

  it('never asks for more than the limit', () => {
    const uuids = Array.from({ length: 30 }, (_, i) => `${i.toString(16).padStart(8, '0')}-2222-4333-8444-555555555555`);
    expect(monitoringRegions(uuids.map((uuid) => ({ uuid, major: 1 })))).toHaveLength(IOS_REGION_LIMIT);
    expect(monitoringRegions([])).toEqual([]);
  });
});

describe('sighting event IDs', () => {
  const sighting = { storeId: 'shop-1', beacon: { uuid: UUID_A, major: 1, minor: 2 }, kind: 'enter' as const, atS: 1_900_000_000 };

  it('are the same UUID for the same report, so a retried report is one event', () => {
    const id = sightingEventId('sh_1', sighting);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(sightingEventId('sh_1', { ...sighting, beacon: { ...sighting.beacon } })).toBe(id);
  });

  it('differ by shopper, store, beacon, kind and time', () => {
    const ids = new Set([
      sightingEventId('sh_1', sighting), sightingEventId('sh_2', sighting), sightingEventId('sh_1', { ...sighting, storeId: 'shop-2' }),
      sightingEventId('sh_1', { ...sighting, beacon: { ...sighting.beacon, minor: 3 } }), sightingEventId('sh_1', { ...sighting, kind: 'exit' }),
      sightingEventId('sh_1', { ...sighting, atS: sighting.atS + 1 }),
    ]);
    expect(ids.size).toBe(6);
  });
});
