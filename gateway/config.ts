import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_OCCUPANCY, MIN_OCCUPANCY_WINDOW_MS } from './presence/occupancy.ts';
import { DEFAULT_PRESENCE_CONFIG } from './presence/presence-tracker.ts';
import { DEFAULT_BATCH_MAX_LATENCY_MS } from './publisher/publisher.ts';
import { gatewayMqttCredentials, IdSchema, type MqttCredentials } from './protocol/index.ts';

// The gateway's own configuration file (the console's provisioning downloads one), plus the
// environment overrides a deployment may set. Every problem is reported at once.

const secretSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{22,}$|^[0-9a-f]{32,}$/, 'secret is the base64url or hex string the server issued (at least 128 bits)');

// Presence tuning (gateway/presence/): thresholds, timing, calibration, the estimator, and anonymous
// occupancy counting (off unless enabled). Cross-field rules are checked against the defaults they
// combine with, and each problem names its field.
const presenceSchema = z
  .object({
    enterRssiDbm: z.number().min(-127).max(20),
    exitRssiDbm: z.number().min(-127).max(20),
    minSightings: z.number().int().min(1).max(100),
    /** How long the estimate must stay at or above enterRssiDbm before an enter, ms (0: at once). */
    enterHoldMs: z.number().int().min(0).max(600_000),
    /** The app tokens' rotation period 2^K, s, and the grace after each boundary in which a new token enters at exitRssiDbm. */
    eidRotationS: z.number().int().min(1).max(2 ** 15),
    rotationGraceMs: z.number().int().min(0).max(60_000),
    awayTimeoutMs: z.number().int().min(1_000).max(3_600_000),
    dwellMarksMs: z.array(z.number().int().min(1_000)).max(32),
    dwellIntervalMs: z.union([z.literal(0), z.number().int().min(1_000)], { error: 'dwellIntervalMs is 0 (no heartbeat after the last mark) or at least 1000' }),
    /** How long a new proximity band must hold before the gateway publishes it (a 'move'), ms. */
    bandHoldMs: z.number().int().min(1_000).max(60_000),
    maxTracked: z.number().int().min(10),
    rssiOffsetDb: z.number().min(-30).max(30),
    pathLossExponent: z.number().min(1.5).max(6),
    defaultMeasuredPowerDbm: z.number().min(-100).max(-20),
    immediateMaxM: z.number().positive().max(100),
    nearMaxM: z.number().positive().max(1_000),
    estimator: z
      .object({
        robust: z.enum(['median', 'trimmed-mean', 'last']),
        windowMs: z.number().int().min(100).max(60_000),
        maxSamples: z.number().int().min(1).max(64),
        trimFraction: z.number().min(0).lt(0.5),
        smoothing: z.enum(['none', 'ema', 'kalman']),
        emaTimeConstantMs: z.number().positive().max(60_000),
        kalman: z.object({ processNoiseDb2PerS: z.number().positive(), measurementNoiseDb2: z.number().positive() }).strict(),
      })
      .partial()
      .strict(),
    occupancy: z
      .object({
        enabled: z.boolean(),
        windowMs: z.number().int().min(MIN_OCCUPANCY_WINDOW_MS, `occupancy windows are at least ${MIN_OCCUPANCY_WINDOW_MS} ms (60 s)`),
        minCount: z.number().int().min(2, 'minCount (k) is at least 2'),
        maxDistinct: z.number().int().min(2).max(1_000_000),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict()
  .superRefine((presence, ctx) => {
    const { occupancy, ...overrides } = presence;
    const merged = { ...DEFAULT_PRESENCE_CONFIG, ...overrides };
    if (merged.exitRssiDbm > merged.enterRssiDbm) {
      ctx.addIssue({ code: 'custom', path: ['exitRssiDbm'], message: `exitRssiDbm (${merged.exitRssiDbm}) must not be above enterRssiDbm (${merged.enterRssiDbm}): the gap is the hysteresis` });
    }
    if (merged.nearMaxM <= merged.immediateMaxM) {
      ctx.addIssue({ code: 'custom', path: ['nearMaxM'], message: `nearMaxM (${merged.nearMaxM} m) must be above immediateMaxM (${merged.immediateMaxM} m)` });
    }
    merged.dwellMarksMs.forEach((markMs, i) => {
      if (i > 0 && markMs <= merged.dwellMarksMs[i - 1]!) ctx.addIssue({ code: 'custom', path: ['dwellMarksMs', i], message: 'dwell marks must be in ascending order' });
    });
    const minCount = occupancy?.minCount ?? DEFAULT_OCCUPANCY.minCount;
    if (occupancy?.maxDistinct !== undefined && occupancy.maxDistinct < minCount) {
      ctx.addIssue({ code: 'custom', path: ['occupancy', 'maxDistinct'], message: `maxDistinct must be at least minCount (${minCount})` });
    }
  });

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
  .object({ maxLatencyMs: z.number().int().min(0).max(10_000).default(DEFAULT_BATCH_MAX_LATENCY_MS) })
  .strict()
  .default({ maxLatencyMs: DEFAULT_BATCH_MAX_LATENCY_MS });

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

const NobleHciScannerSchema = z
  .object({
    kind: z.literal('noble-hci'),
    deviceId: z.number().int().nonnegative().optional(),
    extended: z.boolean().default(false),
    // Restart the scan after this long without an advertisement while the adapter is on (0: never).
    watchdogMs: z.number().int().min(0).default(30_000),
    // Retries after a scanner problem back off exponentially up to this (with jitter).
    retryMaxDelayMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    // A problem only an operator can fix (no Bluetooth, no permission) at startup: exit 3, or keep retrying.
    onStartupProblem: z.enum(['exit', 'retry']).default('exit'),
  })
  .strict();

// Replays a btsnoop HCI capture instead of a radio (gateway/scanner/replay-scanner.ts).
const ReplayScannerSchema = z
  .object({
    kind: z.literal('replay'),
    file: z.string().min(1, 'scanner.file is the path of a btsnoop capture'),
    /** 1 = the recorded pace, 2 = twice as fast; 0 or "max" = as fast as possible. */
    speed: z.union([z.number().min(0), z.literal('max')]).default(1),
  })
  .strict();

/**
 * `kind` may be left out: a scanner without one is noble on the HCI socket, as before replay existed.
 * `type` is accepted for it (`{"type": "replay", …}`, as the operators' guide first wrote it); giving
 * both is an error, so a file never says two things.
 */
const scannerKindOf = (value: unknown): unknown => {
  if (typeof value !== 'object' || value === null) return value;
  const { type, ...rest } = value as Record<string, unknown>;
  if (type !== undefined && 'kind' in rest) return value; // both: left for the schema to refuse (`type` is unknown to it)
  const kind = type ?? rest.kind ?? 'noble-hci';
  return { ...rest, kind };
};
const ScannerSchema = z
  .preprocess(
    scannerKindOf,
    z.discriminatedUnion('kind', [NobleHciScannerSchema, ReplayScannerSchema]),
  )
  .default({ kind: 'noble-hci', extended: false, watchdogMs: 30_000, retryMaxDelayMs: 60_000, onStartupProblem: 'exit' });

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
    scanner: ScannerSchema,
    presence: presenceSchema.default({}),
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
