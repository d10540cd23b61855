import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { ShopperExport } from '#server/domain/shopper-export.ts';
import { counterValue } from '#server/metrics.ts';
import type { PromotionRecord } from '#server/store/store.ts';
import { aCampaign, aDraft } from '#test/helpers/builders.ts';
import { buildTestApp, expectStatus, grant, registerShopper, signedInject, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';
import { failingStore, type FailingStore } from '#test/helpers/failing-store.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { connectAppStream, type AppStream, type StreamFrame } from '#test/helpers/app-stream.ts';

// A promotion's TTL over the app's WebSocket, on SQLite and, when DATABASE_URL is set, PostgreSQL: a
// shopper offline for less than the TTL gets it on reconnect, exactly once; one offline for longer gets
// nothing, and the expiry sweep (on the test clock) drops it as 'expired' and counts it by campaign —
// also when the app was connected but consent could not be read until the promotion had expired.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const VALID_FOR_S = 3600;
const TTL_MS = VALID_FOR_S * 1000;
const EXPIRY_LOG = 'undelivered promotions expired and dropped';

let testStore: TestStore;
let failing: FailingStore;
let t: TestApp;
let masterKey: Buffer;
const clients: WebSocket[] = [];
const others: TestApp[] = [];

async function listening(app: TestApp): Promise<string> {
  await app.app.listen({ port: 0, host: '127.0.0.1' });
  return `ws://127.0.0.1:${(app.app.server.address() as AddressInfo).port}/v1/me/promotions/stream`;
}

/** Opens the shopper's stream and collects every frame; roundTrip() waits until every earlier frame has arrived. */
const connect = (url: string, token: string): Promise<AppStream> => connectAppStream(url, token, clients);

const promotionsIn = (frames: readonly StreamFrame[]): StreamFrame[] => frames.filter((frame) => frame.type === 'promotion');
const expiredCount = (app: TestApp, campaign?: string): Promise<number> =>
  counterValue(app.deps.metrics.expiredUndelivered, campaign === undefined ? undefined : { campaign });
const statusOf = async (id: string): Promise<PromotionRecord['status'] | undefined> => (await t.deps.store.getPromotion(id))?.status;

async function givenConsentingShopper(): Promise<RegisteredShopper> {
  const shopper = await registerShopper(t.app);
  await grant(t.app, shopper.token, { presence: true, promotions: true });
  return shopper;
}

async function givenPendingPromotion(shopperId: string, campaign = aCampaign({ message: { title: 'Fresh coffee', body: 'Two for one.', validForS: VALID_FOR_S } })): Promise<PromotionRecord> {
  const result = await t.deps.store.recordPromotion(aDraft({ shopperId, campaign, createdAtMs: t.deps.now() }));
  if (result.outcome !== 'recorded') throw new Error(`expected a recorded promotion, got ${result.outcome}`);
  return result.promotion;
}

describe.each(STORE_KINDS)('promotion expiry over WebSocket delivery (%s)', (kind) => {
  let url: string;

  beforeEach(async () => {
    testStore = await openTestStore(kind);
    failing = failingStore(testStore.store);
    masterKey = randomBytes(32);
    t = await buildTestApp({ store: failing.store, masterKey, delivery: { resendAfterMs: 500, sweepMs: 20 } });
    url = await listening(t);
  });
  afterEach(async () => {
    for (const socket of clients.splice(0)) socket.terminate();
    for (const other of others.splice(0)) await other.close();
    await t.close();
    await testStore.close();
  });

  it('sends a promotion to a shopper reconnecting within its TTL exactly once, and never expires it once acknowledged', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    t.clock.advance(TTL_MS - 1_000);

    const app = await connect(url, shopper.token);
    await expect.poll(() => promotionsIn(app.frames).map((f) => f.id)).toEqual([pending.id]);
    app.send({ type: 'ack', id: pending.id });
    // A retried ack (the app did not hear the first answer) changes nothing: the ID is the idempotency key.
    app.send({ type: 'ack', id: pending.id });
    await expect.poll(() => statusOf(pending.id)).toBe('acked');
    await app.roundTrip();
    expect(promotionsIn(app.frames)).toHaveLength(1);

    t.clock.advance(2 * TTL_MS);
    expect((await t.deps.delivery.expireUndelivered()).expired).toBe(0);
    const again = await connect(url, shopper.token);
    await again.roundTrip();
    expect(promotionsIn(again.frames)).toEqual([]);
    expect(await statusOf(pending.id)).toBe('acked');
    expect(await expiredCount(t)).toBe(0);
  });

  it('sends a promotion once when the connect flush and the resend sweep reach it at the same time', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    // The connect flush's consent read is held; meanwhile the sweep (every 20 ms) finds the same promotion unsent.
    const gate = failing.hold(['getConsentState']);
    const app = await connect(url, shopper.token);
    await expect.poll(() => gate.held()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 10 * 20));
    gate.release();

    await expect.poll(() => promotionsIn(app.frames).map((f) => f.id)).toEqual([pending.id]);
    await new Promise((resolve) => setTimeout(resolve, 10 * 20));
    await app.roundTrip();
    expect(promotionsIn(app.frames).map((f) => f.id)).toEqual([pending.id]);
  });

  it('writes a promotion once when an announcement reaches a socket whose connect flush is still reading', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    // The connect flush's read is held (the sweep's too); meanwhile another instance's announcement delivers it.
    const gate = failing.hold(['listUnackedPromotions']);
    const app = await connect(url, shopper.token);
    await expect.poll(() => gate.held()).toBeGreaterThan(0);
    await t.deps.delivery.deliverById(pending.id, shopper.shopperId);
    await expect.poll(() => promotionsIn(app.frames).map((f) => f.id)).toEqual([pending.id]);
    gate.release();

    await new Promise((resolve) => setTimeout(resolve, 10 * 20));
    await app.roundTrip();
    expect(promotionsIn(app.frames).map((f) => f.id)).toEqual([pending.id]);
  });

  it('sends nothing to a shopper reconnecting after the TTL; the sweep drops the promotion and counts it by campaign', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    t.clock.advance(TTL_MS);

    const app = await connect(url, shopper.token);
    await app.roundTrip();
    expect(promotionsIn(app.frames)).toEqual([]);
    // The sweep runs on the test clock: the advance above is past its period, so it runs by itself.
    await expect.poll(() => statusOf(pending.id)).toBe('expired');
    await expect.poll(() => expiredCount(t, pending.campaignId)).toBe(1);
    await app.roundTrip();
    expect(promotionsIn(app.frames)).toEqual([]);

    const summary = t.logs.lines().filter((line) => line.msg === EXPIRY_LOG);
    expect(summary).toEqual([expect.objectContaining({ component: 'delivery', expired: 1, byCampaign: { [pending.campaignId]: 1 } })]);
    expect(JSON.stringify(summary)).not.toContain(shopper.shopperId);
    expect(t.logs.text()).not.toContain(shopper.shopperId);
  });

  it('counts a promotion that expires while the app is connected but consent cannot be read (fail closed)', async () => {
    const shopper = await givenConsentingShopper();
    failing.fail(['getConsentState']);
    const pending = await givenPendingPromotion(shopper.shopperId);
    const app = await connect(url, shopper.token);
    await expect.poll(() => counterValue(t.deps.metrics.consentUnreadable, { where: 'delivery' })).toBeGreaterThan(0);

    t.clock.advance(TTL_MS);
    await expect.poll(() => statusOf(pending.id)).toBe('expired');
    expect(await expiredCount(t, pending.campaignId)).toBe(1);
    failing.recover();
    t.clock.advance(1_000);
    await app.roundTrip();
    expect(promotionsIn(app.frames)).toEqual([]);
  });

  it('shows an expired promotion as expired in the shopper export', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    t.clock.advance(TTL_MS);
    expect((await t.deps.delivery.expireUndelivered()).expired).toBe(1);

    const exported = expectStatus<ShopperExport>(await signedInject(t.app, shopper, { method: 'GET', url: '/v1/me/export' }, t.deps.now()), 200);
    expect(exported.promotions).toEqual([expect.objectContaining({ id: pending.id, status: 'expired', deliveredAtMs: null })]);
  });

  it('counts each expired promotion once when two server instances sweep the same store', async () => {
    const other = await buildTestApp({ store: await testStore.openAnother(), masterKey, delivery: { sweepMs: 20 } });
    others.push(other);
    const shoppers = [await givenConsentingShopper(), await givenConsentingShopper()];
    const campaign = aCampaign({ message: { title: 'Fresh coffee', body: 'Two for one.', validForS: VALID_FOR_S } });
    const promotions: PromotionRecord[] = [];
    for (let i = 0; i < 8; i++) promotions.push(await givenPendingPromotion(shoppers[i % 2]!.shopperId, aCampaign({ ...campaign, id: `${campaign.id}-${i % 3}` })));

    t.clock.advance(TTL_MS);
    other.clock.advance(TTL_MS);
    const both = await Promise.all([t.deps.delivery.expireUndelivered(), other.deps.delivery.expireUndelivered()]);
    await expect.poll(async () => (await Promise.all(promotions.map((p) => statusOf(p.id)))).every((s) => s === 'expired')).toBe(true);

    expect(both[0].expired + both[1].expired).toBeLessThanOrEqual(8);
    await expect.poll(async () => (await expiredCount(t)) + (await expiredCount(other))).toBe(8);
    for (const suffix of [0, 1, 2]) {
      const id = `${campaign.id}-${suffix}`;
      const want = promotions.filter((p) => p.campaignId === id).length;
      expect((await expiredCount(t, id)) + (await expiredCount(other, id))).toBe(want);
    }
  });
});
