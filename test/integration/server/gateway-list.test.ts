import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveEventMacKey, signMessage, topics, type GatewayStatusCounts } from '#gateway/protocol/index.ts';
import type { PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { SECOND_MS } from '#test/helpers/builders.ts';
import { bearer, buildTestApp, createApiKey, expectStatus, givenStoreWithGateway, ingestOver, provisionGateway, putStore, type TestApp } from '#test/helpers/build-test-app.ts';

// The operator's gateway list (issue 8): each gateway with the version and operational counters its last
// signed status reported (gateway/protocol GatewayStatusSchema) — not the device counts (tracked, present),
// which are not k-anonymous — and the list of one store on request.

let t: TestApp;
let ingest: PresenceIngest;
let secret: Buffer;

beforeAll(async () => {
  t = await buildTestApp();
  ingest = ingestOver(t, { notify: () => undefined, close: async () => undefined });
  secret = Buffer.from((await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' })).secret, 'base64url');
  expectStatus(await provisionGateway(t, 'store-1', { id: 'gw-2', zoneId: 'entrance' }), 201);
  expectStatus(await putStore(t, 'store-2'), 200);
  expectStatus(await provisionGateway(t, 'store-2', { id: 'gw-annex', zoneId: 'entrance' }), 201);
});
afterAll(async () => t.close());

const heartbeat: GatewayStatusCounts = {
  uptimeS: 3600, advertisements: 120_000, droppedAdvertisements: 40, transitions: 310, tracked: 3, present: 2, published: 305, pending: 5, outboxBytes: 2048, droppedEvents: 0,
};

const sendStatus = async (status: { online: boolean; version?: string; counts?: GatewayStatusCounts }) => {
  const message = signMessage(deriveEventMacKey(secret, 'gw-1'), 'status', { v: 1 as const, storeId: 'store-1', gatewayId: 'gw-1', atS: Math.floor(t.deps.now() / 1000), ...status });
  expect(await ingest.handle(topics.status('store-1', 'gw-1'), Buffer.from(JSON.stringify(message)))).toBe('status');
};

type Listed = { id: string; storeId: string; zoneId: string; online: boolean; lastSeenAtMs: number | null; version: string | null; counts: Record<string, number> | null; reportedAtMs: number | null };
const list = async (query = '', token = t.adminToken): Promise<Listed[]> =>
  expectStatus<{ gateways: Listed[] }>(await t.app.inject({ method: 'GET', url: `/v1/admin/gateways${query}`, headers: bearer(token) }), 200).gateways;

describe('GET /v1/admin/gateways', () => {
  it('shows nothing reported for a gateway that has not said anything yet', async () => {
    expect((await list()).find((g) => g.id === 'gw-2')).toEqual({ id: 'gw-2', storeId: 'store-1', zoneId: 'entrance', online: false, lastSeenAtMs: null, version: null, counts: null, reportedAtMs: null });
  });

  it('shows the version and operational counters of the last heartbeat, without the device counts', async () => {
    await sendStatus({ online: true, version: '2.3.1', counts: heartbeat });
    const reportedAtMs = t.deps.now();
    const { tracked: _tracked, present: _present, ...operational } = heartbeat;
    expect((await list()).find((g) => g.id === 'gw-1')).toEqual({
      id: 'gw-1', storeId: 'store-1', zoneId: 'entrance', online: true, lastSeenAtMs: reportedAtMs, version: '2.3.1', counts: operational, reportedAtMs,
    });

    // The will (offline, no counters) keeps the last counters and says when it came.
    t.clock.advance(60 * SECOND_MS);
    await sendStatus({ online: false, version: '2.3.1' });
    expect((await list()).find((g) => g.id === 'gw-1')).toMatchObject({ online: false, lastSeenAtMs: t.deps.now(), version: '2.3.1', counts: operational, reportedAtMs: t.deps.now() });
  });

  it('lists one store\'s gateways on request, and refuses a malformed store ID or an unknown parameter', async () => {
    expect((await list('?storeId=store-2')).map((g) => g.id)).toEqual(['gw-annex']);
    expect((await list('?storeId=store-1')).map((g) => g.id)).toEqual(['gw-1', 'gw-2']);
    expect(await list('?storeId=nowhere')).toEqual([]);
    const bad = await t.app.inject({ method: 'GET', url: '/v1/admin/gateways?storeId=%20x&zone=1', headers: bearer(t.adminToken) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.fields).toEqual(['storeId', 'zone']);
  });

  it('stays the admin\'s (devices.read)', async () => {
    const marketer = await t.app.inject({ method: 'GET', url: '/v1/admin/gateways', headers: bearer((await createApiKey(t, 'marketer')).key) });
    expect(marketer.statusCode).toBe(403);
  });
});
