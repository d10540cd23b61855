import { z } from 'zod';
import { ID_PATTERN } from './topics.ts';
import { IdentifierKindSchema, PseudonymSchema } from './pseudonym.ts';

export const PROTOCOL_VERSION = 1;

/** An authentication tag: base64url(HMAC-SHA-256), event-auth.ts. */
export const TagSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'tag is base64url(HMAC-SHA-256): 43 characters of A-Z, a-z, 0-9, _ and -');

export const IdSchema = z.string().regex(ID_PATTERN, 'an ID is 1–64 of a-z, 0-9, _ and -, starting with a letter or digit');

/** Coarse distance band from smoothed RSSI (MIN-4: no finer location leaves the gateway). */
export const ProximitySchema = z.enum(['immediate', 'near', 'far']);
export type Proximity = z.infer<typeof ProximitySchema>;

/**
 * enter / dwell / exit are a device's edges in one gateway's zone; move says its proximity band changed
 * while present (and held for the gateway's presence.bandHoldMs), so the server's zone arbiter can weigh
 * zones that hear the same shopper (server/domain/zone-arbiter.ts).
 */
export const PresenceKindSchema = z.enum(['enter', 'dwell', 'move', 'exit']);
export type PresenceKind = z.infer<typeof PresenceKindSchema>;

/**
 * One presence transition, as a gateway publishes it. MIN-4: only what the server needs —
 * gateway, zone, pseudonym, event kind, a time quantised to seconds and a proximity band — plus
 * what proves the message came from that gateway, once (boot, seq, tag: counters and an authentication tag,
 * nothing about the shopper; see event-auth.ts). `.strict()` rejects any extra field, so nothing
 * else can ride along.
 */
export const PresenceEventSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    /** Random per event; servers deduplicate redelivered (QoS 1) messages on it. */
    eventId: z.uuid(),
    storeId: IdSchema,
    gatewayId: IdSchema,
    zoneId: IdSchema,
    /** ID of the epoch key the pseudonym was computed with. */
    keyId: IdSchema,
    idKind: IdentifierKindSchema,
    pseudonym: PseudonymSchema,
    kind: PresenceKindSchema,
    /** Unix time in whole seconds. */
    atS: z.number().int().nonnegative(),
    /** Seconds in the zone so far (0 on enter). */
    dwellS: z.number().int().nonnegative(),
    proximity: ProximitySchema,
    /** Random per gateway process start, so seq can restart at 1 after a reboot without looking like a replay. */
    boot: z.uuid(),
    /** Per (gateway, boot): 1 for the first event, +1 for each next one. A server accepts each number once. */
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    /** Message authentication code (not a device address): base64url(HMAC-SHA-256(K_msg, every other field)), event-auth.ts. */
    /** Authentication tag: base64url(HMAC-SHA-256) over every other field (event-auth.ts). */
    tag: TagSchema,
  })
  .strict();
export type PresenceEvent = z.infer<typeof PresenceEventSchema>;

/**
 * Anonymous occupancy of one gateway's zone over one window (issue 4 item 7, AN-1): distinct devices
 * present during [windowStartS, windowEndS), as an integer only, or null when fewer than the
 * gateway's k were (suppressed: null stands for 0..k−1). No pseudonym, no per-device field, no
 * proximity; `.strict()` rejects anything else. Opt-in per gateway (presence.occupancy.enabled).
 */
export const OccupancySchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    storeId: IdSchema,
    gatewayId: IdSchema,
    zoneId: IdSchema,
    /** Unix time in whole seconds. */
    windowStartS: z.number().int().nonnegative(),
    windowEndS: z.number().int().nonnegative(),
    count: z.number().int().nonnegative().max(1_000_000).nullable(),
    /** Proves the gateway sent it (event-auth.ts, messageMac 'occupancy'). */
    tag: TagSchema,
  })
  .strict()
  .refine((report) => report.windowEndS - report.windowStartS >= 60, { path: ['windowEndS'], message: 'an occupancy window is at least 60 s long' });
export type Occupancy = z.infer<typeof OccupancySchema>;
export type UnsignedOccupancy = Omit<Occupancy, 'tag'>;

/** An epoch key as carried to one gateway: AES-256-GCM wrapped under that gateway's own secret. */
export const WrappedEpochKeySchema = z
  .object({
    keyId: IdSchema,
    /** base64url(iv ‖ ciphertext ‖ tag) — see wrap.ts. */
    wrapped: z.string().min(1),
    notBeforeS: z.number().int().nonnegative(),
    notAfterS: z.number().int().nonnegative(),
  })
  .strict();
export type WrappedEpochKey = z.infer<typeof WrappedEpochKeySchema>;

/**
 * Presence settings an operator sets per gateway on the server, carried on its config topic and
 * applied without a restart (gateway.applyConfig → the presence tracker). Every field is optional:
 * what is absent keeps the gateway's own setting (its config file, else the default).
 */
export const RemotePresenceSettingsSchema = z
  .object({
    /** Estimated, calibrated RSSI at or above which a device enters. */
    enterRssiDbm: z.number().min(-127).max(20),
    /** A present device exits after awayTimeoutMs without an estimate at or above this (at most enterRssiDbm: hysteresis). */
    exitRssiDbm: z.number().min(-127).max(20),
    minSightings: z.number().int().min(1).max(100),
    /** How long the estimate must stay at or above enterRssiDbm before an enter, ms (0: at once). */
    enterHoldMs: z.number().int().min(0).max(600_000),
    awayTimeoutMs: z.number().int().min(1_000).max(3_600_000),
    /** Dwell events at these times in the zone (ascending), then every dwellIntervalMs (0: none). */
    dwellMarksMs: z.array(z.number().int().min(1_000).max(86_400_000)).max(32),
    dwellIntervalMs: z.union([z.literal(0), z.number().int().min(1_000).max(86_400_000)]),
    /** This adapter's calibration, added to every RSSI. */
    rssiOffsetDb: z.number().min(-30).max(30),
    pathLossExponent: z.number().min(1.5).max(6),
    immediateMaxM: z.number().positive().max(100),
    nearMaxM: z.number().positive().max(1_000),
  })
  .partial()
  .strict()
  .superRefine((s, ctx) => {
    if (s.enterRssiDbm !== undefined && s.exitRssiDbm !== undefined && s.exitRssiDbm > s.enterRssiDbm) {
      ctx.addIssue({ code: 'custom', path: ['exitRssiDbm'], message: 'exitRssiDbm must not be above enterRssiDbm (hysteresis)' });
    }
    if (s.immediateMaxM !== undefined && s.nearMaxM !== undefined && s.nearMaxM <= s.immediateMaxM) {
      ctx.addIssue({ code: 'custom', path: ['nearMaxM'], message: 'nearMaxM must be above immediateMaxM' });
    }
    s.dwellMarksMs?.forEach((markMs, i) => {
      if (i > 0 && markMs <= s.dwellMarksMs![i - 1]!) ctx.addIssue({ code: 'custom', path: ['dwellMarksMs', i], message: 'dwell marks must be in ascending order' });
    });
  });
export type RemotePresenceSettings = z.infer<typeof RemotePresenceSettingsSchema>;

/** Retained on the gateway's own config topic; only that gateway may read it (SEC-1). */
export const GatewayConfigMessageSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    storeId: IdSchema,
    gatewayId: IdSchema,
    zoneId: IdSchema,
    issuedAtS: z.number().int().nonnegative(),
    /** Live keys, newest last. A key that has aged out is absent and destroyed server-side. */
    epochKeys: z.array(WrappedEpochKeySchema).max(8),
    /**
     * Pseudonyms of registered beacons, under each live key: the gateway forwards a beacon only if
     * its pseudonym is listed (MIN-2). App tokens (Eddystone-EID) are always forwarded: only the
     * server can tell which are registered.
     */
    registeredBeacons: z.array(PseudonymSchema).max(100_000),
    /** Per-gateway presence settings from the server (absent: the gateway's own). */
    presence: RemotePresenceSettingsSchema.optional(),
  })
  .strict();
export type GatewayConfigMessage = z.infer<typeof GatewayConfigMessageSchema>;

const countSchema = z.number().int().nonnegative();

/**
 * The heartbeat's counters (every N s on the status topic): totals since the process started, never an
 * identifier. `.strict()` keeps it that way.
 */
export const GatewayStatusCountsSchema = z
  .object({
    uptimeS: countSchema,
    advertisements: countSchema,
    /** Advertisements dropped by the gateway (foreign, no key, unregistered beacon, malformed). */
    droppedAdvertisements: countSchema,
    transitions: countSchema,
    tracked: countSchema,
    present: countSchema,
    published: countSchema,
    /** Events held in the outbox (queued + in flight). */
    pending: countSchema,
    outboxBytes: countSchema,
    /** Events the outbox dropped (overflow, expiry, corrupt records). */
    droppedEvents: countSchema,
  })
  .partial()
  .strict();
export type GatewayStatusCounts = z.infer<typeof GatewayStatusCountsSchema>;

export const GatewayStatusSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    storeId: IdSchema,
    gatewayId: IdSchema,
    online: z.boolean(),
    atS: z.number().int().nonnegative(),
    version: z.string().max(32).optional(),
    counts: GatewayStatusCountsSchema.optional(),
    /** Proves the gateway (or the broker, for its will) sent it (event-auth.ts, messageMac 'status'). */
    tag: TagSchema,
  })
  .strict();
export type GatewayStatus = z.infer<typeof GatewayStatusSchema>;
export type UnsignedGatewayStatus = Omit<GatewayStatus, 'tag'>;

export type ParseFailure = { ok: false; error: string };
export type ParseSuccess<T> = { ok: true; value: T };

/**
 * Parses an MQTT payload against a schema. The error names the fields at fault and never echoes the
 * payload (it may hold a pseudonym, or be hostile).
 */
export function parsePayload<T>(schema: z.ZodType<T>, payload: Uint8Array | string): ParseSuccess<T> | ParseFailure {
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch {
    // No reason given: V8's JSON.parse messages quote a snippet of the input.
    return { ok: false, error: 'payload is not JSON' };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, error: describeIssues(result.error.issues) };
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    // zod's unrecognized_keys message lists the keys, which are payload text: count them instead.
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${
      issue.code === 'unrecognized_keys' ? `${issue.keys.length} unrecognized key(s)` : issue.message}`)
    .join('; ');
}
