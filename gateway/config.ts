import { z } from 'zod';
import { gatewayMqttCredentials, IdSchema, type MqttCredentials } from './protocol/index.ts';

// The gateway's own configuration file (the console's provisioning downloads one), plus the
// environment overrides a deployment may set. Every problem is reported at once.

const secretSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{22,}$|^[0-9a-f]{32,}$/, 'secret is the base64url or hex string the server issued (at least 128 bits)');

const NobleHciScannerSchema = z
  .object({
    kind: z.literal('noble-hci'),
    deviceId: z.number().int().nonnegative().optional(),
    extended: z.boolean().default(false),
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

// `kind` may be left out: a scanner without one is noble on the HCI socket, as before replay existed.
const ScannerSchema = z
  .preprocess(
    (value) => (typeof value === 'object' && value !== null && !('kind' in value) ? { kind: 'noble-hci', ...value } : value),
    z.discriminatedUnion('kind', [NobleHciScannerSchema, ReplayScannerSchema]),
  )
  .default({ kind: 'noble-hci', extended: false });

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
  })
  .strict();
export type GatewayFile = z.infer<typeof GatewayFileSchema>;

export type GatewayConfig = GatewayFile & {
  secretBytes: Buffer;
  /** The MQTT login to use: mqtt.username / mqtt.password where given, else derived from the secret (protocol/credentials.ts). */
  credentials: MqttCredentials;
};

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: string[] };

export function decodeSecret(secret: string): Buffer {
  return /^[0-9a-f]+$/.test(secret) && secret.length % 2 === 0 ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'base64url');
}

/**
 * Parses the file's text and applies MQTT_URL / MQTT_USERNAME / MQTT_PASSWORD from the environment.
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
  const secretBytes = decodeSecret(parsed.data.secret);
  const derived = gatewayMqttCredentials(parsed.data.gatewayId, secretBytes);
  const credentials = { username: parsed.data.mqtt.username ?? derived.username, password: parsed.data.mqtt.password ?? derived.password };
  return { ok: true, config: { ...parsed.data, secretBytes, credentials } };
}
