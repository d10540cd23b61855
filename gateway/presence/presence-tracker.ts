import type { IdentifierKind, PresenceKind, Proximity, Pseudonym } from '../protocol/index.ts';
import { DEFAULT_RSSI_FILTER, startEstimate, updateEstimate, type RssiEstimate, type RssiFilterConfig } from './rssi-filter.ts';

// Zone presence for one gateway: enter / dwell / exit with hysteresis. It is keyed by pseudonym, so
// no raw identifier is held here, and it is bounded: past maxTracked it evicts the least recently
// seen entry (emitting its exit if it was present). Pure: time comes in as arguments.

export type PresenceConfig = {
  /** Smoothed RSSI at or above which a candidate enters. */
  enterRssiDbm: number;
  /** Smoothed RSSI below which a present device starts to leave (hysteresis: below enterRssiDbm). */
  exitRssiDbm: number;
  /** Sightings needed before an enter, so a single stray packet never counts. */
  minSightings: number;
  /** A present device that stays weak (below exitRssiDbm) this long exits. */
  exitHoldMs: number;
  /** A device not heard for this long exits (or, as a candidate, is forgotten). */
  absenceTimeoutMs: number;
  /** A dwell event is emitted each time this much more time has passed in the zone. */
  dwellIntervalMs: number;
  /** Upper bound on tracked pseudonyms (noble/noble#636: unbounded maps run out of memory). */
  maxTracked: number;
  immediateRssiDbm: number;
  nearRssiDbm: number;
  filter: RssiFilterConfig;
};

export const DEFAULT_PRESENCE_CONFIG: PresenceConfig = {
  enterRssiDbm: -80,
  exitRssiDbm: -88,
  minSightings: 2,
  exitHoldMs: 8_000,
  absenceTimeoutMs: 15_000,
  dwellIntervalMs: 30_000,
  maxTracked: 10_000,
  immediateRssiDbm: -55,
  nearRssiDbm: -72,
  filter: DEFAULT_RSSI_FILTER,
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
  estimate: RssiEstimate;
  sightings: number;
  lastSeenMs: number;
  present: boolean;
  enteredMs: number;
  weakSinceMs: number | undefined;
  nextDwellMs: number;
};

export type PresenceTracker = {
  observe(pseudonym: Pseudonym, idKind: IdentifierKind, keyId: string, rssiDbm: number, atMs: number): PresenceTransition[];
  /** Time passing: absences, weak-signal exits and dwell milestones. Call about once a second. */
  tick(nowMs: number): PresenceTransition[];
  /** Exits for everything present (on shutdown or key rotation). */
  flush(nowMs: number): PresenceTransition[];
  size(): number;
  presentCount(): number;
  /**
   * New settings from now on (remote configuration), over the current ones; tracked devices keep their
   * state. Throws a RangeError, changing nothing, if the result breaks hysteresis.
   */
  reconfigure(overrides: Partial<PresenceConfig>): void;
};

export function proximityOf(rssiDbm: number, config: Pick<PresenceConfig, 'immediateRssiDbm' | 'nearRssiDbm'>): Proximity {
  if (rssiDbm >= config.immediateRssiDbm) return 'immediate';
  if (rssiDbm >= config.nearRssiDbm) return 'near';
  return 'far';
}

export function createPresenceTracker(overrides: Partial<PresenceConfig> = {}): PresenceTracker {
  const config: PresenceConfig = { ...DEFAULT_PRESENCE_CONFIG, ...overrides };
  if (config.exitRssiDbm > config.enterRssiDbm) throw new RangeError('exitRssiDbm must not be above enterRssiDbm (hysteresis)');
  // Map iteration order is insertion order; re-inserting on every sighting keeps it least-recently-seen first.
  const entries = new Map<Pseudonym, Entry>();
  let present = 0;

  const transition = (pseudonym: Pseudonym, entry: Entry, kind: PresenceKind, atMs: number, causedByMs: number): PresenceTransition => ({
    pseudonym,
    idKind: entry.idKind,
    keyId: entry.keyId,
    kind,
    atMs,
    dwellMs: kind === 'enter' ? 0 : Math.max(0, atMs - entry.enteredMs),
    proximity: proximityOf(entry.estimate.rssiDbm, config),
    causedByMs,
  });

  const leave = (pseudonym: Pseudonym, entry: Entry, atMs: number, out: PresenceTransition[]): void => {
    if (entry.present) {
      out.push(transition(pseudonym, entry, 'exit', atMs, entry.lastSeenMs));
      present -= 1;
    }
    entries.delete(pseudonym);
  };

  return {
    observe(pseudonym, idKind, keyId, rssiDbm, atMs) {
      const out: PresenceTransition[] = [];
      let entry = entries.get(pseudonym);
      if (entry === undefined) {
        if (entries.size >= config.maxTracked) {
          const oldest = entries.keys().next();
          if (!oldest.done) leave(oldest.value, entries.get(oldest.value)!, atMs, out);
        }
        entry = {
          idKind, keyId, estimate: startEstimate(rssiDbm, atMs, config.filter), sightings: 1, lastSeenMs: atMs,
          present: false, enteredMs: atMs, weakSinceMs: undefined, nextDwellMs: 0,
        };
      } else {
        entries.delete(pseudonym);
        entry.estimate = updateEstimate(entry.estimate, rssiDbm, atMs, config.filter);
        entry.sightings += 1;
        entry.lastSeenMs = Math.max(entry.lastSeenMs, atMs);
      }
      entries.set(pseudonym, entry);

      const smoothed = entry.estimate.rssiDbm;
      if (!entry.present) {
        if (entry.sightings >= config.minSightings && smoothed >= config.enterRssiDbm) {
          entry.present = true;
          entry.enteredMs = atMs;
          entry.nextDwellMs = atMs + config.dwellIntervalMs;
          entry.weakSinceMs = undefined;
          present += 1;
          out.push(transition(pseudonym, entry, 'enter', atMs, atMs));
        }
      } else if (smoothed < config.exitRssiDbm) {
        entry.weakSinceMs ??= atMs;
        if (atMs - entry.weakSinceMs >= config.exitHoldMs) leave(pseudonym, entry, atMs, out);
      } else {
        entry.weakSinceMs = undefined;
      }
      return out;
    },

    tick(nowMs) {
      const out: PresenceTransition[] = [];
      for (const [pseudonym, entry] of entries) {
        if (nowMs - entry.lastSeenMs >= config.absenceTimeoutMs) {
          leave(pseudonym, entry, nowMs, out);
        } else if (entry.present && entry.weakSinceMs !== undefined && nowMs - entry.weakSinceMs >= config.exitHoldMs) {
          leave(pseudonym, entry, nowMs, out);
        } else if (entry.present && nowMs >= entry.nextDwellMs) {
          out.push(transition(pseudonym, entry, 'dwell', nowMs, entry.lastSeenMs));
          entry.nextDwellMs += config.dwellIntervalMs;
        }
      }
      return out;
    },

    flush(nowMs) {
      const out: PresenceTransition[] = [];
      for (const [pseudonym, entry] of entries) leave(pseudonym, entry, nowMs, out);
      return out;
    },

    size: () => entries.size,
    presentCount: () => present,

    reconfigure(overrides) {
      const next = { ...config, ...overrides };
      if (next.exitRssiDbm > next.enterRssiDbm) throw new RangeError('exitRssiDbm must not be above enterRssiDbm (hysteresis)');
      Object.assign(config, next);
    },
  };
}
