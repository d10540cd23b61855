import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canonicalJson, pseudonymise, topics, type PresenceEvent, type UnsignedPresenceEvent } from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import type { Purpose } from '#server/domain/consent.ts';
import { beaconIdentifierBytes } from '#server/domain/beacon-identifier.ts';
import { SHOPPER_EXPORT_SCHEMA, SHOPPER_EXPORT_SCHEMA_FILE, type ShopperExport } from '#server/domain/shopper-export.ts';
import type { PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { identityKeyLabel } from '#server/resolver.ts';
import type { PromotionRecord } from '#server/store/store.ts';
import { aCampaign, aPresenceEvent, generousCaps, SECOND_MS } from '#test/helpers/builders.ts';
import {
  bearer, buildTestApp, expectStatus, givenStoreWithGateway, grant, ingestOver, putCampaign, signedInject, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { encodingsOf, findLeaks, identifierForms, type Secret } from '#test/helpers/leak-search.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { createAppIdentity } from '#simulator/app/app-identity.ts';

// The shopper's data-subject rights through the API (DSR-1…4, ID-4), on SQLite and, when DATABASE_URL
// is set, PostgreSQL: Ada registers (with a device secret), consents, links a loyalty beacon, walks in,
// gets a promotion and opens it — data of every kind — and then exports, objects, restricts, erases.

const IBEACON = { kind: 'ibeacon', uuid: 'f7826da6-4fa2-4e98-8024-bc5b71e0893e', major: 7, minor: 9 } as const;
const FIRST_NAME = 'Zephyrine';
const SHOPPER_TABLES = ['consent_records', 'consent_state', 'presence_events', 'zone_states', 'store_visits', 'promotions', 'beacons', 'proof_nonces', 'app_token_history'] as const;
const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

let t: TestApp;
let testStore: TestStore;
let ingest: PresenceIngest;
let notified: PromotionRecord[];
let ada: RegisteredShopper;
let adaSecret: string;
let gatewaySecret: Buffer;
let masterKey: Buffer;

const newDeviceSecret = (): string => randomBytes(32).toString('base64url');
const nowS = (): number => Math.floor(t.deps.now() / 1000);

/** What the entrance gateway publishes about a shopper's app now. */
function heard(who: RegisteredShopper, kind: PresenceEvent['kind'], dwellS = 0): PresenceEvent {
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
  const overrides: Partial<UnsignedPresenceEvent> = {
    storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', keyId: key.keyId, kind, proximity: 'near', atS: nowS(), dwellS,
    pseudonym: pseudonymise(key.key, 'eddystone-eid', who.tokens.eidAt(nowS())),
  };
  return aPresenceEvent(overrides, gatewaySecret);
}
const send = (event: PresenceEvent) => ingest.handle(topics.events('store-1', event.gatewayId), Buffer.from(JSON.stringify(event)));

/** Registers as the app does (registerShopper), with a device secret when given. */
async function register(options: { firstName?: string; deviceSecret?: string } = {}): Promise<RegisteredShopper & { objected: boolean }> {
  const identity = createAppIdentity();
  const response = await t.app.inject({
    method: 'POST', url: '/v1/shoppers', // An adult in Italy, so the age gate (CON-7) lets them grant promotions and personalisation.
    payload: { appPublicKey: identity.publicKeyHex, locale: 'en-GB', firstName: options.firstName, deviceSecret: options.deviceSecret, country: 'IT', birthYear: 1990 },
  });
  const body = expectStatus<{ shopperId: string; token: string; rotationExponent: number; resolverPublicKey: string; objected: boolean }>(response, 201);
  return { ...body, identity, tokens: identity.bind(body.resolverPublicKey, body.rotationExponent) };
}

/** A PUT /v1/me/consents body answering the current English texts. */
async function consentBody(decisions: Partial<Record<'presence' | 'promotions' | 'personalisation' | 'analytics', boolean>>) {
  const { texts } = expectStatus<{ texts: { purpose: string; version: string; sha256: string }[] }>(await t.app.inject({ method: 'GET', url: '/v1/consent-texts' }), 200);
  return {
    locale: 'en',
    decisions: Object.entries(decisions).map(([purpose, granted]) => {
      const text = texts.find((x) => x.purpose === purpose)!;
      return { purpose, granted, textVersion: text.version, textSha256: text.sha256 };
    }),
  };
}

const countFor = async (table: string, shopperId: string, column = 'shopper_id'): Promise<number> =>
  Number((await testStore.rows(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = '${shopperId}'`))[0]!.n);
// The rights routes need the app's request proof besides its credential (signedInject).
const exportOf = async (shopper: RegisteredShopper) => expectStatus<ShopperExport>(await signedInject(t.app, shopper, { method: 'GET', url: '/v1/me/export' }, t.deps.now()), 200);
const erase = (shopper: RegisteredShopper) => signedInject(t.app, shopper, { method: 'DELETE', url: '/v1/me' }, t.deps.now());
const object = (shopper: RegisteredShopper) => signedInject(t.app, shopper, { method: 'POST', url: '/v1/me/objection', payload: {} }, t.deps.now());
const restrict = (shopper: RegisteredShopper, restricted: unknown) => signedInject(t.app, shopper, { method: 'PUT', url: '/v1/me/restriction', payload: { restricted } }, t.deps.now());
const me = (token: string) => t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(token) });
const auditActions = async (shopperId: string): Promise<string[]> =>
  (await testStore.rows(`SELECT action FROM audit_log WHERE subject = '${shopperId}' ORDER BY seq`)).map((r) => String(r.action));
/** A consent decision on the current text of a purpose. */
const text = (purpose: Purpose, granted: boolean) => ({ purpose, granted, textVersion: CURRENT_CONSENT_TEXTS[purpose].version, textSha256: CURRENT_CONSENT_TEXTS[purpose].sha256 });
const lastConfig = () => t.published.filter((c) => c.gatewayId === 'gw-1').at(-1)!;
const beaconPseudonym = () => pseudonymise(t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!.key, IBEACON.kind, beaconIdentifierBytes(IBEACON));

describe.each(STORE_KINDS)('data-subject rights (%s)', (kind) => {
  beforeEach(async () => {
    testStore = await openTestStore(kind);
    masterKey = randomBytes(32);
    t = await buildTestApp({ store: testStore.store, masterKey });
    notified = [];
    const delivery: Delivery = { notify: (promotion) => void notified.push(promotion), close: async () => undefined };
    ingest = ingestOver(t, delivery);
    gatewaySecret = Buffer.from((await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' })).secret, 'base64url');
    expectStatus(await putCampaign(t, aCampaign({ id: 'welcome', storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps })), 200);
    adaSecret = newDeviceSecret();
    ada = await register({ firstName: FIRST_NAME, deviceSecret: adaSecret });
    await grant(t.app, ada.token, { presence: true, promotions: true, personalisation: true });
    expectStatus(await t.app.inject({ method: 'POST', url: '/v1/me/beacons', headers: bearer(ada.token), payload: IBEACON }), 201);
    // Ada walks in (a presence event, a zone state and a promotion), opens it, and dwells five minutes later.
    expect(await send(heard(ada, 'enter'))).toBe('sent');
    expectStatus(await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${notified[0]!.id}/ack`, headers: bearer(ada.token) }), 204);
    t.clock.advance(300 * SECOND_MS);
    await send(heard(ada, 'dwell', 300));
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });

  describe('export (DSR-1)', () => {
    it('returns everything held about the shopper, valid against the published JSON Schema, one entry per stored row', async () => {
      const document = await exportOf(ada);

      const committed = JSON.parse(readFileSync(SHOPPER_EXPORT_SCHEMA_FILE, 'utf8')) as object;
      const validate = new Ajv2020({ strict: true, allErrors: true }).compile(committed);
      expect(validate(document), JSON.stringify(validate.errors)).toBe(true);
      expect(document.schema).toBe(SHOPPER_EXPORT_SCHEMA);

      expect(document.profile).toMatchObject({ shopperId: ada.shopperId, firstName: FIRST_NAME, locale: 'en-GB', restricted: false, objectedAtMs: null, deviceSecretRegistered: true });
      expect(document.consents.records.length).toBe(await countFor('consent_records', ada.shopperId));
      expect(Object.keys(document.consents.state).length).toBe(await countFor('consent_state', ada.shopperId));
      expect(document.presenceEvents.length).toBe(await countFor('presence_events', ada.shopperId));
      expect(document.zoneStates.length).toBe(await countFor('zone_states', ada.shopperId));
      expect(document.promotions.length).toBe(await countFor('promotions', ada.shopperId));
      expect(document.beacons.length).toBe(await countFor('beacons', ada.shopperId));
      // The export's own audit entry is written after it was read.
      expect(document.audit.length).toBe(await countFor('audit_log', ada.shopperId, 'subject') - 1);
      expect([document.consents.records.length, document.presenceEvents.length, document.zoneStates.length, document.promotions.length, document.beacons.length])
        .toEqual([3, 2, 1, 1, 1]);

      expect(document.beacons[0]).toMatchObject(IBEACON);
      expect(document.promotions[0]).toMatchObject({ status: 'acked', ackedAtMs: expect.any(Number), message: { id: notified[0]!.id } });
    });

    it('audits each export with counts only', async () => {
      const document = await exportOf(ada);
      const [entry] = (await t.deps.store.listAudit(1, 1000)).filter((a) => a.action === 'shopper.exported');
      expect(entry).toMatchObject({ subject: ada.shopperId, actor: 'shopper' });
      expect(entry!.details).toEqual({
        consentRecords: document.consents.records.length, presenceEvents: 2, zoneStates: 1, visits: 1, promotions: 1, beacons: 1, audit: document.audit.length,
      });
    });

    it('serves the committed JSON Schema', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/v1/schemas/shopper-export.v1.json' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('application/schema+json');
      expect(response.body).toBe(readFileSync(SHOPPER_EXPORT_SCHEMA_FILE, 'utf8'));
    });
  });

  describe('erasure (DSR-2, ID-4)', () => {
    it('deletes everything in one go, keeps a minimal proof, and leaves no trace of the shopper in any table', async () => {
      const before = (await t.deps.store.getShopper(ada.shopperId))!;
      const identityKey = t.deps.sealer.open(before.identityKeySealed!, identityKeyLabel(ada.shopperId));
      const [beaconRow] = await testStore.rows(`SELECT identifier_sealed, identifier_digest FROM beacons WHERE shopper_id = '${ada.shopperId}'`);
      const ledger = await t.deps.store.listConsentRecords(ada.shopperId);
      const kept = await exportOf(ada);
      expect(lastConfig().registeredBeacons).toContain(beaconPseudonym());

      const secrets: Secret[] = [
        { what: 'first name', value: FIRST_NAME }, { what: 'token', value: ada.token }, { what: 'token hash', value: before.tokenHash },
        ...encodingsOf('sealed identity key', before.identityKeySealed!), ...encodingsOf('identity key', identityKey),
        { what: 'sealed beacon identifier', value: String(beaconRow!.identifier_sealed) }, { what: 'beacon digest', value: String(beaconRow!.identifier_digest) },
        ...identifierForms('beacon UUID', IBEACON.uuid), ...encodingsOf('beacon identifier', beaconIdentifierBytes(IBEACON)),
        { what: 'device secret digest', value: before.deviceSecretDigest! }, { what: 'device secret', value: adaSecret },
      ];
      // The search finds what is stored before the erasure (the raw key, token and secret are never stored at all).
      expect(new Set(findLeaks(await testStore.dump(), secrets).map((s) => s.what))).toEqual(new Set([
        'first name', 'token hash', 'sealed identity key', 'sealed beacon identifier', 'beacon digest', 'device secret digest',
      ]));

      // The signed export above used a proof nonce: its row is there until the erasure.
      expect(await countFor('proof_nonces', ada.shopperId)).toBe(1);
      expect((await erase(ada)).statusCode).toBe(204);

      for (const table of SHOPPER_TABLES) expect(await countFor(table, ada.shopperId), table).toBe(0);
      const proof = (await t.deps.store.getErasureProof(ada.shopperId))!;
      expect(proof).toMatchObject({ shopperId: ada.shopperId, erasedAtMs: t.deps.now(), consentRecords: ledger.length });
      // An export the shopper kept matches the deleted ledger's fingerprint.
      expect(proof.consentLedgerSha256).toBe(createHash('sha256').update(canonicalJson(kept.consents.records)).digest('hex'));
      expect(proof.finalState).toMatchObject({ presence: { granted: true }, promotions: { granted: true }, personalisation: { granted: true } });
      const [audit] = (await t.deps.store.listAudit(1, 1000)).filter((a) => a.action === 'shopper.erased');
      expect(audit!.details).toEqual({ consentRecords: ledger.length, consentStates: 3, presenceEvents: 2, zoneStates: 1, visits: 1, promotions: 1, beacons: 1 });

      // Nothing personal is left anywhere: no name, credential, identity key or beacon identifier.
      expect(findLeaks(await testStore.dump(), secrets).map((s) => s.what)).toEqual([]);

      // The resolver, the beacons and the other instances forget her.
      expect(t.announced).toContainEqual({ type: 'shopper', id: ada.shopperId });
      expect(lastConfig().registeredBeacons).not.toContain(beaconPseudonym());
      expect(t.deps.resolver.size().shoppers).toBe(0);
    });

    it('revokes the credential and the app\'s tokens never resolve again', async () => {
      expectStatus(await erase(ada), 204);
      expect((await me(ada.token)).statusCode).toBe(401);
      expect((await erase(ada)).statusCode).toBe(401);
      expect((await t.app.inject({ method: 'GET', url: '/v1/me/export', headers: bearer(ada.token) })).statusCode).toBe(401);
      t.clock.advance(60 * SECOND_MS);
      expect(await send(heard(ada, 'enter'))).toBe('unresolved');
      // Another instance, started on the same database, does not index her either.
      const other = await buildTestApp({ store: await testStore.openAnother(), masterKey });
      expect(other.deps.resolver.size().shoppers).toBe(0);
      await other.close();
    });

    it('is picked up by another running instance\'s incremental resync, and her beacon leaves its index', async () => {
      const other = await buildTestApp({ store: await testStore.openAnother(), masterKey });
      expect(other.deps.resolver.size().shoppers).toBe(1);
      expect(other.deps.beacons.size().beacons).toBe(1);
      const since = t.deps.now();
      expectStatus(await erase(ada), 204);
      expect(await other.deps.resolver.syncChangesSince(since)).toBe(1);
      expect(other.deps.resolver.size().shoppers).toBe(0);
      expect(await other.deps.beacons.sync()).toBe(true);
      expect(other.deps.beacons.size().beacons).toBe(0);
      await other.close();
    });

    it('works while processing is restricted', async () => {
      expectStatus(await restrict(ada, true), 200);
      expect((await exportOf(ada)).profile.restricted).toBe(true);
      expect((await erase(ada)).statusCode).toBe(204);
      for (const table of SHOPPER_TABLES) expect(await countFor(table, ada.shopperId), table).toBe(0);
    });
  });

  describe('objection to marketing (DSR-3)', () => {
    it('withdraws promotions and personalisation in the ledger, audited, and refuses to grant them again', async () => {
      const body = expectStatus<{ objected: boolean; consents: Record<string, { granted: boolean }> }>(await object(ada), 200);
      expect(body.objected).toBe(true);
      expect(body.consents).toMatchObject({ presence: { granted: true }, promotions: { granted: false }, personalisation: { granted: false } });
      const records = await t.deps.store.listConsentRecords(ada.shopperId);
      expect(records.slice(-2).map((r) => [r.purpose, r.granted, r.channel, r.previousGranted])).toEqual([['promotions', false, 'app', true], ['personalisation', false, 'app', true]]);
      expect((await auditActions(ada.shopperId)).slice(-3)).toEqual(['consent.changed', 'consent.changed', 'shopper.objected']);

      const recorded = records.length;
      const refused = await t.app.inject({
        method: 'PUT', url: '/v1/me/consents', headers: bearer(ada.token),
        payload: { locale: 'en', decisions: [text('analytics', true), text('promotions', true)] },
      });
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ error: { code: 'OBJECTED', fields: ['decisions.1'] } });
      expect((await t.deps.store.listConsentRecords(ada.shopperId)).length).toBe(recorded);
      expect((await exportOf(ada)).profile.objectedAtMs).toBe(t.deps.now());

      // Presence still works; marketing does not.
      t.clock.advance(60 * SECOND_MS);
      expect(await send(heard(ada, 'enter'))).toBe('no-consent');
      expect(notified).toHaveLength(1);
    });

    it('survives erasure and re-registration from the same device; another device is unaffected', async () => {
      expectStatus(await object(ada), 200);
      expectStatus(await erase(ada), 204);
      expect(await countFor('suppressions', ada.shopperId)).toBe(1);

      const again = await register({ firstName: FIRST_NAME, deviceSecret: adaSecret });
      expect(again.objected).toBe(true);
      await expect(grant(t.app, again.token, { presence: true, promotions: true })).rejects.toThrow(/409.*OBJECTED/);
      expect(await t.deps.store.listConsentRecords(again.shopperId)).toEqual([]);
      // Nor can it be granted behind the API's back: the Store refuses it in the appending transaction.
      await grant(t.app, again.token, { presence: true });
      await expect(t.deps.store.appendConsent([{ ...(await t.deps.store.listConsentRecords(again.shopperId))[0]!, id: 'forced', purpose: 'promotions', granted: true }]))
        .rejects.toThrow('objected');
      t.clock.advance(60 * SECOND_MS);
      expect(await send(heard(again, 'enter'))).toBe('no-consent');
      expect(notified).toHaveLength(1);

      const other = await register({ deviceSecret: newDeviceSecret() });
      expect(other.objected).toBe(false);
      await grant(t.app, other.token, { presence: true, promotions: true });
      expect(await send(heard(other, 'enter'))).toBe('sent');
    });

    it('stores only a keyed digest of the device secret, and rejects a malformed one naming the field', async () => {
      const dump = (await testStore.dump()).join('\n');
      expect(dump.includes(adaSecret)).toBe(false);
      expect(dump.includes(Buffer.from(adaSecret, 'base64url').toString('hex'))).toBe(false);
      const response = await t.app.inject({ method: 'POST', url: '/v1/shoppers', payload: { appPublicKey: ada.identity.publicKeyHex, locale: 'en', deviceSecret: 'short' } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.fields).toEqual(['deviceSecret']);
    });

    it('refuses a grant that raced the objection: checked before it committed, refused in the appending transaction', async () => {
      await grant(t.app, ada.token, { promotions: false });
      const before = await t.deps.store.listConsentRecords(ada.shopperId);
      const appendConsent = t.deps.store.appendConsent.bind(t.deps.store);
      // The objection (another request of the same shopper) commits between the route's check and its append.
      vi.spyOn(t.deps.store, 'appendConsent').mockImplementationOnce(async (records, audit) => {
        expectStatus(await object(ada), 200);
        return appendConsent(records, audit);
      });
      const refused = await t.app.inject({ method: 'PUT', url: '/v1/me/consents', headers: bearer(ada.token), payload: await consentBody({ promotions: true }) });
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ error: { code: 'OBJECTED', fields: ['decisions.0'] } });
      const after = await t.deps.store.listConsentRecords(ada.shopperId);
      expect(after.slice(before.length).map((r) => [r.purpose, r.granted])).toEqual([['promotions', false], ['personalisation', false]]);
      expect((await t.deps.store.getConsentState(ada.shopperId)).promotions?.granted).toBe(false);
    });

    it('is idempotent: a second objection records nothing', async () => {
      expectStatus(await object(ada), 200);
      const records = (await t.deps.store.listConsentRecords(ada.shopperId)).length;
      const audit = (await auditActions(ada.shopperId)).length;
      expectStatus(await object(ada), 200);
      expect((await t.deps.store.listConsentRecords(ada.shopperId)).length).toBe(records);
      expect((await auditActions(ada.shopperId)).length).toBe(audit);
    });
  });

  describe('restriction (DSR-4)', () => {
    it('keeps the data but skips the shopper in resolution, beacons and promotions, until lifted', async () => {
      const since = t.deps.now();
      expect(expectStatus(await restrict(ada, true), 200)).toEqual({ restricted: true });
      expect(t.deps.resolver.size().shoppers).toBe(0);
      expect(lastConfig().registeredBeacons).not.toContain(beaconPseudonym());
      expect(await t.deps.store.listShopperChangesSince(since)).toContain(ada.shopperId);
      expect(t.announced).toContainEqual({ type: 'shopper', id: ada.shopperId });
      t.clock.advance(60 * SECOND_MS);
      expect(await send(heard(ada, 'enter'))).toBe('unresolved');
      // Kept: everything is still there.
      expect(await countFor('presence_events', ada.shopperId)).toBe(2);
      expect((await exportOf(ada)).profile.restricted).toBe(true);

      expect(expectStatus(await restrict(ada, false), 200)).toEqual({ restricted: false });
      expect(t.deps.resolver.size().shoppers).toBe(1);
      expect(lastConfig().registeredBeacons).toContain(beaconPseudonym());
      // Resolved and processed again (she is still in the entrance zone, so no new campaign trigger).
      expect(await send(heard(ada, 'dwell', 420))).not.toBe('unresolved');
      expect(await countFor('presence_events', ada.shopperId)).toBe(3);
      expect((await auditActions(ada.shopperId)).filter((a) => a.startsWith('shopper.'))).toEqual(['shopper.restricted', 'shopper.exported', 'shopper.unrestricted']);
    });

    it('does not process an iOS sighting report while restricted', async () => {
      const door = { id: 'door', zoneId: 'entrance', uuid: 'b9407f30-f5f8-466e-aff9-25556b57fe6d', major: 10, minor: 1 };
      expectStatus(await t.app.inject({
        method: 'PUT', url: '/v1/admin/stores/store-1', headers: bearer(t.adminToken),
        payload: { name: 'Store store-1', timezone: 'Europe/Rome', zones: [{ id: 'entrance', name: 'entrance', sensitive: false }], beacons: [door] },
      }), 200);
      const sighting = () => t.app.inject({
        method: 'POST', url: '/v1/me/sightings', headers: bearer(ada.token),
        payload: { storeId: 'store-1', beacon: { uuid: door.uuid, major: 10, minor: 1 }, kind: 'dwell', atS: nowS(), dwellS: 30 },
      });
      expectStatus(await restrict(ada, true), 200);
      expect(expectStatus(await sighting(), 202)).toMatchObject({ outcome: 'restricted' });
      expect(await countFor('presence_events', ada.shopperId)).toBe(2);
      expectStatus(await restrict(ada, false), 200);
      expect(expectStatus(await sighting(), 202).outcome).not.toBe('restricted');
      expect(await countFor('presence_events', ada.shopperId)).toBe(3);
    });

    it('drops the shopper from another instance\'s incremental resync', async () => {
      const other = await buildTestApp({ store: await testStore.openAnother(), masterKey });
      expect(other.deps.resolver.size().shoppers).toBe(1);
      const since = t.deps.now();
      expectStatus(await restrict(ada, true), 200);
      expect(await other.deps.resolver.syncChangesSince(since)).toBe(1);
      expect(other.deps.resolver.size().shoppers).toBe(0);
      await other.close();
    });

    it('rejects a body that is not {restricted: boolean}, naming the field', async () => {
      const response = await restrict(ada, 'yes');
      expect(response.statusCode).toBe(400);
      expect(response.json().error.fields).toEqual(['restricted']);
    });
  });

  describe('the app\'s request proof', () => {
    const exportWith = (proof: string | undefined) => t.app.inject({
      method: 'GET', url: '/v1/me/export', headers: { ...bearer(ada.token), ...(proof === undefined ? {} : { 'vicino-proof': proof }) },
    });
    const errorCode = (response: { json<T>(): T }) => response.json<{ error: { code: string; fields: string[] } }>().error;

    it('is required besides the bearer credential, on every rights route', async () => {
      for (const [method, url] of [['GET', '/v1/me/export'], ['DELETE', '/v1/me'], ['POST', '/v1/me/objection'], ['PUT', '/v1/me/restriction']] as const) {
        const response = await t.app.inject({ method, url, headers: bearer(ada.token), ...(method === 'PUT' ? { payload: { restricted: true } } : {}) });
        expect(response.statusCode, `${method} ${url}`).toBe(401);
        expect(errorCode(response)).toEqual({ code: 'PROOF_REQUIRED', message: expect.any(String), fields: ['headers.vicino-proof'], issues: [{ field: 'headers.vicino-proof', message: expect.any(String) }] });
      }
      expect(await countFor('erasure_proofs', ada.shopperId, 'shopper_id')).toBe(0);
      expectStatus(await me(ada.token), 200);
    });

    it('refuses a replayed or expired proof, and a proof for another request, auditing each refusal', async () => {
      const proof = ada.tokens.proofs.sign({ method: 'GET', pathWithQuery: '/v1/me/export', nowMs: t.deps.now() });
      expectStatus(await exportWith(proof), 200);
      const replayed = await exportWith(proof);
      expect([replayed.statusCode, errorCode(replayed).code]).toEqual([401, 'PROOF_REPLAYED']);
      const expired = await exportWith(ada.tokens.proofs.sign({ method: 'GET', pathWithQuery: '/v1/me/export', nowMs: t.deps.now() - 301_000 }));
      expect([expired.statusCode, errorCode(expired).code]).toEqual([401, 'PROOF_EXPIRED']);
      const elsewhere = await exportWith(ada.tokens.proofs.sign({ method: 'DELETE', pathWithQuery: '/v1/me', nowMs: t.deps.now() }));
      expect([elsewhere.statusCode, errorCode(elsewhere).code]).toEqual([401, 'PROOF_INVALID']);

      const refusals = (await t.deps.store.listAudit(1, 10_000)).filter((a) => a.action === 'credential.refused' && a.subject === ada.shopperId);
      expect(refusals.map((a) => a.details.reason)).toEqual(['replayed', 'expired', 'invalid']);
      expect(refusals.every((a) => a.details.route === 'GET /v1/me/export')).toBe(true);
      expect(JSON.stringify(refusals)).not.toContain(proof.split(',')[1]!.slice(2));
    });
  });

  describe('another shopper\'s data', () => {
    it('reaches only the authenticated shopper: B cannot read, erase or touch A', async () => {
      const bob = await register({ firstName: 'Bob' });
      const exported = await exportOf(bob);
      expect(exported.profile.shopperId).toBe(bob.shopperId);
      expect(JSON.stringify(exported).includes(ada.shopperId)).toBe(false);
      expect(exported.promotions).toEqual([]);

      const [beacon] = (await exportOf(ada)).beacons;
      expect((await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${notified[0]!.id}/ack`, headers: bearer(bob.token) })).statusCode).toBe(404);
      expect((await t.app.inject({ method: 'DELETE', url: `/v1/me/beacons/${beacon!.id}`, headers: bearer(bob.token) })).statusCode).toBe(404);

      expectStatus(await erase(bob), 204);
      expectStatus(await me(ada.token), 200);
      expect(await countFor('beacons', ada.shopperId)).toBe(1);
      expect((await t.app.inject({ method: 'GET', url: '/v1/me/export' })).statusCode).toBe(401);
    });
  });
});
