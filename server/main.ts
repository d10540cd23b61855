import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { pino, type Logger } from 'pino';
import { decodeKey, loadServerEnv, storeLocation, type ServerEnv } from './config.ts';
import { hashToken } from './identity.ts';
import { batchMetrics, createMetrics, type Metrics } from './metrics.ts';
import { DEFAULT_CONSENT_AGES } from './domain/age-gate.ts';
import { loadOrCreateSecretFile, newAdminToken, newMasterKey } from './secret-files.ts';
import { startServer, type RunningServer } from './server.ts';
import { openSqliteStore } from './store/sqlite-store.ts';
import type { Store } from './store/store.ts';

// Composition root of a server instance: environment → adapters → startServer. Several instances
// may run against one PostgreSQL and one broker (MQTT_SHARED_GROUP).

export async function openStore(env: Pick<ServerEnv, 'DATABASE_URL' | 'DATA_DIR'> & Partial<Pick<ServerEnv, 'DATABASE_POOL_MAX'>>, metrics?: Metrics): Promise<Store> {
  const location = storeLocation(env);
  if (location.kind === 'postgres') {
    const { openPostgresStore } = await import('./store/postgres-store.ts');
    return openPostgresStore(location.url, { poolMax: env.DATABASE_POOL_MAX, ...(metrics === undefined ? {} : { observeBatches: batchMetrics(metrics) }) });
  }
  return openSqliteStore(location.path);
}

export async function loadSecrets(env: ServerEnv, logger: Logger): Promise<{ masterKey: Buffer; adminToken: string }> {
  const masterKeyText = env.VICINO_MASTER_KEY ?? (await loadOrCreateSecretFile(join(env.DATA_DIR, 'master.key'), newMasterKey)).value;
  let adminToken = env.ADMIN_TOKEN;
  if (adminToken === undefined) {
    const file = join(env.DATA_DIR, 'admin.token');
    const loaded = await loadOrCreateSecretFile(file, newAdminToken);
    adminToken = loaded.value;
    if (loaded.created) logger.info({ file }, 'admin token created');
  }
  return { masterKey: decodeKey(masterKeyText, 'VICINO_MASTER_KEY'), adminToken };
}

export async function runServer(environment: Record<string, string | undefined>, overrides: { port?: number } = {}): Promise<number> {
  const loaded = loadServerEnv(environment);
  if (!loaded.ok) {
    for (const problem of loaded.problems) console.error(`vicino server: ${problem}`);
    return 2;
  }
  const env = loaded.env;
  const logger = pino({ level: env.LOG_LEVEL, base: { component: 'server' }, redact: ['req.headers.authorization', '*.token', '*.secret'] });
  let store: Store | undefined;
  let server: RunningServer | undefined;
  try {
    const { masterKey, adminToken } = await loadSecrets(env, logger);
    const metrics = createMetrics({ defaultMetrics: true });
    store = await openStore(env, metrics);
    server = await startServer({
      store, metrics, masterKey, logger, adminTokenHash: hashToken(adminToken),
      mqtt: { url: env.MQTT_URL, username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD, sharedGroup: env.MQTT_SHARED_GROUP, clientId: env.MQTT_CLIENT_ID, presenceConnections: env.MQTT_PRESENCE_CONNECTIONS, maxInFlight: env.MQTT_MAX_IN_FLIGHT },
      http: { port: overrides.port ?? env.PORT, host: env.HOST }, epochRotationS: env.EPOCH_ROTATION_S, publicMqttUrl: env.GATEWAY_MQTT_URL,
      resolverPrivateKey: env.RESOLVER_PRIVATE_KEY === undefined ? undefined : Buffer.from(env.RESOLVER_PRIVATE_KEY, 'hex'),
      controller: { name: env.CONTROLLER_NAME, contact: env.CONTROLLER_CONTACT },
      retention: { presenceEventsMs: env.RETENTION_PRESENCE_H * 3_600_000, deliveryRecordsMs: env.RETENTION_DELIVERY_DAYS * 86_400_000 },
      appTokenMaxAgeMs: env.APP_TOKEN_MAX_AGE_DAYS * 86_400_000,
      analyticsK: env.ANALYTICS_K,
      consoleSessions: { idleTimeoutMs: env.CONSOLE_IDLE_MINUTES * 60_000, maxAgeMs: env.CONSOLE_SESSION_HOURS * 3_600_000, secureCookie: env.CONSOLE_SECURE_COOKIE },
      ...(env.WEBHOOK_URL === undefined || env.WEBHOOK_SECRET === undefined ? {} : { webhook: { url: env.WEBHOOK_URL, secret: env.WEBHOOK_SECRET, maxAttempts: env.WEBHOOK_MAX_ATTEMPTS } }),
      consent: {
        validityMs: env.CONSENT_VALIDITY_DAYS * 86_400_000,
        agePolicy: { byCountry: { ...DEFAULT_CONSENT_AGES, ...env.CONSENT_AGE_BY_COUNTRY }, defaultAge: env.CONSENT_AGE_DEFAULT },
      },
    });
  } catch (error) {
    await store?.close();
    const code = (error as NodeJS.ErrnoException).code;
    console.error(`vicino server: ${code === 'EADDRINUSE' ? `port ${overrides.port ?? env.PORT} is in use; set PORT to another` : (error as Error).message}`);
    return 1;
  }
  console.log(`vicino server on ${server.url} (store: ${store.kind}, broker: ${env.MQTT_URL.replace(/\/\/[^@]*@/, '//***@')}); console at ${server.url}/console`);
  const running = server;
  const openStoreHandle = store;
  // SIGINT/SIGTERM or an uncaught error: drain HTTP and MQTT, close the store, then exit (forced after 10 s).
  closeWithGrace({ delay: 10_000, logger: { error: (message: unknown) => logger.error({ err: String(message) }, 'shutdown') } }, async ({ err, signal }) => {
    if (err) logger.error({ err: { message: err.message, stack: err.stack } }, 'fatal error; shutting down');
    else logger.info({ signal }, 'shutting down');
    await running.close();
    await openStoreHandle.close();
  });
  return 0;
}
