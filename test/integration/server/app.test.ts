import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonymise, unwrapEpochKey, type GatewayConfigMessage } from '#gateway/protocol/index.ts';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import { replayConsent } from '#server/domain/consent.ts';
import { counterValue } from '#server/metrics.ts';
import { createAppIdentity } from '#simulator/app/app-identity.ts';
import { aCampaign, aDraft } from '#test/helpers/builders.ts';
import {
  bearer, buildTestApp, expectStatus, givenStoreWithGateway, grant, provisionGateway, putCampaign, putStore, registerShopper,
  type GatewayConfigFile, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(async () => {
  await t.close();
});

const nowS = (): number => Math.floor(t.deps.now() / 1000);

/** What a gateway in storeId would publish for this shopper's app right now, under the store's live key. */
function pseudonymNow(shopper: RegisteredShopper, storeId = 'store-1') {
  const live = t.deps.keys.liveKeys().find((key) => key.storeId === storeId);
  if (live === undefined) throw new Error(`no live epoch key for ${storeId}`);
  return pseudonymise(live.key, 'eddystone-eid', shopper.tokens.eidAt(nowS()));
}

const rejected = (code: string): Promise<number> => counterValue(t.deps.metrics.httpRejected, { code });

describe('registration', () => {
  it('returns 201 with a shopper ID, an app token and the resolver public key', async () => {
    const identity = createAppIdentity();
    const response = await t.app.inject({ method: 'POST', url: '/v1/shoppers', payload: { appPublicKey: identity.publicKeyHex, locale: 'it-IT', firstName: 'Ada' } });
    const body = expectStatus<{ shopperId: string; token: string; rotationExponent: number; resolverPublicKey: string }>(response, 201);
    expect(body.shopperId).toMatch(/^sh_[0-9a-f]{32}$/);
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.rotationExponent).toBe(10);
    expect(body.resolverPublicKey).toBe(t.deps.resolverKeys.publicKey.toString('hex'));
    const me = expectStatus(await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(body.token) }), 200);
    const unanswered = { status: 'unanswered', textVersion: null, grantedAtMs: null, expiresAtMs: null };
    expect(me).toEqual({
      shopperId: body.shopperId, locale: 'it-IT', registeredAtMs: t.deps.now(), country: null, birthYear: null, loyaltyTier: null, interests: [], consents: {},
      purposes: { presence: unanswered, personalisation: unanswered, analytics: unanswered, promotions: unanswered },
    });
  });

  it('stores the identity key sealed and the token only as a hash', async () => {
    const shopper = await registerShopper(t.app);
    const record = await t.deps.store.getShopper(shopper.shopperId);
    expect(record?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(record?.tokenHash).not.toContain(shopper.token);
    expect(record?.identityKeySealed).toBeInstanceOf(Buffer);
    expect(() => t.deps.sealer.open(record!.identityKeySealed!, 'identity-key:someone-else')).toThrow();
  });

  it('derives the same identity key on both sides: the server resolves the EID the app computes', async () => {
    expectStatus(await putStore(t, 'store-1'), 200);
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true });
    expect(t.deps.resolver.resolve(pseudonymNow(shopper))).toEqual({ shopperId: shopper.shopperId, storeId: 'store-1' });
    // And for a shopper on a shorter rotation.
    const quick = await registerShopper(t.app, { rotationExponent: 4 });
    await grant(t.app, quick.token, { presence: true });
    expect(t.deps.resolver.resolve(pseudonymNow(quick))).toEqual({ shopperId: quick.shopperId, storeId: 'store-1' });
  });

  it('rejects a low-order app public key that would give an all-zero shared secret', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/shoppers', payload: { appPublicKey: '00'.repeat(32), locale: 'en' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['appPublicKey'] } });
    expect((await t.deps.store.counts()).shoppers).toBe(0);
  });
});

describe('consent (CON-1, CON-3, CON-4)', () => {
  it('does not index a registered shopper before presence is granted', async () => {
    expectStatus(await putStore(t, 'store-1'), 200);
    const shopper = await registerShopper(t.app);
    expect(t.deps.resolver.resolve(pseudonymNow(shopper))).toBeUndefined();
    expect(t.deps.resolver.size().shoppers).toBe(0);
    // Promotions and personalisation without presence index nothing either.
    await grant(t.app, shopper.token, { promotions: true, personalisation: true, analytics: true });
    expect(t.deps.resolver.resolve(pseudonymNow(shopper))).toBeUndefined();
  });

  it('indexes a shopper once presence is granted, and forgets them before the withdrawal response returns', async () => {
    expectStatus(await putStore(t, 'store-1'), 200);
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true, promotions: true });
    const pseudonym = pseudonymNow(shopper);
    expect(t.deps.resolver.resolve(pseudonym)).toEqual({ shopperId: shopper.shopperId, storeId: 'store-1' });

    const state = await grant(t.app, shopper.token, { presence: false });
    expect(state.presence?.granted).toBe(false);
    expect(t.deps.resolver.resolve(pseudonym)).toBeUndefined();
    expect(t.deps.resolver.size()).toEqual({ shoppers: 0, pseudonyms: 0 });
  });

  it('cancels pending promotions when promotions are withdrawn, so none is listed afterwards', async () => {
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true, promotions: true });
    await t.deps.store.recordPromotion(aDraft({ shopperId: shopper.shopperId, createdAtMs: t.deps.now() }));
    const list = async () => expectStatus<{ promotions: unknown[] }>(await t.app.inject({ method: 'GET', url: '/v1/me/promotions', headers: bearer(shopper.token) }), 200).promotions;
    expect(await list()).toHaveLength(1);
    await grant(t.app, shopper.token, { promotions: false });
    expect(await list()).toEqual([]);
  });

  it('refuses an answer to a stale text with 409 STALE_CONSENT_TEXT naming the decision, and records nothing', async () => {
    const shopper = await registerShopper(t.app);
    const current = CURRENT_CONSENT_TEXTS;
    const response = await t.app.inject({
      method: 'PUT', url: '/v1/me/consents', headers: bearer(shopper.token),
      payload: {
        locale: 'en',
        decisions: [
          { purpose: 'presence', granted: true, textVersion: current.presence.version, textSha256: current.presence.sha256 },
          { purpose: 'promotions', granted: true, textVersion: current.promotions.version, textSha256: 'f'.repeat(64) },
        ],
      },
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error: { code: 'STALE_CONSENT_TEXT', fields: ['decisions.1'], message: expect.stringContaining('decisions.1') } });
    expect(await t.deps.store.listConsentRecords(shopper.shopperId)).toEqual([]);
    expect(t.deps.resolver.size().shoppers).toBe(0);
  });

  it('refuses an answer to an old version of the text', async () => {
    const shopper = await registerShopper(t.app);
    const response = await t.app.inject({
      method: 'PUT', url: '/v1/me/consents', headers: bearer(shopper.token),
      payload: { locale: 'en', decisions: [{ purpose: 'presence', granted: true, textVersion: '2020-01-01', textSha256: CURRENT_CONSENT_TEXTS.presence.sha256 }] },
    });
    expect(response.json()).toMatchObject({ error: { code: 'STALE_CONSENT_TEXT', fields: ['decisions.0'] } });
  });

  it('appends one record per answer, with the text answered, both clocks and the previous state', async () => {
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true, promotions: true }, { clientTimeMs: 1_000 });
    t.clock.advance(60_000);
    await grant(t.app, shopper.token, { promotions: false });
    const records = await t.deps.store.listConsentRecords(shopper.shopperId);
    expect(records.map(({ purpose, granted, previousGranted }) => ({ purpose, granted, previousGranted }))).toEqual([
      { purpose: 'presence', granted: true, previousGranted: null },
      { purpose: 'promotions', granted: true, previousGranted: null },
      { purpose: 'promotions', granted: false, previousGranted: true },
    ]);
    expect(records[0]).toMatchObject({
      shopperId: shopper.shopperId, textVersion: CURRENT_CONSENT_TEXTS.presence.version, textSha256: CURRENT_CONSENT_TEXTS.presence.sha256,
      locale: 'en', channel: 'app', clientTimeMs: 1_000, serverTimeMs: t.deps.now() - 60_000,
    });
    expect(records[2]).toMatchObject({ clientTimeMs: null, serverTimeMs: t.deps.now() });
    // Replaying the records rebuilds the state the API reports.
    const me = expectStatus<{ consents: unknown }>(await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(shopper.token) }), 200);
    expect(replayConsent(records)).toEqual(me.consents);
  });

  it('chains previousGranted through a request that answers one purpose twice', async () => {
    const shopper = await registerShopper(t.app);
    const state = await grant(t.app, shopper.token, { presence: true });
    expect(state.presence?.granted).toBe(true);
    const text = CURRENT_CONSENT_TEXTS.promotions;
    const answer = (granted: boolean) => ({ purpose: 'promotions', granted, textVersion: text.version, textSha256: text.sha256 });
    const response = await t.app.inject({ method: 'PUT', url: '/v1/me/consents', headers: bearer(shopper.token), payload: { locale: 'en', decisions: [answer(true), answer(false)] } });
    expect(expectStatus<{ consents: { promotions: { granted: boolean } } }>(response, 200).consents.promotions.granted).toBe(false);
    const promotions = (await t.deps.store.listConsentRecords(shopper.shopperId)).filter((r) => r.purpose === 'promotions');
    expect(promotions.map((r) => [r.granted, r.previousGranted])).toEqual([[true, null], [false, true]]);
  });
});

describe('bad input', () => {
  const validKey = (): string => createAppIdentity().publicKeyHex;
  const register = (payload: string, contentType = 'application/json') =>
    t.app.inject({ method: 'POST', url: '/v1/shoppers', headers: { 'content-type': contentType }, payload });

  it.each<[string, () => string, string[]]>([
    ['a wrong type', () => JSON.stringify({ appPublicKey: 42, locale: 'en' }), ['appPublicKey']],
    ['a malformed value', () => JSON.stringify({ appPublicKey: validKey(), locale: 'english' }), ['locale']],
    ['a missing field', () => JSON.stringify({ appPublicKey: validKey() }), ['locale']],
    ['an unknown field', () => JSON.stringify({ appPublicKey: validKey(), locale: 'en', isAdmin: true }), ['isAdmin']],
    ['an out-of-range rotation exponent (ID-1: K ≤ 10)', () => JSON.stringify({ appPublicKey: validKey(), locale: 'en', rotationExponent: 11 }), ['rotationExponent']],
    ['a name too long', () => JSON.stringify({ appPublicKey: validKey(), locale: 'en', firstName: 'x'.repeat(41) }), ['firstName']],
    ['an array for a body', () => '[1,2,3]', ['(root)']],
  ])('answers 400 INVALID_BODY naming the field for %s', async (_name, payload, fields) => {
    const response = await register(payload());
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields } });
  });

  it('answers 400 INVALID_BODY for a body that is not JSON', async () => {
    const response = await register('{"appPublicKey": ');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', message: expect.stringMatching(/^body: /) } });
  });

  it('answers 400 for a prototype-poisoning body', async () => {
    const response = await register(`{"appPublicKey":"${validKey()}","locale":"en","__proto__":{"isAdmin":true}}`);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('INVALID_BODY');
  });

  it('answers 400 for a body that is not sent as JSON', async () => {
    const response = await register('appPublicKey=x', 'application/x-www-form-urlencoded');
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', message: 'send the body as application/json' } });
    expect(response.statusCode).toBe(400);
  });

  it('answers 413 PAYLOAD_TOO_LARGE for a body over 64 KiB', async () => {
    const response = await register(JSON.stringify({ appPublicKey: validKey(), locale: 'en', firstName: 'x'.repeat(65 * 1024) }));
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('names the nested field of a bad consent decision', async () => {
    const shopper = await registerShopper(t.app);
    const response = await t.app.inject({
      method: 'PUT', url: '/v1/me/consents', headers: bearer(shopper.token),
      payload: { locale: 'en', decisions: [{ purpose: 'tracking', granted: 'yes', textVersion: 'v', textSha256: 'x', extra: 1 }] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.fields).toEqual(expect.arrayContaining(['decisions.0.purpose', 'decisions.0.granted', 'decisions.0.textSha256', 'decisions.0.extra']));
  });

  it('answers 400 INVALID_PARAMS for a path parameter out of bounds', async () => {
    const shopper = await registerShopper(t.app);
    const response = await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${'p'.repeat(65)}/ack`, headers: bearer(shopper.token) });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_PARAMS', fields: ['id'] } });
  });

  it('answers 404 NOT_FOUND for an unknown route', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/v1/nothing-here?token=secret' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /v1/nothing-here', fields: [], issues: [] } });
  });

  it('counts each rejection by code in vicino_http_rejected_total and keeps serving', async () => {
    await register('{');
    await register(JSON.stringify({ appPublicKey: 1 }));
    await register('x'.repeat(70 * 1024));
    await t.app.inject({ method: 'GET', url: '/v1/me' });
    expect(await rejected('INVALID_BODY')).toBe(2);
    expect(await rejected('PAYLOAD_TOO_LARGE')).toBe(1);
    expect(await rejected('UNAUTHENTICATED')).toBe(1);
    expect(await rejected('INTERNAL')).toBe(0);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('vicino_http_rejected_total{code="INVALID_BODY"} 2');
    expect(expectStatus(await t.app.inject({ method: 'GET', url: '/health' }), 200)).toEqual({ status: 'ok', store: 'sqlite' });
    expect((await registerShopper(t.app)).shopperId).toMatch(/^sh_/);
  });

  it('never answers 500 to any JSON body on the shopper and admin endpoints', async () => {
    const shopper = await registerShopper(t.app);
    expectStatus(await putStore(t, 'store-1'), 200);
    const targets = [
      { method: 'POST' as const, url: '/v1/shoppers', headers: {} },
      { method: 'PUT' as const, url: '/v1/me/consents', headers: bearer(shopper.token) },
      { method: 'PUT' as const, url: '/v1/admin/stores/store-2', headers: bearer(t.adminToken) },
      { method: 'POST' as const, url: '/v1/admin/stores/store-1/gateways', headers: bearer(t.adminToken) },
      { method: 'PUT' as const, url: '/v1/admin/campaigns/cmp-fuzz', headers: bearer(t.adminToken) },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), fc.jsonValue({ maxDepth: 3 }), async (target, body) => {
        const response = await t.app.inject({ ...target, headers: { ...target.headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) ?? 'null' });
        expect(response.statusCode).toBeLessThan(500);
        if (response.statusCode >= 400) expect(response.json().error.code).toMatch(/^[A-Z_]+$/);
      }),
      { numRuns: 150 },
    );
    expect(await rejected('INTERNAL')).toBe(0);
  });

  it('logs no token, request body or URL query of a rejected request', async () => {
    const shopper = await registerShopper(t.app);
    await t.app.inject({ method: 'PUT', url: '/v1/me/consents?x=query-secret', headers: bearer(shopper.token), payload: { locale: 'en', decisions: [], note: 'body-secret' } });
    await t.app.inject({ method: 'GET', url: '/v1/admin/gateways', headers: bearer('not-the-admin-token-at-all') });
    const text = t.logs.text();
    expect(t.logs.lines().some((line) => line.msg === 'request rejected')).toBe(true);
    for (const secret of [shopper.token, 'query-secret', 'body-secret', 'not-the-admin-token-at-all', t.adminToken]) expect(text).not.toContain(secret);
  });
});

describe('authentication', () => {
  it.each<[string, Record<string, string>]>([
    ['no credential', {}],
    ['a malformed header', { authorization: 'Token abc' }],
    ['a token that is too short', { authorization: 'Bearer abc' }],
    ['an unknown token', { authorization: `Bearer ${'A'.repeat(43)}` }],
  ])('answers 401 to /v1/me with %s', async (_name, headers) => {
    const response = await t.app.inject({ method: 'GET', url: '/v1/me', headers });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  it('does not let one shopper acknowledge or list another shopper’s promotion', async () => {
    const ada = await registerShopper(t.app);
    const bob = await registerShopper(t.app);
    await grant(t.app, ada.token, { presence: true, promotions: true });
    const recorded = await t.deps.store.recordPromotion(aDraft({ shopperId: ada.shopperId, createdAtMs: t.deps.now() }));
    if (recorded.outcome !== 'recorded') throw new Error(`expected a recorded promotion, got ${recorded.outcome}`);
    const id = recorded.promotion.id;

    const stolen = await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${id}/ack`, headers: bearer(bob.token) });
    expect(stolen.statusCode).toBe(404);
    expect(stolen.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(expectStatus<{ promotions: unknown[] }>(await t.app.inject({ method: 'GET', url: '/v1/me/promotions', headers: bearer(bob.token) }), 200).promotions).toEqual([]);
    expect((await t.deps.store.listUnackedPromotions(ada.shopperId, t.deps.now())).map((p) => p.id)).toEqual([id]);

    const own = await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${id}/ack`, headers: bearer(ada.token) });
    expect(own.statusCode).toBe(204);
    expect(await t.deps.store.listUnackedPromotions(ada.shopperId, t.deps.now())).toEqual([]);
    expect(await counterValue(t.deps.metrics.acks)).toBe(1);
  });

  it('does not accept a shopper token on the admin API', async () => {
    const shopper = await registerShopper(t.app);
    const response = await t.app.inject({ method: 'GET', url: '/v1/admin/gateways', headers: bearer(shopper.token) });
    expect(response.statusCode).toBe(401);
  });
});

describe('admin API', () => {
  it.each<[string, Record<string, string>]>([
    ['no credential', {}],
    ['a wrong token', { authorization: 'Bearer wrong-admin-token-0123456789' }],
    ['a bare token', { authorization: 'wrong' }],
  ])('answers 401 with %s, and changes nothing', async (_name, headers) => {
    const response = await t.app.inject({ method: 'PUT', url: '/v1/admin/stores/store-1', headers, payload: { name: 'x', timezone: 'UTC', zones: [{ id: 'a', name: 'A' }] } });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect(await t.deps.store.listStores()).toEqual([]);
  });

  it('creates a store with zones and brings its epoch key live', async () => {
    const response = await putStore(t, 'store-1', [{ id: 'entrance' }, { id: 'pharmacy', sensitive: true }]);
    expect(expectStatus(response, 200)).toMatchObject({ id: 'store-1', timezone: 'Europe/Rome', zones: [{ id: 'entrance', sensitive: false }, { id: 'pharmacy', sensitive: true }] });
    expect(await t.deps.store.listZones('store-1')).toHaveLength(2);
    expect(t.deps.keys.liveKeys()).toEqual([expect.objectContaining({ storeId: 'store-1' })]);
  });

  it('refuses a store with an unknown time zone, naming the field', async () => {
    const response = await t.app.inject({ method: 'PUT', url: '/v1/admin/stores/store-1', headers: bearer(t.adminToken), payload: { name: 'x', timezone: 'Mars/Olympus', zones: [{ id: 'a', name: 'A' }] } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['timezone'] } });
  });

  describe('gateway provisioning', () => {
    const configFor = (gatewayId: string): GatewayConfigMessage => {
      const config = t.published.findLast((c) => c.gatewayId === gatewayId);
      if (config === undefined) throw new Error(`no config published for ${gatewayId}`);
      return config;
    };

    it('returns a config whose secret unwraps the epoch keys published to that gateway', async () => {
      const config = await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
      // The MQTT username is the gateway ID; the password is derived from the secret, so the file holds no second one.
      expect(config).toMatchObject({ storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', mqtt: { url: 'mqtt://broker.test:1883', username: 'gw-1' } });
      expect(config.mqtt).not.toHaveProperty('password');
      const published = configFor('gw-1');
      expect(published).toMatchObject({ storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', registeredBeacons: [] });
      expect(published.epochKeys.length).toBeGreaterThan(0);
      const secret = Buffer.from(config.secret, 'base64url');
      expect(secret).toHaveLength(32);
      for (const wrapped of published.epochKeys) {
        const live = t.deps.keys.liveKeys().find((k) => k.keyId === wrapped.keyId);
        expect(unwrapEpochKey(secret, 'gw-1', wrapped.keyId, wrapped.wrapped)).toEqual(live?.key);
        // Only this gateway's secret, for this gateway's ID, unwraps it.
        expect(unwrapEpochKey(secret, 'gw-2', wrapped.keyId, wrapped.wrapped)).toBeUndefined();
      }
      expect(JSON.stringify(t.published)).not.toContain(config.secret);
    });

    it('refuses to provision the same gateway twice without rotateSecret (409), and rotates the secret when asked', async () => {
      const first = await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
      const again = await provisionGateway(t, 'store-1', { id: 'gw-1', zoneId: 'entrance' });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ error: { code: 'CONFLICT', message: expect.stringContaining('rotateSecret') } });

      const rotated = expectStatus<{ config: GatewayConfigFile }>(await provisionGateway(t, 'store-1', { id: 'gw-1', zoneId: 'entrance', rotateSecret: true }), 201).config;
      expect(rotated.secret).not.toBe(first.secret);
      const [wrapped] = configFor('gw-1').epochKeys;
      expect(unwrapEpochKey(Buffer.from(rotated.secret, 'base64url'), 'gw-1', wrapped!.keyId, wrapped!.wrapped)).toBeDefined();
      expect(unwrapEpochKey(Buffer.from(first.secret, 'base64url'), 'gw-1', wrapped!.keyId, wrapped!.wrapped)).toBeUndefined();
    });

    it('refuses a gateway ID that belongs to another store', async () => {
      await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
      expectStatus(await putStore(t, 'store-2'), 200);
      const response = await provisionGateway(t, 'store-2', { id: 'gw-1', zoneId: 'entrance', rotateSecret: true });
      expect(response.statusCode).toBe(409);
      expect((await t.deps.store.getGateway('gw-1'))?.storeId).toBe('store-1');
    });

    it("refuses the servers' MQTT username as a gateway ID, naming id", async () => {
      expectStatus(await putStore(t, 'store-1'), 200);
      const response = await provisionGateway(t, 'store-1', { id: 'vicino-server', zoneId: 'entrance' });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['id'], message: expect.stringContaining('reserved') } });
      expect(await t.deps.store.listGateways()).toEqual([]);
    });

    it('answers 404 for an unknown store and 400 naming zoneId for an unknown zone', async () => {
      expect((await provisionGateway(t, 'store-9', { id: 'gw-1', zoneId: 'entrance' })).json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
      expectStatus(await putStore(t, 'store-1'), 200);
      const response = await provisionGateway(t, 'store-1', { id: 'gw-1', zoneId: 'roof' });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['zoneId'] } });
      expect(await t.deps.store.listGateways()).toEqual([]);
    });

    it('lists gateways without their secrets', async () => {
      const config = await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
      const body = expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/gateways', headers: bearer(t.adminToken) }), 200);
      expect(body).toEqual({ gateways: [{ id: 'gw-1', storeId: 'store-1', zoneId: 'entrance', online: false, lastSeenAtMs: null, version: null, counts: null, reportedAtMs: null }] });
      expect(JSON.stringify(body)).not.toContain(config.secret);
    });
  });

  describe('campaigns', () => {
    beforeEach(async () => {
      expectStatus(await putStore(t, 'store-1', [{ id: 'entrance' }, { id: 'pharmacy', sensitive: true }]), 200);
    });

    it('stores a valid campaign', async () => {
      const campaign = aCampaign({ id: 'coffee', storeId: 'store-1', zoneIds: ['entrance'] });
      expect(expectStatus(await putCampaign(t, campaign), 200)).toMatchObject({ id: 'coffee', priority: 100 });
      expect(await t.deps.store.listCampaigns('store-1')).toEqual([campaign]);
    });

    it('refuses a campaign that targets a sensitive zone, naming placement.zoneIds (AN-3)', async () => {
      const response = await putCampaign(t, aCampaign({ id: 'pills', storeId: 'store-1', zoneIds: ['entrance', 'pharmacy'] }));
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['placement.zoneIds'], message: expect.stringContaining('pharmacy is marked sensitive') } });
      expect(await t.deps.store.listCampaigns()).toEqual([]);
    });

    it('refuses a campaign for an unknown zone or store', async () => {
      const zone = await putCampaign(t, aCampaign({ id: 'roof', storeId: 'store-1', zoneIds: ['roof'] }));
      expect(zone.statusCode).toBe(400);
      expect(zone.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['placement.zoneIds'] } });
      const store = await putCampaign(t, aCampaign({ id: 'elsewhere', storeId: 'store-9' }));
      expect(store.statusCode).toBe(400);
      expect(store.json()).toMatchObject({ error: { fields: ['placement.storeId'], message: expect.stringContaining('unknown store store-9') } });
      expect(await t.deps.store.listCampaigns()).toEqual([]);
    });

    it('refuses an invalid campaign, naming the fields', async () => {
      const { id: _id, ...valid } = aCampaign({ storeId: 'store-1' });
      const response = await t.app.inject({
        method: 'PUT', url: '/v1/admin/campaigns/bad', headers: bearer(t.adminToken),
        payload: { ...valid, status: 'live', trigger: { kind: 'dwell' }, audience: 'everyone' },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.fields).toEqual(expect.arrayContaining(['status', 'trigger.minDwellS', 'audience']));
    });
  });
});

describe('status endpoints', () => {
  it('answers /health', async () => {
    expect(expectStatus(await t.app.inject({ method: 'GET', url: '/health' }), 200)).toEqual({ status: 'ok', store: 'sqlite' });
  });

  it('serves Prometheus metrics as text', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toMatch(/^# HELP vicino_presence_messages_total /m);
    expect(response.body).toMatch(/^# TYPE vicino_http_rejected_total counter$/m);
    expect(response.body).toMatch(/^vicino_connected_apps 0$/m);
  });

  it('reports aggregates only in /v1/status', async () => {
    await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true, promotions: true });
    const response = await t.app.inject({ method: 'GET', url: '/v1/status' });
    const body = expectStatus(response, 200);
    expect(body).toEqual({
      atMs: t.deps.now(),
      gateways: { total: 1, online: 0 },
      resolver: { shoppers: 1, pseudonyms: 3 },
      connectedApps: 0,
      presenceMessages: 0,
      unresolvedMessages: 0,
      counts: { shoppers: 1, consentRecords: 2, presenceEvents: 0, promotions: 0, exposuresHeldOut: 0, promotionsAcked: 0, epochKeys: 1 },
    });
    for (const personal of [shopper.shopperId, shopper.token, pseudonymNow(shopper)]) expect(response.body).not.toContain(personal);
  });
});
