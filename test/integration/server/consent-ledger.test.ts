import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONSENT_CATALOG, type ConsentCatalog, type ConsentText } from '#server/domain/consent-texts.ts';
import type { Purpose } from '#server/domain/consent.ts';
import type { PurposeStatusView } from '#server/domain/consent-lapse.ts';
import type { Store } from '#server/store/store.ts';
import { counterValue } from '#server/metrics.ts';
import { resolveConsentConfig } from '#server/consent/consent-config.ts';
import { createConsentLapseJob } from '#server/consent/lapse-job.ts';
import { aCampaign, DAY_MS, generousCaps, START_MS } from '#test/helpers/builders.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import {
  bearer, buildTestApp, expectStatus, givenStoreWithGateway, grant, putCampaign, registerShopper, rotateCredential, type RegisteredShopper, type TestApp, type TestAppOptions,
} from '#test/helpers/build-test-app.ts';

// The consent ledger through the shopper API (CON-3, CON-6, CON-7, ACC-3): texts by locale and by hash,
// a new text version deployed (a second app on the same store, as a redeploy), the 12-month validity on
// the test clock, the age gate per country, and the lapse job's withdrawals.

const UUID = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';
const YEAR_MS = 365 * DAY_MS;
// START_MS is in January 2030: born in 2014, the gate counts a shopper as 15.
const FIFTEEN = 2014;

const NEW_PROMOTIONS_TEXT = 'Send me offers in the app while I am in a participating store, including from partner brands. I can withdraw at any time.';
const withNewPromotionsVersion: ConsentCatalog = {
  ...DEFAULT_CONSENT_CATALOG,
  promotions: [...DEFAULT_CONSENT_CATALOG.promotions, { version: '2027-02-01', texts: { en: NEW_PROMOTIONS_TEXT, it: 'Inviarmi offerte nell\'app, anche di marchi partner.' } }],
};

type Me = { purposes: Record<Purpose, PurposeStatusView & { currentText?: { version: string; sha256: string; locale: string } }>; country: string | null; birthYear: number | null };

// On SQLite, and on PostgreSQL too when DATABASE_URL is set: a fresh database per test.
const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
let kind: 'sqlite' | 'postgres' = 'sqlite';
const apps: TestApp[] = [];
let testStore: TestStore | undefined;
let masterKey: Buffer;
afterEach(async () => {
  for (const t of apps.splice(0)) await t.close();
  await testStore?.close();
  testStore = undefined;
});

/** A server app over this test's database; a later one plays a redeploy (other consent settings), on the first one's clock. */
async function anApp(options: TestAppOptions = {}): Promise<TestApp> {
  if (testStore === undefined) {
    testStore = await openTestStore(kind);
    masterKey = randomBytes(32);
  }
  const t = await buildTestApp({ ...options, store: testStore.store, masterKey });
  if (apps[0] !== undefined) t.clock.set(apps[0].clock.now());
  apps.push(t);
  return t;
}

/** Two deployments of the server over one store: the second with other consent settings (a new text version, other ages). */
async function redeployable(): Promise<{ first: TestApp; redeploy: (consent: TestAppOptions['consent']) => Promise<TestApp> }> {
  const first = await anApp();
  return { first, redeploy: (consent) => anApp({ consent }) };
}

async function givenShopWithCampaign(t: TestApp): Promise<void> {
  expectStatus(await t.app.inject({
    method: 'PUT', url: '/v1/admin/stores/shop-1', headers: bearer(t.adminToken),
    payload: { name: 'Shop', timezone: 'Europe/Rome', zones: [{ id: 'entrance', name: 'Entrance' }], beacons: [{ id: 'door', zoneId: 'entrance', uuid: UUID, major: 1, minor: 1 }] },
  }), 200);
  expectStatus(await putCampaign(t, aCampaign({ storeId: 'shop-1', zoneIds: ['entrance'], caps: generousCaps })), 200);
}

const report = (t: TestApp, shopper: RegisteredShopper, kind: 'enter' | 'exit' = 'enter') => t.app.inject({
  method: 'POST', url: '/v1/me/sightings', headers: bearer(shopper.token),
  payload: { storeId: 'shop-1', beacon: { uuid: UUID, major: 1, minor: 1 }, kind, atS: Math.floor(t.clock.now() / 1000) },
});
const me = async (t: TestApp, shopper: RegisteredShopper): Promise<Me> => expectStatus<Me>(await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(shopper.token) }), 200);
const texts = async (t: TestApp, query = ''): Promise<ConsentText[]> => expectStatus<{ texts: ConsentText[] }>(await t.app.inject({ method: 'GET', url: `/v1/consent-texts${query}` }), 200).texts;
const answer = (t: TestApp, shopper: RegisteredShopper, text: ConsentText, granted = true) => t.app.inject({
  method: 'PUT', url: '/v1/me/consents', headers: bearer(shopper.token),
  payload: { locale: text.locale, decisions: [{ purpose: text.purpose, granted, textVersion: text.version, textSha256: text.sha256 }] },
});

describe.each(STORE_KINDS)('the consent ledger (%s)', (storeKind) => {
  beforeAll(() => {
    kind = storeKind;
  });

  describe('consent texts by locale and by hash (ACC-3)', () => {
    it('serves the current texts in Italian, and in English for a language they were not written in', async () => {
      const t = await anApp();
      expect((await texts(t, '?locale=it')).map((x) => x.locale)).toEqual(['it', 'it', 'it', 'it']);
      expect((await texts(t, '?locale=it-IT'))[0]!.text).toMatch(/^Rilevare/);
      expect((await texts(t, '?locale=fr')).map((x) => x.locale)).toEqual(['en', 'en', 'en', 'en']);
      const bad = await t.app.inject({ method: 'GET', url: '/v1/consent-texts?locale=italian' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.fields).toEqual(['locale']);
    });

    it('archives every text at start, so an answered text stays fetchable by hash after a new version replaces it', async () => {
      const { first, redeploy } = await redeployable();
      const old = (await texts(first, '?locale=it')).find((x) => x.purpose === 'promotions')!;
      const next = await redeploy({ catalog: withNewPromotionsVersion });
      expect((await texts(next)).find((x) => x.purpose === 'promotions')).toMatchObject({ version: '2027-02-01', text: NEW_PROMOTIONS_TEXT });
      const archived = expectStatus(await next.app.inject({ method: 'GET', url: `/v1/consent-texts/${old.sha256}` }), 200);
      expect(archived).toEqual({ ...old, archivedAtMs: START_MS });
    });

    it('answers 404 naming an unknown hash, and 400 for one that is not a SHA-256', async () => {
      const t = await anApp();
      const unknown = 'f'.repeat(64);
      const missing = await t.app.inject({ method: 'GET', url: `/v1/consent-texts/${unknown}` });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.message).toContain(unknown);
      const malformed = await t.app.inject({ method: 'GET', url: '/v1/consent-texts/ABC' });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error).toMatchObject({ code: 'INVALID_PARAMS', fields: ['sha256'] });
    });

    it('accepts an answer to the Italian text and records that exact text\'s hash and locale', async () => {
      const t = await anApp();
      const ada = await registerShopper(t.app);
      const italian = (await texts(t, '?locale=it')).find((x) => x.purpose === 'analytics')!;
      expectStatus(await answer(t, ada, italian), 200);
      expect((await t.deps.store.listConsentRecords(ada.shopperId))[0]).toMatchObject({ textVersion: italian.version, textSha256: italian.sha256, locale: 'it', reason: null });
    });
  });

  describe('a new text version (CON-6)', () => {
    it('sets the shopper to needs-reconsent and sends nothing until they answer the new text', async () => {
      const { first, redeploy } = await redeployable();
      await givenShopWithCampaign(first);
      const ada = await registerShopper(first.app);
      await grant(first.app, ada.token, { presence: true, promotions: true });
      const oldPromotions = (await texts(first)).find((x) => x.purpose === 'promotions')!;

      const next = await redeploy({ catalog: withNewPromotionsVersion });
      const status = (await me(next, ada)).purposes;
      expect(status.presence.status).toBe('granted');
      expect(status.promotions).toMatchObject({ status: 'needs-reconsent', textVersion: oldPromotions.version });
      const current = (await texts(next)).find((x) => x.purpose === 'promotions')!;
      expect(status.promotions.currentText).toEqual({ version: current.version, sha256: current.sha256, locale: 'en' });
      // Before the lapse job has run, the send path already reads the old grant as not granted.
      expect(expectStatus<{ outcome: string }>(await report(next, ada), 202).outcome).toBe('no-consent');
      expect(await next.deps.store.listUnackedPromotions(ada.shopperId, next.clock.now())).toEqual([]);

      const run = await next.lapseConsents();
      expect(run).toMatchObject({ lapsed: { 'text-superseded': 1, expired: 0, 'age-gate': 0 } });
      expect(run.failed).toBeUndefined();
      const lapse = (await next.deps.store.listConsentRecords(ada.shopperId)).at(-1);
      expect(lapse).toMatchObject({ purpose: 'promotions', granted: false, channel: 'system', reason: 'text-superseded', textSha256: oldPromotions.sha256, previousGranted: true });
      expect((await me(next, ada)).purposes.promotions.status).toBe('needs-reconsent');
      expect((await next.lapseConsents()).lapsed['text-superseded']).toBe(0);

      // The old text is refused; the new one, answered, sends again.
      const stale = await answer(next, ada, oldPromotions);
      expect(stale.statusCode).toBe(409);
      expect(stale.json().error).toMatchObject({ code: 'STALE_CONSENT_TEXT', fields: ['decisions.0'] });
      expect(stale.json().error.message).toContain(current.sha256);
      expectStatus(await answer(next, ada, current), 200);
      expect((await me(next, ada)).purposes.promotions.status).toBe('granted');
      next.clock.advance(60_000);
      expectStatus(await report(next, ada, 'exit'), 202);
      next.clock.advance(60_000);
      expect(expectStatus<{ outcome: string }>(await report(next, ada), 202).outcome).toBe('sent');
    });
  });

  describe('12-month validity (CON-6)', () => {
    it('asks for renewal 30 days before, then expires: nothing is sent, and the lapse job withdraws the grants', async () => {
      const t = await anApp();
      await givenShopWithCampaign(t);
      const ada = await registerShopper(t.app);
      await grant(t.app, ada.token, { presence: true, promotions: true, analytics: false });
      t.clock.advance(YEAR_MS - 30 * DAY_MS - 1);
      // The app's credential (180 days) has expired by now: the app rotates it, as it would have.
      await rotateCredential(t.app, ada, t.deps.now());
      expect((await me(t, ada)).purposes.presence.status).toBe('granted');
      t.clock.advance(1);
      expect((await me(t, ada)).purposes.presence).toEqual({ status: 'renewal-due', textVersion: '2026-11-01', grantedAtMs: START_MS, expiresAtMs: START_MS + YEAR_MS });
      expect((await t.lapseConsents()).lapsed.expired).toBe(0);

      t.clock.set(START_MS + YEAR_MS);
      expect((await me(t, ada)).purposes.promotions.status).toBe('expired');
      expect((await me(t, ada)).purposes.analytics.status).toBe('withdrawn');
      // Expired presence: the sighting is not even recorded.
      expect((await report(t, ada)).json().error.code).toBe('PRESENCE_CONSENT_REQUIRED');

      const run = await t.lapseConsents();
      expect(run.lapsed).toEqual({ 'text-superseded': 0, expired: 2, 'age-gate': 0 });
      expect(await counterValue(t.deps.metrics.consentLapses, { reason: 'expired' })).toBe(2);
      expect(t.announced).toContainEqual({ type: 'shopper', id: ada.shopperId });
      expect(t.deps.resolver.size().shoppers).toBe(0);
      expect((await me(t, ada)).purposes.presence).toEqual({ status: 'expired', textVersion: '2026-11-01', grantedAtMs: START_MS, expiresAtMs: START_MS + YEAR_MS });
      const audit = await t.deps.store.listAudit(1, 1000);
      expect(audit.filter((e) => e.subject === ada.shopperId && e.details.reason === 'expired').map((e) => e.details.purpose).sort()).toEqual(['presence', 'promotions']);
      expect(audit.at(-1)).toMatchObject({ actor: 'system', action: 'consent.lapse-run', details: { expired: 2 } });

      await grant(t.app, ada.token, { presence: true, promotions: true });
      expect((await me(t, ada)).purposes.presence).toMatchObject({ status: 'granted', grantedAtMs: START_MS + YEAR_MS });
    });

    it('takes an expired shopper\'s loyalty beacon out of the gateways\' configs when the lapse is written', async () => {
      const t = await anApp();
      await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
      const ada = await registerShopper(t.app);
      await grant(t.app, ada.token, { presence: true });
      expectStatus(await t.app.inject({ method: 'POST', url: '/v1/me/beacons', headers: bearer(ada.token), payload: { kind: 'ibeacon', uuid: UUID, major: 7, minor: 7 } }), 201);
      const lastConfig = () => t.published.filter((c) => c.gatewayId === 'gw-1').at(-1)!;
      expect(lastConfig().registeredBeacons).toHaveLength(1);
      t.clock.advance(YEAR_MS);
      expect((await t.lapseConsents()).lapsed.expired).toBe(1);
      expect(lastConfig().registeredBeacons).toEqual([]);
    });

    it('applies a shorter configured validity', async () => {
      const t = await anApp({ consent: { validityMs: 90 * DAY_MS } });
      const ada = await registerShopper(t.app);
      await grant(t.app, ada.token, { analytics: true });
      t.clock.advance(90 * DAY_MS);
      expect((await me(t, ada)).purposes.analytics).toMatchObject({ status: 'expired', expiresAtMs: START_MS + 90 * DAY_MS });
    });
  });

  describe('the age gate (CON-7)', () => {
    it('lets a 15-year-old in Italy grant promotions and refuses one in Germany, naming the purpose and the age, recording nothing', async () => {
      const t = await anApp();
      const gianni = await registerShopper(t.app, { country: 'IT', birthYear: FIFTEEN });
      expect((await grant(t.app, gianni.token, { presence: true, promotions: true })).promotions?.granted).toBe(true);

      const hans = await registerShopper(t.app, { country: 'DE', birthYear: FIFTEEN });
      const current = await texts(t);
      const refused = await t.app.inject({
        method: 'PUT', url: '/v1/me/consents', headers: bearer(hans.token),
        payload: { locale: 'en', decisions: (['presence', 'personalisation', 'promotions'] as const).map((purpose) => {
          const text = current.find((x) => x.purpose === purpose)!;
          return { purpose, granted: true, textVersion: text.version, textSha256: text.sha256 };
        }) },
      });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error).toMatchObject({ code: 'AGE_GATE', fields: ['decisions.1', 'decisions.2'] });
      expect(refused.json().error.message).toContain('granting promotions needs the shopper to be at least 16 in DE');
      expect(await t.deps.store.listConsentRecords(hans.shopperId)).toEqual([]);
      const audit = (await t.deps.store.listAudit(1, 1000)).filter((e) => e.subject === hans.shopperId);
      expect(audit.map((e) => [e.action, e.details])).toEqual([
        ['consent.refused', { purpose: 'personalisation', requiredAge: 16, why: 'below-age' }],
        ['consent.refused', { purpose: 'promotions', requiredAge: 16, why: 'below-age' }],
      ]);
      expect(t.logs.text()).not.toContain(String(FIFTEEN));
      // Presence and analytics are not gated.
      expect((await grant(t.app, hans.token, { presence: true, analytics: true })).analytics?.granted).toBe(true);
    });

    it('refuses P2 and P4 without a birth year, and lets the shopper give one later with PATCH /v1/me', async () => {
      const t = await anApp();
      const ada = await registerShopper(t.app, { country: null, birthYear: null });
      const promotions = (await texts(t)).find((x) => x.purpose === 'promotions')!;
      const refused = await answer(t, ada, promotions);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.message).toContain('no birth year given');
      expect(expectStatus(await t.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(ada.token), payload: { country: 'FR', birthYear: 1990 } }), 200))
        .toMatchObject({ country: 'FR', birthYear: 1990 });
      expectStatus(await answer(t, ada, promotions), 200);
      expect(await me(t, ada)).toMatchObject({ country: 'FR', birthYear: 1990, purposes: { promotions: { status: 'granted' } } });
    });

    it('withdraws P2 and P4 at once when a change of country puts the shopper below the age', async () => {
      const t = await anApp();
      const gianni = await registerShopper(t.app, { country: 'IT', birthYear: FIFTEEN });
      await grant(t.app, gianni.token, { presence: true, promotions: true });
      expectStatus(await t.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(gianni.token), payload: { country: 'DE' } }), 200);
      expect((await t.deps.store.listConsentRecords(gianni.shopperId)).at(-1)).toMatchObject({ purpose: 'promotions', granted: false, channel: 'system', reason: 'age-gate' });
      expect((await me(t, gianni)).purposes).toMatchObject({ presence: { status: 'granted' }, promotions: { status: 'withdrawn' } });
    });

    it('withdraws P2 and P4 in the lapse job when the configured age rises', async () => {
      const { first, redeploy } = await redeployable();
      const gianni = await registerShopper(first.app, { country: 'IT', birthYear: FIFTEEN });
      const adult = await registerShopper(first.app, { country: 'IT', birthYear: 1990 });
      for (const shopper of [gianni, adult]) await grant(first.app, shopper.token, { presence: true, personalisation: true, promotions: true });
      const next = await redeploy({ agePolicy: { byCountry: { IT: 16 }, defaultAge: 16 } });
      expect((await next.lapseConsents()).lapsed).toEqual({ 'text-superseded': 0, expired: 0, 'age-gate': 2 });
      expect((await me(next, gianni)).purposes).toMatchObject({ presence: { status: 'granted' }, personalisation: { status: 'withdrawn' }, promotions: { status: 'withdrawn' } });
      expect((await me(next, adult)).purposes.promotions.status).toBe('granted');
    });

    it.each([
      [{ birthYear: 1800 }, 'birthYear'],
      [{ birthYear: 2031 }, 'birthYear'],
      [{ birthYear: 1990.5 }, 'birthYear'],
      [{ country: 'it' }, 'country'],
      [{ country: 'ITA' }, 'country'],
    ])('refuses a registration with %j, naming %s', async (extra, field) => {
      const t = await anApp();
      const response = await t.app.inject({ method: 'POST', url: '/v1/shoppers', payload: { appPublicKey: 'ab'.repeat(32), locale: 'en', ...extra } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.fields).toEqual([field]);
    });

    it('refuses an empty or unknown PATCH /v1/me, naming the field', async () => {
      const t = await anApp();
      const ada = await registerShopper(t.app);
      const empty = await t.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(ada.token), payload: {} });
      expect(empty.statusCode).toBe(400);
      const unknown = await t.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(ada.token), payload: { firstName: 'Eve' } });
      expect(unknown.json().error.fields).toContain('firstName');
    });
  });

  describe('the lapse job', () => {
    const jobOver = (t: TestApp, store: Pick<Store, 'listConsentLapseCandidates' | 'appendConsentLapses' | 'appendAudit'>, batchLimit?: number) => {
      const consent = resolveConsentConfig({ catalog: withNewPromotionsVersion });
      return createConsentLapseJob({
        store, policy: () => consent.policy, agePolicy: consent.agePolicy, now: t.deps.now, logger: t.deps.logger.child({ component: 'consent' }), metrics: t.deps.metrics, batchLimit,
      });
    };

    it('works through every page of candidates in small batches', async () => {
      const t = await anApp();
      const shoppers = await Promise.all(Array.from({ length: 5 }, () => registerShopper(t.app)));
      for (const shopper of shoppers) await grant(t.app, shopper.token, { presence: true, promotions: true });
      const run = await jobOver(t, t.deps.store, 2).run();
      expect(run).toMatchObject({ checked: 5, lapsed: { 'text-superseded': 5 } });
    });

    it('raises an alert when a run fails, and the next run does what it missed', async () => {
      const t = await anApp();
      const ada = await registerShopper(t.app);
      await grant(t.app, ada.token, { presence: true, promotions: true });
      const failing = { ...t.deps.store, appendConsentLapses: async () => Promise.reject(new Error('database unavailable')) };
      const report = await jobOver(t, failing).run();
      expect(report).toMatchObject({ failed: 'database unavailable', lapsed: { 'text-superseded': 0 } });
      expect(await counterValue(t.deps.metrics.consentLapseFailures)).toBe(1);
      const alerts = t.logs.lines().filter((line) => line.level === 50 && line.component === 'consent');
      expect(alerts).toEqual([expect.objectContaining({ alert: 'consent', err: 'database unavailable', msg: 'consent lapse run failed; the next run retries' })]);
      expect(t.logs.text()).not.toContain(ada.shopperId);
      expect((await jobOver(t, t.deps.store).run()).lapsed['text-superseded']).toBe(1);
    });

    it('never withdraws a grant of a version its catalog does not hold yet (instances updated one by one)', async () => {
      const { first, redeploy } = await redeployable();
      const ada = await registerShopper(first.app);
      const next = await redeploy({ catalog: withNewPromotionsVersion });
      expectStatus(await answer(next, ada, (await texts(next)).find((x) => x.purpose === 'promotions')!), 200);
      expect((await first.lapseConsents()).lapsed).toEqual({ 'text-superseded': 0, expired: 0, 'age-gate': 0 });
      expect((await next.deps.store.getConsentState(ada.shopperId)).promotions).toMatchObject({ granted: true, textVersion: '2027-02-01' });
    });

    it('appends each lapse once when two deployments run it at the same moment', async () => {
      const { first, redeploy } = await redeployable();
      const shoppers = await Promise.all(Array.from({ length: 5 }, () => registerShopper(first.app)));
      for (const shopper of shoppers) await grant(first.app, shopper.token, { presence: true, promotions: true });
      const a = await redeploy({ catalog: withNewPromotionsVersion });
      const b = await redeploy({ catalog: withNewPromotionsVersion });
      const [ra, rb] = await Promise.all([a.lapseConsents(), b.lapseConsents()]);
      expect(ra.lapsed['text-superseded'] + rb.lapsed['text-superseded']).toBe(5);
      for (const shopper of shoppers) {
        expect((await a.deps.store.listConsentRecords(shopper.shopperId)).filter((r) => r.channel === 'system')).toHaveLength(1);
      }
    });
  });
});
