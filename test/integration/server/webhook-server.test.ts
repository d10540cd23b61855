import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '#server/domain/webhook.ts';
import { hashToken } from '#server/identity.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import { aCampaign, generousCaps, START_MS } from '#test/helpers/builders.ts';
import { bearer, expectStatus, grant, putCampaign, registerShopper, type TestApp } from '#test/helpers/build-test-app.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { openTestStore } from '#test/helpers/open-test-store.ts';
import { startTestBroker } from '#test/helpers/start-broker.ts';

// The composition (server/server.ts): with a webhook configured, a promotion reaches the push webhook
// besides the WebSocket delivery — here one triggered by an iOS sighting, an app in the background.

const SECRET = 'composition-webhook-secret-0123456789';
const UUID = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';

describe('server with a push webhook configured', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    while (closers.length > 0) await closers.pop()!();
  });

  it('POSTs a sighting\'s promotion to the webhook, signed, for a shopper with a push target, and drains on close', async () => {
    const received: { headers: IncomingMessage['headers']; body: string }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => receiver.close(resolve)));
    const broker = await startTestBroker({ external: process.env.MQTT_URL });
    closers.push(() => broker.close());
    const testStore = await openTestStore(process.env.DATABASE_URL ? 'postgres' : 'sqlite');
    closers.push(() => testStore.close());
    const t0 = Date.now();
    const now = (): number => START_MS + (Date.now() - t0);
    const adminToken = randomBytes(24).toString('base64url');
    const server: RunningServer = await startServer({
      store: testStore.store, masterKey: randomBytes(32), logger: createLogSink().logger, adminTokenHash: hashToken(adminToken), now,
      mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' },
      webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/push`, secret: SECRET, pollMs: 10 },
    });
    let closed = false;
    closers.push(async () => { if (!closed) await server.close(); });

    expectStatus(await server.app.inject({
      method: 'PUT', url: '/v1/admin/stores/shop-1', headers: bearer(adminToken),
      payload: { name: 'Shop', timezone: 'Europe/Rome', zones: [{ id: 'entrance', name: 'Entrance' }], beacons: [{ id: 'door', zoneId: 'entrance', uuid: UUID, major: 10, minor: 1 }] },
    }), 200);
    expectStatus(await putCampaign({ app: server.app, adminToken } as TestApp, aCampaign({ storeId: 'shop-1', zoneIds: ['entrance'], caps: generousCaps })), 200);
    const ada = await registerShopper(server.app);
    await grant(server.app, ada.token, { presence: true, promotions: true });
    expect((await server.app.inject({ method: 'PUT', url: '/v1/me/push-target', headers: bearer(ada.token), payload: { provider: 'apns', token: 'apns-device-token' } })).statusCode).toBe(204);
    const sighting = expectStatus<{ outcome: string }>(await server.app.inject({
      method: 'POST', url: '/v1/me/sightings', headers: bearer(ada.token),
      payload: { storeId: 'shop-1', beacon: { uuid: UUID, major: 10, minor: 1 }, kind: 'enter', atS: Math.floor(now() / 1000) },
    }), 202);
    expect(sighting.outcome).toBe('sent');

    await expect.poll(() => received.length).toBe(1);
    const [request] = received;
    expect(verifyWebhookSignature(SECRET, request!.body, String(request!.headers['vicino-signature']), Math.floor(now() / 1000))).toBe(true);
    expect(JSON.parse(request!.body)).toMatchObject({ target: { provider: 'apns', token: 'apns-device-token' }, message: { id: request!.headers['idempotency-key'] } });
    await server.close();
    closed = true;
    expect((await testStore.store.getWebhookDelivery(String(request!.headers['idempotency-key'])))?.status).toBe('sent');
  });
});
