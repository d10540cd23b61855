import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { topics } from '#gateway/protocol/index.ts';
import { createStoreBrokerAccess, SERVER_MQTT_USERNAME } from '#server/broker/broker-access.ts';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { createSealer } from '#server/domain/sealing.ts';
import { hashToken } from '#server/identity.ts';
import { createMetrics } from '#server/metrics.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import { dropPostgresSchemas, openPostgresStore } from '#server/store/postgres-store.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { launchCampaign } from '../store/simulated-store.ts';
import { startInlineLoad, startLoadProcess, type LoadProcess } from './e2e-load-client.ts';
import { commitTimer, timedStore, type StoreTimings } from './timed-store.ts';

// One whole Vicino for the end-to-end bench (e2e-bench.ts), every hop real: a broker, a Store, the
// server (ingest, resolver, consent, campaigns, WebSocket delivery) — in this process, as `npm start`
// runs them — and, in a load process of its own (e2e-load.ts, through e2e-load-client.ts), consenting
// virtual apps that register, consent and connect through the real API, and gateways running the real
// gateway code (decode → pseudonymise → presence → sign → MQTT publisher) fed the reports a radio would
// hand them. So the server's event loop serves the server alone. Two kinds:
//   embedded   what `npm start` runs: aedes in this process (per-gateway logins, SEC-1) + a SQLite file
//   mosquitto  the machine's Mosquitto (MQTT_URL) + PostgreSQL (DATABASE_URL) in a schema of its own,
//              or a SQLite file when PostgreSQL cannot be reached (`storeKind` says which)
// Everything the stack creates is namespaced by a random `bench-…` store ID (and, on PostgreSQL, a
// `vicino_bench_…` schema), and close() removes it: temp dirs, the schema, the retained topics.

export type StackKind = 'embedded' | 'mosquitto';

export type BenchStackOptions = {
  kind: StackKind;
  shoppers: number;
  gateways: number;
  logger: Logger;
  mqttUrl?: string;
  databaseUrl?: string;
  /** The gateways' batching bound (gateway/config.ts batching.maxLatencyMs; 5 ms by default, as shipped). */
  gatewayMaxLatencyMs?: number;
  /**
   * Server instances sharing the presence topic (MQTT 5 shared subscription, as server/main.ts runs with
   * MQTT_SHARED_GROUP), each with its own Store connection; Mosquitto only (aedes speaks MQTT 3.1.1). 1 by default.
   */
  serverInstances?: number;
  /** Presence connections per instance in the shared subscription (MQTT_PRESENCE_CONNECTIONS); Mosquitto only. 1 by default. */
  presenceConnections?: number;
  /** Aborting stops registering shoppers (startBenchStack then cleans up and rejects). */
  signal?: AbortSignal;
  /** Progress while shoppers register. */
  print?: (line: string) => void;
  /** Where the gateways and apps run: a load process of their own (the default), or this process, beside the server. */
  load?: LoadPlacement;
};

export type LoadPlacement = 'process' | 'inline';

export type BenchStack = {
  kind: StackKind;
  storeKind: 'sqlite' | 'postgres';
  brokerLabel: string;
  /** Where the store is, for the report (a path or a schema; no credentials). */
  storeLabel: string;
  mqttUrl: string;
  /** The first instance: the apps and the admin API use it. */
  server: RunningServer;
  instances: number;
  presenceConnections: number;
  storeId: string;
  /** The gateways and the apps, in their own process. */
  load: LoadProcess;
  gateways: number;
  /** Consenting shoppers registered so far. */
  shoppers(): number;
  /** Time spent in each Store method by the server, since the last reset (timed-store.ts). */
  storeTimings: StoreTimings;
  resetStoreTimings(): void;
  /** Registers, consents and connects more shoppers (in the load process) until there are `count`; resolves with how many it added. */
  ensureShoppers(count: number): Promise<number>;
  close(): Promise<void>;
};

export const DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** The enter campaign: caps loose enough that every arbitrated entry of a consenting shopper gets a promotion. */
const CAMPAIGN = {
  name: 'Bench welcome', priority: 100, trigger: { kind: 'enter' },
  message: { title: 'Bench offer', body: 'An offer for the end-to-end bench.', validForS: 3_600 },
  caps: { perShopper: { count: 1_000, periodS: 60 }, minGapS: 0, perShopperDaily: 1_000, cooldownS: 0 },
};

/** Rejects when `signal` aborts (the work itself is abandoned to close()). */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  const { logger } = options;
  const print = options.print ?? (() => undefined);
  const id = randomBytes(4).toString('hex');
  const storeId = `bench-${id}`;
  const masterKey = randomBytes(32);
  const adminToken = randomBytes(24).toString('base64url');
  const metrics = createMetrics();
  const closers: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    while (closers.length > 0) await closers.pop()!().catch((error: Error) => logger.error({ err: error.message }, 'bench cleanup step failed'));
  };
  try {
    // The store. A SQLite file in a temp dir, or a PostgreSQL schema of its own.
    let store: Store | undefined;
    // Where the server's Store time goes (timed-store.ts), the SQLite group commits included.
    const timings: StoreTimings = new Map();
    let storeKind: 'sqlite' | 'postgres' = 'sqlite';
    let storeLabel = '';
    let sqlitePath: string | undefined;
    if (options.kind === 'mosquitto') {
      const url = options.databaseUrl ?? DEFAULT_DATABASE_URL;
      const schema = `vicino_bench_${id}`;
      try {
        store = await openPostgresStore(url, { schema });
        storeKind = 'postgres';
        storeLabel = `PostgreSQL ${describeDatabaseUrl(url)}, schema ${schema}`;
        closers.push(() => dropPostgresSchemas(url, [schema]));
        closers.push(() => store!.close());
      } catch (error) {
        print(`PostgreSQL at ${new URL(url).host} cannot be used (${(error as Error).message}); this stack runs on a SQLite file instead`);
      }
    }
    if (store === undefined) {
      const dir = await mkdtemp(join(tmpdir(), 'vicino-bench-'));
      closers.push(() => rm(dir, { recursive: true, force: true }));
      sqlitePath = join(dir, 'vicino.db');
      store = openSqliteStore(sqlitePath, { observeCommits: commitTimer(timings) });
      storeLabel = `SQLite file in ${dir} (WAL, synchronous NORMAL)`;
      const opened = store;
      closers.push(() => opened.close());
    }
    const openedStore = store;

    // The broker.
    let mqttUrl: string;
    let serverLogin: { username: string; password: string } | undefined;
    let brokerLabel: string;
    if (options.kind === 'embedded') {
      // As the demo runs it: gateways log in with their derived credentials, the server with a per-run password.
      serverLogin = { username: SERVER_MQTT_USERNAME, password: randomBytes(24).toString('base64url') };
      const access = createStoreBrokerAccess({ store: openedStore, sealer: createSealer(masterKey), serverPassword: serverLogin.password, metrics });
      const broker = await startEmbeddedBroker({ port: 0, logger: logger.child({ component: 'broker' }), access });
      closers.push(() => broker.close());
      mqttUrl = broker.url;
      brokerLabel = 'aedes in this process (per-gateway logins and ACLs)';
    } else {
      mqttUrl = options.mqttUrl ?? DEFAULT_MQTT_URL;
      brokerLabel = `Mosquitto at ${new URL(mqttUrl).host}`;
    }

    const instances = options.serverInstances ?? 1;
    if (instances > 1 && options.kind !== 'mosquitto') throw new RangeError('several server instances need MQTT 5 shared subscriptions: the mosquitto stack only');
    const timed = timedStore(openedStore, timings);
    const common = { masterKey, logger, metrics, adminTokenHash: hashToken(adminToken), http: { port: 0, host: '127.0.0.1' } };
    const presenceConnections = options.presenceConnections ?? 1;
    if (presenceConnections > 1 && options.kind !== 'mosquitto') throw new RangeError('several presence connections need MQTT 5 shared subscriptions: the mosquitto stack only');
    const sharedGroup = instances > 1 || presenceConnections > 1 ? `vicino-bench-${id}` : undefined;
    const server = await startServer({ ...common, store: timed.store, mqtt: { url: mqttUrl, ...serverLogin, sharedGroup, presenceConnections }, instanceId: 'i1' });
    closers.push(() => server.close());
    for (let i = 2; i <= instances; i++) {
      // Another instance as another process would run it: its own Store connection, the same database.
      const own = storeKind === 'postgres' ? await openPostgresStore(options.databaseUrl ?? DEFAULT_DATABASE_URL, { schema: `vicino_bench_${id}` }) : openSqliteStore(sqlitePath!, { observeCommits: commitTimer(timings) });
      closers.push(() => own.close());
      const other = await startServer({ ...common, store: timedStore(own, timed.timings).store, mqtt: { url: mqttUrl, sharedGroup, presenceConnections }, instanceId: `i${i}` });
      closers.push(() => other.close());
    }

    // Provision through the admin API, as an operator would.
    const admin = async <T>(method: string, path: string, body: unknown): Promise<T> => {
      const response = await fetch(`${server.url}${path}`, {
        method, headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify(body),
      });
      const json = (await response.json()) as T & { error?: { message: string } };
      if (!response.ok) throw new Error(`${method} ${path} failed: HTTP ${response.status} ${json.error?.message ?? ''}`);
      return json;
    };
    const zoneIds = Array.from({ length: options.gateways }, (_, i) => `z${i + 1}`);
    await admin('PUT', `/v1/admin/stores/${storeId}`, { name: 'End-to-end bench', timezone: 'Europe/Rome', zones: zoneIds.map((zoneId) => ({ id: zoneId, name: zoneId })) });
    const credentials: { gatewayId: string; zoneId: string; secret: Buffer }[] = [];
    for (const zoneId of zoneIds) {
      // Gateway IDs are global on the server: the store's random ID keeps them apart from others on a shared broker.
      const gatewayId = `gw-${id}-${zoneId}`;
      const { config } = await admin<{ config: { secret: string } }>('POST', `/v1/admin/stores/${storeId}/gateways`, { id: gatewayId, zoneId, rotateSecret: true });
      credentials.push({ gatewayId, zoneId, secret: Buffer.from(config.secret, 'base64url') });
    }
    if (options.kind === 'mosquitto') {
      // Retained config and status topics would outlive the run on a shared broker.
      closers.push(() => clearRetained(mqttUrl, credentials.flatMap((c) => [topics.config(storeId, c.gatewayId), topics.status(storeId, c.gatewayId)])));
    }
    await launchCampaign({ serverUrl: server.url, adminToken }, `bench-welcome-${id}`, { ...CAMPAIGN, placement: { level: 'zones', storeId, zoneIds } });

    // The load process: the gateways (the real pipeline and MQTT publisher, fed by the bench; see
    // gateway.handle) and the consenting shoppers' apps (register, grant presence and promotions, open the
    // promotion stream). Closed first, so its apps and gateways leave before the server and broker do.
    // (Its start is not abandoned on abort: it takes a moment, and close() must find it.)
    const load = await (options.load === 'inline' ? startInlineLoad : startLoadProcess)({
      serverUrl: server.url, mqttUrl, storeId, gatewayMaxLatencyMs: options.gatewayMaxLatencyMs, logLevel: logger.level, print,
      gateways: credentials.map((c) => ({ gatewayId: c.gatewayId, zoneId: c.zoneId, secret: c.secret.toString('base64url') })),
    });
    closers.push(() => load.close());
    let shoppers = 0;
    const ensureShoppers = async (count: number): Promise<number> => {
      const { added, total } = await unlessAborted(load.ensureShoppers(count), options.signal);
      shoppers = total;
      return added;
    };
    await ensureShoppers(options.shoppers);
    return {
      kind: options.kind, storeKind, brokerLabel, storeLabel, mqttUrl, server, instances, presenceConnections, storeId, load, gateways: credentials.length,
      shoppers: () => shoppers, storeTimings: timed.timings, resetStoreTimings: timed.reset, ensureShoppers, close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Removes retained messages (an empty retained payload clears the topic, [MQTT-3.3.1-10]). */
async function clearRetained(url: string, retainedTopics: readonly string[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: `vicino-bench-clear-${randomBytes(4).toString('hex')}`, reconnectPeriod: 0 });
  try {
    for (const topic of retainedTopics) await client.publishAsync(topic, '', { qos: 1, retain: true });
  } finally {
    await client.endAsync();
  }
}

/**
 * Where a PostgreSQL URL connects, without its password: "127.0.0.1:5432/test", or "Unix socket
 * /var/run/postgresql/test" for a socket directory given as the host (%2F-encoded) or as ?host=.
 */
export function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  const host = parsed.searchParams.get('host') ?? decodeURIComponent(parsed.hostname);
  const database = decodeURIComponent(parsed.pathname);
  return host.startsWith('/') ? `Unix socket ${host}, database ${database.slice(1)}` : `${parsed.host}${database}`;
}
