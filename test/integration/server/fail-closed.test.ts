import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { DEFAULT_ARBITER_CONFIG } from '#server/domain/zone-arbiter.ts';
import { sweepZoneStates } from '#server/ingest/resolved-presence.ts';
import { counterValue } from '#server/metrics.ts';
import { openPostgresStore } from '#server/store/postgres-store.ts';
import type { PromotionRecord, Store } from '#server/store/store.ts';
import { aCampaign, aDraft, generousCaps } from '#test/helpers/builders.ts';
import {
  bearer, buildTestApp, expectStatus, grant, putCampaign, registerShopper, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { failingStore, STORAGE_ERROR, type FailingStore } from '#test/helpers/failing-store.ts';
import { connectAppStream, type AppStream } from '#test/helpers/app-stream.ts';
import { createConfigView } from '#server/ingest/config-view.ts';
import { TEST_POOL_MAX } from '#test/helpers/test-pool.ts';

// CON-5, fail closed: the real app over a real Store (SQLite, or PostgreSQL when DATABASE_URL is set) wrapped so that its methods
// can be switched to failing. While the consent state cannot be read — or the Store's atomic
// check-and-record fails — nothing is sent, the failure is counted and logged without identifiers,
// and once the Store answers again everything works as before. Both send paths are covered: the
// decision (an iOS sighting, the same processResolvedPresence a gateway event goes through) and the
// delivery over the app's WebSocket (on connect, on notify, by the sweep, on a bus 'promotion').
// At the end, on PostgreSQL only: a connection-level failure (backends terminated mid-run).

const UUID = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';

let testStore: TestStore;
let inner: Store;
let storage: FailingStore;
let t: TestApp;
let url: string;
let ada: RegisteredShopper;
const sockets: WebSocket[] = [];

beforeEach(async () => {
  testStore = await openTestStore(process.env.DATABASE_URL ? 'postgres' : 'sqlite');
  inner = testStore.store;
  storage = failingStore(inner);
  t = await buildTestApp({ store: storage.store, delivery: { resendAfterMs: 500, sweepMs: 20 } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  url = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/v1/me/promotions/stream`;
  expectStatus(await t.app.inject({
    method: 'PUT', url: '/v1/admin/stores/shop-1', headers: bearer(t.adminToken),
    payload: { name: 'Shop', timezone: 'Europe/Rome', zones: [{ id: 'entrance', name: 'Entrance' }], beacons: [{ id: 'door', zoneId: 'entrance', uuid: UUID, major: 10, minor: 1 }] },
  }), 200);
  expectStatus(await putCampaign(t, aCampaign({ storeId: 'shop-1', zoneIds: ['entrance'], caps: generousCaps })), 200);
  ada = await registerShopper(t.app);
  await grant(t.app, ada.token, { presence: true, promotions: true });
});
afterEach(async () => {
  storage.recover();
  for (const socket of sockets.splice(0)) socket.terminate();
  await t.close();
  await testStore.close();
});

const connect = (token: string): Promise<AppStream> => connectAppStream(url, token, sockets);

const promotionsIn = (app: AppStream): string[] => app.frames.filter((f) => f.type === 'promotion').map((f) => f.id!);
const unreadable = (where: string): Promise<number> => counterValue(t.deps.metrics.consentUnreadable, { where });
const report = (kind: 'enter' | 'exit' = 'enter') => t.app.inject({
  method: 'POST', url: '/v1/me/sightings', headers: bearer(ada.token),
  payload: { storeId: 'shop-1', beacon: { uuid: UUID, major: 10, minor: 1 }, kind, atS: Math.floor(t.clock.now() / 1000) },
});

async function givenPending(draft = aDraft({ shopperId: ada.shopperId, createdAtMs: t.deps.now() })): Promise<PromotionRecord> {
  const result = await inner.recordPromotion(draft);
  if (result.outcome !== 'recorded') throw new Error(`expected a recorded promotion, got ${result.outcome}`);
  return result.promotion;
}

/** No identifier of the shopper or the promotions reached a log line. */
function expectLogsFreeOf(...values: string[]): void {
  const text = t.logs.text();
  for (const value of values) expect(text).not.toContain(value);
}

describe('fail closed at the decision (CON-5)', () => {
  it('sends nothing while the consent state cannot be read, counts it, and sends again once it can', async () => {
    const app = await connect(ada.token);
    await app.roundTrip();
    // The consent read is part of the event's one transaction (Store.applyPresence): it failing fails the step.
    storage.fail(['applyPresence']);
    const refused = await report();
    expect(refused.statusCode).toBe(500);
    expect(refused.json()).toMatchObject({ error: { code: 'INTERNAL' } });
    expect(await unreadable('ingest')).toBe(1);
    expect(await inner.listUnackedPromotions(ada.shopperId, t.deps.now())).toEqual([]);
    expect((await inner.counts()).presenceEvents).toBe(0);
    await app.roundTrip();
    expect(promotionsIn(app)).toEqual([]);
    expect(t.logs.text()).toContain(STORAGE_ERROR);
    expectLogsFreeOf(ada.shopperId);

    storage.recover();
    expect(expectStatus(await report(), 202)).toMatchObject({ outcome: 'sent' });
    const [promotion] = await inner.listUnackedPromotions(ada.shopperId, t.deps.now());
    await expect.poll(() => promotionsIn(app)).toEqual([promotion!.id]);
    expect(await unreadable('ingest')).toBe(1);
  });

  it('sends nothing when the Store fails inside its atomic consent re-check and record, and recovers', async () => {
    const app = await connect(ada.token);
    storage.fail(['recordPromotion']);
    expect((await report()).statusCode).toBe(500);
    expect(await unreadable('record')).toBe(1);
    expect(await inner.listUnackedPromotions(ada.shopperId, t.deps.now())).toEqual([]);
    await app.roundTrip();
    expect(promotionsIn(app)).toEqual([]);

    storage.recover();
    // The same sighting again (the app retries): presence and the arbiter are idempotent on its event ID,
    // so the promotion the failure stopped is made now.
    expect(expectStatus(await report(), 202)).toMatchObject({ outcome: 'sent' });
    await expect.poll(() => promotionsIn(app)).toHaveLength(1);
    expectLogsFreeOf(ada.shopperId);
  });
});

describe('fail closed in the zone-arbiter sweep (CON-5)', () => {
  it('stops at a consent read that fails, sends nothing, counts it, and sweeps and sends normally afterwards', async () => {
    expect(expectStatus(await report(), 202)).toMatchObject({ outcome: 'sent' });
    const notified: PromotionRecord[] = [];
    const sweep = () => sweepZoneStates({ store: storage.store, config: createConfigView(storage.store), metrics: t.deps.metrics, experimentKey: t.deps.experimentKey, delivery: { notify: (p) => void notified.push(p) } }, t.deps.now());
    // Unheard for staleMs: the sweep drops the zone, then reads consent to act on that transition.
    t.clock.advance(DEFAULT_ARBITER_CONFIG.staleMs + 1_000);
    storage.fail(['getConsentState']);
    await expect(sweep()).rejects.toThrow(STORAGE_ERROR);
    expect(await unreadable('sweep')).toBe(1);
    expect(notified).toEqual([]);
    expect((await inner.getZoneState('shop-1', ada.shopperId))?.current ?? null).toBeNull();

    storage.recover();
    expect(await sweep()).toBe(0);
    // A new visit: entered again, and a second welcome (the first one, before the outage, is the other).
    expect(expectStatus(await report(), 202)).toMatchObject({ outcome: 'sent' });
    expect((await inner.counts()).promotions).toBe(2);
    expect(await unreadable('sweep')).toBe(1);
  });
});

describe('fail closed at delivery (CON-5)', () => {
  it('holds a pending promotion back on connect, on notify and on a bus message while consent is unreadable, and sends it after recovery', async () => {
    const pending = await givenPending();
    storage.fail(['getConsentState']);
    const app = await connect(ada.token);
    // The connect flush, a notify and a bus 'promotion' message each try, and each is held back.
    await expect.poll(() => unreadable('delivery')).toBeGreaterThanOrEqual(1);
    t.deps.delivery.notify(pending);
    await t.deps.delivery.deliverById(pending.id);
    // The sweep keeps trying every 20 ms; several tries must have failed, none written.
    await expect.poll(() => unreadable('delivery')).toBeGreaterThanOrEqual(4);
    await app.roundTrip();
    expect(promotionsIn(app)).toEqual([]);
    expect(await counterValue(t.deps.metrics.deliveries)).toBe(0);
    expect((await inner.getPromotion(pending.id))?.deliveredAtMs).toBeNull();
    const warnings = t.logs.lines().filter((line) => line.msg === 'consent unreadable at send time; promotion held back (fail closed)');
    expect(warnings.length).toBeGreaterThanOrEqual(4);
    expect(warnings[0]).toMatchObject({ level: 40, err: STORAGE_ERROR });
    expectLogsFreeOf(ada.shopperId, pending.id, pending.eventId);

    storage.recover();
    // The sweep sends it once the Store answers.
    await expect.poll(() => promotionsIn(app)).toEqual([pending.id]);
    expect(await counterValue(t.deps.metrics.deliveries)).toBe(1);
  });

  it('re-reads consent at send time: a purpose withdrawn since the promotion was made stops it, though the Store did not cancel it', async () => {
    // A personalised promotion: a withdrawal of personalisation alone does not cancel pending promotions
    // in the Store (only presence and promotions do), so only the send-time check can stop it.
    await grant(t.app, ada.token, { personalisation: true });
    const draft = aDraft({ shopperId: ada.shopperId, createdAtMs: t.deps.now() });
    const personalised = { ...draft, message: { ...draft.message, why: { ...draft.message.why, purposes: ['presence', 'personalisation', 'promotions'] } } };
    const pending = await givenPending(personalised);
    await grant(t.app, ada.token, { personalisation: false });
    expect((await inner.getPromotion(pending.id))?.status).toBe('pending');
    const app = await connect(ada.token);
    t.deps.delivery.notify(pending);
    await t.deps.delivery.deliverById(pending.id);
    await app.roundTrip();
    expect(promotionsIn(app)).toEqual([]);
    // Granted again: the same pending promotion may go.
    await grant(t.app, ada.token, { personalisation: true });
    await expect.poll(() => promotionsIn(app)).toEqual([pending.id]);
    expect(await unreadable('delivery')).toBe(0);
  });
});

// CON-5 with a connection-level failure on PostgreSQL (runs when DATABASE_URL is set): another
// connection terminates every backend of the server's pool (pg_terminate_backend, matched by a
// per-test application_name, so nothing else on the database is touched) again and again while an app
// reports sightings. Requests fail or succeed, the process stays up, a promotion goes out only for a
// request whose decision completed (consent read and the atomic record), and once the terminations
// stop the very next sighting is decided and sent normally.

const urls = process.env.DATABASE_URL ? [process.env.DATABASE_URL] : [];

describe.each(urls)('PostgreSQL connections terminated mid-run (CON-5)', (url) => {
  it('rides out connections that die: fails closed where a transaction was cut, stays up, and works again once they stop', async () => {
    const appName = `vicino-failclosed-${randomBytes(4).toString('hex')}`;
    const schema = `vicino_test_${randomBytes(6).toString('hex')}`;
    const withName = `${url}${url.includes('?') ? '&' : '?'}application_name=${appName}`;
    const pgStore = await openPostgresStore(withName, { schema, poolMax: TEST_POOL_MAX });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const server = await buildTestApp({ store: pgStore });
    try {
      expectStatus(await server.app.inject({
        method: 'PUT', url: '/v1/admin/stores/shop-1', headers: bearer(server.adminToken),
        payload: { name: 'Shop', timezone: 'Europe/Rome', zones: [{ id: 'entrance', name: 'Entrance' }], beacons: [{ id: 'door', zoneId: 'entrance', uuid: UUID, major: 10, minor: 1 }] },
      }), 200);
      expectStatus(await putCampaign(server, aCampaign({ storeId: 'shop-1', zoneIds: ['entrance'], caps: generousCaps })), 200);
      const bob = await registerShopper(server.app);
      await grant(server.app, bob.token, { presence: true, promotions: true });
      const notified: string[] = [];
      const notify = server.deps.delivery.notify.bind(server.deps.delivery);
      server.deps.delivery.notify = (promotion) => {
        notified.push(promotion.eventId);
        notify(promotion);
      };
      const sighting = (kind: 'enter' | 'exit') => server.app.inject({
        method: 'POST', url: '/v1/me/sightings', headers: bearer(bob.token),
        payload: { storeId: 'shop-1', beacon: { uuid: UUID, major: 10, minor: 1 }, kind, atS: Math.floor(server.clock.now() / 1000) },
      });
      const terminate = async (): Promise<number> =>
        (await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName])).rowCount ?? 0;

      // Enter and exit alternately, a second apart on the test clock, each sighting a new event; the
      // pool's connections are terminated before every one and between its steps.
      const outcomes: { status: number; eventId?: string; outcome?: string }[] = [];
      let terminated = 0;
      for (let i = 0; i < 30; i += 1) {
        server.clock.advance(1_000);
        terminated += await terminate();
        const pending = sighting(i % 2 === 0 ? 'enter' : 'exit');
        await new Promise((resolve) => setTimeout(resolve, i % 3));
        terminated += await terminate();
        const response = await pending;
        outcomes.push(response.statusCode === 202 ? { status: 202, ...(response.json() as { eventId: string; outcome: string }) } : { status: response.statusCode });
      }
      expect(terminated).toBeGreaterThan(0);
      expect(outcomes.every((o) => o.status === 202 || o.status === 500)).toBe(true);
      // A connection found dead when taken from the pool is replaced and the request goes on (a read, or a
      // transaction before its BEGIN ran); only a transaction cut in the middle fails, closed. Most go through.
      expect(outcomes.filter((o) => o.status === 202).length).toBeGreaterThanOrEqual(20);
      // Nothing was handed to delivery for a request whose decision did not complete.
      const completed = new Set(outcomes.filter((o) => o.outcome === 'sent').map((o) => o.eventId));
      expect(notified.every((eventId) => completed.has(eventId))).toBe(true);
      expect(server.logs.text()).not.toContain(bob.shopperId);

      // The terminations stop: the next sighting goes through the whole path again.
      server.clock.advance(60_000);
      expect(expectStatus(await sighting('exit'), 202)).toHaveProperty('outcome');
      server.clock.advance(1_000);
      const after = expectStatus<{ eventId: string; outcome: string }>(await sighting('enter'), 202);
      expect(after.outcome).toBe('sent');
      expect(notified.at(-1)).toBe(after.eventId);
    } finally {
      await server.close();
      await pgStore.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  }, 60_000);
});
