import { z } from 'zod';
import type { Proximity } from '#gateway/protocol/index.ts';

// Which zone a shopper is in, when several gateways of one store hear them at once (issue 4 item 6:
// "a zone wins only by a margin held for a minimum time"). Each gateway claims the shopper for its
// zone with a coarse proximity band (immediate / near / far) — never an RSSI or a distance, which
// MIN-4 keeps on the gateway — and the arbiter turns the claims into one current zone:
//   no current zone            the best claim wins at once (walk-in detection stays fast);
//   current zone exited/stale  the best remaining claim wins at once, or none;
//   otherwise                  another zone replaces the current one only when its band is better by at
//                              least marginBands and has stayed so for holdMs; the challenger's clock
//                              restarts whenever it falls back below the margin.
// Pure: times come in with the observations. The state is per (store, shopper) and holds zone IDs,
// band ranks and times only; the Store keeps it atomically (Store.updateZoneState).

/** Higher is closer. Bands, not dBm: MIN-4. */
export const PROXIMITY_RANK: Record<Proximity, number> = { far: 0, near: 1, immediate: 2 };

export type ArbiterConfig = {
  /** How many bands better a zone must be to take over from the current one (≥ 1). */
  marginBands: number;
  /** How long a challenger must stay ahead by the margin before it takes over, ms. */
  holdMs: number;
  /**
   * A claim not renewed for this long is dropped, ms: the fallback for an exit that never arrived (a
   * gateway gone). It must exceed the gateways' dwell heartbeat (5 min by default), the longest a present
   * shopper goes without an event.
   */
  staleMs: number;
};

export const DEFAULT_ARBITER_CONFIG: ArbiterConfig = { marginBands: 1, holdMs: 10_000, staleMs: 900_000 };

/** Throws a RangeError naming the field at fault. */
export function validateArbiterConfig(config: ArbiterConfig): void {
  if (!(Number.isInteger(config.marginBands) && config.marginBands >= 1 && config.marginBands <= 2)) {
    throw new RangeError(`marginBands must be 1 or 2 (there are three bands), got ${config.marginBands}`);
  }
  if (!(Number.isInteger(config.holdMs) && config.holdMs >= 0 && config.holdMs <= 600_000)) throw new RangeError(`holdMs must be an integer 0–600000, got ${config.holdMs}`);
  if (!(Number.isInteger(config.staleMs) && config.staleMs >= 60_000)) throw new RangeError(`staleMs must be an integer ≥ 60000, got ${config.staleMs}`);
  if (!(config.staleMs > config.holdMs)) throw new RangeError(`staleMs (${config.staleMs}) must be above holdMs (${config.holdMs})`);
}

export type ZoneClaim = { rank: number; atMs: number };
export type ZoneTenure = { zoneId: string; sinceMs: number };
/** What the arbiter decided: the shopper entered or left a zone. dwellMs is the time in the zone (0 on entered). */
export type ZoneTransition = { kind: 'entered' | 'left'; zoneId: string; atMs: number; dwellMs: number };

export type ZoneState = {
  /** The latest claim per zone; an exit removes it. */
  claims: Record<string, ZoneClaim>;
  current: ZoneTenure | null;
  challenger: ZoneTenure | null;
  /**
   * The last events applied, oldest first, with the transitions each caused: a redelivered event
   * (QoS 1) changes nothing and gets the same transitions back, so a promotion lost to a crash between
   * this state's commit and the send is still made (recordPromotion is idempotent on the event ID).
   */
  applied: { eventId: string; transitions: ZoneTransition[] }[];
};

const TenureSchema = z.object({ zoneId: z.string(), sinceMs: z.number() }).strict();
const TransitionSchema = z.object({ kind: z.enum(['entered', 'left']), zoneId: z.string(), atMs: z.number(), dwellMs: z.number() }).strict();
/** A stored state, as read back from the Store (zone IDs, ranks, times and event IDs only). */
export const ZoneStateSchema = z
  .object({
    claims: z.record(z.string(), z.object({ rank: z.number().int().min(0).max(2), atMs: z.number() }).strict()),
    current: TenureSchema.nullable(),
    challenger: TenureSchema.nullable(),
    applied: z.array(z.object({ eventId: z.string(), transitions: z.array(TransitionSchema) }).strict()),
  })
  .strict() satisfies z.ZodType<ZoneState>;

/** How many applied event IDs the state remembers. A redelivery comes within seconds; 16 events are minutes of edges. */
export const APPLIED_EVENTS_KEPT = 16;

export type ZoneObservation = {
  eventId: string;
  zoneId: string;
  kind: 'enter' | 'dwell' | 'move' | 'exit';
  proximity: Proximity;
  atMs: number;
};

export type ArbiterResult = { state: ZoneState; transitions: ZoneTransition[]; duplicate: boolean };

export const emptyZoneState = (): ZoneState => ({ claims: {}, current: null, challenger: null, applied: [] });

/** The best claim other than `except`: highest band, then the most recent, then the lowest zone ID (deterministic). */
function bestClaim(claims: Record<string, ZoneClaim>, except?: string): [string, ZoneClaim] | undefined {
  let best: [string, ZoneClaim] | undefined;
  for (const [zoneId, claim] of Object.entries(claims)) {
    if (zoneId === except) continue;
    if (best === undefined || claim.rank > best[1].rank || (claim.rank === best[1].rank && (claim.atMs > best[1].atMs || (claim.atMs === best[1].atMs && zoneId < best[0])))) {
      best = [zoneId, claim];
    }
  }
  return best;
}

/**
 * Drops the claims older than staleMs at nowMs, leaving the current zone if its claim was one of them.
 * That leave is dated at the claim's last renewal — the last time the shopper was known to be there — so
 * it is history, too old to trigger an exit campaign (decision.ts, DEFAULT_MAX_EVENT_AGE_S).
 */
function expire(state: ZoneState, nowMs: number, config: ArbiterConfig, out: ZoneTransition[]): void {
  const { current } = state;
  const held = current === null ? undefined : state.claims[current.zoneId];
  for (const [zoneId, claim] of Object.entries(state.claims)) if (nowMs - claim.atMs > config.staleMs) delete state.claims[zoneId];
  if (current !== null && state.claims[current.zoneId] === undefined) {
    const lastMs = held?.atMs ?? nowMs;
    out.push({ kind: 'left', zoneId: current.zoneId, atMs: lastMs, dwellMs: Math.max(0, lastMs - current.sinceMs) });
    state.current = null;
    state.challenger = null;
  }
}

/** Applies the rules at time nowMs to claims already updated; mutates `state` (a fresh copy) and appends the transitions. */
function settle(state: ZoneState, nowMs: number, config: ArbiterConfig, out: ZoneTransition[]): void {
  expire(state, nowMs, config, out);
  const enter = (zoneId: string): void => {
    state.current = { zoneId, sinceMs: nowMs };
    state.challenger = null;
    out.push({ kind: 'entered', zoneId, atMs: nowMs, dwellMs: 0 });
  };
  const { current } = state;
  if (current === null) {
    const best = bestClaim(state.claims);
    if (best !== undefined) enter(best[0]);
    return;
  }
  const held = state.claims[current.zoneId]!;
  const rival = bestClaim(state.claims, current.zoneId);
  if (rival === undefined || rival[1].rank - held.rank < config.marginBands) {
    state.challenger = null;
    return;
  }
  if (state.challenger?.zoneId !== rival[0]) state.challenger = { zoneId: rival[0], sinceMs: nowMs };
  if (nowMs - state.challenger.sinceMs >= config.holdMs) {
    out.push({ kind: 'left', zoneId: current.zoneId, atMs: nowMs, dwellMs: Math.max(0, nowMs - current.sinceMs) });
    enter(rival[0]);
  }
}

const copy = (state: ZoneState): ZoneState => ({
  claims: Object.fromEntries(Object.entries(state.claims).map(([zoneId, claim]) => [zoneId, { ...claim }])),
  current: state.current && { ...state.current },
  challenger: state.challenger && { ...state.challenger },
  applied: state.applied.slice(),
});

/**
 * One presence event of the shopper (enter, dwell or move renews its zone's claim with its band; exit
 * withdraws it), then the rules. An event older than its zone's latest claim is out of order: it changes
 * no claim. An event ID already applied returns the state unchanged and its original transitions.
 */
export function arbitrateZone(previous: ZoneState | undefined, observation: ZoneObservation, config: ArbiterConfig = DEFAULT_ARBITER_CONFIG): ArbiterResult {
  const prev = previous ?? emptyZoneState();
  const seen = prev.applied.find((applied) => applied.eventId === observation.eventId);
  if (seen !== undefined) return { state: prev, transitions: seen.transitions, duplicate: true };

  const state = copy(prev);
  const { zoneId, atMs } = observation;
  // Time never runs backwards for the rules: an out-of-order event is judged at the latest time seen.
  const nowMs = Math.max(atMs, ...Object.values(state.claims).map((c) => c.atMs), state.current?.sinceMs ?? 0, state.challenger?.sinceMs ?? 0);
  // Claims that went stale before this event first: a shopper unheard for staleMs has left, even from
  // the zone this event claims again (its exit was lost), so the claim below is a new entry.
  const transitions: ZoneTransition[] = [];
  expire(state, nowMs, config, transitions);
  const claim = state.claims[zoneId];
  if (claim === undefined || atMs >= claim.atMs) {
    if (observation.kind === 'exit') delete state.claims[zoneId];
    else state.claims[zoneId] = { rank: PROXIMITY_RANK[observation.proximity], atMs };
  }
  settle(state, nowMs, config, transitions);
  state.applied.push({ eventId: observation.eventId, transitions });
  if (state.applied.length > APPLIED_EVENTS_KEPT) state.applied.splice(0, state.applied.length - APPLIED_EVENTS_KEPT);
  return { state, transitions, duplicate: false };
}

/**
 * Time passing without events: a challenger whose hold has run out takes over, stale claims go. Run
 * for the states whose zoneStateDueAtMs has come (the server's sweep); before that it changes nothing.
 */
export function arbitrateZoneAt(previous: ZoneState, nowMs: number, config: ArbiterConfig = DEFAULT_ARBITER_CONFIG): { state: ZoneState; transitions: ZoneTransition[] } {
  const state = copy(previous);
  const latestMs = Math.max(nowMs, state.current?.sinceMs ?? 0, state.challenger?.sinceMs ?? 0);
  const transitions: ZoneTransition[] = [];
  settle(state, latestMs, config, transitions);
  return { state, transitions };
}

/** When time alone next changes this state — a challenger's hold ending or the oldest claim going stale — or null. */
export function zoneStateDueAtMs(state: ZoneState, config: ArbiterConfig = DEFAULT_ARBITER_CONFIG): number | null {
  const times = Object.values(state.claims).map((claim) => claim.atMs + config.staleMs + 1);
  if (state.challenger !== null) times.push(state.challenger.sinceMs + config.holdMs);
  return times.length === 0 ? null : Math.min(...times);
}
