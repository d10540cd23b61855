import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '#gateway/gateway.ts';
import { GatewayConfigMessageSchema } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import type { Scanner } from '#gateway/scanner/scanner.ts';
import { encodeEddystoneEid } from '#simulator/radio/encoders.ts';
import { bearer, buildTestApp, expectStatus, givenStoreWithGateway, type TestApp } from '#test/helpers/build-test-app.ts';

// Per-gateway presence settings, from the admin API to a running gateway: stored (migration v5), put on
// the gateway's retained config message, and applied there without a restart.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

const settingsUrl = (storeId: string, gatewayId: string): string => `/v1/admin/stores/${storeId}/gateways/${gatewayId}/settings`;
const idleScanner: Scanner = { start: async () => undefined, stop: async () => undefined, stats: () => ({ reports: 0, trackedAddresses: 0 }) };

describe('PUT /v1/admin/stores/:store/gateways/:gateway/settings', () => {
  it('stores the settings and republishes the config, which a gateway applies at once', async () => {
    t = await buildTestApp();
    const file = await givenStoreWithGateway(t, { storeId: 'shop-1', gatewayId: 'gw-1' });
    const before = t.published.length;
    const put = await t.app.inject({ method: 'PUT', url: settingsUrl('shop-1', 'gw-1'), headers: bearer(t.adminToken), payload: { presence: { minSightings: 1, enterRssiDbm: -70 } } });
    expect(expectStatus(put, 200)).toMatchObject({ gatewayId: 'gw-1', presence: { minSightings: 1, enterRssiDbm: -70 } });
    expect(t.published.length).toBe(before + 1);
    const config = GatewayConfigMessageSchema.parse(t.published.at(-1));
    expect(config).toMatchObject({ gatewayId: 'gw-1', presence: { minSightings: 1, enterRssiDbm: -70 } });
    expect(expectStatus(await t.app.inject({ method: 'GET', url: settingsUrl('shop-1', 'gw-1'), headers: bearer(t.adminToken) }), 200)).toMatchObject({ presence: { minSightings: 1, enterRssiDbm: -70 } });

    // The gateway, on its provisioned secret: one sighting is now enough for an enter.
    const publisher = createMemoryPublisher();
    const gateway = createGateway({
      scanner: idleScanner, publisher, logger: pino({ level: 'silent' }), now: t.clock.now,
      settings: { storeId: file.storeId, gatewayId: file.gatewayId, zoneId: file.zoneId, secret: Buffer.from(file.secret, 'base64url') },
    });
    gateway.applyConfig(config);
    expect(gateway.stats().liveKeys).toBe(1);
    gateway.handle({ data: encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 }), rssiDbm: -60, receivedAtMs: t.clock.now() });
    expect(publisher.events.map((e) => e.kind)).toEqual(['enter']);

    // Withdrawn settings: the next config carries none, and the gateway is back on its own.
    expectStatus(await t.app.inject({ method: 'PUT', url: settingsUrl('shop-1', 'gw-1'), headers: bearer(t.adminToken), payload: { presence: {} } }), 200);
    expect(t.published.at(-1)?.presence).toEqual({});
  });

  it('names every field at fault', async () => {
    t = await buildTestApp();
    await givenStoreWithGateway(t, { storeId: 'shop-2', gatewayId: 'gw-2' });
    const bad = await t.app.inject({
      method: 'PUT', url: settingsUrl('shop-2', 'gw-2'), headers: bearer(t.adminToken),
      payload: { presence: { minSightings: 0, awayTimeoutMs: 'soon', colour: 'blue' } },
    });
    const { error } = expectStatus<{ error: { code: string; fields: string[] } }>(bad, 400);
    expect(error.code).toBe('INVALID_BODY');
    expect(error.fields).toEqual(expect.arrayContaining(['presence.minSightings', 'presence.awayTimeoutMs', 'presence.colour']));
    const inverted = await t.app.inject({ method: 'PUT', url: settingsUrl('shop-2', 'gw-2'), headers: bearer(t.adminToken), payload: { presence: { enterRssiDbm: -90, exitRssiDbm: -80 } } });
    expect(expectStatus<{ error: { fields: string[] } }>(inverted, 400).error.fields).toEqual(['presence.exitRssiDbm']);
  });

  it('answers 404 for a gateway of another store and 401 without the admin token', async () => {
    t = await buildTestApp();
    await givenStoreWithGateway(t, { storeId: 'shop-3', gatewayId: 'gw-3' });
    await givenStoreWithGateway(t, { storeId: 'shop-4', gatewayId: 'gw-4' });
    expectStatus(await t.app.inject({ method: 'PUT', url: settingsUrl('shop-3', 'gw-4'), headers: bearer(t.adminToken), payload: { presence: {} } }), 404);
    expectStatus(await t.app.inject({ method: 'PUT', url: settingsUrl('shop-3', 'gw-3'), payload: { presence: {} } }), 401);
  });
});
