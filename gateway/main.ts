import { readFile } from 'node:fs/promises';
import closeWithGrace from 'close-with-grace';
import { pino, type Logger } from 'pino';
import { loadGatewayConfig } from './config.ts';
import { createGateway } from './gateway.ts';
import { createMqttPublisher } from './publisher/mqtt-publisher.ts';
import { createNobleScanner } from './scanner/noble-scanner.ts';
import { openHciNoble } from './scanner/noble-hci.ts';
import { createReplayScanner } from './scanner/replay-scanner.ts';
import { ScannerUnavailableError } from './scanner/scanner.ts';

// Composition root of a real in-store gateway: config file + environment → noble on the HCI socket,
// MQTT publisher → gateway. Signals stop it cleanly (open presences are closed with exits).

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

  let scanner;
  try {
    scanner = config.scanner.kind === 'replay'
      ? createReplayScanner({ file: config.scanner.file, speed: config.scanner.speed, now: Date.now, logger: logger.child({ component: 'replay' }) })
      : createNobleScanner({ noble: openHciNoble({ deviceId: config.scanner.deviceId, extended: config.scanner.extended }), now: Date.now });
  } catch (error) {
    if (error instanceof ScannerUnavailableError) {
      console.error(`vicino gateway: ${error.message}`);
      return 3;
    }
    throw error;
  }

  const gateway = createGateway({
    scanner,
    publisher: createMqttPublisher({
      url: config.mqtt.url, username: config.credentials.username, password: config.credentials.password,
      storeId: config.storeId, gatewayId: config.gatewayId, logger: logger.child({ component: 'mqtt' }), now: Date.now, version: GATEWAY_VERSION,
    }),
    logger,
    now: Date.now,
    settings: { storeId: config.storeId, gatewayId: config.gatewayId, zoneId: config.zoneId, secret: config.secretBytes, presence: config.presence },
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
  const stats = setInterval(() => logger.info(gateway.stats(), 'gateway stats'), 60_000);
  // SIGINT/SIGTERM or an uncaught error: publish the exits of open presences, flush the outbox, then exit.
  closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
    if (err) logger.error({ err: { message: err.message, stack: err.stack } }, 'fatal error; shutting down');
    else logger.info({ signal }, 'shutting down');
    clearInterval(stats);
    await gateway.stop();
  });
  return 0;
}
