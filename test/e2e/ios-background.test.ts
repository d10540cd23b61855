import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashToken } from '#server/identity.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import { startSimulatedStore, type SimulatedStore, type SimulationSummary } from '#simulator/store/simulated-store.ts';
import { createLogCapture } from '../helpers/log-capture.ts';
import { openTestStore, type TestStore } from '../helpers/open-test-store.ts';
import { aTestScenario } from '../helpers/scenarios.ts';
import { captureMqtt, startTestBroker, type CapturedMessage, type TestBroker } from '../helpers/start-broker.ts';

// The iOS path end to end: every app runs on iOS in the background, so none advertises anything a gateway
// can read. Each monitors the store-beacon regions the server lists and reports entering and leaving a
// zone beacon's range over its authenticated API; the server turns a report into the same presence event,
// through the same consent checks. Consenting shoppers get the campaign; the others get nothing.

describe('iOS apps in the background, end to end', () => {
  let broker: TestBroker;
  let testStore: TestStore;
  let server: RunningServer;
  let sim: SimulatedStore;
  let summary: SimulationSummary;
  let captured: CapturedMessage[];
  const adminToken = randomBytes(24).toString('base64url');
  const logs = createLogCapture('info');
  const scenario = aTestScenario({
    optedInApps: 2, presenceOnlyApps: 1, registeredWithoutConsentApps: 1, phonesWithoutApp: 0, foreignBeacons: 0, iosBackgroundShare: 1,
  });

  beforeAll(async () => {
    broker = await startTestBroker({ external: process.env.MQTT_URL });
    const capture = await captureMqtt(broker.url, `vicino/v1/stores/${scenario.store.id}/gateways/+/events`);
    captured = capture.messages;
    testStore = await openTestStore(process.env.DATABASE_URL ? 'postgres' : 'sqlite');
    server = await startServer({
      store: testStore.store, masterKey: randomBytes(32), logger: logs.logger, adminTokenHash: hashToken(adminToken),
      mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' },
    });
    sim = await startSimulatedStore({ scenario, serverUrl: server.url, adminToken, mqttUrl: broker.url, logger: logs.logger });
    const optedIn = sim.apps().filter((a) => a.kind === 'opted-in');
    await vi.waitFor(() => {
      if (!optedIn.every(({ app }) => app.shown.length > 0)) throw new Error('waiting for every opted-in iOS app to receive a promotion');
      // The app without consent must have tried, or its silence would prove nothing.
      if (sim.sightings().refused === 0) throw new Error('waiting for the unconsented app to report a sighting');
    }, { timeout: 30_000, interval: 100 });
    summary = await sim.stop();
    await capture.close();
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
    await server?.close();
    await testStore?.close();
    await broker?.close();
  });

  it('delivers the campaign to every consenting iOS app, with nothing on the air for a gateway to forward', () => {
    expect(sim.apps().every((a) => a.ios)).toBe(true);
    for (const { app } of sim.apps().filter((a) => a.kind === 'opted-in')) {
      expect(app.shown.length).toBeGreaterThan(0);
      expect(app.shown[0]!.why).toMatchObject({ zoneId: 'entrance' });
    }
    expect(captured).toEqual([]);
    expect(summary.promotionsToNonConsenting).toBe(0);
  });

  it('sends nothing to an app without promotions consent, though its presence is recorded', async () => {
    const [presenceOnly] = sim.apps().filter((a) => a.kind === 'presence-only');
    expect(presenceOnly!.app.shown).toEqual([]);
    expect(await testStore.rows(`SELECT event_id FROM presence_events WHERE shopper_id = '${presenceOnly!.app.shopperId}'`)).not.toEqual([]);
  });

  it('refuses every report of an app without presence consent, recording nothing for it', async () => {
    const [unconsented] = sim.apps().filter((a) => a.kind === 'registered-no-consent');
    expect(unconsented!.app.shown).toEqual([]);
    expect(sim.sightings().refused).toBeGreaterThan(0);
    expect(await testStore.rows(`SELECT event_id FROM presence_events WHERE shopper_id = '${unconsented!.app.shopperId}'`)).toEqual([]);
    expect(await testStore.rows(`SELECT id FROM promotions WHERE shopper_id = '${unconsented!.app.shopperId}'`)).toEqual([]);
  });
});
