import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonymise, topics, type PresenceEvent, type UnsignedPresenceEvent } from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import { DEFAULT_ARBITER_CONFIG } from '#server/domain/zone-arbiter.ts';
import { createPresenceIngest, type PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { sweepZoneStates } from '#server/ingest/resolved-presence.ts';
import { counterValue } from '#server/metrics.ts';
import type { PromotionRecord } from '#server/store/store.ts';
import { aCampaign, aPresenceEvent, generousCaps, SECOND_MS } from '#test/helpers/builders.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import {
  buildTestApp, expectStatus, givenStoreWithGateway, grant, provisionGateway, putCampaign, registerShopper, type GatewayConfigFile, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';

// Two gateways in one store hear the same shopper: gw-a covers the entrance, gw-b the bakery. Each
// publishes its own edges with a proximity band; the server's zone arbiter (default margin 1 band,
// hold 10 s) decides which zone the shopper is in, and campaigns fire on its decisions only. Runs on
// SQLite, and on PostgreSQL too when DATABASE_URL is set.

const HOLD_MS = DEFAULT_ARBITER_CONFIG.holdMs;

let t: TestApp;
let testStore: TestStore;
let ingest: PresenceIngest;
let notified: PromotionRecord[];
let delivery: Delivery;
let ada: RegisteredShopper;
const secrets: Record<'gw-a' | 'gw-b', Buffer> = { 'gw-a': Buffer.alloc(0), 'gw-b': Buffer.alloc(0) };
const ZONE = { 'gw-a': 'entrance', 'gw-b': 'bakery' } as const;

const secretOf = (config: GatewayConfigFile): Buffer => Buffer.from(config.secret, 'base64url');

const nowS = (): number => Math.floor(t.deps.now() / 1000);

/** What gateway `gatewayId` publishes about Ada now, signed with its own secret. */
function heard(gatewayId: 'gw-a' | 'gw-b', kind: PresenceEvent['kind'], proximity: PresenceEvent['proximity'], dwellS = 0): PresenceEvent {
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
  const overrides: Partial<UnsignedPresenceEvent> = {
    storeId: 'store-1', gatewayId, zoneId: ZONE[gatewayId], keyId: key.keyId, kind, proximity, atS: nowS(), dwellS,
    pseudonym: pseudonymise(key.key, 'eddystone-eid', ada.tokens.eidAt(nowS())),
  };
  return aPresenceEvent(overrides, secrets[gatewayId]);
}
const send = (event: PresenceEvent) => ingest.handle(topics.events('store-1', event.gatewayId), Buffer.from(JSON.stringify(event)));
const sweep = () => sweepZoneStates({ store: t.deps.store, config: t.deps.config, delivery, metrics: t.deps.metrics, experimentKey: t.deps.experimentKey }, t.deps.now());
const sent = (): string[] => notified.map((promotion) => `${promotion.campaignId} in ${promotion.zoneId}`);
const currentZone = async (): Promise<string | undefined> => {
  const [shopperId] = [...new Set(notified.map((p) => p.shopperId))];
  return (await t.deps.store.getZoneState('store-1', shopperId!))?.current?.zoneId;
};

/** A fresh app on a fresh store of this kind per test, with both gateways, Ada (consenting) and a welcome campaign per zone. */
function setUp(kind: 'sqlite' | 'postgres'): void {
  beforeEach(async () => {
    testStore = await openTestStore(kind);
    t = await buildTestApp({ store: testStore.store });
    notified = [];
    delivery = { notify: (promotion) => void notified.push(promotion), close: async () => undefined };
    ingest = createPresenceIngest({
      store: t.deps.store, config: t.deps.config, resolver: t.deps.resolver, delivery, metrics: t.deps.metrics, logger: t.logs.logger.child({ component: 'ingest' }), now: t.deps.now, sealer: t.deps.sealer, experimentKey: t.deps.experimentKey,
    });
    secrets['gw-a'] = secretOf(await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-a', zoneId: 'entrance', zones: [{ id: 'entrance' }, { id: 'bakery' }] }));
    secrets['gw-b'] = secretOf(expectStatus<{ config: GatewayConfigFile }>(await provisionGateway(t, 'store-1', { id: 'gw-b', zoneId: 'bakery' }), 201).config);
    ada = await registerShopper(t.app, { firstName: 'Ada' });
    await grant(t.app, ada.token, { presence: true, promotions: true });
    for (const zoneId of ['entrance', 'bakery']) {
      expectStatus(await putCampaign(t, aCampaign({ id: `welcome-${zoneId}`, storeId: 'store-1', zoneIds: [zoneId], caps: generousCaps })), 200);
    }
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });
}

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(STORE_KINDS)('zone arbitration between two gateways (%s)', (kind) => {
  setUp(kind);

  beforeEach(async () => {
    // Ada walks in: the entrance hears her near, the bakery far.
    expect(await send(heard('gw-a', 'enter', 'near'))).toBe('sent');
    expect(await send(heard('gw-b', 'enter', 'far'))).toBe('no-campaign');
  });

  it('sends one enter promotion, for the zone the arbiter chose, when two gateways hear the shopper', async () => {
    expect(sent()).toEqual(['welcome-entrance in entrance']);
    expect(await currentZone()).toBe('entrance');
    expect((await t.deps.store.counts()).presenceEvents).toBe(2);
  });

  it('changes nothing when the other zone is better for less than the hold', async () => {
    t.clock.advance(2 * SECOND_MS);
    expect(await send(heard('gw-b', 'move', 'immediate'))).toBe('no-campaign');
    t.clock.advance(HOLD_MS - 4 * SECOND_MS);
    expect(await sweep()).toBe(0);
    expect(await send(heard('gw-b', 'move', 'far'))).toBe('no-campaign');
    t.clock.advance(10 * HOLD_MS);
    expect(await sweep()).toBe(0);
    expect(await send(heard('gw-a', 'dwell', 'near'))).toBe('no-campaign');
    expect(sent()).toEqual(['welcome-entrance in entrance']);
    expect(await currentZone()).toBe('entrance');
  });

  it('moves the shopper once the other zone has been better for the hold, with no further event (the sweep)', async () => {
    t.clock.advance(2 * SECOND_MS);
    await send(heard('gw-b', 'move', 'immediate'));
    t.clock.advance(HOLD_MS - SECOND_MS);
    expect(await sweep()).toBe(0);
    t.clock.advance(SECOND_MS);
    expect(await sweep()).toBe(1);
    expect(sent()).toEqual(['welcome-entrance in entrance', 'welcome-bakery in bakery']);
    expect(await currentZone()).toBe('bakery');
    // Another instance's sweep, or this one's next tick, finds nothing left to do.
    expect(await sweep()).toBe(0);
    expect((await t.deps.store.counts()).promotions).toBe(2);
  });

  it('moves the shopper at the first event after the hold, and a redelivery of that event switches and sends nothing again', async () => {
    t.clock.advance(2 * SECOND_MS);
    await send(heard('gw-b', 'move', 'immediate'));
    t.clock.advance(HOLD_MS);
    const switching = heard('gw-a', 'dwell', 'near');
    expect(await send(switching)).toBe('sent');
    expect(sent()).toEqual(['welcome-entrance in entrance', 'welcome-bakery in bakery']);
    expect(await send(switching)).toBe('duplicate');
    expect((await t.deps.store.counts()).promotions).toBe(2);
    expect(await currentZone()).toBe('bakery');
  });

  it('restarts the hold when the challenger falls back within the margin', async () => {
    t.clock.advance(2 * SECOND_MS);
    await send(heard('gw-b', 'move', 'immediate'));
    t.clock.advance(HOLD_MS - 2 * SECOND_MS);
    await send(heard('gw-b', 'move', 'near'));
    t.clock.advance(SECOND_MS);
    await send(heard('gw-b', 'move', 'immediate'));
    t.clock.advance(HOLD_MS - SECOND_MS);
    expect(await sweep()).toBe(0);
    t.clock.advance(SECOND_MS);
    expect(await sweep()).toBe(1);
    expect(await currentZone()).toBe('bakery');
  });

  it('hands over at once when the current zone exits, and sends exit campaigns on the arbiter leaving a zone', async () => {
    expectStatus(await putCampaign(t, aCampaign({ id: 'bye-entrance', storeId: 'store-1', zoneIds: ['entrance'], trigger: { kind: 'exit' }, caps: generousCaps })), 200);
    t.clock.advance(30 * SECOND_MS);
    // The bakery's exit is not the arbiter leaving anything: no exit campaign for it, nor for the entrance.
    expect(await send(heard('gw-b', 'exit', 'far'))).toBe('no-campaign');
    expect(await send(heard('gw-b', 'enter', 'far'))).toBe('no-campaign');
    t.clock.advance(SECOND_MS);
    expect(await send(heard('gw-a', 'exit', 'far'))).toBe('sent');
    expect(sent()).toEqual(['welcome-entrance in entrance', 'bye-entrance in entrance', 'welcome-bakery in bakery']);
    expect(await currentZone()).toBe('bakery');
  });

  it('drops a zone unheard for staleMs (its exit lost) without a late exit campaign', async () => {
    expectStatus(await putCampaign(t, aCampaign({ id: 'bye-entrance', storeId: 'store-1', zoneIds: ['entrance'], trigger: { kind: 'exit' }, caps: generousCaps })), 200);
    t.clock.advance(DEFAULT_ARBITER_CONFIG.staleMs + SECOND_MS);
    expect(await sweep()).toBe(1);
    expect(await currentZone()).toBeUndefined();
    expect(sent()).toEqual(['welcome-entrance in entrance']);
    expect(await counterValue(t.deps.metrics.decisions, { outcome: 'skip', reason: 'too-late' })).toBe(1);
  });

  it('fires a dwell campaign only for dwell events of the current zone', async () => {
    expectStatus(await putCampaign(t, aCampaign({ id: 'linger', storeId: 'store-1', zoneIds: ['entrance', 'bakery'], trigger: { kind: 'dwell', minDwellS: 30 }, caps: generousCaps })), 200);
    t.clock.advance(30 * SECOND_MS);
    expect(await send(heard('gw-b', 'dwell', 'far', 30))).toBe('no-campaign');
    expect(await send(heard('gw-a', 'dwell', 'near', 30))).toBe('sent');
    expect(sent()).toEqual(['welcome-entrance in entrance', 'linger in entrance']);
  });
});
