import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { topics } from '#gateway/protocol/index.ts';
import { hashToken } from '#server/identity.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import type { Store } from '#server/store/store.ts';
import type { Scenario } from '#simulator/scenario.ts';
import { startSimulatedStore, type SimulatedStore } from '#simulator/store/simulated-store.ts';
import { openTestStore, type TestStore } from './open-test-store.ts';
import { captureMqtt, clearRetained, startTestBroker, type CapturedMessage, type TestBroker } from './start-broker.ts';

// The whole system for an end-to-end test, every hop real: a broker (the embedded aedes, or the
// machine's at MQTT_URL), a Store (SQLite, or PostgreSQL at DATABASE_URL), a server, and a simulated
// store with its gateways and apps — plus a capture of every MQTT message under the store's topics.
// close() undoes it all, clearing the retained topics it left on a shared broker.

export type TestSystem = {
  broker: TestBroker;
  testStore: TestStore;
  server: RunningServer;
  sim: SimulatedStore;
  adminToken: string;
  masterKey: Buffer;
  /** Every message published under the scenario's store, in order. */
  captured: CapturedMessage[];
  close(): Promise<void>;
};

export async function startTestSystem(options: {
  scenario: Scenario;
  logger: Logger;
  broker?: 'embedded' | 'external';
  store?: 'sqlite' | 'postgres';
  /** Wraps the Store before the server gets it (a test that makes the storage fail mid-run); the test store itself stays unwrapped. */
  wrapStore?: (store: Store) => Store;
}): Promise<TestSystem> {
  const { scenario, logger } = options;
  const external = (options.broker ?? (process.env.MQTT_URL ? 'external' : 'embedded')) === 'external' ? process.env.MQTT_URL : undefined;
  const storeKind = options.store ?? (process.env.DATABASE_URL ? 'postgres' : 'sqlite');
  const masterKey = randomBytes(32);
  const adminToken = randomBytes(24).toString('base64url');
  const closers: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    while (closers.length > 0) await closers.pop()!().catch(() => undefined);
  };
  try {
    const broker = await startTestBroker({ external });
    closers.push(() => broker.close());
    if (broker.kind === 'external') {
      closers.push(() => clearRetained(broker.url, scenario.zones.flatMap((z) => [topics.config(scenario.store.id, z.gateway.id), topics.status(scenario.store.id, z.gateway.id)])));
    }
    const capture = await captureMqtt(broker.url, `vicino/v1/stores/${scenario.store.id}/#`);
    closers.push(() => capture.close());
    const testStore = await openTestStore(storeKind);
    closers.push(() => testStore.close());
    const server = await startServer({
      store: options.wrapStore ? options.wrapStore(testStore.store) : testStore.store, masterKey, logger, adminTokenHash: hashToken(adminToken), mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' },
    });
    closers.push(() => server.close());
    const sim = await startSimulatedStore({ scenario, serverUrl: server.url, adminToken, mqttUrl: broker.url, logger });
    closers.push(() => sim.stop());
    return { broker, testStore, server, sim, adminToken, masterKey, captured: capture.messages, close };
  } catch (error) {
    await close();
    throw error;
  }
}
