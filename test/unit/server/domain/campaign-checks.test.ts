import { describe, expect, it } from 'vitest';
import { definitionOf } from '#server/domain/campaign.ts';
import { checkCampaignAgainstStores, overlaps, type StoreForChecks } from '#server/domain/campaign-checks.ts';
import { aCampaign, type CampaignOverrides } from '#test/helpers/builders.ts';

const rome: StoreForChecks = { id: 'rome', timezone: 'Europe/Rome', zones: [{ id: 'entrance', sensitive: false }, { id: 'till', sensitive: false }, { id: 'pharmacy', sensitive: true }] };
const lisbon: StoreForChecks = { id: 'lisbon', timezone: 'Europe/Lisbon', zones: [{ id: 'entrance', sensitive: false }] };
const NOW = Date.parse('2026-06-01T10:00:00Z');

const check = (overrides: CampaignOverrides, stores: readonly StoreForChecks[] = [rome, lisbon]) =>
  checkCampaignAgainstStores(definitionOf(aCampaign({ storeId: 'rome', ...overrides })), stores, NOW);

describe('campaign checks against the stores', () => {
  it('passes a campaign that fits', () => {
    expect(check({})).toEqual([]);
    expect(check({ placement: { level: 'organisation' } })).toEqual([]);
  });

  it('names unknown stores and zones', () => {
    expect(check({ placement: { level: 'stores', storeIds: ['rome', 'paris', 'oslo'] } })).toEqual([{ field: 'placement.storeIds', message: 'unknown stores paris, oslo' }]);
    expect(check({ storeId: 'paris' })).toEqual([{ field: 'placement.storeId', message: 'unknown store paris' }]);
    expect(check({ zoneIds: ['entrance', 'roof'] })).toEqual([{ field: 'placement.zoneIds', message: 'store rome has no zone roof' }]);
  });

  it('refuses a sensitive zone as a target or as a conversion zone (AN-3)', () => {
    expect(check({ zoneIds: ['pharmacy'] })).toEqual([{ field: 'placement.zoneIds', message: expect.stringContaining('pharmacy is marked sensitive and cannot be targeted') }]);
    expect(check({ attribution: { conversionZoneIds: ['till', 'pharmacy'], windowS: 3600 } }))
      .toEqual([{ field: 'attribution.conversionZoneIds', message: expect.stringContaining('pharmacy is marked sensitive and cannot be a conversion zone') }]);
    expect(check({ attribution: { conversionZoneIds: ['checkout'], windowS: 3600 } })).toEqual([{ field: 'attribution.conversionZoneIds', message: 'no placed store has a zone checkout' }]);
  });

  it('refuses a schedule that ended in every placed store, in each store\'s time zone', () => {
    expect(check({ schedule: { until: '2026-06-01T11:00' } })).toEqual([{ field: 'schedule.until', message: expect.stringContaining('is in the past') }]);
    // 12:30 in Lisbon is 11:30 UTC: still to come there, so the organisation-wide campaign can run.
    expect(check({ placement: { level: 'organisation' }, schedule: { until: '2026-06-01T12:30' } })).toEqual([]);
    expect(check({ schedule: { until: '2026-06-01T12:30' } })).toEqual([]);
  });

  it('refuses weekly windows that never meet the placed stores\' opening hours, only when every store states them', () => {
    const open = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, from: '09:00', to: '19:00' }].map((w) => ({ ...w, days: [...w.days] }));
    const withHours = { ...rome, openingHours: open };
    const night = { windows: [{ days: ['mon' as const], from: '21:00', to: '23:00' }] };
    expect(check({ schedule: night }, [withHours])).toEqual([{ field: 'schedule.windows', message: expect.stringContaining('never fall inside the opening hours of store rome') }]);
    expect(check({ schedule: { windows: [{ days: ['sat'], from: '10:00', to: '12:00' }] } }, [withHours])).toHaveLength(1);
    expect(check({ schedule: { windows: [{ days: ['fri'], from: '18:00', to: '20:00' }] } }, [withHours])).toEqual([]);
    expect(check({ schedule: night }, [rome])).toEqual([]);
  });

  it('reports every problem at once', () => {
    expect(check({ zoneIds: ['pharmacy', 'roof'], schedule: { until: '2020-01-01T00:00' } }).map((i) => i.field)).toEqual(['placement.zoneIds', 'placement.zoneIds', 'schedule.until']);
  });
});

describe('weekly windows', () => {
  it('runs an overnight window into the next day, and Sunday night into Monday', () => {
    expect(overlaps([{ days: ['mon'], from: '22:00', to: '02:00' }], [{ days: ['tue'], from: '01:00', to: '03:00' }])).toBe(true);
    expect(overlaps([{ days: ['sun'], from: '23:00', to: '01:00' }], [{ days: ['mon'], from: '00:30', to: '08:00' }])).toBe(true);
    expect(overlaps([{ days: ['mon'], from: '08:00', to: '09:00' }], [{ days: ['mon'], from: '09:00', to: '10:00' }])).toBe(false);
    expect(overlaps([{ days: ['mon'], from: '08:00', to: '24:00' }], [{ days: ['mon'], from: '23:59', to: '24:00' }])).toBe(true);
  });
});
