import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudonymise, topics } from '#gateway/protocol/index.ts';
import type { PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { aPresenceEvent, SECOND_MS } from '#test/helpers/builders.ts';
import {
  bearer, buildTestApp, createApiKey, expectStatus, grant, ingestOver, provisionGateway, putStore, registerShopper, type GatewayConfigFile, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';

// The live view of a store (issue 8) end to end: presence events from three gateways go through the real
// ingest (sequence claims, the zone arbiter's states), and GET /v1/admin/stores/:storeId/live shows how
// many shoppers are in each zone — only from k (10) up, never for a sensitive zone — and the events per
// second over the last 10 s, from storage. No pseudonym and no shopper ID in the answer.

let t: TestApp;
let ingest: PresenceIngest;
const secrets = new Map<string, Buffer>();
const shoppers: RegisteredShopper[] = [];
const GATEWAYS = { entrance: 'gw-door', bakery: 'gw-oven', pharmacy: 'gw-pharmacy' } as const;

beforeAll(async () => {
  t = await buildTestApp();
  ingest = ingestOver(t, { notify: () => undefined, close: async () => undefined });
  expectStatus(await putStore(t, 'store-1', [{ id: 'entrance', name: 'Entrance' }, { id: 'bakery', name: 'Bakery' }, { id: 'pharmacy', name: 'Pharmacy', sensitive: true }]), 200);
  for (const [zoneId, gatewayId] of Object.entries(GATEWAYS)) {
    const { config } = expectStatus<{ config: GatewayConfigFile }>(await provisionGateway(t, 'store-1', { id: gatewayId, zoneId }), 201);
    secrets.set(gatewayId, Buffer.from(config.secret, 'base64url'));
  }
  for (let i = 0; i < 24; i += 1) {
    const shopper = await registerShopper(t.app, { firstName: `Shopper${i}` });
    await grant(t.app, shopper.token, { presence: true, promotions: true });
    shoppers.push(shopper);
  }
});
afterAll(async () => t.close());

const nowS = (): number => Math.floor(t.deps.now() / 1000);

/** The shopper's app heard by the zone's gateway now, as the gateway publishes (and signs) it. */
async function heard(shopper: RegisteredShopper, zoneId: keyof typeof GATEWAYS): Promise<void> {
  const gatewayId = GATEWAYS[zoneId];
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
  const event = aPresenceEvent({
    storeId: 'store-1', gatewayId, zoneId, keyId: key.keyId, pseudonym: pseudonymise(key.key, 'eddystone-eid', shopper.tokens.eidAt(nowS())), atS: nowS(),
  }, secrets.get(gatewayId));
  // Applied: the zone arbiter has the shopper (no campaign to send; a sensitive zone triggers nothing anyway).
  expect(await ingest.handle(topics.events('store-1', gatewayId), Buffer.from(JSON.stringify(event)))).toBe(zoneId === 'pharmacy' ? 'sensitive-zone' : 'no-campaign');
}

type Live = { storeId: string; atMs: number; k: number; windowS: number; eventsPerSecond: number; zones: { zoneId: string; name: string; sensitive: boolean; occupancy: number | null; eventsPerSecond: number | null }[] };
const live = async (token = t.adminToken): Promise<Live> => expectStatus<Live>(await t.app.inject({ method: 'GET', url: '/v1/admin/stores/store-1/live', headers: bearer(token) }), 200);

describe('GET /v1/admin/stores/:storeId/live', () => {
  it('shows occupancy from k shoppers up, never for a sensitive zone, and events per second over the last 10 s', async () => {
    // 11 in the entrance, 3 at the bakery (fewer than k), 10 in the pharmacy (sensitive).
    for (const shopper of shoppers.slice(0, 11)) await heard(shopper, 'entrance');
    for (const shopper of shoppers.slice(11, 14)) await heard(shopper, 'bakery');
    for (const shopper of shoppers.slice(14, 24)) await heard(shopper, 'pharmacy');

    const view = await live();
    expect(view).toEqual({
      storeId: 'store-1', atMs: t.deps.now(), k: 10, windowS: 10,
      zones: [
        { zoneId: 'bakery', name: 'Bakery', sensitive: false, occupancy: null, eventsPerSecond: null },
        { zoneId: 'entrance', name: 'Entrance', sensitive: false, occupancy: 11, eventsPerSecond: 1.1 },
        { zoneId: 'pharmacy', name: 'Pharmacy', sensitive: true, occupancy: null, eventsPerSecond: null },
      ],
      // The entrance's 11 and the bakery's 3: nothing of the pharmacy, so its rate cannot be worked out by subtraction.
      eventsPerSecond: 1.4,
    });
  });

  it('names no shopper and no pseudonym, and is never cached', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/v1/admin/stores/store-1/live', headers: bearer(t.adminToken) });
    expect(response.headers['cache-control']).toBe('no-store');
    for (const shopper of shoppers) {
      expect(response.body).not.toContain(shopper.shopperId);
      expect(response.body).not.toContain(shopper.tokens.eidAt(nowS()).toString('hex'));
    }
  });

  it('lets the rates fall back once the window has passed, and drops shoppers not heard for the arbiter\'s stale time', async () => {
    t.clock.advance(11 * SECOND_MS);
    const quiet = await live();
    expect(quiet.eventsPerSecond).toBe(0);
    expect(quiet.zones.find((z) => z.zoneId === 'entrance')).toMatchObject({ occupancy: 11, eventsPerSecond: 0 });

    // 15 minutes unheard (no dwell, no exit): their claims are stale, whether or not the sweep has run yet.
    t.clock.advance(15 * 60 * SECOND_MS);
    expect((await live()).zones.find((z) => z.zoneId === 'entrance')).toMatchObject({ occupancy: null, eventsPerSecond: null });
  });

  it('is open to the roles that watch stores, not to the auditor, and answers 404 for an unknown store', async () => {
    expect((await live((await createApiKey(t, 'analyst')).key)).storeId).toBe('store-1');
    expect((await live((await createApiKey(t, 'marketer')).key)).storeId).toBe('store-1');
    const auditor = await t.app.inject({ method: 'GET', url: '/v1/admin/stores/store-1/live', headers: bearer((await createApiKey(t, 'auditor')).key) });
    expect(auditor.statusCode).toBe(403);
    const missing = await t.app.inject({ method: 'GET', url: '/v1/admin/stores/nowhere/live', headers: bearer(t.adminToken) });
    expect(missing.statusCode).toBe(404);
  });
});
