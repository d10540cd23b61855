import { z } from 'zod';
import type { ZoneState } from './zone-arbiter.ts';

// Retention policy (privacy-requirements.md RET-1…4), pure: how long each kind of stored record is
// kept, and the cutoff a purge at a given instant deletes before. The purge itself is
// server/retention/purge-job.ts; the deletes are Store.purgeBefore.
//
// RET-1 (raw sightings ≤ 60 s) holds at the gateway: sightings live only in its bounded in-memory
// windows and never reach the server, so nothing here purges them.

/** What a purge deletes, one table each (server/store/migrations.ts). */
export const RETAINED_KINDS = ['presence-events', 'zone-states', 'delivery-records', 'webhook-deliveries', 'event-sequences', 'proof-nonces', 'visit-history'] as const;
export type RetainedKind = (typeof RETAINED_KINDS)[number];

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * RET-2: resolved presence events are kept 24 h, then deleted (no visit summary is kept). The zone
 * arbiter's state of a shopper (zone IDs and times of the last transitions: presence data too) goes by
 * the same window once it is idle — nothing pending, no claim left — counted from the latest time in it.
 */
export const DEFAULT_PRESENCE_EVENTS_MS = 24 * HOUR_MS;
/** RET-3: profiling data — visit history (domain/visits.ts) — is kept 12 months after the last presence, counted as 365 days. */
export const DEFAULT_PROFILING_MS = 365 * DAY_MS;
/** RET-3: delivery, open and redemption records (promotions) are kept 24 months, counted as 730 days. */
export const DEFAULT_DELIVERY_RECORDS_MS = 730 * DAY_MS;

/**
 * Retention windows, in ms. The requirements' defaults are maxima: a controller may set them stricter,
 * never longer. Delivery records must outlive the one-day send caps (a purge must not loosen
 * perShopperDaily), so they are kept at least a day. Event sequence claims are the replay guard's
 * transport metadata (no pseudonym), kept as long as an event could still pass the freshness check.
 */
export const RetentionWindowsSchema = z
  .object({
    presenceEventsMs: z.number().int().min(HOUR_MS, 'presenceEventsMs must be at least 1 hour').max(DEFAULT_PRESENCE_EVENTS_MS, 'presenceEventsMs may not exceed 24 hours (RET-2)')
      .default(DEFAULT_PRESENCE_EVENTS_MS),
    deliveryRecordsMs: z.number().int().min(DAY_MS, 'deliveryRecordsMs must be at least 1 day (the daily send cap reads a day back)')
      .max(DEFAULT_DELIVERY_RECORDS_MS, 'deliveryRecordsMs may not exceed 730 days (RET-3)').default(DEFAULT_DELIVERY_RECORDS_MS),
    eventSequencesMs: z.number().int().min(1_000, 'eventSequencesMs must be at least 1 second'),
    profilingMs: z.number().int().min(DAY_MS, 'profilingMs must be at least 1 day').max(DEFAULT_PROFILING_MS, 'profilingMs may not exceed 365 days (RET-3)')
      .default(DEFAULT_PROFILING_MS),
  })
  .strict();
export type RetentionWindows = z.infer<typeof RetentionWindowsSchema>;
export type RetentionWindowsInput = z.input<typeof RetentionWindowsSchema>;

/** Validates windows, filling the defaults; throws a RangeError naming every field at fault. */
export function retentionWindows(input: RetentionWindowsInput): RetentionWindows {
  const parsed = RetentionWindowsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new RangeError(`invalid retention windows: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`);
}

// 'expiry': the rows record when they stop being needed, and go as soon as that has passed (window 0).
// Request-proof nonces (server/auth/request-proof.ts) are kept until the proof's own time refuses it.
const WINDOW_OF: Record<RetainedKind, keyof RetentionWindows | 'expiry'> = {
  'presence-events': 'presenceEventsMs',
  'zone-states': 'presenceEventsMs',
  'delivery-records': 'deliveryRecordsMs',
  // The push webhook's queue rows are delivery records too: a finished one (sent, dead, dropped) goes with them.
  'webhook-deliveries': 'deliveryRecordsMs',
  'event-sequences': 'eventSequencesMs',
  'proof-nonces': 'expiry',
  'visit-history': 'profilingMs',
};

/** The window of one kind, ms. */
export function windowOf(windows: RetentionWindows, kind: RetainedKind): number {
  const window = WINDOW_OF[kind];
  return window === 'expiry' ? 0 : windows[window];
}

/** Records timed strictly before this instant (epoch ms) are past their window at nowMs. */
export const cutoffMs = (windows: RetentionWindows, kind: RetainedKind, nowMs: number): number => nowMs - windowOf(windows, kind);

/** Every kind's cutoff at nowMs, in RETAINED_KINDS order. */
export const cutoffs = (windows: RetentionWindows, nowMs: number): { kind: RetainedKind; cutoffMs: number }[] =>
  RETAINED_KINDS.map((kind) => ({ kind, cutoffMs: cutoffMs(windows, kind, nowMs) }));

/**
 * The latest instant a zone state records (a claim, a tenure's start, a transition), or null if it holds
 * none: what the store keeps beside it (zone_states.last_seen_ms) so an idle state can be aged out.
 */
export function zoneStateLastSeenMs(state: ZoneState): number | null {
  const times = [
    ...Object.values(state.claims).map((claim) => claim.atMs),
    ...[state.current, state.challenger].flatMap((tenure) => (tenure === null ? [] : [tenure.sinceMs])),
    ...state.applied.flatMap((entry) => entry.transitions.map((transition) => transition.atMs)),
  ];
  return times.length === 0 ? null : Math.max(...times);
}
