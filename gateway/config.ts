import { join } from 'node:path';
import { z } from 'zod';
import { gatewayMqttCredentials, IdSchema, type MqttCredentials } from './protocol/index.ts';

// The gateway's own configuration file (the console's provisioning downloads one), plus the
// environment overrides a deployment may set. Every problem is reported at once.

const secretSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{22,}$|^[0-9a-f]{32,}$/, 'secret is the base64url or hex string the server issued (at least 128 bits)');

// Delivery and operations sections (item 9). Defaults make a provisioned file run as is.
const outboxSchema = z
  .object({
    /** Where the durable outbox keeps its segment files; $STATE_DIRECTORY/outbox under systemd, else ./gateway-outbox. */
    dir: z.string().min(1, 'outbox.dir must be a directory path').optional(),
    /** Bound on the outbox files; past it the oldest events go, each one counted. */
    maxBytes: z.number().int().min(65_536, 'outbox.maxBytes must be at least 65536').max(1 << 30).default(16 * 1024 * 1024),
    /** An event older than this is dropped, not sent: match the server's freshness window (120 s). */
    maxAgeS: z.number().int().min(1).max(86_400).default(120),
    /** At most this long between a write and its fsync (0: after every event). */
    fsyncIntervalMs: z.number().int().min(0).max(60_000).default(100),
  })
  .strict()
  .default({ maxBytes: 16 * 1024 * 1024, maxAgeS: 120, fsyncIntervalMs: 100 });

const batchingSchema = z
  .object({ maxLatencyMs: z.number().int().min(0).max(10_000).default(100) })
  .strict()
  .default({ maxLatencyMs: 100 });

const heartbeatSchema = z
  .object({ intervalS: z.number().int().min(5).max(3_600).default(60) })
  .strict()
  .default({ intervalS: 60 });

const httpSchema = z
  .object({
    /** The ops port (/health, /metrics) listens on loopback unless told otherwise. */
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 disables the ops server. */
    port: z.number().int().min(0).max(65_535).default(9464),
  })
  .strict()
  .default({ host: '127.0.0.1', port: 9464 });

export const GatewayFileSchema = z
  .object({
    storeId: IdSchema,
    gatewayId: IdSchema,
    zoneId: IdSchema,
    secret: secretSchema,
    mqtt: z
      .object({
        url: z.string().regex(/^(mqtts?|wss?|tcp|tls):\/\//, 'mqtt.url must start with mqtt://, mqtts://, ws:// or wss://'),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .strict(),
    scanner: z
      .object({
        kind: z.literal('noble-hci').default('noble-hci'),
        deviceId: z.number().int().nonnegative().optional(),
        extended: z.boolean().default(false),
      })
      .strict()
      .default({ kind: 'noble-hci', extended: false }),
    presence: z
      .object({
        enterRssiDbm: z.number().min(-127).max(20),
        exitRssiDbm: z.number().min(-127).max(20),
        minSightings: z.number().int().min(1).max(100),
        exitHoldMs: z.number().int().min(0),
        absenceTimeoutMs: z.number().int().min(1_000),
        dwellIntervalMs: z.number().int().min(1_000),
        maxTracked: z.number().int().min(10),
      })
      .partial()
      .strict()
      .default({}),
    // Delivery and operations (the outbox, batching, heartbeat and the local ops HTTP port).
    outbox: outboxSchema,
    batching: batchingSchema,
    heartbeat: heartbeatSchema,
    http: httpSchema,
  })
  .strict();
export type GatewayFile = z.infer<typeof GatewayFileSchema>;

export type GatewayConfig = Omit<GatewayFile, 'outbox'> & {
  outbox: GatewayFile['outbox'] & { dir: string };
  secretBytes: Buffer;
  /** The MQTT login to use: mqtt.username / mqtt.password where given, else derived from the secret (protocol/credentials.ts). */
  credentials: MqttCredentials;
};

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: string[] };

export function decodeSecret(secret: string): Buffer {
  return /^[0-9a-f]+$/.test(secret) && secret.length % 2 === 0 ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'base64url');
}

/**
 * Parses the file's text and applies MQTT_URL / MQTT_USERNAME / MQTT_PASSWORD from the environment;
 * the outbox defaults to $STATE_DIRECTORY/outbox (systemd's StateDirectory=).
 * Explicit credentials (environment, then file) win over the ones derived from the secret.
 */
export function loadGatewayConfig(env: Record<string, string | undefined>, fileText: string, fileName = 'gateway config'): ConfigResult {
  let json: unknown;
  try {
    json = JSON.parse(fileText);
  } catch {
    // V8's message quotes part of the text, which may be the secret: say only where to look.
    return { ok: false, problems: [`${fileName} is not valid JSON; check it with \`jq . ${fileName}\``] };
  }
  if (typeof json === 'object' && json !== null) {
    const withEnv = json as { mqtt?: Record<string, unknown> };
    withEnv.mqtt = { ...(withEnv.mqtt ?? {}) };
    if (env.MQTT_URL) withEnv.mqtt.url = env.MQTT_URL;
    if (env.MQTT_USERNAME) withEnv.mqtt.username = env.MQTT_USERNAME;
    if (env.MQTT_PASSWORD) withEnv.mqtt.password = env.MQTT_PASSWORD;
  }
  const parsed = GatewayFileSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((issue) => `${fileName}: ${issue.path.join('.') || '(root)'}: ${issue.message}`) };
  }
  const outbox = { ...parsed.data.outbox, dir: parsed.data.outbox.dir ?? (env.STATE_DIRECTORY ? join(env.STATE_DIRECTORY.split(':')[0]!, 'outbox') : 'gateway-outbox') };
  const secretBytes = decodeSecret(parsed.data.secret);
  const derived = gatewayMqttCredentials(parsed.data.gatewayId, secretBytes);
  const credentials = { username: parsed.data.mqtt.username ?? derived.username, password: parsed.data.mqtt.password ?? derived.password };
  return { ok: true, config: { ...parsed.data, outbox, secretBytes, credentials } };
}
