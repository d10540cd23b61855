import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignSchema, LOYALTY_TIERS, WEEKDAYS, type Campaign, type CampaignInput, type LoyaltyTier, type WeeklyWindow } from '#server/domain/campaign.ts';
import type { ConsentPolicy, Purpose } from '#server/domain/consent.ts';
import { usesProfiling } from '#server/domain/decision.ts';
import { isWithinSchedule, storeHoursRefusal } from '#server/domain/schedule.ts';
import { processResolvedPresence, sweepZoneStates, type PresenceOutcome, type ResolvedPresenceDeps } from '#server/ingest/resolved-presence.ts';
import { createMetrics } from '#server/metrics.ts';
import type { PromotionRecord, StoreRecord } from '#server/store/store.ts';
import { aConsent, aShopper, uniqueId } from '#test/helpers/builders.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { createConfigView } from '#server/ingest/config-view.ts';

// MKT-1 as a property of the real send path: random event streams — shoppers with random consent,
// withdrawn and granted again mid-stream; random campaigns with caps, schedules, weekly windows, budgets
// and audiences; a store in Europe/Rome with overnight opening hours and quiet hours; a clock that
// crosses the spring-forward night — through processResolvedPresence and the arbiter's sweep, on the
// real Store. Afterwards, from the promotions stored and the consent timeline alone, no send broke a
// cap, the schedule, quiet or opening hours, a sensitive zone, consent at the time, a segment or P2
// rule, or a budget.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const MIN_MS = 60_000;
const DAY_MS = 86_400_000;
// Saturday 28 March 2026, 06:00 in Rome (CET); Rome springs forward at 01:00 UTC on the 29th.
const START_MS = Date.UTC(2026, 2, 28, 5, 0);
const TIMEZONE = 'Europe/Rome';
const ZONES = ['entrance', 'bakery', 'pharmacy'] as const;
const SENSITIVE = 'pharmacy';
const VERSION = '2030-01';
const POLICY: ConsentPolicy = { currentVersions: { presence: VERSION, personalisation: VERSION, analytics: VERSION, promotions: VERSION }, validityMs: 365 * DAY_MS };
const ALL_DAYS = [...WEEKDAYS];
const OPENING: WeeklyWindow[] = [{ days: ALL_DAYS, from: '06:00', to: '02:00' }];
const QUIET: WeeklyWindow[] = [{ days: ['sun'], from: '01:00', to: '01:30' }, { days: ['sun', 'mon'], from: '12:00', to: '14:00' }];
const INTERESTS = ['coffee', 'tea', 'bakery'];

/** A wall-clock "YYYY-MM-DDTHH:MM" this many hours after the start's local 06:00. */
const localAt = (hours: number): string => new Date(Date.UTC(2026, 2, 28, 6) + hours * 3_600_000).toISOString().slice(0, 16);
const hhmm = (hour: number): string => `${String(hour).padStart(2, '0')}:00`;

const windowArb: fc.Arbitrary<WeeklyWindow> = fc
  .record({ days: fc.uniqueArray(fc.constantFrom(...WEEKDAYS), { minLength: 1, maxLength: 7 }), from: fc.integer({ min: 0, max: 23 }), length: fc.integer({ min: 1, max: 20 }) })
  .map(({ days, from, length }) => ({ days, from: hhmm(from), to: from + length === 24 ? '24:00' : hhmm((from + length) % 24) }));

/** A campaign for the run's store (each run has its own, so no campaign outlives its run). */
const campaignArb = (index: number): fc.Arbitrary<(storeId: string) => Campaign> =>
  fc
    .record({
      zoneLevel: fc.boolean(),
      zones: fc.uniqueArray(fc.constantFrom('entrance', 'bakery'), { minLength: 1, maxLength: 2 }),
      trigger: fc.oneof(
        fc.constant({ kind: 'enter' as const }),
        fc.constant({ kind: 'enter' as const }),
        fc.constant({ kind: 'exit' as const }),
        fc.integer({ min: 30, max: 600 }).map((minDwellS) => ({ kind: 'dwell' as const, minDwellS })),
        fc.constant({ kind: 'return' as const, minDaysAway: 1 }),
        fc.record({ nth: fc.integer({ min: 1, max: 3 }), repeat: fc.boolean() }).map((v) => ({ kind: 'visit' as const, ...v })),
      ),
      audience: fc.oneof(
        fc.constant({ kind: 'everyone' as const }),
        fc.uniqueArray(fc.constantFrom(...LOYALTY_TIERS), { minLength: 1 }).map((loyaltyTiers) => ({ kind: 'segment' as const, segment: { loyaltyTiers } })),
        fc.uniqueArray(fc.constantFrom(...INTERESTS), { minLength: 1 }).map((interests) => ({ kind: 'segment' as const, segment: { interests } })),
        fc.integer({ min: 0, max: 2 }).map((minPastVisits) => ({ kind: 'segment' as const, segment: { minPastVisits } })),
      ),
      fromH: fc.option(fc.integer({ min: -24, max: 30 }), { nil: undefined }),
      lengthH: fc.option(fc.integer({ min: 3, max: 60 }), { nil: undefined }),
      windows: fc.option(fc.array(windowArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
      count: fc.integer({ min: 1, max: 3 }),
      periodS: fc.constantFrom(3600, 86_400),
      minGapS: fc.constantFrom(0, 600, 1800),
      dailyExtra: fc.integer({ min: 0, max: 2 }),
      cooldownS: fc.constantFrom(0, 120, 900),
      maxDeliveries: fc.option(fc.integer({ min: 2, max: 6 }), { nil: undefined }),
      maxRedemptions: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
      personal: fc.boolean(),
      validForS: fc.constantFrom(600, 3600, 7200),
      priority: fc.integer({ min: 0, max: 3 }),
    })
    .map((c) => (storeId: string): Campaign => {
      const minGapS = c.count > 1 && c.minGapS * (c.count - 1) >= c.periodS ? 0 : c.minGapS;
      const input: CampaignInput = {
        id: `c${index}-${storeId}`.toLowerCase(), name: `Campaign ${index}`, status: 'active',
        placement: c.zoneLevel ? { level: 'zones', storeId, zoneIds: c.zones } : { level: 'stores', storeIds: [storeId] },
        trigger: c.trigger, audience: c.audience,
        schedule: {
          ...(c.fromH === undefined ? {} : { from: localAt(c.fromH) }),
          ...(c.lengthH === undefined ? {} : { until: localAt((c.fromH ?? -30) + c.lengthH) }),
          ...(c.windows === undefined ? {} : { windows: c.windows }),
        },
        caps: { perShopper: { count: c.count, periodS: c.periodS }, minGapS, perShopperDaily: c.count + c.dailyExtra, cooldownS: c.cooldownS },
        budget: {
          ...(c.maxDeliveries === undefined ? {} : { maxDeliveries: c.maxDeliveries }),
          ...(c.maxRedemptions === undefined ? {} : { maxRedemptions: c.maxRedemptions }),
        },
        message: c.personal
          ? { title: 'Hello {{firstName}}', body: 'A {{loyaltyTier}} treat for you, {{firstName}}.', validForS: c.validForS }
          : { title: 'Fresh coffee', body: 'Two for one today.', validForS: c.validForS },
        priority: c.priority,
      };
      return CampaignSchema.parse(input);
    });

/** Granted three times in four: enough shoppers reach a send for the property to bite. */
const mostly = fc.integer({ min: 0, max: 3 }).map((n) => n > 0);

type Shopper = { firstName: string; loyaltyTier: LoyaltyTier | null; interests: string[]; consents: Partial<Record<Purpose, boolean>> };
const shopperArb: fc.Arbitrary<Shopper> = fc.record({
  firstName: fc.constantFrom('Quinzia', 'Zebedeo', 'Ottavia', 'Leontina'),
  loyaltyTier: fc.option(fc.constantFrom(...LOYALTY_TIERS), { nil: null }),
  interests: fc.uniqueArray(fc.constantFrom(...INTERESTS)),
  consents: fc.record({ presence: mostly, promotions: mostly, personalisation: fc.boolean() }),
});

type Step =
  | { advanceMin: number; action: 'event'; shopper: number; zoneId: string; kind: 'enter' | 'exit' | 'dwell'; dwellS: number }
  | { advanceMin: number; action: 'consent'; shopper: number; purpose: Purpose; granted: boolean };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({
    advanceMin: fc.integer({ min: 1, max: 150 }), action: fc.constant('event' as const), shopper: fc.integer({ min: 0, max: 3 }),
    // The sensitive zone one time in six.
    zoneId: fc.constantFrom('entrance', 'entrance', 'bakery', 'bakery', 'entrance', SENSITIVE),
    kind: fc.constantFrom('enter' as const, 'enter' as const, 'exit' as const, 'dwell' as const), dwellS: fc.integer({ min: 0, max: 900 }),
  }) },
  { weight: 1, arbitrary: fc.record({
    advanceMin: fc.integer({ min: 1, max: 150 }), action: fc.constant('consent' as const), shopper: fc.integer({ min: 0, max: 3 }),
    purpose: fc.constantFrom<Purpose>('presence', 'promotions', 'personalisation'), granted: mostly,
  }) },
);

describe.each(STORE_KINDS)('MKT-1: random event streams through the send path (%s)', (kind) => {
  let testStore: TestStore;
  beforeAll(async () => {
    testStore = await openTestStore(kind);
  });
  afterAll(async () => {
    await testStore?.close();
  });

  it('finds no send that breaks a cap, the schedule, the store’s hours, consent at the time, an audience or a budget', { timeout: 60_000 }, async () => {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(shopperArb, { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => campaignArb(i)))),
        fc.array(stepArb, { minLength: 30, maxLength: 50 }),
        async (shoppers, campaignsFor, steps) => {
          const { store } = testStore;
          const storeId = uniqueId('st');
          const campaigns = campaignsFor.map((campaignFor) => campaignFor(storeId));
          const storeRecord: StoreRecord = { id: storeId, name: 'Corso', timezone: TIMEZONE, openingHours: OPENING, quietHours: QUIET };
          await store.upsertStore(storeRecord);
          for (const zoneId of ZONES) await store.upsertZone({ storeId, id: zoneId, name: zoneId, sensitive: zoneId === SENSITIVE });
          for (const campaign of campaigns) await store.putCampaign(campaign, START_MS);

          // The consent timeline, as the test wrote it: what was granted when.
          const timeline: { shopperId: string; purpose: Purpose; granted: boolean; atMs: number }[] = [];
          const ids = shoppers.map(() => uniqueId('sh'));
          for (const [i, shopper] of shoppers.entries()) {
            await store.createShopper(aShopper({ id: ids[i]!, firstName: shopper.firstName, loyaltyTier: shopper.loyaltyTier, interests: shopper.interests, createdAtMs: START_MS }));
            const records = Object.entries(shopper.consents).map(([purpose, granted]) => aConsent({ shopperId: ids[i]!, purpose: purpose as Purpose, granted, textVersion: VERSION, serverTimeMs: START_MS }));
            await store.appendConsent(records);
            for (const r of records) timeline.push({ shopperId: r.shopperId, purpose: r.purpose, granted: r.granted, atMs: START_MS });
          }

          const deps: ResolvedPresenceDeps = { store, config: createConfigView(store), metrics: createMetrics(), experimentKey: randomBytes(32), delivery: { notify: () => undefined }, consentPolicy: POLICY };
          let nowMs = START_MS;
          for (const step of steps) {
            // The arbiter's sweep runs a minute after the last step too, as the server's timer would.
            await sweepZoneStates(deps, nowMs + MIN_MS);
            nowMs += step.advanceMin * MIN_MS;
            const shopperId = ids[step.shopper]!;
            if (step.action === 'consent') {
              await store.appendConsent([aConsent({ shopperId, purpose: step.purpose, granted: step.granted, textVersion: VERSION, serverTimeMs: nowMs })]);
              timeline.push({ shopperId, purpose: step.purpose, granted: step.granted, atMs: nowMs });
            } else {
              const outcome: PresenceOutcome = await processResolvedPresence(deps, {
                eventId: uniqueId('ev'), shopperId, storeId, zoneId: step.zoneId, kind: step.kind, atS: Math.floor(nowMs / 1000), dwellS: step.dwellS, proximity: 'near',
              }, nowMs);
              outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
            }
            await sweepZoneStates(deps, nowMs);
          }

          // What was stored, checked against the rules with the state at each send's time.
          const promotions: PromotionRecord[] = [];
          for (const id of ids) promotions.push(...(await store.readShopperData(id))!.promotions);
          const byId = new Map(campaigns.map((c) => [c.id, c]));
          const grantedAt = (shopperId: string, purpose: Purpose, atMs: number): boolean =>
            timeline.filter((r) => r.shopperId === shopperId && r.purpose === purpose && r.atMs <= atMs).at(-1)?.granted === true;
          // Undelivered promotions are cancelled by the shopper's next withdrawal of presence or promotions.
          const cancelledAtMs = (p: PromotionRecord): number =>
            timeline.find((r) => r.shopperId === p.shopperId && !r.granted && (r.purpose === 'presence' || r.purpose === 'promotions') && r.atMs >= p.createdAtMs)?.atMs ?? Infinity;
          const countedAt = (q: PromotionRecord, atMs: number): boolean => q.createdAtMs <= atMs && cancelledAtMs(q) > atMs;

          for (const p of promotions) {
            const t = p.createdAtMs;
            const campaign = byId.get(p.campaignId)!;
            const shopper = shoppers[ids.indexOf(p.shopperId)]!;
            const others = promotions.filter((q) => q !== p && countedAt(q, t));
            const context = `${p.campaignId} to ${p.shopperId} at ${new Date(t).toISOString()}`;
            // Store hours, schedule, zone (MKT-3, AN-3).
            expect(storeHoursRefusal(storeRecord, t), context).toBeUndefined();
            expect(isWithinSchedule(campaign.schedule, TIMEZONE, t), context).toBe(true);
            expect(p.zoneId, context).not.toBe(SENSITIVE);
            // Consent at the time (CON-4, CON-5), and P2 for anything personal or profiled.
            expect(grantedAt(p.shopperId, 'presence', t) && grantedAt(p.shopperId, 'promotions', t), context).toBe(true);
            const p2 = grantedAt(p.shopperId, 'personalisation', t);
            if (p.message.why.purposes.includes('personalisation') || usesProfiling(campaign)) expect(p2, context).toBe(true);
            if (!p2) expect(`${p.message.title} ${p.message.body}`, context).not.toContain(shopper.firstName);
            if (campaign.audience.kind === 'segment') {
              const { loyaltyTiers, interests } = campaign.audience.segment;
              if (loyaltyTiers !== undefined) expect(shopper.loyaltyTier !== null && loyaltyTiers.includes(shopper.loyaltyTier), `${context}: loyaltyTiers`).toBe(true);
              if (interests !== undefined) expect(interests.some((i) => shopper.interests.includes(i)), `${context}: interests`).toBe(true);
            }
            // Caps (MKT-2).
            const mine = others.filter((q) => q.shopperId === p.shopperId);
            const sameCampaign = mine.filter((q) => q.campaignId === p.campaignId);
            const { caps } = campaign;
            expect(sameCampaign.filter((q) => q.createdAtMs > t - caps.perShopper.periodS * 1000).length + 1, `${context}: perShopper`).toBeLessThanOrEqual(caps.perShopper.count);
            expect(sameCampaign.filter((q) => q.createdAtMs > t - caps.minGapS * 1000).length, `${context}: minGapS`).toBe(0);
            expect(mine.filter((q) => q.createdAtMs > t - DAY_MS).length + 1, `${context}: perShopperDaily`).toBeLessThanOrEqual(caps.perShopperDaily);
            expect(mine.filter((q) => q.createdAtMs > t - caps.cooldownS * 1000).length, `${context}: cooldownS`).toBe(0);
            // Budgets.
            const ofCampaign = others.filter((q) => q.campaignId === p.campaignId);
            if (campaign.budget.maxDeliveries !== undefined) expect(ofCampaign.length + 1, `${context}: maxDeliveries`).toBeLessThanOrEqual(campaign.budget.maxDeliveries);
            if (campaign.budget.maxRedemptions !== undefined) {
              expect(ofCampaign.filter((q) => q.message.expiresAtMs > t).length + 1, `${context}: maxRedemptions`).toBeLessThanOrEqual(campaign.budget.maxRedemptions);
            }
          }
        },
      ),
      { numRuns: kind === 'postgres' ? 25 : 60 },
    );
    // Not vacuous: promotions were sent, and the rules did refuse some.
    expect(outcomes.get('sent') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('sent') ?? 0).toBeGreaterThan(kind === 'postgres' ? 2 : 10);
    expect([...outcomes.keys()]).toEqual(expect.arrayContaining(['sent', 'no-consent', 'sensitive-zone', 'closed']));
  });
});
