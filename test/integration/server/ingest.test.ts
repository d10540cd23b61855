import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  deriveEventMacKey, pseudonymise, signMessage, topics,
  type GatewayStatus, type PresenceEvent, type Pseudonym, type UnsignedGatewayStatus, type UnsignedPresenceEvent,
} from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import type { CampaignInput } from '#server/domain/campaign.ts';
import { createPresenceIngest, type PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { counterValue } from '#server/metrics.ts';
import type { PromotionRecord, Store, StoreCounts } from '#server/store/store.ts';
import { aCampaign, aPresenceEvent, generousCaps, SECOND_MS } from '#test/helpers/builders.ts';
import {
  buildTestApp, expectStatus, givenStoreWithGateway, grant, putCampaign, putStore, registerShopper, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { createConfigView } from '#server/ingest/config-view.ts';

// Presence ingest driven directly, one MQTT message at a time, over the real store, resolver and
// keys of a test app; delivery is a fake that records what it was asked to send.

type RecordingDelivery = Delivery & { notified: PromotionRecord[] };

function createRecordingDelivery(): RecordingDelivery {
  const notified: PromotionRecord[] = [];
  return { notified, notify: (promotion) => void notified.push(promotion), close: async () => undefined };
}

const PRESENCE_TOPIC = topics.events('store-1', 'gw-1');

let t: TestApp;
let delivery: RecordingDelivery;
let ingest: PresenceIngest;
let ada: RegisteredShopper;
/** gw-1's secret, as provisioning issued it: every sighting is signed with it. */
let gatewaySecret: Buffer;

function ingestWith(store: Store): PresenceIngest {
  return createPresenceIngest({
    store, config: createConfigView(store), resolver: t.deps.resolver, delivery, metrics: t.deps.metrics, logger: t.logs.logger.child({ component: 'ingest' }), now: t.deps.now, sealer: t.deps.sealer, experimentKey: t.deps.experimentKey,
  });
}

beforeEach(async () => {
  t = await buildTestApp();
  delivery = createRecordingDelivery();
  ingest = ingestWith(t.deps.store);
  const config = await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1', zones: [{ id: 'entrance' }, { id: 'bakery' }] });
  gatewaySecret = Buffer.from(config.secret, 'base64url');
  ada = await registerShopper(t.app, { firstName: 'Ada' });
  await grant(t.app, ada.token, { presence: true, promotions: true });
});
afterEach(async () => {
  await t.close();
});

const nowS = (): number => Math.floor(t.deps.now() / 1000);

function liveKey(storeId = 'store-1') {
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === storeId);
  if (key === undefined) throw new Error(`no live key for ${storeId}`);
  return key;
}

/** The pseudonym gw-1 would publish for a shopper's app now. */
const pseudonymOf = (shopper: RegisteredShopper, storeId = 'store-1'): Pseudonym => pseudonymise(liveKey(storeId).key, 'eddystone-eid', shopper.tokens.eidAt(nowS()));

/** A presence message from gw-1 about a shopper, as the gateway would publish (and sign) it now. */
const sighting = (shopper: RegisteredShopper, overrides: Partial<UnsignedPresenceEvent> = {}): PresenceEvent =>
  aPresenceEvent({ storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', keyId: liveKey().keyId, pseudonym: pseudonymOf(shopper), atS: nowS(), ...overrides }, gatewaySecret);

const send = (event: unknown, topic = PRESENCE_TOPIC) => ingest.handle(topic, Buffer.from(JSON.stringify(event)));

async function givenCampaign(overrides: Partial<CampaignInput> = {}) {
  const campaign = aCampaign({ storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps, ...overrides });
  expectStatus(await putCampaign(t, campaign), 200);
  return campaign;
}

/** Fails if any 8-character slice of a secret appears in the text (a partial echo is a leak too). */
function expectNoTrace(text: string, secret: string): void {
  for (let i = 0; i + 8 <= secret.length; i += 1) expect(text, `log holds "${secret.slice(i, i + 8)}" from "${secret}"`).not.toContain(secret.slice(i, i + 8));
}

describe('presence ingest', () => {
  describe('drops what it cannot use, recording nothing and logging no payload', () => {
    let before: StoreCounts;
    beforeEach(async () => {
      await givenCampaign();
      before = await t.deps.store.counts();
      t.logs.clear();
    });

    async function expectNothingKept(secrets: string[]): Promise<void> {
      expect(await t.deps.store.counts()).toEqual(before);
      expect(delivery.notified).toEqual([]);
      const text = t.logs.text();
      for (const secret of secrets) expectNoTrace(text, secret);
    }

    it('rejects a payload that is not JSON', async () => {
      const pseudonym = pseudonymOf(ada);
      // Unquoted, so the JSON parser stops on it — its own error message would quote the input.
      expect(await ingest.handle(PRESENCE_TOPIC, Buffer.from(`{"v":1,"pseudonym": x${pseudonym}}`))).toBe('rejected-schema');
      expect(await ingest.handle(PRESENCE_TOPIC, Buffer.from([0xff, 0xfe, 0x00]))).toBe('rejected-schema');
      expect(await ingest.handle(PRESENCE_TOPIC, Buffer.alloc(0))).toBe('rejected-schema');
      await expectNothingKept([pseudonym]);
      expect(t.logs.lines()).toEqual(expect.arrayContaining([expect.objectContaining({ component: 'ingest', gatewayId: 'gw-1', msg: 'presence message rejected' })]));
    });

    it.each<[string, (event: PresenceEvent) => unknown]>([
      ['an unknown event kind', (event) => ({ ...event, kind: 'teleport' })],
      ['a pseudonym that is not 32 hex characters', (event) => ({ ...event, pseudonym: `${event.pseudonym}00` })],
      ['a fractional time', (event) => ({ ...event, atS: event.atS + 0.5 })],
      ['another protocol version', (event) => ({ ...event, v: 2 })],
      ['a missing field', ({ proximity: _proximity, ...event }) => event],
      ['an array', (event) => [event]],
    ])('rejects %s', async (_name, mutate) => {
      const event = sighting(ada);
      expect(await send(mutate(event))).toBe('rejected-schema');
      await expectNothingKept([event.pseudonym]);
    });

    it('rejects an extra field (MIN-4), and logs neither its value nor the pseudonym', async () => {
      const event = sighting(ada);
      expect(await send({ ...event, address: 'AA:BB:CC:DD:EE:FF', rssiDbm: -61 })).toBe('rejected-schema');
      await expectNothingKept([event.pseudonym, 'AA:BB:CC:DD:EE:FF']);
      // Even the unknown keys' names are payload text: the log counts them instead.
      expect(t.logs.lines()).toEqual([expect.objectContaining({ msg: 'presence message rejected', error: '(root): 2 unrecognized key(s)' })]);
    });

    it('rejects a message whose store or gateway is not the one in its topic', async () => {
      const event = sighting(ada);
      expect(await send(event, topics.events('store-2', 'gw-1'))).toBe('rejected-mismatch');
      expect(await send(event, topics.events('store-1', 'gw-2'))).toBe('rejected-mismatch');
      await expectNothingKept([event.pseudonym]);
    });

    it('rejects presence from an unknown gateway, or from a zone that is not its own', async () => {
      const stranger = sighting(ada, { gatewayId: 'gw-9' });
      expect(await send(stranger, topics.events('store-1', 'gw-9'))).toBe('unknown-gateway');
      const otherZone = sighting(ada, { zoneId: 'bakery' });
      expect(await send(otherZone)).toBe('unknown-gateway');
      await expectNothingKept([stranger.pseudonym, otherZone.pseudonym]);
    });

    it('rejects a topic outside the contract', async () => {
      const event = sighting(ada);
      expect(await send(event, 'vicino/v1/stores/store-1/gateways/gw-1/config')).toBe('rejected-topic');
      expect(await send(event, 'vicino/v1/stores/store-1/gateways/+/events')).toBe('rejected-topic');
      expect(await send(event, 'elsewhere/events')).toBe('rejected-topic');
      await expectNothingKept([event.pseudonym]);
    });

    it('drops an unresolved pseudonym with no log line and no row; only the counter moves (ID-2)', async () => {
      const unknown = sighting(ada, { pseudonym: aPresenceEvent().pseudonym });
      expect(await send(unknown)).toBe('unresolved');
      // A real shopper's token under another store's key does not resolve at this store.
      expectStatus(await putStore(t, 'store-2'), 200);
      before = await t.deps.store.counts();
      t.logs.clear();
      const elsewhere = sighting(ada, { pseudonym: pseudonymOf(ada, 'store-2') });
      expect(await send(elsewhere)).toBe('unresolved');
      await expectNothingKept([unknown.pseudonym, elsewhere.pseudonym]);
      expect(t.logs.lines()).toEqual([]);
      expect(await counterValue(t.deps.metrics.presence, { outcome: 'unresolved' })).toBe(2);
    });

    it('drops a registered shopper who never granted presence (CON-1)', async () => {
      const bob = await registerShopper(t.app);
      await grant(t.app, bob.token, { promotions: true });
      before = await t.deps.store.counts();
      expect(await send(sighting(bob))).toBe('unresolved');
      await expectNothingKept([pseudonymOf(bob)]);
    });
  });

  describe('sending', () => {
    it('sends a promotion for a consenting shopper entering a campaign’s zone', async () => {
      const campaign = await givenCampaign({ id: 'coffee' });
      const event = sighting(ada);
      expect(await send(event)).toBe('sent');
      const [promotion, ...others] = await t.deps.store.listUnackedPromotions(ada.shopperId, t.deps.now());
      expect(others).toEqual([]);
      expect(promotion).toMatchObject({ campaignId: 'coffee', shopperId: ada.shopperId, eventId: event.eventId, storeId: 'store-1', zoneId: 'entrance', status: 'pending' });
      expect(promotion?.message).toMatchObject({ title: campaign.message.title, why: { storeId: 'store-1', zoneId: 'entrance', purposes: ['presence', 'promotions'] } });
      expect(delivery.notified).toEqual([promotion]);
      expect(await t.deps.store.counts()).toMatchObject({ presenceEvents: 1, promotions: 1 });
      expect(await counterValue(t.deps.metrics.decisions, { outcome: 'send' })).toBe(1);
      expectNoTrace(t.logs.text(), event.pseudonym);
    });

    it('handles two shoppers\' messages at once, and one redelivered alongside them, each promotion once', async () => {
      await givenCampaign();
      const bob = await registerShopper(t.app, { firstName: 'Bob' });
      await grant(t.app, bob.token, { presence: true, promotions: true });
      const adaPayload = Buffer.from(JSON.stringify(sighting(ada)));
      // What several presence connections do: different shoppers in flight together, the same message twice (a redelivery).
      const outcomes = await Promise.all([ingest.handle(PRESENCE_TOPIC, adaPayload), send(sighting(bob, { seq: 2 }))]);
      expect(outcomes).toEqual(['sent', 'sent']);
      expect(await ingest.handle(PRESENCE_TOPIC, adaPayload)).toBe('duplicate');
      expect(await t.deps.store.counts()).toMatchObject({ presenceEvents: 2, promotions: 2 });
      expect(new Set(delivery.notified.map((p) => p.shopperId))).toEqual(new Set([ada.shopperId, bob.shopperId]));
    });

    it('puts one shopper\'s messages in one order lane, from any gateway, and others\' (or unresolved ones) elsewhere', async () => {
      const bob = await registerShopper(t.app, { firstName: 'Bob' });
      const key = (event: unknown, topic = PRESENCE_TOPIC): string => ingest.orderKey(topic, Buffer.from(JSON.stringify(event)));
      const adaKey = key(sighting(ada));
      expect(adaKey).toBe(key(sighting(ada, { seq: 7, kind: 'exit' })));
      expect(adaKey).not.toBe(key(sighting(bob)));
      // The key names the shopper's internal ID only, never the pseudonym.
      expect(adaKey).not.toContain(pseudonymOf(ada));
      // Unresolved, malformed, or a status: the topic's lane (no shopper state to keep in order).
      expect(key(sighting(ada, { pseudonym: 'AAAAAAAAAAAAAAAAAAAAAA' as Pseudonym }))).toBe(`topic:${PRESENCE_TOPIC}`);
      expect(ingest.orderKey(PRESENCE_TOPIC, Buffer.from('not json'))).toBe(`topic:${PRESENCE_TOPIC}`);
      expect(ingest.orderKey(topics.status('store-1', 'gw-1'), Buffer.from('{}'))).toBe(`topic:${topics.status('store-1', 'gw-1')}`);
    });

    it('treats the same message again as a duplicate: no second promotion, nothing new to deliver', async () => {
      await givenCampaign();
      const payload = Buffer.from(JSON.stringify(sighting(ada)));
      expect(await ingest.handle(PRESENCE_TOPIC, payload)).toBe('sent');
      const [first] = delivery.notified;
      expect(await ingest.handle(PRESENCE_TOPIC, payload)).toBe('duplicate');
      expect(await t.deps.store.counts()).toMatchObject({ presenceEvents: 1, promotions: 1 });
      // Still pending, so it may be offered again (at least once) — but only ever the same promotion.
      expect(new Set(delivery.notified.map((p) => p.id))).toEqual(new Set([first!.id]));
      expect(delivery.notified.map((p) => p.message.couponCode)).toEqual(delivery.notified.map(() => first!.message.couponCode));

      expect(await t.deps.store.ackPromotion(ada.shopperId, first!.id, t.deps.now())).toBe(true);
      const notifiedBefore = delivery.notified.length;
      expect(await ingest.handle(PRESENCE_TOPIC, payload)).toBe('duplicate');
      expect(delivery.notified).toHaveLength(notifiedBefore);
    });

    it('sends nothing once promotions (P4) are withdrawn', async () => {
      await givenCampaign();
      await grant(t.app, ada.token, { promotions: false });
      expect(await send(sighting(ada))).toBe('no-consent');
      expect((await t.deps.store.counts()).promotions).toBe(0);
      expect(delivery.notified).toEqual([]);
      expect(await counterValue(t.deps.metrics.decisions, { outcome: 'skip', reason: 'no-consent' })).toBe(1);
    });

    it('no longer recognises a shopper who withdrew presence (P1), even for a message already in flight', async () => {
      await givenCampaign();
      const inFlight = sighting(ada);
      await grant(t.app, ada.token, { presence: false });
      expect(await send(inFlight)).toBe('unresolved');
      expect(await t.deps.store.counts()).toMatchObject({ presenceEvents: 0, promotions: 0 });
    });

    it('records the presence but sends nothing when no campaign matches', async () => {
      await givenCampaign({ trigger: { kind: 'exit' } });
      expect(await send(sighting(ada, { kind: 'enter' }))).toBe('no-campaign');
      expect(await t.deps.store.counts()).toMatchObject({ presenceEvents: 1, promotions: 0 });
      expect(delivery.notified).toEqual([]);
    });

    it('personalises only with personalisation consent (P2)', async () => {
      await givenCampaign({ message: { title: 'Hi {{firstName}}', body: 'Coffee for you, {{firstName}}!', validForS: 3600 } });
      expect(await send(sighting(ada))).toBe('sent');
      expect(delivery.notified[0]?.message).toMatchObject({ title: 'Hi', body: 'Coffee for you!' });
      await grant(t.app, ada.token, { personalisation: true });
      expect(await send(sighting(ada, { kind: 'exit' }))).toBe('no-campaign');
      expect(await send(sighting(ada))).toBe('sent');
      expect(delivery.notified[1]?.message).toMatchObject({ title: 'Hi Ada', body: 'Coffee for you, Ada!', why: { purposes: ['presence', 'promotions', 'personalisation'] } });
    });

    it('reads the shopper\'s profile only with personalisation consent (P2), which segments and templates need', async () => {
      await givenCampaign({ message: { title: 'Hi {{firstName}}', body: 'Coffee for you, {{firstName}}!', validForS: 3600 } });
      const profileReads: string[] = [];
      const counting: Store = { ...t.deps.store, getShopper: (id) => (profileReads.push(id), t.deps.store.getShopper(id)) };
      const counted = ingestWith(counting);
      const sendCounted = (event: PresenceEvent) => counted.handle(PRESENCE_TOPIC, Buffer.from(JSON.stringify(event)));
      expect(await sendCounted(sighting(ada))).toBe('sent');
      expect(profileReads).toEqual([]);
      await grant(t.app, ada.token, { personalisation: true });
      expect(await sendCounted(sighting(ada, { kind: 'exit' }))).toBe('no-campaign');
      expect(await sendCounted(sighting(ada))).toBe('sent');
      // With P2, once per event that triggers a decision: the exit (no campaign) and the entry.
      expect(profileReads).toEqual([ada.shopperId, ada.shopperId]);
      expect(delivery.notified[1]?.message).toMatchObject({ title: 'Hi Ada' });
    });

    it('fails closed when the consent state cannot be read (CON-5)', async () => {
      await givenCampaign();
      // The consent read is the second step of the event's one transaction (Store.applyPresence): it failing fails the step.
      const broken: Store = { ...t.deps.store, applyPresence: async () => Promise.reject(new Error('database unavailable')) };
      await expect(ingestWith(broken).handle(PRESENCE_TOPIC, Buffer.from(JSON.stringify(sighting(ada))))).rejects.toThrow('database unavailable');
      expect(delivery.notified).toEqual([]);
      expect((await t.deps.store.counts()).promotions).toBe(0);
    });
  });

  describe('caps (MKT-2)', () => {
    it('holds a campaign to perShopper.count per period', async () => {
      await givenCampaign({ caps: { ...generousCaps, perShopper: { count: 1, periodS: 3600 } } });
      expect(await send(sighting(ada))).toBe('sent');
      expect(await send(sighting(ada, { kind: 'exit' }))).toBe('no-campaign');
      expect(await send(sighting(ada))).toBe('capped');
      // An hour unheard (the exit lost): the zone arbiter's claim is stale, so the next enter is a new entry.
      t.clock.advance(3601 * SECOND_MS);
      t.deps.resolver.roll();
      expect(await send(sighting(ada))).toBe('sent');
      expect((await t.deps.store.counts()).promotions).toBe(2);
      expect(delivery.notified).toHaveLength(2);
      expect(await counterValue(t.deps.metrics.decisions, { outcome: 'skip', reason: 'perShopper' })).toBe(1);
    });

    it('keeps the cooldown after any delivery, across campaigns', async () => {
      await givenCampaign({ id: 'on-enter', caps: { ...generousCaps, cooldownS: 600 } });
      await givenCampaign({ id: 'on-exit', trigger: { kind: 'exit' }, caps: { ...generousCaps, cooldownS: 600 } });
      expect(await send(sighting(ada, { kind: 'enter' }))).toBe('sent');
      t.clock.advance(300 * SECOND_MS);
      expect(await send(sighting(ada, { kind: 'exit', dwellS: 300 }))).toBe('capped');
      t.clock.advance(SECOND_MS);
      expect(await send(sighting(ada, { kind: 'enter' }))).toBe('capped');
      t.clock.advance(300 * SECOND_MS);
      expect(await send(sighting(ada, { kind: 'exit', dwellS: 300 }))).toBe('sent');
      expect(delivery.notified.map((p) => p.campaignId)).toEqual(['on-enter', 'on-exit']);
    });

    it('holds a shopper to perShopperDaily across campaigns', async () => {
      const daily = { ...generousCaps, perShopper: { count: 2, periodS: 86_400 }, perShopperDaily: 2 };
      await givenCampaign({ id: 'a-enter', caps: daily });
      await givenCampaign({ id: 'b-exit', trigger: { kind: 'exit' }, caps: daily });
      expect(await send(sighting(ada, { kind: 'enter' }))).toBe('sent');
      expect(await send(sighting(ada, { kind: 'exit' }))).toBe('sent');
      expect(await send(sighting(ada, { kind: 'enter' }))).toBe('capped');
      expect((await t.deps.store.counts()).promotions).toBe(2);
    });
  });

  describe('gateway status', () => {
    const statusKey = (): Buffer => deriveEventMacKey(gatewaySecret, 'gw-1');
    const aStatus = (overrides: Partial<UnsignedGatewayStatus> = {}, key = statusKey()): GatewayStatus =>
      signMessage(key, 'status', { v: 1 as const, storeId: 'store-1', gatewayId: 'gw-1', online: true, atS: nowS(), ...overrides });
    const sendStatus = (status: unknown, gatewayId = 'gw-1') => ingest.handle(topics.status('store-1', gatewayId), Buffer.from(JSON.stringify(status)));

    it('marks a known gateway seen when its signed status comes in, and ignores an unknown one', async () => {
      expect(await sendStatus(aStatus())).toBe('status');
      expect(await t.deps.store.getGateway('gw-1')).toMatchObject({ online: true, lastSeenAtMs: t.deps.now() });
      expect(await sendStatus(aStatus({ gatewayId: 'gw-9' }), 'gw-9')).toBe('unknown-gateway');
      expect(await ingest.handle(topics.status('store-1', 'gw-1'), Buffer.from('{"online": yes}'))).toBe('rejected-schema');
    });

    it('refuses a status signed with another key, or altered after signing, and changes nothing', async () => {
      expect(await sendStatus(aStatus({ online: false }))).toBe('status');
      const before = await t.deps.store.getGateway('gw-1');
      t.clock.advance(SECOND_MS);
      expect(await sendStatus(aStatus({}, randomBytes(32)))).toBe('forged');
      expect(await sendStatus({ ...aStatus({ online: false }), online: true })).toBe('forged');
      expect(await sendStatus({ ...aStatus(), tag: undefined })).toBe('rejected-schema');
      expect(await sendStatus(aStatus({ gatewayId: 'gw-2' }))).toBe('rejected-mismatch');
      expect(await t.deps.store.getGateway('gw-1')).toEqual(before);
    });

    it('takes the will ("offline", signed at connect) whatever its age, but not a stale "online"', async () => {
      const signedAtConnect = aStatus({ online: false });
      t.clock.advance(3 * 86_400 * SECOND_MS);
      expect(await sendStatus(signedAtConnect)).toBe('status');
      expect(await t.deps.store.getGateway('gw-1')).toMatchObject({ online: false, lastSeenAtMs: t.deps.now() });
      expect(await sendStatus(aStatus({ atS: nowS() - 2 * 3_600 }))).toBe('stale');
      expect(await t.deps.store.getGateway('gw-1')).toMatchObject({ online: false });
    });
  });
});
