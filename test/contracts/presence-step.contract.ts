import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { definitionSha256 } from '#server/domain/campaign-lifecycle.ts';
import type { ConsentState, Purpose } from '#server/domain/consent.ts';
import type { ResolvedPresence } from '#server/domain/decision.ts';
import { arbitrateZone, zoneStateDueAtMs, type ZoneState } from '#server/domain/zone-arbiter.ts';
import type { ArbitratedPresence, PresenceStep, PresenceStepResult, ShopperRecord, Store, ZoneStateUpdate } from '#server/store/store.ts';
import { aCampaign, aConsent, aDraft, aPresence, aShopper, SECOND_MS, START_MS, uniqueId } from '#test/helpers/builders.ts';
import { seededDatabases, type FreshDatabase } from './fresh-database.ts';

// Store.applyPresence and Store.configVersion (server/store/store.ts; migration 19), run against every
// adapter: the ingest's writes for one event as one transaction — claim, consent, presence, zone arbiter,
// conversions, visits — and the configuration's version that lets each instance keep stores, zones,
// gateways and campaigns in memory. `fresh` opens an empty database and a way to open another instance.


const MINUTE_MS = 60_000;

/** The ingest's own arbiter step (resolved-presence.ts), for one event. */
const arbiterStep = (event: ResolvedPresence) => (previous: ZoneState | undefined): ZoneStateUpdate<ArbitratedPresence> => {
  const result = arbitrateZone(previous, { eventId: event.eventId, zoneId: event.zoneId, kind: event.kind, proximity: event.proximity, atMs: event.atS * 1000 });
  return { state: result.state, dueAtMs: zoneStateDueAtMs(result.state), result: { transitions: result.transitions, current: result.state.current?.zoneId } };
};

export function describePresenceStepContract(name: string, fresh: () => Promise<FreshDatabase>, cleanup?: () => Promise<void>): void {
  describe(`Store presence step contract: ${name}`, () => {
    const database = seededDatabases(fresh, [['entrance', false], ['checkout', false], ['pharmacy', true]], cleanup);

    async function givenShopper(store: Store, consents: Partial<Record<Purpose, boolean>>): Promise<ShopperRecord> {
      const shopper = aShopper();
      await store.createShopper(shopper);
      const records = Object.entries(consents).map(([purpose, granted]) => aConsent({ shopperId: shopper.id, purpose: purpose as Purpose, granted }));
      if (records.length > 0) await store.appendConsent(records);
      return shopper;
    }

    const gateway = { gatewayId: 'gw-1', boot: randomUUID() };
    let seq = 0;
    /** A step as the MQTT ingest makes it: a fresh sequence number, the stored consent as it is, the arbiter, the store's sensitive zones. */
    const stepFor = (event: ResolvedPresence, overrides: Partial<PresenceStep> = {}): PresenceStep => ({
      event, receivedAtMs: event.atS * 1000 + 50, sequence: { ...gateway, seq: (seq += 1) }, consent: (stored) => stored, arbitrate: arbiterStep(event),
      visits: { sensitiveZoneIds: ['pharmacy'] }, ...overrides,
    });
    const applied = (result: PresenceStepResult) => {
      if (result.outcome !== 'applied') throw new Error(`expected the step to apply, got ${result.outcome}`);
      return result;
    };

    it('writes presence, the arbitrated zone and the visit in one step, and tells what they did', async () => {
      const { store } = await database();
      const shopper = await givenShopper(store, { presence: true, promotions: true, personalisation: true });
      const enter = aPresence({ shopperId: shopper.id, zoneId: 'entrance', kind: 'enter' });
      const result = applied(await store.applyPresence(stepFor(enter)));
      expect(result.transitions).toEqual([{ kind: 'entered', zoneId: 'entrance', atMs: START_MS, dwellMs: 0 }]);
      expect(result.current).toBe('entrance');
      expect(result.consent.presence?.granted).toBe(true);
      expect(result.visit).toEqual({ visitNumber: 1, newVisit: true, pastVisits: 0, previousVisitLastSeenMs: null });
      expect(result.conversions).toBe(0);

      const data = (await store.readShopperData(shopper.id))!;
      expect(data.presenceEvents.map((e) => [e.eventId, e.zoneId, e.kind])).toEqual([[enter.eventId, 'entrance', 'enter']]);
      expect(data.zoneStates).toHaveLength(1);
      expect(data.zoneStates[0]!.state.current?.zoneId).toBe('entrance');
      expect(data.visits.map((v) => [v.storeId, v.visitCount])).toEqual([['store-1', 1]]);
    });

    it('gives a redelivered event the same answer and writes nothing twice', async () => {
      const { store } = await database();
      const shopper = await givenShopper(store, { presence: true, personalisation: true });
      const enter = aPresence({ shopperId: shopper.id });
      const step = stepFor(enter);
      const first = applied(await store.applyPresence(step));
      const again = applied(await store.applyPresence(step));
      expect(again.transitions).toEqual(first.transitions);
      expect(again.visit).toEqual(first.visit);
      const data = (await store.readShopperData(shopper.id))!;
      expect(data.presenceEvents).toHaveLength(1);
      expect(data.visits[0]!.visitCount).toBe(1);
    });

    it('stops at a replayed sequence number: another event under a taken number writes nothing', async () => {
      const { store } = await database();
      const shopper = await givenShopper(store, { presence: true });
      const first = stepFor(aPresence({ shopperId: shopper.id }));
      applied(await store.applyPresence(first));
      const before = (await store.readShopperData(shopper.id))!;
      const forged = aPresence({ shopperId: shopper.id, zoneId: 'checkout', atS: START_MS / 1000 + 5 });
      expect(await store.applyPresence(stepFor(forged, { sequence: first.sequence }))).toEqual({ outcome: 'replay' });
      const after = (await store.readShopperData(shopper.id))!;
      expect(after.presenceEvents).toEqual(before.presenceEvents);
      expect(after.zoneStates).toEqual(before.zoneStates);
    });

    it('records nothing but the claim without presence consent (P1), for a lapsed grant, or for an erased shopper', async () => {
      const { store } = await database();
      const withoutPresence = await givenShopper(store, { promotions: true });
      const step = stepFor(aPresence({ shopperId: withoutPresence.id }));
      const result = await store.applyPresence(step);
      expect(result).toMatchObject({ outcome: 'no-presence' });
      expect((await store.readShopperData(withoutPresence.id))!).toMatchObject({ presenceEvents: [], zoneStates: [], visits: [] });
      // The number is taken all the same: another event cannot use it.
      expect(await store.acceptSequence(step.sequence!.gatewayId, step.sequence!.boot, step.sequence!.seq, randomUUID(), START_MS)).toBe('replay');

      // The caller's policy reads a stored grant as lapsed (CON-6): the same as none.
      const lapsed = await givenShopper(store, { presence: true });
      const withdrawnView = (stored: ConsentState): ConsentState => ({ ...stored, presence: { ...stored.presence!, granted: false } });
      expect(await store.applyPresence(stepFor(aPresence({ shopperId: lapsed.id }), { consent: withdrawnView }))).toMatchObject({ outcome: 'no-presence' });
      expect((await store.readShopperData(lapsed.id))!.presenceEvents).toEqual([]);

      const erased = await givenShopper(store, { presence: true });
      await store.eraseShopper(erased.id, START_MS, () => ({ atMs: START_MS, actor: 'shopper', action: 'shopper.erased', subject: erased.id, details: {} }));
      expect(await store.applyPresence(stepFor(aPresence({ shopperId: erased.id })))).toMatchObject({ outcome: 'no-presence' });
      expect(await store.getZoneState('store-1', erased.id)).toBeUndefined();
    });

    it('keeps visit history only with personalisation (P2) and never from a sensitive zone (AN-3)', async () => {
      const { store } = await database();
      const withoutP2 = await givenShopper(store, { presence: true, promotions: true });
      expect(applied(await store.applyPresence(stepFor(aPresence({ shopperId: withoutP2.id })))).visit).toBeNull();
      expect((await store.readShopperData(withoutP2.id))!.visits).toEqual([]);

      const withP2 = await givenShopper(store, { presence: true, personalisation: true });
      expect(applied(await store.applyPresence(stepFor(aPresence({ shopperId: withP2.id, zoneId: 'pharmacy' })))).visit).toBeNull();
      // Unknown store (no sensitive zones to go by): none either.
      expect(applied(await store.applyPresence(stepFor(aPresence({ shopperId: withP2.id, zoneId: 'checkout', atS: START_MS / 1000 + 60 }), { visits: undefined }))).visit).toBeNull();
      expect((await store.readShopperData(withP2.id))!.visits).toEqual([]);
    });

    it('converts the open exposures an arbitrated entry attributes to, only with analytics consent (P3)', async () => {
      const { store } = await database();
      const campaign = aCampaign({ attribution: { conversionZoneIds: ['checkout'], windowS: 3600 } });
      const expose = async (shopperId: string): Promise<void> => {
        const recorded = await store.recordPromotion({ ...aDraft({ shopperId, campaign }), attribution: campaign.attribution!, analyticsActive: true });
        if (recorded.outcome !== 'recorded') throw new Error(`expected the exposure to be recorded, got ${recorded.outcome}`);
        // An exposure counts once delivered.
        await store.markPromotionDelivered(recorded.promotion.id, START_MS + MINUTE_MS);
      };
      const withP3 = await givenShopper(store, { presence: true, promotions: true, analytics: true });
      await expose(withP3.id);
      const atS = (START_MS + 5 * MINUTE_MS) / 1000;
      expect(applied(await store.applyPresence(stepFor(aPresence({ shopperId: withP3.id, zoneId: 'checkout', atS })))).conversions).toBe(1);
      // The same entry again converts nothing more.
      expect(applied(await store.applyPresence(stepFor(aPresence({ shopperId: withP3.id, zoneId: 'checkout', atS: atS + 1, kind: 'dwell', dwellS: 1 })))).conversions).toBe(0);

      const withoutP3 = await givenShopper(store, { presence: true, promotions: true });
      await expose(withoutP3.id);
      expect(applied(await store.applyPresence(stepFor(aPresence({ shopperId: withoutP3.id, zoneId: 'checkout', atS })))).conversions).toBe(0);
    });

    it('is one transaction: a step that fails half-way leaves nothing behind, not even the claim', async () => {
      const { store } = await database();
      const shopper = await givenShopper(store, { presence: true, personalisation: true });
      const event = aPresence({ shopperId: shopper.id });
      const step = stepFor(event, { arbitrate: () => { throw new Error('arbiter failed'); } });
      await expect(store.applyPresence(step)).rejects.toThrow('arbiter failed');
      expect((await store.readShopperData(shopper.id))!).toMatchObject({ presenceEvents: [], zoneStates: [], visits: [] });
      // The redelivery finds the number free and applies in full.
      expect(applied(await store.applyPresence({ ...step, arbitrate: arbiterStep(event) })).transitions).toHaveLength(1);
    });

    it('applies one shopper\'s events from two instances at once without losing one, entering once', async () => {
      const { store, another } = await database();
      const other = await another();
      const shopper = await givenShopper(store, { presence: true, personalisation: true });
      const events = Array.from({ length: 24 }, (_, i) => aPresence({ shopperId: shopper.id, zoneId: ['entrance', 'checkout'][i % 2]!, atS: START_MS / 1000 }));
      const results = await Promise.all(events.map((event, i) => (i % 2 === 0 ? store : other).applyPresence(stepFor(event))));
      const entries = results.flatMap((r) => applied(r).transitions.filter((t) => t.kind === 'entered'));
      expect(entries).toHaveLength(1);
      expect(results.filter((r) => applied(r).visit?.newVisit === true)).toHaveLength(1);
      const data = (await other.readShopperData(shopper.id))!;
      expect(data.presenceEvents).toHaveLength(24);
      expect(Object.keys(data.zoneStates[0]!.state.claims).sort()).toEqual(['checkout', 'entrance']);
      expect(data.visits[0]!.visitCount).toBe(1);
    });

    it('accepts one event redelivered to two instances at once exactly once', async () => {
      const { store, another } = await database();
      const other = await another();
      const shopper = await givenShopper(store, { presence: true });
      const step = stepFor(aPresence({ shopperId: shopper.id }));
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store : other).applyPresence(step)));
      expect(new Set(results.map((r) => JSON.stringify(applied(r).transitions))).size).toBe(1);
      expect((await store.readShopperData(shopper.id))!.presenceEvents).toHaveLength(1);
    });

    it('leaves nothing behind once an erasure racing 30 steps from two instances has committed (DSR-2)', async () => {
      const { store, another } = await database();
      const other = await another();
      const shopper = await givenShopper(store, { presence: true, personalisation: true, analytics: true });
      const steps = Array.from({ length: 30 }, (_, i) => stepFor(aPresence({ shopperId: shopper.id, zoneId: ['entrance', 'checkout'][i % 2]!, atS: START_MS / 1000 + i })));
      const early = steps.slice(0, 15).map((step, i) => (i % 2 === 0 ? store : other).applyPresence(step));
      const erasure = other.eraseShopper(shopper.id, START_MS + 20 * SECOND_MS, () => ({ atMs: START_MS, actor: 'shopper', action: 'shopper.erased', subject: shopper.id, details: {} }));
      const late = steps.slice(15).map((step, i) => (i % 2 === 0 ? other : store).applyPresence(step));
      const results = await Promise.all([...early, ...late]);
      expect(await erasure).toBeDefined();
      // A step that committed after the erasure would have left its presence, zone state or visit behind.
      expect((await store.counts()).presenceEvents).toBe(0);
      expect(await store.getZoneState('store-1', shopper.id)).toBeUndefined();
      expect(results.every((r) => r.outcome === 'applied' || r.outcome === 'no-presence')).toBe(true);
      expect(await store.applyPresence(stepFor(aPresence({ shopperId: shopper.id })))).toMatchObject({ outcome: 'no-presence' });
    });

    // Steps handed in together — one per message the ingress has in flight — may be applied together (the
    // PostgreSQL adapter's set-based batch, SQLite's group commit): each must get the answer it would alone.
    it('gives each of many steps handed in at once the answer it would get alone', async () => {
      const { store } = await database();
      const campaign = aCampaign({ attribution: { conversionZoneIds: ['checkout'], windowS: 3600 } });
      const visitor = await givenShopper(store, { presence: true, personalisation: true });
      const withoutPresence = await givenShopper(store, { promotions: true });
      const erased = await givenShopper(store, { presence: true });
      await store.eraseShopper(erased.id, START_MS, () => ({ atMs: START_MS, actor: 'shopper', action: 'shopper.erased', subject: erased.id, details: {} }));
      const converter = await givenShopper(store, { presence: true, promotions: true, analytics: true });
      const exposure = await store.recordPromotion({ ...aDraft({ shopperId: converter.id, campaign }), attribution: campaign.attribution!, analyticsActive: true });
      if (exposure.outcome !== 'recorded') throw new Error(`expected the exposure to be recorded, got ${exposure.outcome}`);
      await store.markPromotionDelivered(exposure.promotion.id, START_MS + MINUTE_MS);
      // A second converter with two open exposures: each shopper's conversions are counted apart.
      const twice = await givenShopper(store, { presence: true, promotions: true, analytics: true });
      for (const campaignOf of [campaign, aCampaign({ attribution: { conversionZoneIds: ['checkout'], windowS: 3600 } })]) {
        const recorded = await store.recordPromotion({ ...aDraft({ shopperId: twice.id, campaign: campaignOf }), attribution: campaignOf.attribution!, analyticsActive: true });
        if (recorded.outcome !== 'recorded') throw new Error(`expected the exposure to be recorded, got ${recorded.outcome}`);
        await store.markPromotionDelivered(recorded.promotion.id, START_MS + MINUTE_MS);
      }
      const replayer = await givenShopper(store, { presence: true });
      const taken = stepFor(aPresence({ shopperId: replayer.id }));
      applied(await store.applyPresence(taken));
      const redelivered = await givenShopper(store, { presence: true });
      const earlier = stepFor(aPresence({ shopperId: redelivered.id, zoneId: 'checkout' }));
      const earlierResult = applied(await store.applyPresence(earlier));
      const [rivalA, rivalB] = [await givenShopper(store, { presence: true }), await givenShopper(store, { presence: true })];
      const contested = stepFor(aPresence({ shopperId: rivalA.id }));
      const unknownShopperId = uniqueId('shopper');
      const atS = (START_MS + 5 * MINUTE_MS) / 1000;

      const results = await Promise.all([
        store.applyPresence(stepFor(aPresence({ shopperId: visitor.id, zoneId: 'entrance', atS }))),
        store.applyPresence(stepFor(aPresence({ shopperId: withoutPresence.id, atS }))),
        store.applyPresence(stepFor(aPresence({ shopperId: erased.id, atS }))),
        store.applyPresence(stepFor(aPresence({ shopperId: converter.id, zoneId: 'checkout', atS }))),
        store.applyPresence(stepFor(aPresence({ shopperId: replayer.id, zoneId: 'checkout', atS }), { sequence: taken.sequence })),
        store.applyPresence(earlier),
        store.applyPresence(contested),
        store.applyPresence(stepFor(aPresence({ shopperId: rivalB.id, atS }), { sequence: contested.sequence })),
        store.applyPresence(stepFor(aPresence({ shopperId: unknownShopperId, atS }))),
        // The visitor's second event: after their first, which it must see.
        store.applyPresence(stepFor(aPresence({ shopperId: visitor.id, zoneId: 'entrance', kind: 'exit', atS: atS + 2 }))),
        store.applyPresence(stepFor(aPresence({ shopperId: twice.id, zoneId: 'checkout', atS }))),
      ]);

      const [visit, noPresence, erasedResult, conversion, replay, redelivery, rivalResultA, rivalResultB, unknown, visitExit, conversions] = results;
      expect(applied(conversions!).conversions).toBe(2);
      expect(applied(visit!).transitions).toEqual([{ kind: 'entered', zoneId: 'entrance', atMs: atS * 1000, dwellMs: 0 }]);
      expect(applied(visit!).visit).toMatchObject({ visitNumber: 1, newVisit: true });
      expect(noPresence).toMatchObject({ outcome: 'no-presence' });
      expect(erasedResult).toMatchObject({ outcome: 'no-presence' });
      expect(applied(conversion!).conversions).toBe(1);
      expect(replay).toEqual({ outcome: 'replay' });
      expect(applied(redelivery!).transitions).toEqual(earlierResult.transitions);
      // One number, two events from two shoppers: one holds it, the other is a replay.
      expect([rivalResultA!.outcome, rivalResultB!.outcome].sort()).toEqual(['applied', 'replay']);
      expect(unknown).toMatchObject({ outcome: 'no-presence' });
      expect(applied(visitExit!).transitions).toEqual([{ kind: 'left', zoneId: 'entrance', atMs: (atS + 2) * 1000, dwellMs: 2000 }]);

      const visitorData = (await store.readShopperData(visitor.id))!;
      expect(visitorData.presenceEvents.map((e) => e.kind)).toEqual(['enter', 'exit']);
      expect(visitorData.zoneStates[0]!.state.current ?? null).toBeNull();
      expect(visitorData.visits.map((v) => v.visitCount)).toEqual([1]);
      expect((await store.readShopperData(withoutPresence.id))!.presenceEvents).toEqual([]);
      expect((await store.readShopperData(replayer.id))!.presenceEvents).toHaveLength(1);
      expect((await store.readShopperData(redelivered.id))!.presenceEvents).toHaveLength(1);
      expect((await store.readShopperData(converter.id))!.promotions[0]!.convertedAtMs).toBe(atS * 1000);
      expect(await store.getZoneState('store-1', erased.id)).toBeUndefined();
    });

    it('fails only the step at fault when one of many handed in at once throws', async () => {
      const { store } = await database();
      const shoppers = await Promise.all(Array.from({ length: 6 }, () => givenShopper(store, { presence: true })));
      const steps = shoppers.map((shopper, i) => stepFor(aPresence({ shopperId: shopper.id }), i === 2 ? { arbitrate: () => { throw new Error('arbiter failed'); } } : {}));
      const results = await Promise.allSettled(steps.map((step) => store.applyPresence(step)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect(((results[2] as PromiseRejectedResult).reason as Error).message).toBe('arbiter failed');
      for (const [i, shopper] of shoppers.entries()) {
        expect((await store.readShopperData(shopper.id))!.presenceEvents, `shopper ${i}`).toHaveLength(i === 2 ? 0 : 1);
      }
    });

    it('leaves nothing of erased shoppers behind when their erasures race steps of 40 shoppers handed in at once (DSR-2)', async () => {
      const { store, another } = await database();
      const other = await another();
      const shoppers = await Promise.all(Array.from({ length: 40 }, () => givenShopper(store, { presence: true, personalisation: true })));
      const steps = shoppers.map((shopper) => stepFor(aPresence({ shopperId: shopper.id })));
      const erasing = shoppers.filter((_, i) => i % 4 === 0);
      const [results] = await Promise.all([
        Promise.all(steps.map((step, i) => (i % 2 === 0 ? store : other).applyPresence(step))),
        Promise.all(erasing.map((shopper) => other.eraseShopper(shopper.id, START_MS + SECOND_MS, () => ({ atMs: START_MS, actor: 'shopper', action: 'shopper.erased', subject: shopper.id, details: {} })))),
      ]);
      expect(results.every((r) => r.outcome === 'applied' || r.outcome === 'no-presence')).toBe(true);
      for (const shopper of erasing) {
        expect(await store.getZoneState('store-1', shopper.id)).toBeUndefined();
        expect(await store.readShopperData(shopper.id)).toBeUndefined();
      }
      expect((await store.counts()).presenceEvents).toBe(30);
    });

    it('keeps the step of a visit-history gap as recordVisitActivity does: a new visit after 30 minutes away', async () => {
      const { store } = await database();
      const shopper = await givenShopper(store, { presence: true, personalisation: true });
      applied(await store.applyPresence(stepFor(aPresence({ shopperId: shopper.id, zoneId: 'entrance' }))));
      const exit = aPresence({ shopperId: shopper.id, zoneId: 'entrance', kind: 'exit', atS: (START_MS + 2 * SECOND_MS) / 1000 });
      applied(await store.applyPresence(stepFor(exit)));
      const back = applied(await store.applyPresence(stepFor(aPresence({ shopperId: shopper.id, zoneId: 'checkout', atS: (START_MS + 40 * MINUTE_MS) / 1000 }))));
      expect(back.visit).toMatchObject({ visitNumber: 2, newVisit: true, pastVisits: 1 });
    });

    describe('configuration version', () => {
      it('moves with every change to stores, zones, gateways and campaigns, by any instance, and not with a gateway being seen', async () => {
        const { store, another } = await database();
        const other = await another();
        const moves = async (change: () => Promise<unknown>): Promise<number> => {
          const before = await other.configVersion();
          await change();
          return (await other.configVersion()) - before;
        };
        expect(await moves(() => store.upsertStore({ id: 'store-1', name: 'High Street', timezone: 'Europe/Paris' }))).toBe(1);
        expect(await moves(() => store.upsertZone({ storeId: 'store-1', id: 'entrance', name: 'Entrance', sensitive: true }))).toBe(1);
        expect(await moves(() => store.upsertGateway({ id: 'gw-cfg', storeId: 'store-1', zoneId: 'entrance', secretSealed: randomBytes(48) }))).toBe(1);
        expect(await moves(() => store.upsertGateway({ id: 'gw-cfg', storeId: 'store-1', zoneId: 'checkout', secretSealed: randomBytes(48) }, true))).toBe(1);
        expect(await moves(() => store.markGatewaySeen('gw-cfg', START_MS, true))).toBe(0);
        expect(await moves(() => store.putCampaign(aCampaign(), START_MS))).toBe(1);

        const draft = aCampaign({ id: uniqueId('cmp'), status: 'draft' });
        expect(await moves(() => store.saveCampaignDefinition({ campaign: draft, definitionSha256: definitionSha256(draft), expected: null, actor: 'maker', atMs: START_MS }))).toBe(1);
        // A save or a transition that does not apply changes nothing, and moves nothing.
        expect(await moves(() => store.saveCampaignDefinition({ campaign: draft, definitionSha256: definitionSha256(draft), expected: null, actor: 'maker', atMs: START_MS }))).toBe(0);
        expect(await moves(() => store.transitionCampaign({ id: draft.id, action: 'pause', actor: 'maker', atMs: START_MS }))).toBe(0);
        expect(await moves(() => store.transitionCampaign({ id: draft.id, action: 'submit', actor: 'maker', atMs: START_MS }))).toBe(1);
      });
    });
  });
}
