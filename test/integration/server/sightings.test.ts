import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PromotionRecord } from '#server/store/store.ts';
import { aCampaign, generousCaps } from '#test/helpers/builders.ts';
import {
  bearer, buildTestApp, expectStatus, grant, putCampaign, registerShopper, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';

// The iOS path through the API: a store's own beacons in its configuration (admin PUT), the regions an
// app monitors (GET /v1/me/regions), and sightings (POST /v1/me/sightings) that become presence events
// through the same consent checks, decisions and atomic send as a gateway's.

const UUID = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';
const BEACONS = [
  { id: 'door', zoneId: 'entrance', uuid: UUID, major: 10, minor: 1 },
  { id: 'bread', zoneId: 'bakery', uuid: UUID, major: 10, minor: 2 },
];

let t: TestApp;
let ada: RegisteredShopper;
let notified: PromotionRecord[];

const putStore = (body: Record<string, unknown> = {}) => t.app.inject({
  method: 'PUT', url: '/v1/admin/stores/shop-1', headers: bearer(t.adminToken),
  payload: { name: 'Shop', timezone: 'Europe/Rome', zones: [{ id: 'entrance', name: 'Entrance' }, { id: 'bakery', name: 'Bakery' }], beacons: BEACONS, ...body },
});
const nowS = () => Math.floor(t.clock.now() / 1000);
const report = (token: string, overrides: Record<string, unknown> = {}) => t.app.inject({
  method: 'POST', url: '/v1/me/sightings', headers: bearer(token),
  payload: { storeId: 'shop-1', beacon: { uuid: UUID, major: 10, minor: 1 }, kind: 'enter', atS: nowS(), ...overrides },
});

beforeEach(async () => {
  t = await buildTestApp();
  notified = [];
  const notify = t.deps.delivery.notify.bind(t.deps.delivery);
  t.deps.delivery.notify = (promotion) => {
    notified.push(promotion);
    notify(promotion);
  };
  expectStatus(await putStore(), 200);
  expectStatus(await putCampaign(t, aCampaign({ storeId: 'shop-1', zoneIds: ['entrance'], caps: generousCaps })), 200);
  ada = await registerShopper(t.app);
  await grant(t.app, ada.token, { presence: true, promotions: true });
});
afterEach(async () => {
  await t.close();
});

describe('store beacons in the store configuration', () => {
  it('keeps the beacons a PUT sends, and replaces them on the next PUT', async () => {
    expect((await t.deps.store.listStoreBeacons('shop-1')).map((b) => b.id)).toEqual(['bread', 'door']);
    expectStatus(await putStore({ beacons: [BEACONS[0]] }), 200);
    expect(await t.deps.store.listStoreBeacons('shop-1')).toEqual([{ storeId: 'shop-1', ...BEACONS[0] }]);
  });

  it.each([
    [{ beacons: [{ ...BEACONS[0], zoneId: 'pharmacy' }] }, 'beacons.0.zoneId'],
    [{ beacons: [{ ...BEACONS[0], uuid: 'nope' }] }, 'beacons.0.uuid'],
    [{ beacons: [{ ...BEACONS[0], major: 65_536 }] }, 'beacons.0.major'],
    [{ beacons: [BEACONS[0], { ...BEACONS[1], id: 'door' }] }, 'beacons.1.id'],
    [{ beacons: [BEACONS[0], { ...BEACONS[0], id: 'twin' }] }, 'beacons.1'],
  ])('refuses %j with 400 naming %s, and keeps the beacons it had', async (body, field) => {
    const response = await putStore(body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.fields).toContain(field);
    expect(await t.deps.store.listStoreBeacons('shop-1')).toHaveLength(2);
  });
});

describe('GET /v1/me/regions', () => {
  it('lists one region per UUID and major for the app to monitor, within iOS\'s limit of 20', async () => {
    const body = expectStatus(await t.app.inject({ method: 'GET', url: '/v1/me/regions', headers: bearer(ada.token) }), 200);
    expect(body).toEqual({ regions: [{ uuid: UUID, major: 10 }], limit: 20 });
  });

  it('needs the app credential', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/me/regions' })).statusCode).toBe(401);
  });
});

describe('POST /v1/me/sightings', () => {
  it('turns an enter at a store beacon into presence in its zone and the campaign\'s promotion', async () => {
    const body = expectStatus<{ eventId: string; zoneId: string; outcome: string }>(await report(ada.token), 202);
    expect(body).toMatchObject({ zoneId: 'entrance', outcome: 'sent' });
    expect(notified).toEqual([expect.objectContaining({ shopperId: ada.shopperId, zoneId: 'entrance', eventId: body.eventId })]);
    expect((await t.deps.store.counts()).presenceEvents).toBe(1);
  });

  it('records a repeated report once and sends its promotion once', async () => {
    const first = expectStatus<{ eventId: string }>(await report(ada.token), 202);
    const again = expectStatus<{ eventId: string; outcome: string }>(await report(ada.token), 202);
    expect(again).toEqual({ eventId: first.eventId, zoneId: 'entrance', outcome: 'duplicate' });
    expect((await t.deps.store.counts()).presenceEvents).toBe(1);
    expect((await t.deps.store.counts()).promotions).toBe(1);
  });

  it('records presence but sends nothing to a shopper without promotions consent', async () => {
    const bob = await registerShopper(t.app);
    await grant(t.app, bob.token, { presence: true });
    expect(expectStatus<{ outcome: string }>(await report(bob.token), 202).outcome).toBe('no-consent');
    expect(notified).toEqual([]);
  });

  it('tells the app whether a promotion went out, never why not: a held-out shopper reads "not-sent", on a retry too', async () => {
    // A 50 % holdout: shoppers walk in until one is sent the promotion and one is held out. Each is told only
    // 'sent' or 'not-sent' — the control group stays invisible to the app, on a retry too — while the Store
    // keeps the held-out row for the uplift.
    expectStatus(await putStore({ zones: [{ id: 'entrance', name: 'Entrance' }, { id: 'bakery', name: 'Bakery' }, { id: 'checkout', name: 'Checkout' }] }), 200);
    expectStatus(await putCampaign(t, aCampaign({
      id: 'ab', storeId: 'shop-1', zoneIds: ['bakery'], caps: generousCaps, priority: 1,
      experiment: { holdoutPercent: 50, variants: [{ id: 'a', weight: 1, message: { title: 'Variant A' } }] },
      attribution: { conversionZoneIds: ['checkout'], windowS: 3600 },
    })), 200);
    const seen = new Map<string, string[]>();
    for (let i = 0; i < 40 && !(seen.has('sent') && seen.has('held-out')); i++) {
      const shopper = await registerShopper(t.app);
      await grant(t.app, shopper.token, { presence: true, promotions: true, analytics: true });
      const bread = { beacon: { uuid: UUID, major: 10, minor: 2 } };
      const first = expectStatus<{ outcome: string }>(await report(shopper.token, bread), 202).outcome;
      const retry = expectStatus<{ outcome: string }>(await report(shopper.token, bread), 202).outcome;
      const stored = (await t.deps.store.readShopperData(shopper.shopperId))!.promotions.filter((p) => p.campaignId === 'ab');
      const status = stored[0]?.status === 'held-out' ? 'held-out' : 'sent';
      seen.set(status, [first, retry]);
    }
    expect(seen.get('held-out')).toEqual(['not-sent', 'not-sent']);
    expect(seen.get('sent')).toEqual(['sent', 'duplicate']);
    expect(JSON.stringify([...seen.values()])).not.toMatch(/held|holdout|capped|budget/);
  });

  it('refuses a shopper without presence consent with 409, recording nothing', async () => {
    const bob = await registerShopper(t.app);
    const before = await t.deps.store.counts();
    const response = await report(bob.token);
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('PRESENCE_CONSENT_REQUIRED');
    expect(await t.deps.store.counts()).toEqual(before);
  });

  it('stops at once when presence is withdrawn', async () => {
    await grant(t.app, ada.token, { presence: false });
    expect((await report(ada.token)).statusCode).toBe(409);
    expect(notified).toEqual([]);
  });

  it('answers 404 naming the store or the beacon it does not know', async () => {
    const noStore = await report(ada.token, { storeId: 'shop-9' });
    expect(noStore.statusCode).toBe(404);
    expect(noStore.json().error.fields).toEqual(['storeId']);
    const noBeacon = await report(ada.token, { beacon: { uuid: UUID, major: 10, minor: 9 } });
    expect(noBeacon.statusCode).toBe(404);
    expect(noBeacon.json().error.fields).toEqual(['beacon']);
  });

  it.each([
    ['an hour and more old', -3_601],
    ['from the future', 31],
  ])('answers 400 naming atS for a sighting %s, recording nothing', async (_what, offsetS) => {
    const response = await report(ada.token, { atS: nowS() + offsetS });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.fields).toEqual(['atS']);
    expect((await t.deps.store.counts()).presenceEvents).toBe(0);
  });

  it('answers 400 naming the field for a malformed report', async () => {
    const response = await report(ada.token, { kind: 'linger', beacon: { uuid: UUID, major: 10 } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.fields).toEqual(expect.arrayContaining(['kind', 'beacon.minor']));
  });

  it('needs the app credential', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/v1/me/sightings', payload: {} })).statusCode).toBe(401);
  });
});
