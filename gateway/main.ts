import { readFile } from 'node:fs/promises';
import closeWithGrace from 'close-with-grace';
import { pino, type Logger } from 'pino';
import { loadGatewayConfig, type GatewayConfig } from './config.ts';
import { deriveEventMacKey } from './protocol/index.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { createGatewayMetrics } from './ops/gateway-metrics.ts';
import { startOpsServer, type OpsServer } from './ops/ops-server.ts';
import { createDiskOutbox } from './publisher/disk-outbox.ts';
import { createMqttPublisher } from './publisher/mqtt-publisher.ts';
import { createNobleScanner, type NobleLike, type NobleScanner } from './scanner/noble-scanner.ts';
import { openHciNoble } from './scanner/noble-hci.ts';
import { createReplayScanner } from './scanner/replay-scanner.ts';
import { ScannerUnavailableError, type Scanner } from './scanner/scanner.ts';

// Composition root of a real in-store gateway: config file + environment → noble on the HCI socket,
// disk outbox + MQTT publisher → gateway, and the local ops port (/health, /metrics). Signals stop it
// cleanly (open presences are closed with exits; what the broker has not acknowledged stays on disk).

export const GATEWAY_VERSION = '0.1.0';

export async function runGateway(options: { configPath: string; env: Record<string, string | undefined>; logger?: Logger }): Promise<number> {
  const logger = options.logger ?? pino({ level: options.env.LOG_LEVEL ?? 'info', base: { component: 'gateway' } });
  let text: string;
  try {
    text = await readFile(options.configPath, 'utf8');
  } catch (error) {
    console.error(`vicino gateway: cannot read ${options.configPath}: ${(error as Error).message}`);
    return 2;
  }
  const loaded = loadGatewayConfig(options.env, text, options.configPath);
  if (!loaded.ok) {
    for (const problem of loaded.problems) console.error(`vicino gateway: ${problem}`);
    return 2;
  }
  const { config } = loaded;

  // A noble adapter is opened here once, so a machine without Bluetooth (or without the capability) is
  // told at once, before anything connects; with onStartupProblem "retry" the scanner keeps trying
  // instead. A replay scanner reads and checks its capture file here, for the same reason.
  let scanner: Scanner;
  let nobleStats: NobleScanner['stats'] | undefined;
  try {
    if (config.scanner.kind === 'replay') {
      scanner = createReplayScanner({ file: config.scanner.file, speed: config.scanner.speed, now: Date.now, logger: logger.child({ component: 'replay' }) });
    } else {
      const noble = openNobleScanner(config.scanner, logger);
      nobleStats = () => noble.stats();
      scanner = noble;
    }
  } catch (error) {
    if (error instanceof ScannerUnavailableError) {
      console.error(`vicino gateway: ${error.message}`);
      return 3;
    }
    throw error;
  }

  const startedAtMs = Date.now();
  // The publisher's heartbeat and the metrics read the gateway's counters: only once it runs, so after
  // `gateway` below is set.
  const publisher = createMqttPublisher({
    url: config.mqtt.url, username: config.credentials.username, password: config.credentials.password,
    storeId: config.storeId, gatewayId: config.gatewayId, logger: logger.child({ component: 'mqtt' }), now: Date.now, version: GATEWAY_VERSION,
    messageKey: deriveEventMacKey(config.secretBytes, config.gatewayId),
    outbox: createDiskOutbox({
      dir: config.outbox.dir, maxBytes: config.outbox.maxBytes, fsyncIntervalMs: config.outbox.fsyncIntervalMs,
      now: Date.now, logger: logger.child({ component: 'outbox' }),
    }),
    maxEventAgeS: config.outbox.maxAgeS,
    maxLatencyMs: config.batching.maxLatencyMs,
    heartbeatIntervalMs: config.heartbeat.intervalS * 1_000,
    heartbeatCounts: () => {
      const s = gateway.stats();
      const droppedAdvertisements = Object.values(s.dropped).reduce((sum, n) => sum + n, 0);
      return { advertisements: s.advertisements, droppedAdvertisements, transitions: s.transitions, tracked: s.tracked, present: s.present };
    },
  });
  const metrics = createGatewayMetrics({
    pipeline: () => gateway.stats(),
    publisher: () => publisher.stats(),
    mapSizes: [() => ({ 'scanner-addresses': scanner.stats().trackedAddresses }), ...(nobleStats ? [() => {
      // noble's own per-address maps and the extended-advertising fragments the tap holds (both bounded).
      const s = nobleStats();
      return { 'noble-cache': s.nobleCacheEntries, 'extended-fragments': s.extendedFragmentsPending };
    }] : [])],
  });
  const gateway: Gateway = createGateway({
    scanner,
    publisher,
    logger,
    now: Date.now,
    settings: { storeId: config.storeId, gatewayId: config.gatewayId, zoneId: config.zoneId, secret: config.secretBytes, presence: config.presence },
    onPublished: (event, causedByMs) => metrics.observePublish(event.kind, Date.now() - causedByMs),
  });
  try {
    await gateway.start();
  } catch (error) {
    if (error instanceof ScannerUnavailableError) {
      console.error(`vicino gateway: ${error.message}`);
      return 3;
    }
    throw error;
  }
  let ops: OpsServer | undefined;
  if (config.http.port > 0) {
    try {
      ops = await startOpsServer({
        host: config.http.host, port: config.http.port, logger: logger.child({ component: 'ops' }), registry: metrics.registry, now: Date.now,
        health: () => {
          const g = gateway.stats();
          const p = publisher.stats();
          return {
            scanner: g.scanning ? 'scanning' : 'stopped', brokerConnected: p.connected, brokerDownSinceMs: p.disconnectedSinceMs,
            outboxDepth: p.pending, outboxBytes: p.outboxBytes, outboxMaxBytes: config.outbox.maxBytes,
            lastAdvertisementAtMs: g.lastAdvertisementAtMs, startedAtMs,
          };
        },
      });
    } catch (error) {
      console.error(`vicino gateway: cannot listen on http ${config.http.host}:${config.http.port} (${(error as Error).message}); set http.port in the config file (0 turns the ops port off)`);
      await gateway.stop();
      return 2;
    }
  }
  const stats = setInterval(() => logger.info(gateway.stats(), 'gateway stats'), 60_000);
  stats.unref();
  // SIGINT/SIGTERM or an uncaught error: publish the exits of open presences, flush the outbox, then exit.
  closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
    if (err) logger.error({ err: { message: err.message, stack: err.stack } }, 'fatal error; shutting down');
    else logger.info({ signal }, 'shutting down');
    clearInterval(stats);
    await ops?.close();
    await gateway.stop();
  });
  return 0;
}

type NobleScannerSettings = Extract<GatewayConfig['scanner'], { kind: 'noble-hci' }>;

/** The noble scanner on the HCI socket; throws ScannerUnavailableError when onStartupProblem is "exit" and the adapter cannot be opened. */
function openNobleScanner(settings: NobleScannerSettings, logger: Logger): NobleScanner {
  const openAdapter = (): NobleLike => openHciNoble({ deviceId: settings.deviceId, extended: settings.extended });
  return createNobleScanner({
    noble: settings.onStartupProblem === 'exit' ? openAdapter() : openAdapter,
    now: Date.now,
    logger: logger.child({ component: 'scanner' }),
    watchdogMs: settings.watchdogMs,
    backoff: { initialDelayMs: 1_000, maxDelayMs: settings.retryMaxDelayMs },
    onStartupProblem: settings.onStartupProblem === 'exit' ? 'fail' : 'retry',
  });
}
