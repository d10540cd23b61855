import { DEFAULT_ROTATION_EXPONENT, type IdentifierKind, type PresenceKind, type Proximity, type Pseudonym } from '../protocol/index.ts';
import { DEFAULT_PROXIMITY, proximityOf, validateProximityConfig, type ProximityConfig } from './proximity.ts';
import {
  DEFAULT_RSSI_ESTIMATOR, startRssi, updateRssi, validateRssiEstimatorConfig, type RssiEstimatorConfig, type RssiEstimatorState,
} from './rssi-estimators.ts';

// Zone presence for one gateway: enter / dwell / exit, published as edges only. Per device:
//   estimate  robust RSSI over a short window (rssi-estimators.ts), calibrated by rssiOffsetDb;
//   enter     once minSightings packets were heard and the estimate has stayed at or above
//             enterRssiDbm for enterHoldMs (0: at once): someone who stops in the zone, not someone
//             who walks through its edge or past its gateway on the way elsewhere;
//   away      no packet whose estimate is at or above exitRssiDbm (hysteresis: below enterRssiDbm):
//             weak packets and silence count alike;
//   exit      after awayTimeoutMs away (so at most awayTimeoutMs + one tick after the last packet),
//             dated at the last moment the device was inside: the time it left, not the time the
//             gateway gave up on it;
//   dwell     at each configured mark of time in the zone (30 s, 2 min, 5 min…), then every
//             dwellIntervalMs as a slow heartbeat, dated like the exit at the last moment inside. So
//             every event of a presence is dated at or before its exit, and the server can tell an
//             exit that a later sighting of the same shopper (under a new token) has overtaken;
//   rotation  app tokens (Eddystone-EID) all change at multiples of 2^K s. A token first heard within
//             rotationGraceMs of such a boundary may be a present device under its new token, so
//             it enters at exitRssiDbm rather than enterRssiDbm: the hysteresis carries across the
//             rotation, and a shopper standing between the two thresholds does not drop out of the
//             zone every 17 minutes. It enters without the enter hold, so that its enter reaches the
//             server before the old token's exit. Nothing links the old token to the new one here;
//   move      while present, when the proximity band has changed and every packet for bandHoldMs has
//             agreed on the new band: the edge the server's zone arbiter weighs zones by (several
//             gateways hearing one shopper). At most one per bandHoldMs, and only bands leave (MIN-4).
// It is keyed by pseudonym, so no raw identifier is held here, and bounded: past maxTracked it evicts
// the least recently seen entry (emitting its exit if it was present). Pure: time comes in as arguments.

export type PresenceConfig = ProximityConfig & {
  /** Estimated (calibrated) RSSI at or above which a candidate enters, dBm. */
  enterRssiDbm: number;
  /** Estimated RSSI below which a present device counts as away, dBm (hysteresis: below enterRssiDbm). */
  exitRssiDbm: number;
  /** Packets needed before an enter (the first of them included), so a single stray packet never counts. */
  minSightings: number;
  /** How long the estimate must stay at or above the enter threshold before an enter, ms (0: at once). */
  enterHoldMs: number;
  /** A present device away (weak or unheard) this long exits; a candidate unheard this long is forgotten. */
  awayTimeoutMs: number;
  /** Dwell events when the time in the zone reaches each of these, ascending, ms. */
  dwellMarksMs: readonly number[];
  /** After the last mark, a dwell every this much more time in the zone (a slow heartbeat); 0 = none. */
  dwellIntervalMs: number;
  /** A new proximity band is published (a 'move') once every packet for this long has agreed on it, ms. */
  bandHoldMs: number;
  /** Upper bound on tracked pseudonyms (noble/noble#636: unbounded maps run out of memory). */
  maxTracked: number;
  /** The app tokens' rotation period 2^K, s (gateway/protocol/eid.ts); their boundaries are multiples of it. */
  eidRotationS: number;
  /** A token first heard within this long of a rotation boundary (either side: clocks differ) enters at exitRssiDbm (0: never), ms. */
  rotationGraceMs: number;
  estimator: RssiEstimatorConfig;
};

export type PresenceOverrides = Partial<Omit<PresenceConfig, 'estimator'>> & { estimator?: Partial<RssiEstimatorConfig> };

export const DEFAULT_PRESENCE_CONFIG: PresenceConfig = {
  ...DEFAULT_PROXIMITY,
  enterRssiDbm: -80,
  exitRssiDbm: -88,
  minSightings: 2,
  enterHoldMs: 0,
  awayTimeoutMs: 10_000,
  dwellMarksMs: [30_000, 120_000, 300_000],
  dwellIntervalMs: 300_000,
  bandHoldMs: 3_000,
  maxTracked: 10_000,
  eidRotationS: 2 ** DEFAULT_ROTATION_EXPONENT,
  rotationGraceMs: 5_000,
  estimator: DEFAULT_RSSI_ESTIMATOR,
};

export type PresenceTransition = {
  pseudonym: Pseudonym;
  idKind: IdentifierKind;
  keyId: string;
  kind: PresenceKind;
  atMs: number;
  dwellMs: number;
  proximity: Proximity;
  /** Receive time of the advertisement that caused this transition (for latency measurement). */
  causedByMs: number;
};

type Entry = {
  idKind: IdentifierKind;
  keyId: string;
  estimator: RssiEstimatorState;
  /** The frame's RSSI at 1 m, dBm, if it carries a plausible one. */
  measuredPowerDbm: number | undefined;
  sightings: number;
  lastSeenMs: number;
  present: boolean;
  enteredMs: number;
  /** The last packet whose estimate was at or above exitRssiDbm (or the last packet of a candidate). */
  lastInsideMs: number;
  /** An app token first heard just after a rotation boundary: it enters at exitRssiDbm. */
  rotated: boolean;
  /** A candidate: since when its estimate has been at or above the enter threshold (NaN: it is not). */
  qualifiedSinceMs: number;
  /** Index of the next dwell mark; past the end, dwellIntervalMs applies. */
  nextMark: number;
  nextDwellMs: number;
  /** The band last published (on enter or move) while present. */
  band: Proximity;
  /** A different band every packet has shown since pendingSinceMs, not yet held for bandHoldMs. */
  pendingBand: Proximity | undefined;
  pendingSinceMs: number;
};

export type PresenceTracker = {
  /** One packet: calibrated, estimated, and any edge it causes. measuredPowerDbm is the frame's RSSI at 1 m. */
  observe(pseudonym: Pseudonym, idKind: IdentifierKind, keyId: string, rssiDbm: number, atMs: number, measuredPowerDbm?: number): PresenceTransition[];
  /** Time passing: away timeouts and dwell marks. Call about once a second. */
  tick(nowMs: number): PresenceTransition[];
  /** Exits for everything present (on shutdown or a zone change), each dated at its last moment inside. */
  flush(): PresenceTransition[];
  /** The pseudonyms present now (for occupancy counting). */
  present(): IterableIterator<Pseudonym>;
  size(): number;
  presentCount(): number;
  /**
   * New settings from now on (remote configuration), over the current ones; tracked devices keep their
   * state. Throws a RangeError, changing nothing, if the result breaks hysteresis.
   */
  /** Changes settings of the live tracker (remote configuration); throws a RangeError naming the field, and changes nothing, on a bad one. */
  reconfigure(overrides: PresenceOverrides): void;
};

/** Throws a RangeError naming the field at fault. */
export function validatePresenceConfig(config: PresenceConfig): void {
  if (!(config.exitRssiDbm <= config.enterRssiDbm)) {
    throw new RangeError(`exitRssiDbm (${config.exitRssiDbm}) must not be above enterRssiDbm (${config.enterRssiDbm}) (hysteresis)`);
  }
  if (!(Number.isInteger(config.minSightings) && config.minSightings >= 1)) throw new RangeError(`minSightings must be an integer ≥ 1, got ${config.minSightings}`);
  if (!(Number.isInteger(config.enterHoldMs) && config.enterHoldMs >= 0 && config.enterHoldMs <= 600_000)) throw new RangeError(`enterHoldMs must be an integer 0–600000, got ${config.enterHoldMs}`);
  if (!(config.awayTimeoutMs >= 1_000)) throw new RangeError(`awayTimeoutMs must be ≥ 1000, got ${config.awayTimeoutMs}`);
  config.dwellMarksMs.forEach((markMs, i) => {
    const previous = i === 0 ? 0 : config.dwellMarksMs[i - 1]!;
    if (!(Number.isFinite(markMs) && markMs > previous)) throw new RangeError(`dwellMarksMs[${i}] must be ascending and > 0, got ${markMs}`);
  });
  if (!(config.dwellIntervalMs === 0 || config.dwellIntervalMs >= 1_000)) throw new RangeError(`dwellIntervalMs must be 0 (none) or ≥ 1000, got ${config.dwellIntervalMs}`);
  if (!(Number.isInteger(config.bandHoldMs) && config.bandHoldMs >= 1_000 && config.bandHoldMs <= 60_000)) throw new RangeError(`bandHoldMs must be an integer 1000–60000, got ${config.bandHoldMs}`);
  if (!(Number.isInteger(config.maxTracked) && config.maxTracked >= 1)) throw new RangeError(`maxTracked must be an integer ≥ 1, got ${config.maxTracked}`);
  if (!(Number.isInteger(config.eidRotationS) && config.eidRotationS >= 1)) throw new RangeError(`eidRotationS must be an integer ≥ 1, got ${config.eidRotationS}`);
  if (!(Number.isInteger(config.rotationGraceMs) && config.rotationGraceMs >= 0 && config.rotationGraceMs < config.eidRotationS * 1000)) {
    throw new RangeError(`rotationGraceMs must be an integer from 0 to below eidRotationS × 1000, got ${config.rotationGraceMs}`);
  }
  validateProximityConfig(config);
  validateRssiEstimatorConfig(config.estimator);
}

export function resolvePresenceConfig(overrides: PresenceOverrides = {}): PresenceConfig {
  const { estimator, ...rest } = overrides;
  const config: PresenceConfig = { ...DEFAULT_PRESENCE_CONFIG, ...rest, estimator: { ...DEFAULT_PRESENCE_CONFIG.estimator, ...estimator } };
  validatePresenceConfig(config);
  return config;
}

export function createPresenceTracker(overrides: PresenceOverrides = {}): PresenceTracker {
  const config = resolvePresenceConfig(overrides);
  const { estimator: estimatorConfig } = config;
  // Map iteration order is insertion order; re-inserting on every sighting keeps it least-recently-seen first.
  const entries = new Map<Pseudonym, Entry>();
  let present = 0;

  /** When the dwell at index nextMark is due: a configured mark, or past the marks the heartbeat every dwellIntervalMs. */
  const dwellDue = (entry: Entry): number => {
    const markMs = config.dwellMarksMs[entry.nextMark];
    if (markMs !== undefined) return entry.enteredMs + markMs;
    if (config.dwellIntervalMs === 0) return Number.POSITIVE_INFINITY;
    const lastMarkMs = config.dwellMarksMs.at(-1) ?? 0;
    return entry.enteredMs + lastMarkMs + (entry.nextMark - config.dwellMarksMs.length + 1) * config.dwellIntervalMs;
  };

  const transition = (pseudonym: Pseudonym, entry: Entry, kind: PresenceKind, atMs: number, causedByMs: number): PresenceTransition => ({
    pseudonym,
    idKind: entry.idKind,
    keyId: entry.keyId,
    kind,
    atMs,
    dwellMs: kind === 'enter' ? 0 : Math.max(0, atMs - entry.enteredMs),
    proximity: proximityOf(entry.estimator.rssiDbm, entry.measuredPowerDbm, config),
    causedByMs,
  });

  /** A 'move' once a band other than the published one has held for bandHoldMs; any packet back on the published band (or on a third one) restarts the wait. */
  const bandChange = (pseudonym: Pseudonym, entry: Entry, atMs: number): PresenceTransition | undefined => {
    const band = proximityOf(entry.estimator.rssiDbm, entry.measuredPowerDbm, config);
    if (band === entry.band) {
      entry.pendingBand = undefined;
      return undefined;
    }
    if (band !== entry.pendingBand) {
      entry.pendingBand = band;
      entry.pendingSinceMs = atMs;
      return undefined;
    }
    if (atMs - entry.pendingSinceMs < config.bandHoldMs) return undefined;
    entry.band = band;
    entry.pendingBand = undefined;
    return transition(pseudonym, entry, 'move', atMs, atMs);
  };

  /** Ends a presence, dated at the last moment inside (never before the enter). */
  const leave = (pseudonym: Pseudonym, entry: Entry, out: PresenceTransition[]): void => {
    if (entry.present) {
      out.push(transition(pseudonym, entry, 'exit', Math.max(entry.enteredMs, entry.lastInsideMs), entry.lastSeenMs));
      present -= 1;
    }
    entries.delete(pseudonym);
  };

  /**
   * Whether a token first heard at atMs comes within the grace of an app-token rotation boundary, on either
   * side: a phone's clock a few seconds off the gateway's rotates a little before or after it.
   */
  const justRotated = (idKind: IdentifierKind, atMs: number): boolean => {
    if (idKind !== 'eddystone-eid' || config.rotationGraceMs === 0) return false;
    const periodMs = config.eidRotationS * 1000;
    const phaseMs = ((atMs % periodMs) + periodMs) % periodMs;
    return phaseMs < config.rotationGraceMs || periodMs - phaseMs < config.rotationGraceMs;
  };

  return {
    observe(pseudonym, idKind, keyId, rssiDbm, atMs, measuredPowerDbm) {
      const out: PresenceTransition[] = [];
      const calibrated = rssiDbm + config.rssiOffsetDb;
      let entry = entries.get(pseudonym);
      if (entry === undefined) {
        if (entries.size >= config.maxTracked) {
          const oldest = entries.keys().next();
          if (!oldest.done) leave(oldest.value, entries.get(oldest.value)!, out);
        }
        entry = {
          idKind, keyId, estimator: startRssi(calibrated, atMs, estimatorConfig), measuredPowerDbm, sightings: 0, lastSeenMs: atMs,
          present: false, enteredMs: atMs, lastInsideMs: atMs, rotated: justRotated(idKind, atMs), qualifiedSinceMs: Number.NaN, nextMark: 0, nextDwellMs: 0, band: 'far', pendingBand: undefined, pendingSinceMs: atMs,
        };
      } else {
        entries.delete(pseudonym);
        updateRssi(entry.estimator, calibrated, atMs, estimatorConfig);
        entry.lastSeenMs = Math.max(entry.lastSeenMs, atMs);
        if (measuredPowerDbm !== undefined) entry.measuredPowerDbm = measuredPowerDbm;
      }
      entries.set(pseudonym, entry);
      entry.sightings += 1;

      const estimate = entry.estimator.rssiDbm;
      if (!entry.present) {
        entry.lastInsideMs = entry.lastSeenMs;
        const qualifies = estimate >= (entry.rotated ? config.exitRssiDbm : config.enterRssiDbm);
        if (!qualifies) entry.qualifiedSinceMs = Number.NaN;
        else if (Number.isNaN(entry.qualifiedSinceMs)) entry.qualifiedSinceMs = atMs;
        // A rotated token is a present device under its new name: no hold, or its enter would reach the server
        // after the old token's exit and the shopper would drop out of the zone for a moment.
        const holdMs = entry.rotated ? 0 : config.enterHoldMs;
        if (entry.sightings >= config.minSightings && qualifies && atMs - entry.qualifiedSinceMs >= holdMs) {
          entry.present = true;
          // With a hold, dated at the moment the hold began: when the shopper came in, not when we were sure.
          entry.enteredMs = holdMs > 0 ? entry.qualifiedSinceMs : atMs;
          entry.nextMark = 0;
          entry.nextDwellMs = dwellDue(entry);
          present += 1;
          const enter = transition(pseudonym, entry, 'enter', entry.enteredMs, atMs);
          entry.band = enter.proximity;
          entry.pendingBand = undefined;
          out.push(enter);
        }
      } else if (estimate >= config.exitRssiDbm) {
        entry.lastInsideMs = Math.max(entry.lastInsideMs, atMs);
        const move = bandChange(pseudonym, entry, atMs);
        if (move !== undefined) out.push(move);
      } else if (atMs - entry.lastInsideMs >= config.awayTimeoutMs) {
        leave(pseudonym, entry, out);
      }
      return out;
    },

    tick(nowMs) {
      const out: PresenceTransition[] = [];
      for (const [pseudonym, entry] of entries) {
        if (nowMs - entry.lastInsideMs >= config.awayTimeoutMs) {
          leave(pseudonym, entry, out);
        } else if (entry.present && nowMs >= entry.nextDwellMs) {
          // The band published, not this instant's: a band change reaches the server only as a held 'move'.
          // Dated at the last moment inside, so that a later exit is never older than it; dwellMs is the mark reached.
          out.push({ ...transition(pseudonym, entry, 'dwell', nowMs, entry.lastSeenMs), atMs: Math.max(entry.enteredMs, entry.lastInsideMs), proximity: entry.band });
          // One dwell per tick even after a long stall; the marks stay on the enter time.
          do {
            entry.nextMark += 1;
            entry.nextDwellMs = dwellDue(entry);
          } while (entry.nextDwellMs <= nowMs);
        }
      }
      return out;
    },

    flush() {
      const out: PresenceTransition[] = [];
      for (const [pseudonym, entry] of entries) leave(pseudonym, entry, out);
      return out;
    },

    *present() {
      for (const [pseudonym, entry] of entries) if (entry.present) yield pseudonym;
    },
    size: () => entries.size,
    presentCount: () => present,

    reconfigure(overrides) {
      const { estimator, ...rest } = overrides;
      const next: PresenceConfig = { ...config, ...rest, estimator: { ...config.estimator, ...estimator } };
      // Throws, naming the field, and changes nothing.
      validatePresenceConfig(next);
      Object.assign(config, next);
    },
  };
}
