import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { counterValue } from '#server/metrics.ts';
import type { PromotionRecord } from '#server/store/store.ts';
import { aDraft } from '#test/helpers/builders.ts';
import { buildTestApp, grant, registerShopper, rotateCredential, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';
import { connectAppStream, type AppStream, type StreamFrame } from '#test/helpers/app-stream.ts';

// WebSocket delivery over a real socket: the app listens on port 0 and a `ws` client plays the
// shopper's app. No sleeps: every wait polls for a frame or a stored state.

const RESEND_AFTER_MS = 500;

let t: TestApp;
let url: string;
const clients: WebSocket[] = [];

beforeEach(async () => {
  t = await buildTestApp({ delivery: { resendAfterMs: RESEND_AFTER_MS, sweepMs: 20 } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  url = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/v1/me/promotions/stream`;
});
afterEach(async () => {
  for (const socket of clients.splice(0)) socket.terminate();
  await t.close();
});

/** Opens the app's stream with its credential and collects every frame it receives. */
const connect = (token: string): Promise<AppStream> => connectAppStream(url, token, clients);

/** The upgrade's HTTP answer when the server refuses it. */
function refusedUpgrade(headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const socket = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      clients.push(socket);
      reject(new Error('the upgrade was accepted'));
    });
    // With this listener, ws leaves the refused request to us: read the answer, then drop it.
    socket.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
  });
}

async function givenConsentingShopper(): Promise<RegisteredShopper> {
  const shopper = await registerShopper(t.app);
  await grant(t.app, shopper.token, { presence: true, promotions: true });
  return shopper;
}

async function givenPendingPromotion(shopperId: string): Promise<PromotionRecord> {
  const result = await t.deps.store.recordPromotion(aDraft({ shopperId, createdAtMs: t.deps.now() }));
  if (result.outcome !== 'recorded') throw new Error(`expected a recorded promotion, got ${result.outcome}`);
  return result.promotion;
}

const promotionsIn = (frames: readonly StreamFrame[]): StreamFrame[] => frames.filter((frame) => frame.type === 'promotion');
const pendingIds = async (shopperId: string): Promise<string[]> => (await t.deps.store.listUnackedPromotions(shopperId, t.deps.now())).map((p) => p.id);

describe('WebSocket delivery', () => {
  it.each<[string, Record<string, string>]>([
    ['no credential', {}],
    ['an unknown credential', { authorization: `Bearer ${'A'.repeat(43)}` }],
  ])('refuses the upgrade with 401 for %s', async (_name, headers) => {
    const refused = await refusedUpgrade(headers);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect(t.deps.delivery.connected()).toBe(0);
  });

  it('greets the app, then sends the shopper’s pending promotion on connect and marks it delivered', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    const app = await connect(shopper.token);
    await expect.poll(() => promotionsIn(app.frames).map((f) => f.id)).toEqual([pending.id]);
    expect(app.frames[0]).toEqual({ type: 'hello', shopperId: shopper.shopperId });
    expect(promotionsIn(app.frames)[0]).toEqual(pending.message);
    await expect.poll(async () => (await t.deps.store.listUnackedPromotions(shopper.shopperId, t.deps.now()))[0]?.deliveredAtMs).toBe(t.deps.now());
    expect(t.deps.delivery.connected()).toBe(1);
  });

  it('marks a promotion acknowledged when the app acks it, and sends it no more', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    const app = await connect(shopper.token);
    await expect.poll(() => promotionsIn(app.frames)).toHaveLength(1);
    app.send({ type: 'ack', id: pending.id });
    await expect.poll(() => pendingIds(shopper.shopperId)).toEqual([]);
    expect((await t.deps.store.counts()).promotionsAcked).toBe(1);
    expect(await counterValue(t.deps.metrics.acks)).toBe(1);
    // A reconnecting app is not sent an acknowledged promotion again.
    const again = await connect(shopper.token);
    await again.roundTrip();
    expect(promotionsIn(again.frames)).toEqual([]);
  });

  it('resends an unacknowledged promotion once resendAfterMs has passed', async () => {
    const shopper = await givenConsentingShopper();
    const pending = await givenPendingPromotion(shopper.shopperId);
    const app = await connect(shopper.token);
    await expect.poll(() => promotionsIn(app.frames)).toHaveLength(1);
    t.clock.advance(RESEND_AFTER_MS + 1);
    await expect.poll(() => promotionsIn(app.frames).length).toBeGreaterThanOrEqual(2);
    expect(new Set(promotionsIn(app.frames).map((f) => f.id))).toEqual(new Set([pending.id]));
  });

  it('pushes a promotion recorded while the app is connected, to that shopper only', async () => {
    const ada = await givenConsentingShopper();
    const bob = await givenConsentingShopper();
    const adaApp = await connect(ada.token);
    const bobApp = await connect(bob.token);
    await adaApp.roundTrip();
    const promotion = await givenPendingPromotion(ada.shopperId);
    t.deps.delivery.notify(promotion);
    await expect.poll(() => promotionsIn(adaApp.frames).map((f) => f.id)).toEqual([promotion.id]);
    await bobApp.roundTrip();
    expect(promotionsIn(bobApp.frames)).toEqual([]);
    expect(t.deps.delivery.connected()).toBe(2);
  });

  it('answers a malformed message with an error frame naming the field, and keeps the socket open', async () => {
    const shopper = await givenConsentingShopper();
    const app = await connect(shopper.token);
    app.send({ type: 'ack' });
    app.send({ type: 'ack', id: 'x'.repeat(65) });
    app.send({ type: 'dance' });
    app.send('not json');
    await expect.poll(() => app.frames.filter((f) => f.type === 'error')).toHaveLength(4);
    const errors = app.frames.filter((f) => f.type === 'error');
    expect(errors.map((f) => f.code)).toEqual(['BAD_MESSAGE', 'BAD_MESSAGE', 'BAD_MESSAGE', 'BAD_MESSAGE']);
    expect(errors[0]?.message).toMatch(/^id: /);
    expect(errors[1]?.message).toMatch(/^id: /);
    expect(errors[2]?.message).toMatch(/^type: /);
    expect(errors[3]?.message).toBe('message is not JSON');
    await app.roundTrip();
    expect(app.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('does not acknowledge another shopper’s promotion sent as an ack', async () => {
    const ada = await givenConsentingShopper();
    const bob = await givenConsentingShopper();
    const adas = await givenPendingPromotion(ada.shopperId);
    const bobApp = await connect(bob.token);
    bobApp.send({ type: 'ack', id: adas.id });
    await bobApp.roundTrip();
    expect(await pendingIds(ada.shopperId)).toEqual([adas.id]);
  });

  it('closes a connection that sends a frame over 4 KiB, and keeps serving others', async () => {
    const shopper = await givenConsentingShopper();
    const app = await connect(shopper.token);
    app.send({ type: 'ping', padding: 'x'.repeat(5 * 1024) });
    expect((await app.closed).code).toBe(1009);
    const again = await connect(shopper.token);
    await again.roundTrip();
    await expect.poll(() => t.deps.delivery.connected()).toBe(1);
  });

  it('sends nothing pending to a shopper who withdrew promotions (CON-4)', async () => {
    const shopper = await givenConsentingShopper();
    await givenPendingPromotion(shopper.shopperId);
    await grant(t.app, shopper.token, { promotions: false });
    const app = await connect(shopper.token);
    await app.roundTrip();
    expect(app.frames.map((f) => f.type)).toEqual(['hello', 'pong']);
    expect(await pendingIds(shopper.shopperId)).toEqual([]);
  });

  it('sends nothing pending once the promotions grant has lapsed, before the lapse job has written it (CON-6)', async () => {
    const shopper = await givenConsentingShopper();
    t.clock.advance(365 * 86_400_000 - 60_000);
    const pending = await givenPendingPromotion(shopper.shopperId);
    t.clock.advance(120_000);
    // A year on, the app's credential has expired too: it rotates it first, as the app does.
    await rotateCredential(t.app, shopper, t.deps.now());
    const app = await connect(shopper.token);
    await app.roundTrip();
    expect(app.frames.map((f) => f.type)).toEqual(['hello', 'pong']);
    expect(await pendingIds(shopper.shopperId)).toEqual([pending.id]);
  });

  it('forgets a connection when the app closes it', async () => {
    const shopper = await givenConsentingShopper();
    const app = await connect(shopper.token);
    expect(t.deps.delivery.connected()).toBe(1);
    app.socket.close();
    await expect.poll(() => t.deps.delivery.connected()).toBe(0);
    expect(t.logs.text()).not.toContain(shopper.token);
  });
});
