import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Campaign } from '#server/domain/campaign.ts';
import { isGranted, PURPOSES, type ConsentState, type Purpose } from '#server/domain/consent.ts';
import { decide, isPersonalised, triggers, type ResolvedPresence } from '#server/domain/decision.ts';
import { aCampaign, aPresence, START_MS, type CampaignOverrides } from '#test/helpers/builders.ts';

const NOW_MS = START_MS;
const shopperId = 'sh-decide';

const consentOf = (purposes: Partial<Record<Purpose, boolean>>): ConsentState =>
  Object.fromEntries(Object.entries(purposes).map(([purpose, granted]) => [purpose, { granted, textVersion: 'v1', atMs: START_MS }]));

const MARKETING = consentOf({ presence: true, promotions: true });
const EVERYTHING = consentOf({ presence: true, promotions: true, personalisation: true, analytics: true });

const enter = (overrides: Partial<ResolvedPresence> = {}): ResolvedPresence => aPresence({ shopperId, ...overrides });
const campaign = (overrides: CampaignOverrides = {}): Campaign => aCampaign({ storeId: 'store-1', zoneIds: ['entrance'], ...overrides });

describe('decide', () => {
  describe('consent', () => {
    it('sends with presence (P1) and promotions (P4) granted', () => {
      const only = campaign();
      expect(decide(enter(), MARKETING, [only], NOW_MS)).toEqual({ send: true, campaign: only, personalised: false, purposes: ['presence', 'promotions'] });
    });

    it.each<[string, ConsentState, Purpose[]]>([
      ['no consent at all', {}, ['presence', 'promotions']],
      ['presence only', consentOf({ presence: true }), ['promotions']],
      ['promotions only', consentOf({ promotions: true }), ['presence']],
      ['promotions withdrawn', consentOf({ presence: true, promotions: false, personalisation: true }), ['promotions']],
      ['presence withdrawn', consentOf({ presence: false, promotions: true, analytics: true }), ['presence']],
    ])('sends nothing with %s, and names what is missing', (_name, consent, missing) => {
      expect(decide(enter(), consent, [campaign()], NOW_MS)).toEqual({ send: false, reason: { code: 'no-consent', missing } });
    });

    it('checks consent before looking for a campaign', () => {
      expect(decide(enter(), {}, [], NOW_MS)).toEqual({ send: false, reason: { code: 'no-consent', missing: ['presence', 'promotions'] } });
    });
  });

  describe('matching', () => {
    it.each<[string, CampaignOverrides, Partial<ResolvedPresence>]>([
      ['another zone', { zoneIds: ['bakery'] }, {}],
      ['another store', { storeId: 'store-2' }, {}],
      ['an exit trigger on enter', { trigger: { kind: 'exit' } }, {}],
      ['an enter trigger on exit', {}, { kind: 'exit' }],
      ['an enter trigger on dwell', {}, { kind: 'dwell', dwellS: 600 }],
      ['a draft', { status: 'draft' }, {}],
      ['a paused campaign', { status: 'paused' }, {}],
      ['an ended campaign', { status: 'ended' }, {}],
      ['a campaign that has not started', { schedule: { from: '2030-01-07T09:01' } }, {}],
      ['a campaign that has ended', { schedule: { until: '2030-01-07T09:00' } }, {}],
    ])('finds no campaign for %s', (_name, campaignOverrides, eventOverrides) => {
      const only = campaign(campaignOverrides);
      expect(triggers(only, enter(eventOverrides), NOW_MS)).toBe(false);
      expect(decide(enter(eventOverrides), MARKETING, [only], NOW_MS)).toEqual({ send: false, reason: { code: 'no-campaign' } });
    });

    it('runs a scheduled campaign from its start (inclusive) to its end (exclusive)', () => {
      // store-1 is in UTC here: START_MS is 2030-01-07 09:00 local.
      const scheduled = campaign({ schedule: { from: '2030-01-07T09:00', until: '2030-01-07T09:01' } });
      expect(triggers(scheduled, enter(), NOW_MS - 1)).toBe(false);
      expect(triggers(scheduled, enter(), NOW_MS)).toBe(true);
      expect(triggers(scheduled, enter(), NOW_MS + 59_999)).toBe(true);
      expect(triggers(scheduled, enter(), NOW_MS + 60_000)).toBe(false);
    });

    it('matches any of a campaign’s zones', () => {
      const twoZones = campaign({ zoneIds: ['bakery', 'entrance'] });
      expect(triggers(twoZones, enter({ zoneId: 'bakery' }), NOW_MS)).toBe(true);
      expect(triggers(twoZones, enter({ zoneId: 'entrance' }), NOW_MS)).toBe(true);
      expect(triggers(twoZones, enter({ zoneId: 'pharmacy' }), NOW_MS)).toBe(false);
    });

    it('fires a dwell trigger only once the shopper has stayed at least minDwellS', () => {
      const dwell = campaign({ trigger: { kind: 'dwell', minDwellS: 120 } });
      expect(decide(enter({ kind: 'dwell', dwellS: 119 }), MARKETING, [dwell], NOW_MS)).toEqual({ send: false, reason: { code: 'no-campaign' } });
      expect(decide(enter({ kind: 'dwell', dwellS: 120 }), MARKETING, [dwell], NOW_MS)).toMatchObject({ send: true, campaign: dwell });
      expect(decide(enter({ kind: 'dwell', dwellS: 3600 }), MARKETING, [dwell], NOW_MS)).toMatchObject({ send: true, campaign: dwell });
      // An enter event with a long dwell is still not a dwell event.
      expect(triggers(dwell, enter({ kind: 'enter', dwellS: 600 }), NOW_MS)).toBe(false);
    });

    it('fires an exit trigger on exit', () => {
      const exit = campaign({ trigger: { kind: 'exit' } });
      expect(decide(enter({ kind: 'exit', dwellS: 30 }), MARKETING, [exit], NOW_MS)).toMatchObject({ send: true, campaign: exit });
    });
  });

  describe('priority', () => {
    it('picks one campaign per trigger: the highest priority', () => {
      const low = campaign({ id: 'aaa-low', priority: 10 });
      const high = campaign({ id: 'zzz-high', priority: 900 });
      const middle = campaign({ id: 'mmm-middle' });
      for (const order of [[low, high, middle], [middle, low, high], [high, middle, low]]) {
        expect(decide(enter(), MARKETING, order, NOW_MS)).toMatchObject({ send: true, campaign: { id: 'zzz-high' } });
      }
    });

    it('breaks a priority tie by campaign ID', () => {
      const b = campaign({ id: 'bbb', priority: 500 });
      const a = campaign({ id: 'aaa', priority: 500 });
      expect(decide(enter(), MARKETING, [b, a], NOW_MS)).toMatchObject({ campaign: { id: 'aaa' } });
      expect(decide(enter(), MARKETING, [a, b], NOW_MS)).toMatchObject({ campaign: { id: 'aaa' } });
    });

    it('ignores a higher-priority campaign that does not trigger', () => {
      const elsewhere = campaign({ id: 'elsewhere', priority: 1000, zoneIds: ['bakery'] });
      const here = campaign({ id: 'here', priority: 1 });
      expect(decide(enter(), MARKETING, [elsewhere, here], NOW_MS)).toMatchObject({ campaign: { id: 'here' } });
    });
  });

  describe('personalisation', () => {
    const personal = campaign({ message: { title: 'Hi {{firstName}}', body: 'Coffee for you, {{ firstName }}.', validForS: 3600 } });

    it('recognises a template placeholder in the title or body', () => {
      expect(isPersonalised(personal)).toBe(true);
      expect(isPersonalised(campaign())).toBe(false);
    });

    it('personalises only with personalisation (P2) granted, and names P2 among the purposes used', () => {
      expect(decide(enter(), EVERYTHING, [personal], NOW_MS)).toEqual({
        send: true, campaign: personal, personalised: true, purposes: ['presence', 'promotions', 'personalisation'],
      });
    });

    it('sends a personalised campaign unpersonalised without P2, rather than not at all', () => {
      const withdrawn = { ...MARKETING, ...consentOf({ personalisation: false }) };
      for (const consent of [MARKETING, withdrawn]) {
        expect(decide(enter(), consent, [personal], NOW_MS)).toEqual({ send: true, campaign: personal, personalised: false, purposes: ['presence', 'promotions'] });
      }
    });

    it('does not personalise a campaign without placeholders, even with P2', () => {
      expect(decide(enter(), EVERYTHING, [campaign()], NOW_MS)).toMatchObject({ send: true, personalised: false, purposes: ['presence', 'promotions'] });
    });
  });

  describe('property: random consent, campaigns and events (MKT-1)', () => {
    const answer = fc.constantFrom<boolean | undefined>(true, false, undefined);
    const consentArb = fc.tuple(answer, answer, answer, answer).map(([presence, personalisation, analytics, promotions]) => {
      const state: ConsentState = {};
      const answers: Record<Purpose, boolean | undefined> = { presence, personalisation, analytics, promotions };
      for (const purpose of PURPOSES) {
        const granted = answers[purpose];
        if (granted !== undefined) state[purpose] = { granted, textVersion: 'v1', atMs: START_MS };
      }
      return state;
    });
    const zone = fc.constantFrom('entrance', 'bakery', 'pharmacy');
    const store = fc.constantFrom('store-1', 'store-2');
    const offsetMin = fc.integer({ min: -10, max: 10 });
    // A local (UTC) "YYYY-MM-DDTHH:MM" this many minutes from NOW_MS.
    const localMinute = (offset: number): string => new Date(NOW_MS + offset * 60_000).toISOString().slice(0, 16);
    const triggerArb = fc.oneof(
      fc.constant({ kind: 'enter' as const }),
      fc.constant({ kind: 'exit' as const }),
      fc.integer({ min: 1, max: 600 }).map((minDwellS) => ({ kind: 'dwell' as const, minDwellS })),
    );
    const campaignArb = fc
      .record({
        id: fc.stringMatching(/^[a-z0-9]{1,8}$/),
        storeId: store,
        status: fc.constantFrom('draft', 'active', 'paused', 'ended') as fc.Arbitrary<Campaign['status']>,
        zoneIds: fc.uniqueArray(zone, { minLength: 1, maxLength: 3 }),
        trigger: triggerArb,
        startsAtMin: fc.option(offsetMin, { nil: undefined }),
        endsAtMin: fc.option(offsetMin, { nil: undefined }),
        priority: fc.integer({ min: 0, max: 3 }),
        personal: fc.boolean(),
      })
      .map(({ personal, startsAtMin, endsAtMin, ...rest }) =>
        aCampaign({
          ...rest,
          schedule: {
            ...(startsAtMin === undefined ? {} : { from: localMinute(startsAtMin) }),
            ...(endsAtMin === undefined || (startsAtMin !== undefined && endsAtMin <= startsAtMin) ? {} : { until: localMinute(endsAtMin) }),
          },
          message: { title: 'Offer', body: personal ? 'Hello {{firstName}}, coffee is on us.' : 'Coffee is on us.', validForS: 3600 },
        }),
      );
    const eventArb = fc.record({
      zoneId: zone,
      storeId: store,
      kind: fc.constantFrom('enter', 'dwell', 'exit') as fc.Arbitrary<ResolvedPresence['kind']>,
      dwellS: fc.integer({ min: 0, max: 900 }),
    }).map((overrides) => enter(overrides));

    it('never sends without presence and promotions granted, and never a campaign that does not trigger', () => {
      fc.assert(
        fc.property(consentArb, fc.array(campaignArb, { maxLength: 6 }), eventArb, (consent, campaigns, event) => {
          const decision = decide(event, consent, campaigns, NOW_MS);
          const eligible = campaigns.filter((c) => triggers(c, event, NOW_MS));
          const consentOk = isGranted(consent, 'presence') && isGranted(consent, 'promotions');
          if (!decision.send) {
            // A skip is never wrong either: it happens only for want of consent or of a campaign.
            expect(decision.reason.code === 'no-consent' ? !consentOk : eligible.length === 0).toBe(true);
            return;
          }
          expect(consentOk).toBe(true);
          expect(campaigns).toContain(decision.campaign);
          expect(triggers(decision.campaign, event, NOW_MS)).toBe(true);
          const top = Math.max(...eligible.map((c) => c.priority));
          expect(decision.campaign.priority).toBe(top);
          expect(decision.campaign.id).toBe(eligible.filter((c) => c.priority === top).map((c) => c.id).sort((a, b) => a.localeCompare(b))[0]);
          if (decision.personalised) expect(isGranted(consent, 'personalisation')).toBe(true);
          expect(decision.purposes.includes('personalisation')).toBe(decision.personalised);
        }),
        { numRuns: 2_000 },
      );
    });
  });
});
