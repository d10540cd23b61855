import { z } from 'zod';
import { CONTROLLER_CONTACT_UNSET, CONTROLLER_NAME_UNSET } from './domain/transparency.ts';
import { checkConsentAge, GDPR_DEFAULT_CONSENT_AGE, parseAgeByCountry } from './domain/age-gate.ts';

// The server's configuration, from the environment. Every problem is listed at once.

const port = z.coerce.number().int().min(0).max(65_535);

export const ServerEnvSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  /** `file:PATH` or a path for the embedded SQLite store; `postgres://…` for PostgreSQL. */
  DATABASE_URL: z.string().min(1).optional(),
  /** PostgreSQL connections this instance keeps at most (store/postgres-store.ts DEFAULT_POOL_MAX). */
  DATABASE_POOL_MAX: z.coerce.number().int('DATABASE_POOL_MAX must be a whole number').min(1, 'DATABASE_POOL_MAX must be at least 1')
    .max(200, 'DATABASE_POOL_MAX may not exceed 200').default(20),
  MQTT_URL: z.string().regex(/^(mqtts?|wss?|tcp|tls):\/\//, 'MQTT_URL must start with mqtt://, mqtts://, ws:// or wss://').default('mqtt://127.0.0.1:1883'),
  /** The broker URL written into provisioned gateways' config files, when gateways connect elsewhere than servers (Mosquitto's gateway listener). Default: MQTT_URL. */
  GATEWAY_MQTT_URL: z.string().regex(/^(mqtts?|wss?|tcp|tls):\/\//, 'GATEWAY_MQTT_URL must start with mqtt://, mqtts://, ws:// or wss://').optional(),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  /** A stable MQTT client ID per instance gives it a persistent session (presence is queued while it restarts). */
  MQTT_CLIENT_ID: z.string().regex(/^vicino-server-[A-Za-z0-9_-]{1,50}$/,
    'MQTT_CLIENT_ID must be "vicino-server-" and then 1–50 of A-Z, a-z, 0-9, _ and - (gateways can never use that prefix)').optional(),
  /** MQTT 5 shared-subscription group, for several server instances on one broker. */
  MQTT_SHARED_GROUP: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/).optional(),
  /**
   * With MQTT_SHARED_GROUP: the instance's connections in the group. Each handles MQTT_MAX_IN_FLIGHT
   * messages at once, so one is usually enough; several spread the broker's side of the work.
   */
  MQTT_PRESENCE_CONNECTIONS: z.coerce.number().int('MQTT_PRESENCE_CONNECTIONS must be a whole number').min(1, 'MQTT_PRESENCE_CONNECTIONS must be at least 1')
    .max(8, 'MQTT_PRESENCE_CONNECTIONS may not exceed 8').default(1),
  /**
   * Presence messages each connection handles at once, each acknowledged after its own handling, the acks in
   * arrival order (server/ingest/ack-pipeline.ts); one shopper's messages are still handled in order.
   */
  MQTT_MAX_IN_FLIGHT: z.coerce.number().int('MQTT_MAX_IN_FLIGHT must be a whole number').min(1, 'MQTT_MAX_IN_FLIGHT must be at least 1')
    .max(1_024, 'MQTT_MAX_IN_FLIGHT may not exceed 1024').default(64),
  /** 32 bytes as 64 hex characters or base64; otherwise DATA_DIR/master.key is used (created on first start). */
  VICINO_MASTER_KEY: z.string().optional(),
  /** The admin API token; otherwise DATA_DIR/admin.token is used (created on first start). */
  ADMIN_TOKEN: z.string().min(20, 'ADMIN_TOKEN must be at least 20 characters').optional(),
  /** The resolver's X25519 private key (64 hex). Rotating it breaks no registered app. Default: generated and sealed in the store. */
  RESOLVER_PRIVATE_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/, 'RESOLVER_PRIVATE_KEY must be 64 hex characters (an X25519 private key)').optional(),
  EPOCH_ROTATION_S: z.coerce.number().int().min(60).max(7 * 86_400).default(86_400),
  /** RET-2: hours resolved presence events are kept (stricter than the default only). */
  RETENTION_PRESENCE_H: z.coerce.number().int('RETENTION_PRESENCE_H must be whole hours').min(1, 'RETENTION_PRESENCE_H must be at least 1')
    .max(24, 'RETENTION_PRESENCE_H may not exceed 24 (RET-2)').default(24),
  /** RET-3: days delivery, open and redemption records (promotions) are kept; 730 ≈ 24 months. */
  RETENTION_DELIVERY_DAYS: z.coerce.number().int('RETENTION_DELIVERY_DAYS must be whole days').min(1, 'RETENTION_DELIVERY_DAYS must be at least 1 (the daily send cap reads a day back)')
    .max(730, 'RETENTION_DELIVERY_DAYS may not exceed 730 (24 months, RET-3)').default(730),
  /** TRN-1, ACC-2: the data controller (the retailer) named in the privacy notices and the record of processing. Required in production: unset, the documents say so verbatim. */
  CONTROLLER_NAME: z.string().trim().min(1, 'CONTROLLER_NAME must not be empty').max(200, 'CONTROLLER_NAME may not exceed 200 characters').optional()
    .transform((value) => value ?? CONTROLLER_NAME_UNSET),
  /** How data subjects reach the controller: an email address or an https:// URL. */
  CONTROLLER_CONTACT: z.string().trim().refine((value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) || /^https?:\/\/\S+$/.test(value),
    'CONTROLLER_CONTACT must be an email address or an http(s):// URL').optional()
    .transform((value) => value ?? CONTROLLER_CONTACT_UNSET),
  /** Days an app credential is valid from its issue; then the app rotates it (POST /v1/me/token, with a request proof). */
  // AN-1: the k of analytics reports; 10 at least (docs/analytics.md).
  ANALYTICS_K: z.coerce.number().int('ANALYTICS_K must be a whole number').min(10, 'ANALYTICS_K must be at least 10 (AN-1)').max(1_000_000).default(10),
  APP_TOKEN_MAX_AGE_DAYS: z.coerce.number().int('APP_TOKEN_MAX_AGE_DAYS must be whole days').min(1, 'APP_TOKEN_MAX_AGE_DAYS must be at least 1')
    .max(3650, 'APP_TOKEN_MAX_AGE_DAYS may not exceed 3650').default(180),
  /** Console sessions (issue 8): minutes idle before a session ends, and hours before it ends however active. */
  CONSOLE_IDLE_MINUTES: z.coerce.number().int('CONSOLE_IDLE_MINUTES must be whole minutes').min(1, 'CONSOLE_IDLE_MINUTES must be at least 1')
    .max(24 * 60, 'CONSOLE_IDLE_MINUTES may not exceed 1440').default(30),
  CONSOLE_SESSION_HOURS: z.coerce.number().int('CONSOLE_SESSION_HOURS must be whole hours').min(1, 'CONSOLE_SESSION_HOURS must be at least 1')
    .max(7 * 24, 'CONSOLE_SESSION_HOURS may not exceed 168').default(12),
  /**
   * "false" drops the Secure flag of the console's cookie, for a console reached over plain HTTP on a
   * LAN address during setup. Browsers keep Secure cookies over HTTP on localhost anyway; in
   * production, serve the console over HTTPS and leave this unset.
   */
  CONSOLE_SECURE_COOKIE: z.enum(['true', 'false'], { message: 'CONSOLE_SECURE_COOKIE must be "true" or "false"' }).default('true').transform((value) => value === 'true'),
  /** CON-6: days a consent grant counts before it must be renewed; 365 ≈ 12 months, the most allowed. */
  CONSENT_VALIDITY_DAYS: z.coerce.number().int('CONSENT_VALIDITY_DAYS must be whole days').min(1, 'CONSENT_VALIDITY_DAYS must be at least 1')
    .max(365, 'CONSENT_VALIDITY_DAYS may not exceed 365 (12 months, CON-6)').default(365),
  /** CON-7: digital-consent ages overriding the built-in per-country table, as "IT=14,DE=16". */
  CONSENT_AGE_BY_COUNTRY: z.string().optional().transform((value, context) => {
    if (value === undefined) return {};
    const parsed = parseAgeByCountry(value);
    if (parsed.ok) return parsed.ages;
    for (const problem of parsed.problems) context.addIssue({ code: 'custom', message: `CONSENT_AGE_BY_COUNTRY: ${problem}` });
    return z.NEVER;
  }),
  /** CON-7: the digital-consent age of a country not in the table (and of an unknown country). */
  CONSENT_AGE_DEFAULT: z.coerce.number().default(GDPR_DEFAULT_CONSENT_AGE).superRefine((age, context) => {
    const problem = checkConsentAge(age, 'CONSENT_AGE_DEFAULT');
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
  }),
  /** The push provider's webhook (server/delivery/webhook-delivery.ts): https://, or http:// to localhost only. Unset: no webhook delivery. */
  WEBHOOK_URL: z.string().refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
    } catch {
      return false;
    }
  }, 'WEBHOOK_URL must be an https:// URL (http:// only for localhost)').optional(),
  /** The HMAC-SHA-256 key of the Vicino-Signature header, shared with the receiver. */
  WEBHOOK_SECRET: z.string().min(32, 'WEBHOOK_SECRET must be at least 32 characters').optional(),
  /** Attempts before a webhook delivery is dead-lettered. */
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int('WEBHOOK_MAX_ATTEMPTS must be a whole number').min(1, 'WEBHOOK_MAX_ATTEMPTS must be at least 1')
    .max(50, 'WEBHOOK_MAX_ATTEMPTS may not exceed 50').default(8),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type ServerEnv = z.infer<typeof ServerEnvSchema>;

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export function storeLocation(env: Pick<ServerEnv, 'DATABASE_URL' | 'DATA_DIR'>): StoreLocation {
  const url = env.DATABASE_URL;
  if (url === undefined) return { kind: 'sqlite', path: `${env.DATA_DIR}/vicino.db` };
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (url.startsWith('file:')) return { kind: 'sqlite', path: url.slice('file:'.length) };
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', path: url.slice('sqlite:'.length) };
  return { kind: 'sqlite', path: url };
}

export function loadServerEnv(env: Record<string, string | undefined>): { ok: true; env: ServerEnv } | { ok: false; problems: string[] } {
  const parsed = ServerEnvSchema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  // Either both or neither: an unsigned webhook would let anyone who learns the URL forge pushes.
  if ((env.WEBHOOK_URL === undefined) !== (env.WEBHOOK_SECRET === undefined)) problems.push('WEBHOOK_URL, WEBHOOK_SECRET: set both to enable the push webhook, or neither');
  if (parsed.success && problems.length === 0) return { ok: true, env: parsed.data };
  return { ok: false, problems };
}

export function decodeKey(value: string, name: string): Buffer {
  const bytes = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (bytes.length !== 32) throw new Error(`${name} must be 32 bytes (64 hex characters or base64), got ${bytes.length}`);
  return bytes;
}
