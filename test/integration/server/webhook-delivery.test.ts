import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebhookDelivery, type WebhookDeliveryOptions } from '#server/delivery/webhook-delivery.ts';
import type { PushTarget } from '#server/domain/push-target.ts';
import { verifyWebhookSignature } from '#server/domain/webhook.ts';
import { createMetrics, type Metrics } from '#server/metrics.ts';
import type { PromotionRecord, Store } from '#server/store/store.ts';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import type { Purpose } from '#server/domain/consent.ts';
import { aConsent, aDraft, aShopper, START_MS } from '#test/helpers/builders.ts';
import { createLogSink, type LogSink } from '#test/helpers/log-sink.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';

// The push webhook against a real local HTTP receiver (node:http on port 0), on SQLite and, when
// DATABASE_URL is set, PostgreSQL. The clock runs at real speed from START_MS (the builders' epoch) and
// the backoff is milliseconds, so retries come due without sleeps; tests wait with expect.poll.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const SECRET = 'test-webhook-secret-0123456789abcdef';
const TARGET: PushTarget = { provider: 'fcm', token: 'fcm-registration-token-XYZ' };

type Received = { headers: IncomingMessage['headers']; body: string };
type Receiver = { url: string; received: Received[]; respond: (handler: (req: Received, res: ServerResponse) => void) => void; close: () => Promise<void> };

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let handler = (_req: Received, res: ServerResponse): void => void res.writeHead(200).end();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(entry);
      handler(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    received,
    respond: (next) => { handler = next; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe.each(STORE_KINDS)('webhook delivery (%s)', (kind) => {
  let testStore: TestStore;
  let receiver: Receiver;
  let metrics: Metrics;
  let logs: LogSink;
  const closers: (() => Promise<void>)[] = [];
  const t0 = Date.now();
  const now = (): number => START_MS + (Date.now() - t0);
  const targets = new Map<string, PushTarget>();

  beforeEach(async () => {
    receiver = await startReceiver();
    closers.push(receiver.close);
    testStore = await openTestStore(kind);
    closers.push(testStore.close);
    metrics = createMetrics();
    logs = createLogSink();
    await testStore.store.upsertStore({ id: 'store-1', name: 'High Street', timezone: 'Europe/London' });
  });
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  const delivery = (store: Store = testStore.store, options: Partial<WebhookDeliveryOptions> = {}) => {
    const created = createWebhookDelivery({
      store, metrics, logger: logs.logger, now,
      pushTargets: { get: async (shopperId) => targets.get(shopperId) },
      options: { url: receiver.url, secret: SECRET, backoff: { baseMs: 5, capMs: 20 }, timeoutMs: 500, leaseMs: 1_000, pollMs: 5, maxAttempts: 4, ...options },
    });
    closers.push(() => created.close());
    return created;
  };

  /** A consent record under the current text, at the test clock's now (so it has not lapsed). */
  const consent = (shopperId: string, purpose: Purpose, granted: boolean) =>
    aConsent({ shopperId, purpose, granted, previousGranted: granted ? null : true, textVersion: CURRENT_CONSENT_TEXTS[purpose].version, textSha256: CURRENT_CONSENT_TEXTS[purpose].sha256, serverTimeMs: now() });

  async function aPromotion(options: { pushTarget?: boolean; expiresInMs?: number } = {}): Promise<PromotionRecord> {
    const shopper = aShopper();
    await testStore.store.createShopper(shopper);
    await testStore.store.appendConsent([consent(shopper.id, 'presence', true), consent(shopper.id, 'promotions', true)]);
    if (options.pushTarget !== false) targets.set(shopper.id, TARGET);
    const result = await testStore.store.recordPromotion(aDraft({ shopperId: shopper.id, createdAtMs: now(), expiresAtMs: now() + (options.expiresInMs ?? 3_600_000) }));
    if (result.outcome !== 'recorded') throw new Error(`promotion not recorded: ${result.outcome}`);
    return result.promotion;
  }

  const metric = async (outcome: string, reason?: string): Promise<number> =>
    (await metrics.webhookDeliveries.get()).values.filter((v) => v.labels.outcome === outcome && (reason === undefined || v.labels.reason === reason)).reduce((n, v) => n + v.value, 0);
  const status = async (id: string): Promise<string | undefined> => (await testStore.store.getWebhookDelivery(id))?.status;

  it('delivers a promotion once, signed, with only the push target and the message', async () => {
    const promotion = await aPromotion();
    delivery().notify(promotion);
    await expect.poll(() => status(promotion.id)).toBe('sent');
    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['idempotency-key']).toBe(promotion.id);
    expect(verifyWebhookSignature(SECRET, request!.body, String(request!.headers['vicino-signature']), Math.floor(now() / 1000))).toBe(true);
    const body = JSON.parse(request!.body) as Record<string, unknown>;
    expect(body).toEqual({
      target: TARGET,
      message: {
        id: promotion.id, title: promotion.message.title, body: promotion.message.body, couponCode: promotion.message.couponCode,
        expiresAtMs: promotion.message.expiresAtMs, why: promotion.message.why,
        ...(promotion.message.deepLink === undefined ? {} : { deepLink: promotion.message.deepLink }),
      },
    });
    expect(request!.body).not.toContain(promotion.shopperId);
    expect(await metric('sent')).toBe(1);
    await expect.poll(async () => (await testStore.store.getPromotion(promotion.id))?.deliveredAtMs).toBeGreaterThan(0);
  });

  it('retries 500 twice, then 200: three attempts, delivered once', async () => {
    const promotion = await aPromotion();
    let calls = 0;
    receiver.respond((_req, res) => void res.writeHead(++calls <= 2 ? 500 : 200).end());
    delivery().notify(promotion);
    await expect.poll(() => status(promotion.id)).toBe('sent');
    expect(receiver.received).toHaveLength(3);
    expect((await testStore.store.getWebhookDelivery(promotion.id))?.attempts).toBe(3);
    expect(await metric('retry', 'http-5xx')).toBe(2);
    expect(await metric('sent')).toBe(1);
  });

  it('dead-letters a permanent 400 at once: counted, logged with alert, no personal data', async () => {
    const promotion = await aPromotion();
    receiver.respond((_req, res) => void res.writeHead(400).end());
    delivery().notify(promotion);
    await expect.poll(() => status(promotion.id)).toBe('dead');
    expect(receiver.received).toHaveLength(1);
    expect(await metric('dead', 'refused')).toBe(1);
    const alert = logs.lines().find((line) => line.alert === true);
    expect(alert).toMatchObject({ reason: 'refused', attempts: 1, lastError: 'http 400' });
    for (const secret of [promotion.shopperId, TARGET.token, promotion.message.couponCode, SECRET]) expect(logs.text()).not.toContain(secret);
  });

  it('retries while the receiver is down, then dead-letters after maxAttempts', async () => {
    const promotion = await aPromotion();
    await receiver.close();
    delivery().notify(promotion);
    await expect.poll(() => status(promotion.id), { timeout: 5_000 }).toBe('dead');
    const row = await testStore.store.getWebhookDelivery(promotion.id);
    expect(row).toMatchObject({ attempts: 4 });
    expect(row?.lastError).toMatch(/^network: ECONNREFUSED \(after 4 attempts\)$/);
    expect(await metric('retry', 'network')).toBe(3);
    expect(await metric('dead', 'attempts-exhausted')).toBe(1);
  });

  it('gives a dead letter replayed by an operator a fresh set of tries, and delivers it once the receiver is back', async () => {
    const promotion = await aPromotion();
    let down = true;
    receiver.respond((_req, res) => void res.writeHead(down ? 503 : 200).end());
    const worker = delivery();
    worker.notify(promotion);
    await expect.poll(() => status(promotion.id), { timeout: 5_000 }).toBe('dead');
    expect(receiver.received).toHaveLength(4);
    // Still down: the replayed row is tried maxAttempts (4) more times, then dead again, saying so.
    expect(await testStore.store.replayDeadWebhookDeliveries([promotion.id], now(), 'pri_ops')).toEqual([promotion.id]);
    await expect.poll(() => status(promotion.id), { timeout: 5_000 }).toBe('dead');
    expect(receiver.received).toHaveLength(8);
    expect((await testStore.store.getWebhookDelivery(promotion.id))?.lastError).toBe('http 503 (after 4 attempts since replay 1)');
    // Back up: a second replay delivers it, once.
    down = false;
    expect(await testStore.store.replayDeadWebhookDeliveries([promotion.id], now(), 'pri_ops')).toEqual([promotion.id]);
    await expect.poll(() => status(promotion.id), { timeout: 5_000 }).toBe('sent');
    expect(receiver.received).toHaveLength(9);
    expect(await testStore.store.getWebhookDelivery(promotion.id)).toMatchObject({ attempts: 9, attemptsBeforeReplay: 8, replays: 2 });
    expect(await metric('dead', 'attempts-exhausted')).toBe(2);
    expect(await metric('sent')).toBe(1);
  });

  it('does not send a replayed dead letter whose promotion expired meanwhile: it is dropped', async () => {
    const promotion = await aPromotion({ expiresInMs: 300 });
    receiver.respond((_req, res) => void res.writeHead(410).end());
    delivery().notify(promotion);
    await expect.poll(() => status(promotion.id)).toBe('dead');
    await expect.poll(() => now() > promotion.message.expiresAtMs).toBe(true);
    receiver.respond((_req, res) => void res.writeHead(200).end());
    await testStore.store.replayDeadWebhookDeliveries([promotion.id], now(), 'pri_ops');
    await expect.poll(() => status(promotion.id)).toBe('dropped');
    expect(receiver.received).toHaveLength(1);
    expect(await metric('dropped', 'expired')).toBe(1);
  });

  it('honours Retry-After on a 429', async () => {
    const promotion = await aPromotion();
    let calls = 0;
    const at: number[] = [];
    receiver.respond((_req, res) => {
      at.push(Date.now());
      if (++calls === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.writeHead(204).end();
    });
    delivery().notify(promotion);
    await expect.poll(() => status(promotion.id), { timeout: 5_000 }).toBe('sent');
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
    expect(await metric('retry', 'http-429')).toBe(1);
  });

  it('sends nothing after a consent withdrawal while queued', async () => {
    const promotion = await aPromotion();
    receiver.respond((_req, res) => void res.writeHead(503).end());
    const worker = delivery(testStore.store, { backoff: { baseMs: 200, capMs: 200 } });
    worker.notify(promotion);
    await expect.poll(() => receiver.received.length).toBe(1);
    await testStore.store.appendConsent([consent(promotion.shopperId, 'promotions', false)]);
    receiver.respond((_req, res) => void res.writeHead(200).end());
    await expect.poll(() => status(promotion.id), { timeout: 5_000 }).toBe('dropped');
    expect(receiver.received).toHaveLength(1);
    expect(await metric('dropped')).toBe(1);
  });

  it('drops a promotion acknowledged (or expired) before its attempt, sending nothing', async () => {
    const acked = await aPromotion();
    const expiring = await aPromotion({ expiresInMs: 100 });
    await testStore.store.ackPromotion(acked.shopperId, acked.id, now());
    await testStore.store.enqueueWebhookDelivery(acked.id, now());
    // Due only once it has expired: a backlog that outlived the offer.
    await testStore.store.enqueueWebhookDelivery(expiring.id, expiring.message.expiresAtMs + 1);
    delivery();
    await expect.poll(() => status(acked.id)).toBe('dropped');
    expect(receiver.received).toHaveLength(0);
    expect(await metric('dropped', 'acked')).toBe(1);
    await expect.poll(() => status(expiring.id)).toBe('dropped');
    expect(await metric('dropped', 'expired')).toBe(1);
    expect(receiver.received).toHaveLength(0);
  });

  it('close() waits for the attempt in flight and records it; nothing is attempted afterwards', async () => {
    const promotion = await aPromotion();
    let release: () => void = () => undefined;
    receiver.respond((_req, res) => { release = () => void res.writeHead(200).end(); });
    const worker = delivery();
    worker.notify(promotion);
    await expect.poll(() => receiver.received.length).toBe(1);
    const closing = worker.close();
    setTimeout(() => release(), 50);
    await closing;
    expect(await status(promotion.id)).toBe('sent');
    const late = await aPromotion();
    await testStore.store.enqueueWebhookDelivery(late.id, now());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(receiver.received).toHaveLength(1);
  });

  it('does not queue a promotion for a shopper without a push target', async () => {
    const promotion = await aPromotion({ pushTarget: false });
    const worker = delivery();
    worker.notify(promotion);
    await worker.close();
    expect(await testStore.store.getWebhookDelivery(promotion.id)).toBeUndefined();
    expect(receiver.received).toHaveLength(0);
  });

  it('POSTs each promotion exactly once with two workers on two Store instances', async () => {
    const other = await testStore.openAnother();
    const promotions = await Promise.all(Array.from({ length: 20 }, () => aPromotion()));
    receiver.respond((_req, res) => setTimeout(() => res.writeHead(200).end(), 5));
    const a = delivery(testStore.store, { batchSize: 3 });
    const b = delivery(other, { batchSize: 3 });
    promotions.forEach((promotion, i) => (i % 2 === 0 ? a : b).notify(promotion));
    await expect.poll(async () => (await Promise.all(promotions.map((p) => status(p.id)))).every((s) => s === 'sent'), { timeout: 10_000 }).toBe(true);
    const keys = receiver.received.map((r) => String(r.headers['idempotency-key']));
    expect(keys.sort()).toEqual(promotions.map((p) => p.id).sort());
  });

  it('delivers a promotion whose worker was killed mid-attempt once its lease runs out', async () => {
    const promotion = await aPromotion();
    await testStore.store.enqueueWebhookDelivery(promotion.id, now());
    // A worker that claimed the row and died: the lease is held, nothing recorded.
    const [claimed] = await testStore.store.claimWebhookDeliveries(now(), 300, 10);
    expect(claimed?.promotionId).toBe(promotion.id);
    const other = await testStore.openAnother();
    delivery(other);
    await expect.poll(() => status(promotion.id), { timeout: 5_000 }).toBe('sent');
    expect(receiver.received).toHaveLength(1);
    expect((await testStore.store.getWebhookDelivery(promotion.id))?.attempts).toBe(2);
  });
});
