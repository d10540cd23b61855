import { describe, expect, it } from 'vitest';
import { CampaignDefinitionSchema, type CampaignDefinitionInput } from '#server/domain/campaign.ts';
import { emptyState, fromDefinition, getPath, newVariant, setPath, toDefinition } from '#server/console/campaign/model.js';

// The campaign builder's state ⇄ the API's campaign definition (server/console/campaign/model.js): a
// saved campaign opened in the builder and saved again unchanged sends back what it was, for every part
// of the model; what the marketer typed reaches the server as typed, for its schema to judge.

const FULL: CampaignDefinitionInput = {
  name: 'Full model',
  placement: { level: 'zones', storeId: 'store-1', zoneIds: ['entrance', 'bakery'] },
  trigger: { kind: 'visit', nth: 5, repeat: true },
  audience: { kind: 'segment', segment: { loyaltyTiers: ['gold'], interests: ['coffee', 'kids-fashion'], minPastVisits: 1, maxPastVisits: 9 } },
  schedule: { from: '2030-02-01T08:00', until: '2030-03-01T20:00', windows: [{ days: ['sat', 'sun'], from: '22:00', to: '07:00' }, { days: ['mon'], from: '09:00', to: '24:00' }] },
  caps: { perShopper: { count: 2, periodS: 86_400 }, minGapS: 3600, perShopperDaily: 4, cooldownS: 300 },
  budget: { maxDeliveries: 1000, maxRedemptions: 200 },
  experiment: { holdoutPercent: 12.5, variants: [{ id: 'A', weight: 3, message: { title: 'A', body: 'Body A', deepLink: 'https://example.com/a' } }, { id: 'B', weight: 1 }] },
  attribution: { conversionZoneIds: ['checkout'], windowS: 3600 },
  message: { title: 'Hi {{firstName}}', body: 'Your {{loyaltyTier}} treat.', deepLink: 'https://example.com/offer', validForS: 7200 },
  priority: 250,
};

const MINIMAL: CampaignDefinitionInput = {
  name: 'Everywhere',
  placement: { level: 'organisation' },
  trigger: { kind: 'enter' },
  audience: { kind: 'everyone' },
  schedule: {},
  caps: { perShopper: { count: 1, periodS: 3600 }, minGapS: 0, perShopperDaily: 3, cooldownS: 0 },
  budget: {},
  message: { title: 'Hello', body: 'Welcome.', validForS: 60 },
  priority: 0,
};

const OTHERS: CampaignDefinitionInput[] = [
  { ...MINIMAL, placement: { level: 'stores', storeIds: ['store-1', 'store-2'] }, trigger: { kind: 'dwell', minDwellS: 90 } },
  { ...MINIMAL, trigger: { kind: 'return', minDaysAway: 30 } },
  { ...MINIMAL, trigger: { kind: 'exit' }, audience: { kind: 'segment', segment: { minPastVisits: 3 } } },
  { ...MINIMAL, trigger: { kind: 'visit', nth: 1, repeat: false } },
];

describe('the builder\'s campaign model', () => {
  const cases: [string, CampaignDefinitionInput][] = [['every part of the model', FULL], ['the fewest parts', MINIMAL], ...OTHERS.map((d, i): [string, CampaignDefinitionInput] => [`variant ${i + 1}`, d])];
  it.each(cases)('round-trips a definition with %s', (_label, definition) => {
    const back = toDefinition(fromDefinition(definition as Record<string, unknown>, 'some-id'));
    expect(back).toEqual(definition);
    expect(CampaignDefinitionSchema.safeParse(back).success).toBe(true);
  });

  it('sends a new campaign\'s defaults as a definition the schema accepts once it is named, placed and has a message', () => {
    const state = emptyState([{ id: 'store-1' }]);
    expect(state.placement).toEqual({ level: 'zones', storeIds: [], storeId: 'store-1', zoneIds: [] });
    state.name = 'New';
    state.placement.zoneIds = ['entrance'];
    state.message.title = 'Title';
    state.message.body = 'Body';
    const parsed = CampaignDefinitionSchema.safeParse(toDefinition(state));
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    // Nothing optional the marketer left alone is sent: no experiment, attribution, budget figures or link.
    expect(toDefinition(state)).not.toHaveProperty('experiment');
    expect(toDefinition(state)).not.toHaveProperty('attribution');
    expect(toDefinition(state)).toMatchObject({ budget: {}, schedule: {}, message: { title: 'Title', body: 'Body', validForS: 3600 } });
    expect((toDefinition(state).message as Record<string, unknown>).deepLink).toBeUndefined();
  });

  it('passes what was typed to the server as typed, so its schema names the field', () => {
    const state = emptyState();
    state.caps.minGapS = 'ten';
    state.priority = '';
    const definition = toDefinition(state);
    expect((definition.caps as Record<string, unknown>).minGapS).toBe('ten');
    expect(definition).not.toHaveProperty('priority');
    const parsed = CampaignDefinitionSchema.safeParse(definition);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain('caps.minGapS');
  });

  it('leaves out a variant\'s message when none of its texts is set, and names new variants by the next free letter', () => {
    const state = fromDefinition(FULL as Record<string, unknown>);
    state.experiment.variants.push(newVariant(state));
    expect(state.experiment.variants.map((v) => v.id)).toEqual(['A', 'B', 'C']);
    expect((toDefinition(state).experiment as { variants: unknown[] }).variants[2]).toEqual({ id: 'C', weight: 1 });
  });

  it('reads and writes the state by the dotted paths the form\'s controls are named with', () => {
    const state = fromDefinition(FULL as Record<string, unknown>);
    expect(getPath(state, 'experiment.variants.0.message.title')).toBe('A');
    setPath(state, 'schedule.windows.1.to', '23:00');
    expect(state.schedule.windows[1]!.to).toBe('23:00');
    setPath(state, 'no.such.path', 'x');
    expect(state).not.toHaveProperty('no');
  });
});
