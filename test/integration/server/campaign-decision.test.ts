import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CampaignInput } from '#server/domain/campaign.ts';
import { processResolvedPresence, type PresenceOutcome } from '#server/ingest/resolved-presence.ts';
import type { PromotionRecord } from '#server/store/store.ts';
import { aCampaign, aPresence, DAY_MS, generousCaps } from '#test/helpers/builders.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { bearer, buildTestApp, expectStatus, grant, putCampaign, registerShopper, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';

// The decision through the server: store hours and shopper attributes set over the API, then presence
// through the one send path (processResolvedPresence) — quiet hours, sensitive zones, segments,
// visit triggers and personalisation with and without P2.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const MIN = 60_000;

describe.each(STORE_KINDS)('the decision through the server (%s)', (kind) => {
  let testStore: TestStore;
  let t: TestApp;
  let sent: PromotionRecord[];

  beforeEach(async () => {
    testStore = await openTestStore(kind);
    t = await buildTestApp({ store: testStore.store });
    sent = [];
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });

  const putStore = (body: Record<string, unknown>) => t.app.inject({
    method: 'PUT', url: '/v1/admin/stores/store-1', headers: bearer(t.adminToken),
    payload: { name: 'Corso', timezone: 'UTC', zones: [{ id: 'entrance', name: 'Entrance' }, { id: 'pharmacy', name: 'Pharmacy', sensitive: true }], ...body },
  });
  const patchMe = (shopper: RegisteredShopper, payload: Record<string, unknown>) => t.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(shopper.token), payload });
  const campaign = async (overrides: Partial<CampaignInput> & { zoneIds?: string[] }) => {
    const input = aCampaign({ storeId: 'store-1', caps: generousCaps, ...overrides });
    expectStatus(await putCampaign(t, input), 200);
    return input;
  };
  const presence = (shopper: RegisteredShopper, overrides: Parameters<typeof aPresence>[0] extends infer P ? Partial<P> : never = {}): Promise<PresenceOutcome> =>
    processResolvedPresence(
      { store: t.deps.store, config: t.deps.config, metrics: t.deps.metrics, experimentKey: t.deps.experimentKey, delivery: { notify: (promotion) => void sent.push(promotion) } },
      aPresence({ shopperId: shopper.shopperId, atS: Math.floor(t.deps.now() / 1000), ...overrides }),
      t.deps.now(),
    );

  describe('store hours over the admin API', () => {
    it('keeps opening and quiet hours, and refuses a bad window naming its field', async () => {
      const openingHours = [{ days: ['mon', 'tue'], from: '08:00', to: '20:00' }];
      const quietHours = [{ days: ['sat'], from: '22:00', to: '07:00' }];
      expectStatus(await putStore({ openingHours, quietHours }), 200);
      expect((await t.deps.store.listStores()).find((s) => s.id === 'store-1')).toMatchObject({ openingHours, quietHours });
      const bad = await putStore({ openingHours: [{ days: ['mon'], from: '08:00', to: '08:00' }], quietHours: [{ days: ['funday'], from: '25:00', to: '07:00' }] });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.fields).toEqual(expect.arrayContaining(['openingHours.0.to', 'quietHours.0.days.0', 'quietHours.0.from']));
    });

    it('sends nothing in quiet hours or outside opening hours (the store’s zone), and nothing from a sensitive zone', async () => {
      // The test clock starts on Monday 2030-01-07 09:00 UTC.
      expectStatus(await putStore({ openingHours: [{ days: ['mon'], from: '09:00', to: '18:00' }], quietHours: [{ days: ['mon'], from: '12:00', to: '13:00' }] }), 200);
      const ada = await registerShopper(t.app);
      await grant(t.app, ada.token, { presence: true, promotions: true });
      await campaign({ trigger: { kind: 'dwell', minDwellS: 60 } });
      expect(await presence(ada, { kind: 'enter' })).toBe('no-campaign');
      expect(await presence(ada, { zoneId: 'pharmacy', kind: 'dwell', dwellS: 600 })).toBe('sensitive-zone');
      t.clock.advance(3 * 60 * MIN);
      expect(await presence(ada, { kind: 'dwell', dwellS: 600 })).toBe('quiet-hours');
      t.clock.advance(7 * 60 * MIN);
      expect(await presence(ada, { kind: 'dwell', dwellS: 600 })).toBe('closed');
      expect(sent).toEqual([]);
    });
  });

  describe('shopper attributes and segments', () => {
    it('sets the loyalty tier and interests with PATCH /v1/me, and refuses bad ones naming the field', async () => {
      const ada = await registerShopper(t.app);
      expect(expectStatus(await patchMe(ada, { loyaltyTier: 'gold', interests: ['coffee', 'kids-fashion'] }), 200)).toMatchObject({ loyaltyTier: 'gold', interests: ['coffee', 'kids-fashion'] });
      expect(await t.deps.store.getShopper(ada.shopperId)).toMatchObject({ loyaltyTier: 'gold', interests: ['coffee', 'kids-fashion'] });
      // The age facts alone leave the attributes as they were.
      expectStatus(await patchMe(ada, { birthYear: 1990 }), 200);
      expect(await t.deps.store.getShopper(ada.shopperId)).toMatchObject({ loyaltyTier: 'gold', birthYear: 1990 });
      const bad = await patchMe(ada, { loyaltyTier: 'diamond', interests: ['Coffee!', 'tea', 'tea'] });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.fields).toEqual(expect.arrayContaining(['loyaltyTier', 'interests.0', 'interests']));
      expectStatus(await patchMe(ada, { loyaltyTier: null, interests: [] }), 200);
      expect(await t.deps.store.getShopper(ada.shopperId)).toMatchObject({ loyaltyTier: null, interests: [] });
    });

    it('reaches a segment only with P2, and renders {{loyaltyTier}} only with P2', async () => {
      expectStatus(await putStore({}), 200);
      await campaign({
        audience: { kind: 'segment', segment: { loyaltyTiers: ['gold'] } }, priority: 500, id: 'gold-only',
        message: { title: 'For you, {{firstName}}', body: 'A {{loyaltyTier}} member treat.', validForS: 3600 },
      });
      const ada = await registerShopper(t.app, { firstName: 'Ada' });
      const bea = await registerShopper(t.app, { firstName: 'Bea' });
      for (const shopper of [ada, bea]) expectStatus(await patchMe(shopper, { loyaltyTier: 'gold' }), 200);
      await grant(t.app, ada.token, { presence: true, promotions: true, personalisation: true });
      await grant(t.app, bea.token, { presence: true, promotions: true });
      expect(await presence(ada)).toBe('sent');
      expect(await presence(bea)).toBe('not-in-audience');
      expect(sent.map((p) => [p.shopperId, p.message.title, p.message.body, p.message.why.purposes])).toEqual([
        [ada.shopperId, 'For you, Ada', 'A gold member treat.', ['presence', 'promotions', 'personalisation']],
      ]);
    });
  });

  describe('visits', () => {
    const leaveAndComeBack = async (shopper: RegisteredShopper, awayMs: number): Promise<PresenceOutcome> => {
      await presence(shopper, { kind: 'exit' });
      t.clock.advance(awayMs);
      return presence(shopper, { kind: 'enter' });
    };

    it('fires the nth-visit and return triggers on the entry that starts a visit, only with P2, and keeps the history only with P2', async () => {
      expectStatus(await putStore({}), 200);
      await campaign({ id: 'second-visit', trigger: { kind: 'visit', nth: 2, repeat: false } });
      await campaign({ id: 'welcome-back', trigger: { kind: 'return', minDaysAway: 7 } });
      const ada = await registerShopper(t.app);
      const bea = await registerShopper(t.app);
      await grant(t.app, ada.token, { presence: true, promotions: true, personalisation: true });
      await grant(t.app, bea.token, { presence: true, promotions: true });

      for (const shopper of [ada, bea]) expect(await presence(shopper)).toBe('no-campaign');
      // Back after 20 minutes: the same visit.
      expect(await leaveAndComeBack(ada, 20 * MIN)).toBe('no-campaign');
      // Back after a day: visit 2.
      expect(await leaveAndComeBack(ada, DAY_MS)).toBe('sent');
      expect(await leaveAndComeBack(bea, 0)).toBe('no-campaign');
      // Back after 8 days: a return (visit 3).
      expect(await leaveAndComeBack(ada, 8 * DAY_MS)).toBe('sent');
      expect(await leaveAndComeBack(bea, 8 * DAY_MS)).toBe('no-campaign');
      expect(sent.map((p) => [p.shopperId, p.campaignId])).toEqual([[ada.shopperId, 'second-visit'], [ada.shopperId, 'welcome-back']]);

      // DSR-1: Ada's history is in what her export reads; for Bea nothing was kept.
      const visits = async (shopper: RegisteredShopper) => (await t.deps.store.readShopperData(shopper.shopperId))!.visits;
      // Her third visit started 8 days before Bea came back.
      const startedAtMs = t.deps.now() - 8 * DAY_MS;
      expect(await visits(ada)).toEqual([{ storeId: 'store-1', shopperId: ada.shopperId, visitCount: 3, visitStartedAtMs: startedAtMs, lastSeenAtMs: startedAtMs, previousVisitLastSeenMs: startedAtMs - 8 * DAY_MS }]);
      expect(await visits(bea)).toEqual([]);
    });

    it('gives a redelivered entry the same decision: one promotion per trigger, never a second campaign', async () => {
      expectStatus(await putStore({}), 200);
      await campaign({ id: 'second-visit', trigger: { kind: 'visit', nth: 2, repeat: false }, priority: 500 });
      await campaign({ id: 'hello', priority: 1 });
      const ada = await registerShopper(t.app);
      await grant(t.app, ada.token, { presence: true, promotions: true, personalisation: true });
      expect(await presence(ada)).toBe('sent');
      await presence(ada, { kind: 'exit' });
      t.clock.advance(DAY_MS);
      const entry = aPresence({ shopperId: ada.shopperId, atS: Math.floor(t.deps.now() / 1000) });
      const deps = { store: t.deps.store, config: t.deps.config, metrics: t.deps.metrics, experimentKey: t.deps.experimentKey, delivery: { notify: (promotion: PromotionRecord) => void sent.push(promotion) } };
      expect(await processResolvedPresence(deps, entry, t.deps.now())).toBe('sent');
      t.clock.advance(5_000);
      expect(await processResolvedPresence(deps, entry, t.deps.now())).toBe('duplicate');
      // The pending promotion is handed to delivery again (idempotent by its ID); no other campaign is.
      expect(sent.map((p) => p.campaignId)).toEqual(['hello', 'second-visit', 'second-visit']);
      expect(new Set(sent.map((p) => p.id)).size).toBe(2);
    });
  });
});
