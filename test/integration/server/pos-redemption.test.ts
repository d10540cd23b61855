import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonymise, topics, type PresenceEvent } from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import type { ShopperExport } from '#server/domain/shopper-export.ts';
import type { PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { counterValue } from '#server/metrics.ts';
import type { PromotionRecord } from '#server/store/store.ts';
import { aCampaign, aPresenceEvent, generousCaps, SECOND_MS } from '#test/helpers/builders.ts';
import {
  bearer, buildTestApp, expectStatus, givenStoreWithGateway, grant, ingestOver, putCampaign, putStore, registerShopper, signedInject, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';

// Point-of-sale redemption through the HTTP API, on SQLite and, when DATABASE_URL is set, PostgreSQL:
// an operator issues a till's credential, Ada walks in and gets a promotion with a coupon, and the till
// redeems it — once, whatever the retries, races, other stores and other instances.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const VALID_FOR_S = 3600;

type RedemptionBody = { redemption: { couponCode: string; campaignId: string; title: string; redeemedAtMs: number; storeId: string; zoneId: string } };
type ErrorBody = { error: { code: string; message: string; fields: string[]; redeemedAtMs?: number; expiresAtMs?: number } };

let t: TestApp;
let testStore: TestStore;
let ingest: PresenceIngest;
let notified: PromotionRecord[];
let masterKey: Buffer;
let gatewaySecret: Buffer;
let ada: RegisteredShopper;
let coupon: PromotionRecord;
let till: { deviceId: string; token: string };

const nowS = (): number => Math.floor(t.deps.now() / 1000);

function heard(who: RegisteredShopper): PresenceEvent {
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
  return aPresenceEvent({
    storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', keyId: key.keyId, kind: 'enter', proximity: 'near', atS: nowS(), dwellS: 0,
    pseudonym: pseudonymise(key.key, 'eddystone-eid', who.tokens.eidAt(nowS())),
  }, gatewaySecret);
}
const send = (event: PresenceEvent) => ingest.handle(topics.events('store-1', event.gatewayId), Buffer.from(JSON.stringify(event)));

const addDevice = (app: TestApp, storeId: string, payload: object = { name: 'Till 1' }) =>
  app.app.inject({ method: 'POST', url: `/v1/admin/stores/${storeId}/pos-devices`, headers: bearer(app.adminToken), payload });
const redeem = (token: string, payload: object, app: TestApp = t) =>
  app.app.inject({ method: 'POST', url: '/v1/pos/redemptions', headers: bearer(token), payload });
const auditRows = async (action: string) =>
  (await testStore.rows(`SELECT subject, details FROM audit_log WHERE action = '${action}' ORDER BY seq`)).map((r) => ({ subject: String(r.subject), details: JSON.parse(String(r.details)) as unknown }));
const redemptions = (outcome: string) => counterValue(t.deps.metrics.redemptions, { outcome });

describe.each(STORE_KINDS)('point-of-sale redemption (%s)', (kind) => {
  beforeEach(async () => {
    testStore = await openTestStore(kind);
    masterKey = randomBytes(32);
    t = await buildTestApp({ store: testStore.store, masterKey });
    notified = [];
    const delivery: Delivery = { notify: (promotion) => void notified.push(promotion), close: async () => undefined };
    ingest = ingestOver(t, delivery);
    gatewaySecret = Buffer.from((await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' })).secret, 'base64url');
    expectStatus(await putStore(t, 'store-2'), 200);
    expectStatus(await putCampaign(t, aCampaign({ id: 'welcome', storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps, message: { title: 'Fresh coffee', body: 'Two for one.', validForS: VALID_FOR_S } })), 200);
    ada = await registerShopper(t.app, { firstName: 'Zephyrine' });
    await grant(t.app, ada.token, { presence: true, promotions: true });
    expect(await send(heard(ada))).toBe('sent');
    coupon = notified[0]!;
    till = expectStatus<{ deviceId: string; token: string }>(await addDevice(t, 'store-1'), 201);
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });

  describe('POS devices (admin API)', () => {
    it('issues a device token once, lists devices without tokens, and audits both changes without the token', async () => {
      expect(till.deviceId).toMatch(/^pd_[0-9a-f]{32}$/);
      expect(till.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const listed = expectStatus<{ devices: object[] }>(await t.app.inject({ method: 'GET', url: '/v1/admin/stores/store-1/pos-devices', headers: bearer(t.adminToken) }), 200);
      expect(listed.devices).toEqual([{ deviceId: till.deviceId, storeId: 'store-1', name: 'Till 1', createdAtMs: t.deps.now(), revokedAtMs: null }]);
      expect(JSON.stringify(listed)).not.toContain(till.token);

      expectStatus(await t.app.inject({ method: 'DELETE', url: `/v1/admin/stores/store-1/pos-devices/${till.deviceId}`, headers: bearer(t.adminToken) }), 204);
      expect(await auditRows('pos-device.created')).toEqual([{ subject: till.deviceId, details: { storeId: 'store-1' } }]);
      expect(await auditRows('pos-device.revoked')).toEqual([{ subject: till.deviceId, details: { storeId: 'store-1' } }]);
      const audit = JSON.stringify(await testStore.rows('SELECT * FROM audit_log'));
      const tokenHash = String((await testStore.rows(`SELECT token_hash FROM pos_devices WHERE id = '${till.deviceId}'`))[0]!.token_hash);
      expect(audit).not.toContain(till.token);
      expect(audit).not.toContain(tokenHash);
      // Only the SHA-256 is stored.
      expect(JSON.stringify(await testStore.dump())).not.toContain(till.token);
    });

    it('refuses a revoked device (401), a second revocation (404) and another store\'s revocation of it (404)', async () => {
      const other = expectStatus<{ deviceId: string; token: string }>(await addDevice(t, 'store-1', { name: 'Till 2' }), 201);
      expectStatus(await t.app.inject({ method: 'DELETE', url: `/v1/admin/stores/store-2/pos-devices/${other.deviceId}`, headers: bearer(t.adminToken) }), 404);
      expectStatus(await t.app.inject({ method: 'DELETE', url: `/v1/admin/stores/store-1/pos-devices/${other.deviceId}`, headers: bearer(t.adminToken) }), 204);
      expectStatus(await t.app.inject({ method: 'DELETE', url: `/v1/admin/stores/store-1/pos-devices/${other.deviceId}`, headers: bearer(t.adminToken) }), 404);
      expect(expectStatus<ErrorBody>(await redeem(other.token, { couponCode: coupon.message.couponCode }), 401).error.code).toBe('UNAUTHENTICATED');
      // The revoked device redeemed nothing; the other till still can.
      expectStatus(await redeem(till.token, { couponCode: coupon.message.couponCode }), 200);
      const listed = expectStatus<{ devices: { deviceId: string; revokedAtMs: number | null }[] }>(await t.app.inject({ method: 'GET', url: '/v1/admin/stores/store-1/pos-devices', headers: bearer(t.adminToken) }), 200);
      expect(listed.devices.find((d) => d.deviceId === other.deviceId)?.revokedAtMs).toBe(t.deps.now());
    });

    it('refuses the device routes without the admin token, an unknown store and a bad name', async () => {
      expectStatus(await t.app.inject({ method: 'POST', url: '/v1/admin/stores/store-1/pos-devices', headers: bearer(till.token), payload: { name: 'x' } }), 401);
      expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/stores/store-1/pos-devices' }), 401);
      expectStatus(await addDevice(t, 'store-9'), 404);
      expect(expectStatus<ErrorBody>(await addDevice(t, 'store-1', { name: '' }), 400).error.fields).toEqual(['name']);
      expect(expectStatus<ErrorBody>(await addDevice(t, 'store-1', { name: 'Till', token: 'mine' }), 400).error.fields).toEqual(['token']);
    });
  });

  describe('POST /v1/pos/redemptions', () => {
    it('redeems a coupon the first time, then answers 409 ALREADY_REDEEMED with when', async () => {
      t.clock.advance(60 * SECOND_MS);
      const first = expectStatus<RedemptionBody>(await redeem(till.token, { couponCode: coupon.message.couponCode, requestId: randomUUID() }), 200);
      expect(first).toEqual({
        redemption: { couponCode: coupon.message.couponCode, campaignId: 'welcome', title: 'Fresh coffee', redeemedAtMs: t.deps.now(), storeId: 'store-1', zoneId: 'entrance' },
      });
      t.clock.advance(SECOND_MS);
      for (const payload of [{ couponCode: coupon.message.couponCode, requestId: randomUUID() }, { couponCode: coupon.message.couponCode }]) {
        const again = expectStatus<ErrorBody>(await redeem(till.token, payload), 409);
        expect(again.error).toMatchObject({ code: 'ALREADY_REDEEMED', redeemedAtMs: first.redemption.redeemedAtMs });
      }
      expect(await redemptions('redeemed')).toBe(1);
      expect(await redemptions('already-redeemed')).toBe(2);
    });

    it('answers a till retrying with the same requestId with the same 200, and redeems nothing more', async () => {
      const requestId = randomUUID();
      const first = await redeem(till.token, { couponCode: coupon.message.couponCode, requestId });
      t.clock.advance(5 * SECOND_MS);
      const retry = await redeem(till.token, { couponCode: coupon.message.couponCode, requestId });
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toEqual(first.json());
      // Another till with the same key is not the same request.
      const other = expectStatus<{ token: string }>(await addDevice(t, 'store-1', { name: 'Till 2' }), 201);
      expectStatus(await redeem(other.token, { couponCode: coupon.message.couponCode, requestId }), 409);
      expect(await redemptions('redeemed')).toBe(1);
      expect(await redemptions('replayed')).toBe(1);
      expect((await t.deps.store.getPromotion(coupon.id))?.redeemedAtMs).toBe((first.json() as RedemptionBody).redemption.redeemedAtMs);
    });

    it('accepts the code as typed at a till: lower case, without the dash, with spaces around', async () => {
      const typed = ` ${coupon.message.couponCode.replace('-', '').toLowerCase()} `;
      expect(expectStatus<RedemptionBody>(await redeem(till.token, { couponCode: typed }), 200).redemption.couponCode).toBe(coupon.message.couponCode);
    });

    it('does not find an unknown code, nor (for another store\'s till) a real one — and that till consumed nothing', async () => {
      expect(expectStatus<ErrorBody>(await redeem(till.token, { couponCode: 'ZZZZZ-ZZZZZ' }), 404).error.code).toBe('NOT_FOUND');
      const elsewhere = expectStatus<{ token: string }>(await addDevice(t, 'store-2', { name: 'Till A' }), 201);
      const refused = expectStatus<ErrorBody>(await redeem(elsewhere.token, { couponCode: coupon.message.couponCode }), 404);
      expect(refused.error).toEqual(expectStatus<ErrorBody>(await redeem(elsewhere.token, { couponCode: 'ZZZZZ-ZZZZZ' }), 404).error);
      expectStatus(await redeem(till.token, { couponCode: coupon.message.couponCode }), 200);
      expect(await redemptions('not-found')).toBe(3);
    });

    it('refuses an expired coupon with 410 COUPON_EXPIRED', async () => {
      t.clock.advance(VALID_FOR_S * SECOND_MS);
      const expired = expectStatus<ErrorBody>(await redeem(till.token, { couponCode: coupon.message.couponCode }), 410);
      expect(expired.error).toMatchObject({ code: 'COUPON_EXPIRED', expiresAtMs: coupon.message.expiresAtMs });
      expect((await t.deps.store.getPromotion(coupon.id))?.redeemedAtMs).toBeNull();
    });

    it('refuses the coupon of a promotion cancelled when the shopper withdrew consent with 409 COUPON_CANCELLED', async () => {
      await grant(t.app, ada.token, { promotions: false });
      expect(expectStatus<ErrorBody>(await redeem(till.token, { couponCode: coupon.message.couponCode }), 409).error.code).toBe('COUPON_CANCELLED');
      expect(await redemptions('cancelled')).toBe(1);
    });

    it('names the field at fault in a malformed body', async () => {
      const cases: [object, string[]][] = [
        [{}, ['couponCode']],
        [{ couponCode: 42 }, ['couponCode']],
        [{ couponCode: 'ILOU0-00000' }, ['couponCode']],
        [{ couponCode: coupon.message.couponCode, requestId: 'retry-1' }, ['requestId']],
        [{ couponCode: coupon.message.couponCode, shopperId: ada.shopperId }, ['shopperId']],
      ];
      for (const [payload, fields] of cases) {
        const refused = expectStatus<ErrorBody>(await redeem(till.token, payload), 400);
        expect(refused.error, JSON.stringify(payload)).toMatchObject({ code: 'INVALID_BODY', fields });
      }
      expect((await t.deps.store.getPromotion(coupon.id))?.redeemedAtMs).toBeNull();
      expect(await redemptions('invalid')).toBe(cases.length);
    });

    it('refuses a missing, malformed or unknown device token with 401', async () => {
      for (const headers of [{}, { authorization: till.token }, bearer(randomBytes(32).toString('base64url')), bearer(t.adminToken), bearer(ada.token)]) {
        const response = await t.app.inject({ method: 'POST', url: '/v1/pos/redemptions', headers, payload: { couponCode: coupon.message.couponCode } });
        expect(expectStatus<ErrorBody>(response, 401).error.code).toBe('UNAUTHENTICATED');
      }
      expect((await t.deps.store.getPromotion(coupon.id))?.redeemedAtMs).toBeNull();
    });

    it('redeems exactly once when 50 requests for one code race on two server instances', async () => {
      const second = await buildTestApp({ store: await testStore.openAnother(), masterKey });
      try {
        const responses = await Promise.all(Array.from({ length: 50 }, (_, i) =>
          redeem(till.token, { couponCode: coupon.message.couponCode, requestId: randomUUID() }, i % 2 === 0 ? t : second)));
        const statuses = responses.map((r) => r.statusCode);
        expect(statuses.filter((s) => s === 200)).toHaveLength(1);
        expect(statuses.filter((s) => s === 409)).toHaveLength(49);
        const winner = (responses.find((r) => r.statusCode === 200)!.json() as RedemptionBody).redemption;
        expect(responses.filter((r) => r.statusCode === 409).every((r) => (r.json() as ErrorBody).error.redeemedAtMs === winner.redeemedAtMs)).toBe(true);
      } finally {
        await second.close();
      }
    });

    it('shows the redemption in the shopper\'s export', async () => {
      const { redemption } = expectStatus<RedemptionBody>(await redeem(till.token, { couponCode: coupon.message.couponCode }), 200);
      const document = expectStatus<ShopperExport>(await signedInject(t.app, ada, { method: 'GET', url: '/v1/me/export' }, t.deps.now()), 200);
      expect(document.promotions).toEqual([expect.objectContaining({ id: coupon.id, redeemedAtMs: redemption.redeemedAtMs })]);
    });

    it('logs every outcome without the coupon code or the shopper ID', async () => {
      const code = coupon.message.couponCode;
      const requestId = randomUUID();
      expectStatus(await redeem(till.token, { couponCode: code, requestId }), 200);
      expectStatus(await redeem(till.token, { couponCode: code, requestId }), 200);
      expectStatus(await redeem(till.token, { couponCode: code }), 409);
      expectStatus(await redeem(till.token, { couponCode: 'ZZZZZ-ZZZZZ' }), 404);
      expectStatus(await redeem(till.token, { couponCode: code, requestId: 'no' }), 400);
      expectStatus(await redeem('nope', { couponCode: code }), 401);
      const lines = t.logs.lines().filter((l) => l.component === 'pos');
      expect(lines.map((l) => l.outcome)).toEqual(['redeemed', 'replayed', 'already-redeemed', 'not-found']);
      expect(lines[0]).toMatchObject({ storeId: 'store-1', deviceId: till.deviceId, campaignId: 'welcome' });
      const text = t.logs.text();
      for (const secret of [code, code.replace('-', ''), ada.shopperId, till.token, 'Zephyrine']) expect(text).not.toContain(secret);
    });
  });
});
