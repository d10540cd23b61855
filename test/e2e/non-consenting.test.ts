import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { counterValue } from '#server/metrics.ts';
import { hashToken } from '#server/identity.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import { startSimulatedStore, type SimulatedStore, type SimulationSummary } from '#simulator/store/simulated-store.ts';
import { createLogCapture } from '../helpers/log-capture.ts';
import { openTestStore, type TestStore } from '../helpers/open-test-store.ts';
import { aTestScenario } from '../helpers/scenarios.ts';
import { startTestBroker, type TestBroker } from '../helpers/start-broker.ts';

// CON-1 and ID-2, end to end: apps that registered but never gave presence consent, and Eddystone-EID
// tags of some other system, advertise in the store. Their tokens look like app tokens, so gateways
// forward their pseudonyms; the server must resolve none of them, and leave no row and no log line —
// only a counter moves.

describe('tokens of shoppers without presence consent', () => {
  let broker: TestBroker;
  let testStore: TestStore;
  let server: RunningServer;
  let sim: SimulatedStore;
  let summary: SimulationSummary;
  const adminToken = randomBytes(24).toString('base64url');
  const serverLogs = createLogCapture('debug');
  const simLogs = createLogCapture('info');
  const scenario = aTestScenario({ optedInApps: 0, presenceOnlyApps: 0, registeredWithoutConsentApps: 3, phonesWithoutApp: 0, foreignBeacons: 8 });
  let rowsBefore: string[];
  let logLinesBefore: number;
  let unresolvedBefore: number;

  beforeAll(async () => {
    broker = await startTestBroker();
    testStore = await openTestStore('sqlite');
    server = await startServer({
      store: testStore.store, masterKey: randomBytes(32), logger: serverLogs.logger, adminTokenHash: hashToken(adminToken),
      mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' },
    });
    sim = await startSimulatedStore({ scenario, serverUrl: server.url, adminToken, mqttUrl: broker.url, logger: simLogs.logger });
    // Everything set up (registrations included) is the baseline; from here on only their advertising happens.
    rowsBefore = (await testStore.dump()).filter((row) => !row.includes('"last_seen_at_ms"'));
    logLinesBefore = serverLogs.text().length;
    unresolvedBefore = await counterValue(server.metrics.presence, { outcome: 'unresolved' });
    await vi.waitFor(async () => {
      // Gateways publish transitions, not packets: one enter per token (3 apps, 2 foreign EID tags) at least.
      if ((await counterValue(server.metrics.presence, { outcome: 'unresolved' })) < 5) throw new Error('waiting for their tokens to reach the server');
    }, { timeout: 20_000, interval: 100 });
  }, 40_000);

  afterAll(async () => {
    summary = await sim?.stop();
    await server?.close();
    await testStore?.close();
    await broker?.close();
  });

  it('reach the server only as a counter: no new row, no log line, nothing resolved', async () => {
    const rowsAfter = (await testStore.dump()).filter((row) => !row.includes('"last_seen_at_ms"'));
    expect(rowsAfter).toEqual(rowsBefore);
    expect(serverLogs.text().slice(logLinesBefore)).toEqual([]);
    expect(server.resolver.size().shoppers).toBe(0);
    expect(await counterValue(server.metrics.presence, { outcome: 'unresolved' })).toBeGreaterThanOrEqual(Math.max(5, unresolvedBefore));
    expect(await testStore.rows('SELECT event_id FROM presence_events')).toEqual([]);
    expect(await testStore.rows('SELECT id FROM promotions')).toEqual([]);
  });

  it('never reach the apps as promotions', async () => {
    summary ??= await sim.stop();
    expect(summary.promotionsDelivered).toBe(0);
    for (const { app } of sim.apps()) expect(app.shown).toEqual([]);
  });
});
