import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { createStoreBrokerAccess, SERVER_MQTT_USERNAME } from '#server/broker/broker-access.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { decodeKey } from '#server/config.ts';
import { createSealer } from '#server/domain/sealing.ts';
import { hashToken } from '#server/identity.ts';
import { createMetrics, type Metrics } from '#server/metrics.ts';
import { loadOrCreateSecretFile, newAdminToken, newMasterKey } from '#server/secret-files.ts';
import { ensureDemoConsoleUsers } from './demo-console-users.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import type { Store } from '#server/store/store.ts';
import { parseScenario, type Scenario } from './scenario.ts';
import { startSimulatedStore, type LiveStats, type SimulatedStore, type SimulationSummary } from './store/simulated-store.ts';

// `npm start` / `vicino demo`: the whole system in one process on embedded defaults — an aedes broker
// on a real TCP port, the embedded database, the server, and a simulated store whose gateways run
// the real gateway code on noble. Everything talks over real MQTT and HTTP.

export const DEFAULT_SCENARIO = new URL('./scenarios/demo.json', import.meta.url);

export type DemoOptions = {
  durationMs?: number;
  json: boolean;
  /** Explicit ports are used or fail; defaults fall back to a free port when taken. */
  port?: number;
  mqttPort?: number;
  mqttUrl?: string;
  dataDir: string;
  scenarioPath?: string;
  /**
   * Writes the run's ground truth — every address, token, identity key, beacon identifier, epoch key and
   * gateway secret it involved — to this file (mode 0600), so a test or an auditor can search every
   * output for them. It holds secrets: keep it out of the data directory you share.
   */
  groundTruthPath?: string;
  /** The epoch-key period (default: a day). A few seconds makes keys rotate and die within a short run. */
  epochRotationS?: number;
  /** Opens the Store; the metrics take the PostgreSQL adapter's batch observations. */
  openStore: (metrics: Metrics) => Promise<Store>;
  masterKey?: string;
  logLevel: string;
  /** Interrupt source (SIGINT); resolves when the user asks to stop. */
  interrupted: Promise<void>;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
};

export type DemoSummary = SimulationSummary & { durationS: number; serverUrl: string; mqttUrl: string; store: string };

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`--duration "${text}" is not a duration; use e.g. 20s, 500ms, 2m`);
  const value = Number(match[1]);
  return value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

/** Starts on the wanted port; a *default* port that is taken falls back to a free one, an explicit one fails. */
export async function listenWithFallback<T>(wanted: number | undefined, fallbackDefault: number, start: (port: number) => Promise<T>): Promise<{ value: T; movedFrom?: number }> {
  try {
    return { value: await start(wanted ?? fallbackDefault) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || wanted !== undefined) throw error;
    return { value: await start(0), movedFrom: fallbackDefault };
  }
}

export async function loadScenarioFile(path: string | URL): Promise<Scenario> {
  const parsed = parseScenario(await readFile(path, 'utf8'), String(path));
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return parsed.scenario;
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const { out, err } = options;
  const logFile = join(options.dataDir, 'vicino.log');
  const serverPasswordFile = join(options.dataDir, 'mqtt-server.password');
  const logger: Logger = pino({ level: options.logLevel, base: { component: 'demo' } }, pino.destination({ dest: logFile, mkdir: true, sync: false }));
  const scenario = await loadScenarioFile(options.scenarioPath ?? DEFAULT_SCENARIO);
  const masterKey = decodeKey(options.masterKey ?? (await loadOrCreateSecretFile(join(options.dataDir, 'master.key'), newMasterKey)).value, 'master key');
  const adminToken = (await loadOrCreateSecretFile(join(options.dataDir, 'admin.token'), newAdminToken)).value;
  const say = (line: string): void => void (options.json ? err : out).write(`${line}\n`);

  let broker: EmbeddedBroker | undefined;
  let store: Store | undefined;
  let server: RunningServer | undefined;
  let simulation: SimulatedStore | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let keyWatch: NodeJS.Timeout | undefined;
  const epochKeysSeen = new Map<string, string>();
  const startedMs = Date.now();
  // Whatever started is closed again, in reverse order, if a later step fails.
  const closeAll = async (): Promise<void> => {
    await simulation?.stop().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    logger.flush();
  };
  try {
    // The store comes first: the embedded broker checks each gateway's login against it.
    const metrics = createMetrics({ defaultMetrics: true });
    store = await options.openStore(metrics);
    const openedStore = store;
    const consoleLogins = await ensureDemoConsoleUsers(openedStore, options.dataDir);
    let mqttUrl = options.mqttUrl;
    let serverLogin: { username: string; password: string } | undefined;
    if (mqttUrl === undefined) {
      // SEC-1 on the embedded broker too: gateways log in with their derived credentials, the server with a per-run password.
      serverLogin = { username: SERVER_MQTT_USERNAME, password: randomBytes(24).toString('base64url') };
      // Written 0600 for whoever wants to watch the wire with mosquitto_sub; it is good for this run only.
      await writeFile(serverPasswordFile, `${serverLogin.password}\n`, { mode: 0o600 });
      await chmod(serverPasswordFile, 0o600);
      const access = createStoreBrokerAccess({ store: openedStore, sealer: createSealer(masterKey), serverPassword: serverLogin.password, metrics });
      const started = await listenWithFallback(options.mqttPort, 1883, (port) => startEmbeddedBroker({ port, logger: logger.child({ component: 'broker' }), access }));
      broker = started.value;
      mqttUrl = broker.url;
      if (started.movedFrom) say(`MQTT port ${started.movedFrom} is taken (a local Mosquitto?); the embedded broker listens on ${broker.port} instead.`);
    }
    const mqtt = { url: mqttUrl, ...serverLogin };
    const startedServer = await listenWithFallback(options.port, 3000, (port) =>
      startServer({ store: openedStore, masterKey, logger, metrics, adminTokenHash: hashToken(adminToken), mqtt, http: { port, host: '127.0.0.1' },
        epochRotationS: options.epochRotationS }));
    server = startedServer.value;
    if (startedServer.movedFrom) say(`HTTP port ${startedServer.movedFrom} is taken; the server listens on ${server.port} instead.`);

    say(`Vicino demo: ${scenario.store.name} — ${scenario.zones.length} zones, each with a gateway running the real gateway code on noble`);
    const watch = `mosquitto_sub -h 127.0.0.1 -p ${broker?.port} -u ${SERVER_MQTT_USERNAME} -P "$(cat ${serverPasswordFile})" -t 'vicino/#' -v`;
    say(`  MQTT broker  ${mqttUrl}${broker ? ` (embedded aedes, per-gateway logins and ACLs; ${watch})` : ''}`);
    say(`  Server       ${server.url}  (store: ${store.kind}, data in ${options.dataDir}, logs in ${logFile})`);
    say(`  Console      ${server.url}/console`);
    for (const login of consoleLogins) {
      say(login.usable
        ? `               log in as ${login.username.padEnd(8)} ${login.password}  (${login.role}; ${login.passwordFile})`
        : `               ${login.username} exists with another password (vicino admin create makes a new user)`);
    }
    if (options.epochRotationS !== undefined) say(`  Epoch keys   rotate every ${options.epochRotationS} s (instead of daily); an aged key is destroyed`);
    // Every epoch key of the run goes into the ground truth, including those that rotate out and die in between.
    const openedServer = server;
    if (options.groundTruthPath) keyWatch = setInterval(() => {
      for (const key of openedServer.keys.liveKeys()) epochKeysSeen.set(key.keyId, key.key.toString('hex'));
    }, 100);

    simulation = await startSimulatedStore({ scenario, serverUrl: server.url, adminToken, mqttUrl, logger: logger.child({ component: 'simulator' }) });
    const sim = simulation;
    say(`  Shoppers     ${sim.apps().length} with the app (registered and consented through the API), ${sim.devices().length} other phones and foreign beacons`);
    say(options.durationMs ? `Running for ${Math.round(options.durationMs / 1000)} s. Ctrl-C stops early.` : 'Press Ctrl-C to stop.');

    // Promotions as they arrive, then a live status line.
    const interactive = !options.json && out.isTTY === true;
    let statusShown = false;
    sim.onPromotion((promotion) => {
      if (options.json) return;
      if (statusShown && interactive) out.write('\r\x1b[2K');
      const latency = promotion.latencyMs === undefined ? '' : `, ${promotion.latencyMs} ms after the advertisement`;
      out.write(`  ↳ promotion "${promotion.title}" → an opted-in app in ${promotion.zoneId}${latency}\n`);
    });
    let last: LiveStats = sim.stats();
    let lastMs = Date.now();
    const statusLine = (): string => {
      const s = sim.stats();
      const dt = Math.max(0.001, (Date.now() - lastMs) / 1000);
      const line = `[${Math.round((Date.now() - startedMs) / 1000).toString().padStart(3)} s] in store ${s.shoppersInStore} · ${Math.round((s.advertisements - last.advertisements) / dt)} adv/s · ${((s.presenceEvents - last.presenceEvents) / dt).toFixed(1)} presence ev/s · ${s.promotionsDelivered} promotions delivered`;
      last = s;
      lastMs = Date.now();
      return line;
    };
    let ticks = 0;
    statusTimer = setInterval(() => {
      ticks += 1;
      if (interactive) {
        out.write(`\r\x1b[2K${statusLine()}`);
        statusShown = true;
      } else if (!options.json && ticks % 5 === 0) out.write(`${statusLine()}\n`);
    }, 1000);

    await Promise.race([options.interrupted, ...(options.durationMs ? [new Promise((resolve) => setTimeout(resolve, options.durationMs).unref())] : [])]);
    if (interactive) out.write('\n');
    say('Stopping: gateways close open presences, the server drains, the database closes…');
  } catch (error) {
    await closeAll();
    throw error;
  } finally {
    if (statusTimer) clearInterval(statusTimer);
    if (keyWatch) clearInterval(keyWatch);
  }

  for (const key of server.keys.liveKeys()) epochKeysSeen.set(key.keyId, key.key.toString('hex'));
  const summary = await simulation.stop();
  // Let the exits the gateways just published reach the server before it closes.
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (options.groundTruthPath) {
    for (const key of server.keys.liveKeys()) epochKeysSeen.set(key.keyId, key.key.toString('hex'));
    const sealer = createSealer(masterKey);
    const gatewaySecrets = (await store.listGateways()).map((g) => sealer.open(g.secretSealed, `gateway-secret:${g.id}`).toString('hex'));
    const truth = {
      ...simulation.groundTruth(), epochKeys: [...epochKeysSeen.values()], epochKeyIds: [...epochKeysSeen.keys()],
      gatewaySecrets, masterKey: masterKey.toString('hex'),
    };
    await writeFile(options.groundTruthPath, `${JSON.stringify(truth, null, 1)}\n`, { mode: 0o600 });
    await chmod(options.groundTruthPath, 0o600);
    say(`Ground truth (${truth.addresses.length} addresses, ${truth.eids.length} tokens, ${truth.identityKeys.length} identity keys, ${truth.epochKeys.length} epoch keys) written to ${options.groundTruthPath}`);
  }
  await server.close();
  await broker?.close();
  await store.close();
  logger.flush();
  return { ...summary, durationS: Math.round((Date.now() - startedMs) / 100) / 10, serverUrl: server.url, mqttUrl: options.mqttUrl ?? broker!.url, store: store.kind };
}
