import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runGateway } from '#gateway/main.ts';
import { computeEid } from '#gateway/protocol/index.ts';
import { openStore, runServer } from '#server/main.ts';
import { pino } from 'pino';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUDIT_USAGE, runAuditCommand } from './cli/audit.ts';
import { ADMIN_USAGE, runAdminCommand } from './cli/admin.ts';
import { CONSENT_USAGE, runConsentCommand } from './cli/consent.ts';
import { runDecodeCommand } from './cli/decode.ts';
import { ROPA_USAGE, runRopaCommand } from './cli/ropa.ts';
import { runSchemasCommand, SCHEMAS_USAGE } from './cli/schemas.ts';
import { addToMosquittoAclFile, addToMosquittoPasswordFile, checkMosquittoPasswd, requestGatewayConfig } from './cli/provision-gateway.ts';
import { loadScenarioFile, parseDuration, runDemo, DEFAULT_SCENARIO } from './demo.ts';
import { startSimulatedStore } from './store/simulated-store.ts';
import { isStoreScenario, runSimulateDay, ScenarioError } from './cli/simulate-day.ts';

// The `vicino` command: the composition root for every program. It reads argv and the environment
// and hands plain options to the programs.

const USAGE = `vicino — privacy-first Bluetooth proximity promotions

Usage:
  vicino demo [--duration 20s] [--json] [--port N] [--mqtt-port N] [--mqtt-url URL] [--data-dir DIR] [--scenario FILE]
              [--ground-truth FILE] [--epoch-rotation 10s]
                   everything in one process: embedded broker, database, server and a simulated store;
                   --epoch-rotation shortens the daily epoch-key period so a short run shows keys rotate and die
  vicino server    the server (configured by environment: PORT, DATABASE_URL, MQTT_URL, … — see README)
  vicino gateway --config FILE
                   an in-store gateway on a BlueZ adapter (needs CAP_NET_RAW)
  vicino gateway provision --store S --gateway G --zone Z [--server URL] [--admin-token T]
                   [--rotate-secret] [--mosquitto-passwd FILE [--mosquitto-acl FILE]]
                   provision a gateway: prints its config file (with its secret, shown once) and adds
                   its MQTT login, derived from that secret, to a Mosquitto password file, and its own
                   topics to the ACL file beside it
  vicino simulate --scenario FILE [--out DIR] [--json] [--seed N] [--duration 1h] [--tolerance 10] [--min-visit 20]
                  [--btsnoop DIR] [--uncalibrated] [--realtime] [--server URL [--admin-token T]]
                   a store scenario (version 2, e.g. simulator/scenarios/supermarket.json): a store day on a
                   virtual clock through the real gateway code, scored against ground truth; prints a table
                   (or JSON) and writes report.json, report.txt and floor.svg to --out; --btsnoop writes each
                   gateway's radio traffic as a capture; --uncalibrated runs the gateways on their defaults;
                   --realtime paces the day by the wall clock (a demo to watch); --server URL runs it in real
                   time against that server and the broker (MQTT_URL): apps on the shopper API, promotions,
                   redemptions, and none to a shopper without marketing consent
  vicino simulate --scenario FILE --server URL [--admin-token T] [--duration 60s] [--json]
                   a live scenario (version 1, like the demo's): a simulated store in real time against a
                   running server and broker (MQTT_URL)
  vicino decode HEX… | vicino decode - [--manufacturer] | vicino decode --btsnoop FILE [--show-address]
                   decode advertisements, manufacturer data or a btsnoop HCI capture (one JSON object per
                   advertisement; '-' reads hex lines from stdin; see vicino decode --help)
  vicino eid --identity-key HEX --k K --time T
                   the Eddystone-EID for an identity key at Unix time T
  vicino bench     run the benchmarks (see docs/benchmarks.md)
  ${AUDIT_USAGE.trimEnd()}
  ${ADMIN_USAGE.trimEnd()}
  ${CONSENT_USAGE.trimEnd()}
  ${ROPA_USAGE.trimEnd()}
  ${SCHEMAS_USAGE.trimEnd()}
`;

type Env = Record<string, string | undefined>;

class UsageError extends Error {}

function interruptSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      resolve();
      // A second Ctrl-C while shutting down forces the exit.
      process.once('SIGINT', () => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

function options<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>>(args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const int = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError(`${name} must be a port number 0–65535, got "${value}"`);
  return n;
};

async function demo(args: string[], env: Env): Promise<number> {
  const { values } = options(args, {
    duration: { type: 'string' }, json: { type: 'boolean' }, port: { type: 'string' }, 'mqtt-port': { type: 'string' },
    'mqtt-url': { type: 'string' }, 'data-dir': { type: 'string' }, scenario: { type: 'string' }, 'ground-truth': { type: 'string' },
    'epoch-rotation': { type: 'string' },
  });
  const rotationMs = values['epoch-rotation'] === undefined ? undefined : parseDuration(values['epoch-rotation']);
  if (rotationMs !== undefined && (rotationMs < 4_000 || rotationMs % 1000 !== 0)) {
    throw new UsageError(`--epoch-rotation must be whole seconds, at least 4s, got "${values['epoch-rotation']}"`);
  }
  const dataDir = values['data-dir'] ?? env.DATA_DIR ?? './data';
  const summary = await runDemo({
    durationMs: values.duration === undefined ? undefined : parseDuration(values.duration),
    json: values.json === true,
    port: int(values.port, '--port'),
    mqttPort: int(values['mqtt-port'], '--mqtt-port'),
    mqttUrl: values['mqtt-url'],
    dataDir,
    scenarioPath: values.scenario,
    groundTruthPath: values['ground-truth'],
    epochRotationS: rotationMs === undefined ? undefined : rotationMs / 1000,
    openStore: (metrics) => openStore({ DATABASE_URL: env.DATABASE_URL, DATA_DIR: dataDir }, metrics),
    masterKey: env.VICINO_MASTER_KEY,
    logLevel: env.LOG_LEVEL ?? 'info',
    interrupted: interruptSignal(),
    out: process.stdout,
    err: process.stderr,
  });
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`\nSummary\n`);
    for (const [key, value] of Object.entries(summary)) process.stdout.write(`  ${key.padEnd(26)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}\n`);
  }
  return summary.promotionsToNonConsenting === 0 ? 0 : 1;
}

/** --admin-token, else ADMIN_TOKEN, else the file the server writes (DATA_DIR/admin.token). */
async function adminTokenFor(given: string | undefined, env: Env, purpose: string): Promise<string> {
  const token = given ?? env.ADMIN_TOKEN ?? (await readFile(`${env.DATA_DIR ?? './data'}/admin.token`, 'utf8').catch(() => '')).trim();
  if (token === '') throw new UsageError(`the admin token is needed to ${purpose}: pass --admin-token or set ADMIN_TOKEN (the server writes it to DATA_DIR/admin.token)`);
  return token;
}

const serverUrlFor = (given: string | undefined, env: Env): string => given ?? env.VICINO_SERVER_URL ?? 'http://127.0.0.1:3000';

/** A number option: undefined when absent, a UsageError naming it when not a number in range. */
function numberOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number ${min}–${max}, got "${value}"`);
  return n;
}

async function simulate(args: string[], env: Env): Promise<number> {
  const { values } = options(args, {
    scenario: { type: 'string' }, server: { type: 'string' }, 'admin-token': { type: 'string' }, duration: { type: 'string' }, json: { type: 'boolean' },
    out: { type: 'string' }, seed: { type: 'string' }, tolerance: { type: 'string' }, 'min-visit': { type: 'string' }, btsnoop: { type: 'string' },
    uncalibrated: { type: 'boolean' }, realtime: { type: 'boolean' },
  });
  const scenarioFile = values.scenario ?? fileURLToPath(DEFAULT_SCENARIO);
  const scenarioText = await readFile(scenarioFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the scenario ${scenarioFile}: ${error.code ?? error.message}`);
  });
  if (isStoreScenario(scenarioText)) {
    // With --server, the day runs against that server and the broker (MQTT_URL), in real time.
    const live = values.server === undefined ? undefined : {
      serverUrl: values.server, adminToken: await adminTokenFor(values['admin-token'], env, 'provision the simulated store'), mqttUrl: env.MQTT_URL ?? 'mqtt://127.0.0.1:1883',
    };
    const logger = pino({ level: env.LOG_LEVEL ?? 'warn', base: { component: 'simulator' } }, pino.destination(2));
    try {
      const report = await runSimulateDay({
        scenarioText, fileName: scenarioFile, json: values.json === true, outDir: values.out, logger,
        seed: numberOption('seed', values.seed, 0, 2 ** 53), durationS: values.duration === undefined ? undefined : parseDuration(values.duration) / 1000,
        toleranceS: numberOption('tolerance', values.tolerance, 0, 600), minVisitS: numberOption('min-visit', values['min-visit'], 1, 3_600),
        ...(values.btsnoop === undefined ? {} : { btsnoopDir: values.btsnoop }), ...(values.uncalibrated ? { calibrate: false } : {}),
        ...(values.realtime ? { realtime: true } : {}), ...(live === undefined ? {} : { live }),
        write: (text) => process.stdout.write(text), progress: (text) => process.stderr.write(text),
      });
      // Live: a promotion to a shopper without marketing consent fails the run, as in the demo.
      return (report.promotions?.toNonConsenting ?? 0) === 0 ? 0 : 1;
    } catch (error) {
      if (error instanceof ScenarioError) throw new UsageError(error.message);
      throw error;
    }
  }
  const serverUrl = serverUrlFor(values.server, env);
  const adminToken = await adminTokenFor(values['admin-token'], env, 'provision the simulated store');
  const mqttUrl = env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  const logger = pino({ level: env.LOG_LEVEL ?? 'info', base: { component: 'simulator' } }, pino.destination(2));
  const scenario = await loadScenarioFile(values.scenario ?? DEFAULT_SCENARIO);
  const sim = await startSimulatedStore({ scenario, serverUrl, adminToken, mqttUrl, logger });
  const interrupted = interruptSignal();
  const durationMs = values.duration === undefined ? undefined : parseDuration(values.duration);
  const progress = setInterval(() => {
    const s = sim.stats();
    process.stderr.write(`in store ${s.shoppersInStore} · ${s.advertisements} adv · ${s.presenceEvents} presence events · ${s.promotionsDelivered} promotions\n`);
  }, 5_000);
  await Promise.race([interrupted, ...(durationMs ? [new Promise((resolve) => setTimeout(resolve, durationMs))] : [])]);
  clearInterval(progress);
  const summary = await sim.stop();
  process.stdout.write(`${JSON.stringify(summary, null, values.json ? undefined : 2)}\n`);
  return summary.promotionsToNonConsenting === 0 ? 0 : 1;
}

async function provision(args: string[], env: Env): Promise<number> {
  const { values } = options(args, {
    store: { type: 'string' }, gateway: { type: 'string' }, zone: { type: 'string' }, server: { type: 'string' },
    'admin-token': { type: 'string' }, 'rotate-secret': { type: 'boolean' }, 'mosquitto-passwd': { type: 'string' },
    'mosquitto-acl': { type: 'string' },
  });
  const { store, gateway, zone } = values;
  if (store === undefined || gateway === undefined || zone === undefined) throw new UsageError('vicino gateway provision needs --store, --gateway and --zone');
  const passwordFile = values['mosquitto-passwd'];
  if (values['mosquitto-acl'] !== undefined && passwordFile === undefined) throw new UsageError('--mosquitto-acl goes with --mosquitto-passwd');
  // The ACL file beside the password file, as server/broker/mosquitto/mosquitto.conf lays them out.
  const aclFile = passwordFile === undefined ? undefined : (values['mosquitto-acl'] ?? join(dirname(passwordFile), 'acl'));
  if (passwordFile !== undefined && aclFile !== undefined) {
    await checkMosquittoPasswd();
    // Before anything is provisioned: a secret issued for a gateway that then cannot log in would be wasted.
    await access(aclFile, constants.R_OK | constants.W_OK).catch(() => {
      throw new UsageError(`cannot read and write the Mosquitto ACL file ${aclFile}: copy server/broker/mosquitto/acl there, or name it with --mosquitto-acl; nothing was provisioned`);
    });
  }
  const provisioned = await requestGatewayConfig({
    serverUrl: serverUrlFor(values.server, env), adminToken: await adminTokenFor(values['admin-token'], env, 'provision a gateway'),
    storeId: store, gatewayId: gateway, zoneId: zone, rotateSecret: values['rotate-secret'] === true,
  });
  // The config first: its secret is issued once, so it must not be lost if the password file cannot be written.
  process.stdout.write(`${JSON.stringify(provisioned.config, null, 2)}\n`);
  process.stderr.write(`vicino: gateway ${gateway} provisioned in store ${store}; stdout is its config file and holds its secret (shown once): keep it 0600\n`);
  if (passwordFile !== undefined) {
    await addToMosquittoPasswordFile(passwordFile, provisioned.credentials);
    await addToMosquittoAclFile(aclFile!, store, gateway);
    process.stderr.write(`vicino: added MQTT user ${provisioned.credentials.username} to ${passwordFile} and its topics to ${aclFile}; send Mosquitto a SIGHUP to reload them\n`);
  }
  return 0;
}

function eid(args: string[]): number {
  const { values } = options(args, { 'identity-key': { type: 'string' }, k: { type: 'string' }, time: { type: 'string' } });
  const key = values['identity-key'];
  if (key === undefined || !/^[0-9a-fA-F]{32}$/.test(key)) throw new UsageError('--identity-key must be 32 hex characters (16 bytes)');
  const k = Number(values.k ?? '10');
  if (!Number.isInteger(k) || k < 0 || k > 15) throw new UsageError(`--k must be an integer 0–15, got "${values.k}"`);
  const time = Number(values.time ?? Math.floor(Date.now() / 1000));
  if (!Number.isInteger(time) || time < 0 || time > 0xffffffff) throw new UsageError(`--time must be Unix seconds (a u32), got "${values.time}"`);
  process.stdout.write(`${computeEid(Buffer.from(key, 'hex'), k, time).toString('hex')}\n`);
  return 0;
}

export async function main(argv: string[], env: Env): Promise<void> {
  const [command, ...rest] = argv;
  // Output piped into `head` and the like: a closed pipe ends the command quietly, as it does for cat.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  let code: number;
  try {
    switch (command) {
      case 'demo':
        code = await demo(rest, env);
        break;
      case 'server': {
        const { values } = options(rest, { port: { type: 'string' } });
        code = await runServer(env, { port: int(values.port, '--port') });
        break;
      }
      case 'gateway': {
        if (rest[0] === 'provision') {
          code = await provision(rest.slice(1), env);
          break;
        }
        const { values } = options(rest, { config: { type: 'string' } });
        if (values.config === undefined) throw new UsageError('vicino gateway needs --config FILE (the console provisions one per gateway)');
        code = await runGateway({ configPath: values.config, env });
        break;
      }
      case 'simulate':
        code = await simulate(rest, env);
        break;
      case 'decode':
        code = await runDecodeCommand(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
        break;
      case 'eid':
        code = eid(rest);
        break;
      case 'audit':
        code = await runAuditCommand(rest, env, { stdout: process.stdout, stderr: process.stderr });
        break;
      case 'admin':
        code = await runAdminCommand(rest, env, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
        break;
      case 'consent':
        code = await runConsentCommand(rest, env, { stdout: process.stdout, stderr: process.stderr });
        break;
      case 'ropa':
        code = await runRopaCommand(rest, env, { stdout: process.stdout, stderr: process.stderr });
        break;
      case 'schemas':
        code = await runSchemasCommand({ stdout: process.stdout });
        break;
      case 'bench': {
        const { runBenchmarks } = await import('./bench/run.ts');
        code = await runBenchmarks(rest);
        break;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        code = command === undefined ? 2 : 0;
        break;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`vicino: ${error.message}\n\n${USAGE}`);
      code = 2;
    } else {
      process.stderr.write(`vicino ${command}: ${(error as Error).message}\n`);
      code = 1;
    }
  }
  process.exitCode = code;
}
