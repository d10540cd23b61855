import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import { identifierOf } from '#gateway/gateway.ts';
import { PresenceEventSchema, topics } from '#gateway/protocol/index.ts';
import { createSealer } from '#server/domain/sealing.ts';
import { hashToken } from '#server/identity.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import { startSimulatedStore, type SimulatedStore, type SimulationSummary } from '#simulator/store/simulated-store.ts';
import { createLogCapture } from '../helpers/log-capture.ts';
import { addressForms, encodingsOf, findLeaks, type Secret } from '../helpers/leak-search.ts';
import { openTestStore, type TestStore } from '../helpers/open-test-store.ts';
import { aTestScenario } from '../helpers/scenarios.ts';
import { captureMqtt, clearRetained, startTestBroker, type CapturedMessage, type TestBroker } from '../helpers/start-broker.ts';

// The whole path, every hop real: the virtual radio emits a noble 'discover' → the gateway decodes the
// packet's own bytes, tracks presence, pseudonymises → MQTT QoS 1 → the server validates, resolves
// only consenting shoppers, matches the campaign → WebSocket → the app acknowledges.
// It runs on the embedded defaults (aedes + SQLite) always, and on real infrastructure — the
// machine's broker (MQTT_URL, Mosquitto in CI) and PostgreSQL (DATABASE_URL) — when those are set.

type Setup = { broker: 'embedded' | 'external'; store: 'sqlite' | 'postgres' };
const setups: Setup[] = [
  { broker: 'embedded', store: 'sqlite' },
  ...(process.env.MQTT_URL ? [{ broker: 'external', store: process.env.DATABASE_URL ? 'postgres' : 'sqlite' } as const] : []),
];

it('runs on Mosquitto and PostgreSQL in CI (MQTT_URL and DATABASE_URL must be set there)', () => {
  if (process.env.CI === 'true') {
    expect(process.env.MQTT_URL, 'CI must provide MQTT_URL so this suite also runs on Mosquitto').toBeTruthy();
    expect(process.env.DATABASE_URL, 'CI must provide DATABASE_URL so this suite also runs on PostgreSQL').toBeTruthy();
  }
  expect(setups[0]).toEqual({ broker: 'embedded', store: 'sqlite' });
});

describe.each(setups)('advertisement to promotion on the $broker broker with the $store store', (setup) => {
  let broker: TestBroker;
  let testStore: TestStore;
  let store: TestStore['store'];
  let server: RunningServer;
  let sim: SimulatedStore;
  let summary: SimulationSummary;
  let captured: CapturedMessage[];
  const masterKey = randomBytes(32);
  const adminToken = randomBytes(24).toString('base64url');
  const logs = createLogCapture('debug');
  const scenario = aTestScenario({ withdrawingApps: 1, withdrawAfterS: 1.5, redeemProbability: 1, redeemAfterS: [0, 0.5] });
  const onAir = { addresses: new Set<string>(), frames: [] as Buffer[] };

  beforeAll(async () => {
    broker = await startTestBroker({ external: setup.broker === 'external' ? process.env.MQTT_URL : undefined });
    const capture = await captureMqtt(broker.url, `vicino/v1/stores/${scenario.store.id}/#`);
    captured = capture.messages;
    testStore = await openTestStore(setup.store);
    store = testStore.store;
    server = await startServer({ store, masterKey, logger: logs.logger, adminTokenHash: hashToken(adminToken), mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' } });
    sim = await startSimulatedStore({ scenario, serverUrl: server.url, adminToken, mqttUrl: broker.url, logger: logs.logger });
    for (const gateway of sim.gateways()) {
      // Each report as the controller hands it to the host, as the gateway's scanner taps it.
      gateway.bindings._hci.on('leAdvertisingReport', (_status: number, _type: number, address: string, _addressType: string, eir: Buffer) => {
        onAir.addresses.add(address);
        if (onAir.frames.length < 5_000) onAir.frames.push(eir);
      });
    }
    const optedIn = sim.apps().filter((a) => a.kind === 'opted-in');
    await vi.waitFor(() => {
      if (!optedIn.every(({ app }) => app.shown.length > 0)) throw new Error('waiting for every consenting app to receive a promotion');
    }, { timeout: 30_000, interval: 100 });
    // Let the withdrawal happen and traffic continue after it.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    summary = await sim.stop();
    // The exits the gateways published on stop reach the server.
    await vi.waitFor(async () => {
      if ((await store.counts()).presenceEvents === 0) throw new Error('waiting for presence events');
    }, { timeout: 5_000 });
    await capture.close();
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
    await server?.close();
    await testStore?.close();
    if (broker?.kind === 'external') {
      await clearRetained(broker.url, scenario.zones.flatMap((z) => [topics.config(scenario.store.id, z.gateway.id), topics.status(scenario.store.id, z.gateway.id)]));
    }
    await broker?.close();
  });

  it('delivers the campaign to every consenting app, once per trigger, with "why am I seeing this"', () => {
    for (const { app } of sim.apps().filter((a) => a.kind === 'opted-in')) {
      expect(app.shown.length).toBeGreaterThanOrEqual(1);
      const [promotion] = app.shown;
      expect(promotion!.campaignId).toBe('welcome');
      expect(promotion!.couponCode).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
      expect(promotion!.why).toMatchObject({ storeId: scenario.store.id, zoneId: 'entrance', purposes: expect.arrayContaining(['presence', 'promotions']) });
      // Shown once each, even if a frame was delivered again.
      expect(new Set(app.shown.map((p) => p.id)).size).toBe(app.shown.length);
    }
    expect(summary.promotionsDelivered).toBeGreaterThanOrEqual(4);
  });

  it('sends nothing to apps without marketing consent, nor after a withdrawal is acknowledged', () => {
    for (const { app } of sim.apps().filter((a) => a.kind === 'presence-only')) expect(app.shown).toEqual([]);
    expect(summary.promotionsToNonConsenting).toBe(0);
    // Every promotion shown went to the till: redeemed, or refused because its shopper withdrew consent (the coupon was cancelled).
    expect(summary.redemptions.redeemed).toBeGreaterThanOrEqual(1);
    expect(Object.keys(summary.redemptions.refused).filter((code) => code !== 'COUPON_CANCELLED')).toEqual([]);
  });

  it('keeps no row for anyone without consent, and no promotion row for presence-only shoppers', async () => {
    const apps = sim.apps();
    const shopperRows = await testStore.rows('SELECT id FROM shoppers');
    // Only app users exist as shoppers: phones without the app and foreign beacons leave no row at all.
    expect(shopperRows.map((r) => String(r.id)).sort()).toEqual(apps.map((a) => a.app.shopperId).sort());
    const promoted = new Set((await testStore.rows('SELECT DISTINCT shopper_id AS id FROM promotions')).map((r) => String(r.id)));
    for (const { kind, app } of apps) {
      if (kind === 'presence-only') expect(promoted.has(app.shopperId)).toBe(false);
    }
    const presenceShoppers = new Set((await testStore.rows('SELECT DISTINCT shopper_id AS id FROM presence_events')).map((r) => String(r.id)));
    expect(presenceShoppers.size).toBeGreaterThan(0);
    for (const id of presenceShoppers) expect(apps.some((a) => a.app.shopperId === id)).toBe(true);
  });

  it('measures advertisement-to-app latency for every promotion, well under a second', () => {
    expect(summary.latencyMs.samples).toBe(summary.promotionsDelivered);
    expect(summary.latencyMs.p99).not.toBeNull();
    expect(summary.latencyMs.p99!).toBeLessThan(1_000);
  });

  it('publishes only schema-valid, pseudonymous presence at QoS 1, and drops foreign devices at the gateway', () => {
    const presence = captured.filter((m) => m.topic.endsWith('/events'));
    expect(presence.length).toBeGreaterThan(0);
    for (const message of presence) expect(PresenceEventSchema.safeParse(JSON.parse(String(message.payload))).success).toBe(true);
    expect(summary.dropped['not-a-beacon']).toBeGreaterThan(0);
    expect(summary.dropped['unregistered-beacon']).toBeGreaterThan(0);
  });

  it('lets no raw identifier or key appear in any MQTT message, log line or database row, in any encoding', async () => {
    const secrets = await rawIdentifiers();
    expect(secrets.length).toBeGreaterThan(20);
    const corpus = [
      ...captured.map((m) => `${m.topic} ${m.payload.toString('utf8')}`),
      ...logs.text(),
      ...(await testStore.dump()),
    ];
    expect(corpus.length).toBeGreaterThan(50);
    expect(findLeaks(corpus, secrets).map((l) => l.what)).toEqual([]);
  });

  /** Every raw identifier heard on air and every key involved, in every encoding we can think of. */
  async function rawIdentifiers(): Promise<Secret[]> {
    const out: Secret[] = [];
    const bytes = (what: string, value: Buffer): void => void out.push(...encodingsOf(what, value));
    for (const address of onAir.addresses) out.push(...addressForms(address));
    for (const frame of onAir.frames) {
      for (const f of decodeAdvertisement(frame).frames) {
        if (f.type === 'eddystone-eid') bytes('EID', Buffer.from(f.eid, 'hex'));
        if (f.type === 'ibeacon') {
          out.push({ what: 'iBeacon UUID', value: f.uuid }, { what: 'iBeacon UUID', value: f.uuid.toUpperCase() });
          const id = identifierOf(f)!.bytes;
          bytes('iBeacon UUID/major/minor', id);
          bytes('iBeacon UUID', id.subarray(0, 16));
          out.push({ what: 'iBeacon major/minor', value: `"major":${f.major}` });
        }
        if (f.type === 'altbeacon') out.push({ what: 'AltBeacon ID', value: f.id1 }, { what: 'AltBeacon ID', value: f.id1.replaceAll('-', '') });
        if (f.type === 'eddystone-uid') bytes('Eddystone UID', Buffer.from(f.namespace + f.instance, 'hex'));
      }
    }
    const sealer = createSealer(masterKey);
    for (const { app } of sim.apps()) {
      const shopper = await store.getShopper(app.shopperId);
      bytes('identity key', sealer.open(shopper!.identityKeySealed!, `identity-key:${shopper!.id}`));
    }
    for (const gateway of await store.listGateways()) bytes('gateway secret', sealer.open(gateway.secretSealed, `gateway-secret:${gateway.id}`));
    for (const key of server.keys.liveKeys()) bytes('epoch key', key.key);
    bytes('master key', masterKey);
    return out;
  }
});
