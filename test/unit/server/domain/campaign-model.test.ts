import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CampaignDefinitionSchema, CampaignSchema, campaignStoreKey, placedInZone, type CampaignDefinitionInput } from '#server/domain/campaign.ts';

// The campaign model's own rules (server/domain/campaign.ts): the documented example parses, and each
// contradiction the schema can see on its own is refused with the path of the field at fault and a
// reason a marketer can act on — the same message the API's 400 and the console show.

const docsExample = (): CampaignDefinitionInput => {
  const doc = readFileSync(new URL('../../../../docs/campaigns.md', import.meta.url), 'utf8');
  const model = doc.slice(doc.indexOf('## The model'));
  const json = /```json\n([\s\S]*?)```/.exec(model)?.[1];
  if (json === undefined) throw new Error('docs/campaigns.md: no json example under "## The model"');
  return JSON.parse(json) as CampaignDefinitionInput;
};

/** The issues of parsing the example with one part replaced, as "path: message". */
function issuesWith(change: Partial<Record<keyof CampaignDefinitionInput, unknown>>): string[] {
  const result = CampaignDefinitionSchema.safeParse({ ...docsExample(), ...change });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('the campaign model', () => {
  it('parses the example in docs/campaigns.md, with every part, and fills the defaults', () => {
    const parsed = CampaignDefinitionSchema.parse(docsExample());
    expect(parsed).toMatchObject({ schemaVersion: 2, trigger: { kind: 'return', minDaysAway: 7 }, experiment: { holdoutPercent: 10 }, priority: 200 });
    const { audience: _audience, schedule: _schedule, budget: _budget, priority: _priority, ...required } = docsExample();
    const minimal = CampaignDefinitionSchema.parse({ ...required, experiment: undefined, attribution: undefined });
    expect(minimal).toMatchObject({ audience: { kind: 'everyone' }, schedule: {}, budget: {}, priority: 100 });
  });

  it.each<[string, Partial<Record<keyof CampaignDefinitionInput, unknown>>, string]>([
    ['a minimum gap that leaves no room for the count', { caps: { perShopper: { count: 3, periodS: 3600 }, minGapS: 1800, perShopperDaily: 5, cooldownS: 0 } }, 'caps.minGapS: minGapS 1800 s leaves room for at most 2 sends per 3600 s period, but perShopper.count is 3'],
    ['a campaign cap the daily cap can never let through', { caps: { perShopper: { count: 4, periodS: 86_400 }, minGapS: 0, perShopperDaily: 3, cooldownS: 0 } }, 'caps.perShopper.count: perShopper.count 4 per 86400 s can never be reached: perShopperDaily allows 3'],
    ['an end before the start', { schedule: { from: '2026-12-10T09:00', until: '2026-12-01T09:00' } }, 'schedule.until: until (2026-12-01T09:00) is not after from (2026-12-10T09:00): the campaign could never run'],
    ['an empty weekly window', { schedule: { windows: [{ days: ['mon'], from: '09:00', to: '09:00' }] } }, 'schedule.windows.0.to: the window 09:00–09:00 is empty'],
    ['a day listed twice', { schedule: { windows: [{ days: ['mon', 'mon'], from: '09:00', to: '10:00' }] } }, 'schedule.windows.0.days: a day is listed twice'],
    ['a date that is not local "YYYY-MM-DDTHH:MM"', { schedule: { from: '2026-12-01T09:00:00Z' } }, 'schedule.from: must be a local date and time "YYYY-MM-DDTHH:MM"'],
    ['more redemptions than deliveries', { budget: { maxDeliveries: 10, maxRedemptions: 11 } }, 'budget.maxRedemptions: maxRedemptions (11) exceeds maxDeliveries (10)'],
    ['a holdout with nothing to measure', { attribution: undefined }, 'attribution: a holdout measures uplift'],
    ['a variant listed twice', { experiment: { variants: [{ id: 'A', weight: 1 }, { id: 'A', weight: 2 }], holdoutPercent: 0 } }, 'experiment.variants.1.id: variant "A" is listed twice'],
    ['a variant named like the control group', { experiment: { variants: [{ id: 'holdout', weight: 1 }], holdoutPercent: 0 } }, 'experiment.variants.0.id: "holdout" is the control group\'s name'],
    ['a segment without a condition', { audience: { kind: 'segment', segment: {} } }, 'audience.segment: a segment needs at least one condition'],
    ['a segment no shopper can match', { audience: { kind: 'segment', segment: { minPastVisits: 5, maxPastVisits: 2 } } }, 'audience.segment.maxPastVisits: maxPastVisits (2) is below minPastVisits (5): no shopper can match'],
    ['an unknown placeholder', { message: { title: 'Hi {{lastName}}', body: 'Coffee.', validForS: 600 } }, 'message.title: unknown placeholder {{lastName}}: use {{firstName}} or {{loyaltyTier}}'],
    ['a script deep link', { message: { title: 'Hi', body: 'Coffee.', deepLink: 'javascript:alert(1)', validForS: 600 } }, 'message.deepLink: must not be a javascript:, data:, vbscript: or file: URL'],
    ['a status in a definition (the lifecycle sets it)', { status: 'active' } as never, 'Unrecognized key: "status"'],
  ])('refuses %s, naming the field', (_name, change, expected) => {
    expect(issuesWith(change).join('\n')).toContain(expected);
  });

  it('applies the same cross-field rules to a stored campaign as to a definition', () => {
    const result = CampaignSchema.safeParse({ ...docsExample(), id: 'coffee', status: 'draft', attribution: undefined });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['attribution']);
  });

  it('places a campaign at organisation, store or zone level, and indexes it by its one store or "*"', () => {
    expect(placedInZone({ level: 'organisation' }, 'store-9', 'bakery')).toBe(true);
    expect(placedInZone({ level: 'stores', storeIds: ['store-1', 'store-2'] }, 'store-2', 'bakery')).toBe(true);
    expect(placedInZone({ level: 'stores', storeIds: ['store-1'] }, 'store-2', 'bakery')).toBe(false);
    expect(placedInZone({ level: 'zones', storeId: 'store-1', zoneIds: ['cafe'] }, 'store-1', 'cafe')).toBe(true);
    expect(placedInZone({ level: 'zones', storeId: 'store-1', zoneIds: ['cafe'] }, 'store-1', 'bakery')).toBe(false);
    expect(campaignStoreKey({ level: 'zones', storeId: 'store-1', zoneIds: ['cafe'] })).toBe('store-1');
    expect(campaignStoreKey({ level: 'stores', storeIds: ['store-1'] })).toBe('store-1');
    expect(campaignStoreKey({ level: 'stores', storeIds: ['store-1', 'store-2'] })).toBe('*');
    expect(campaignStoreKey({ level: 'organisation' })).toBe('*');
  });
});
