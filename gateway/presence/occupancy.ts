import type { Pseudonym } from '../protocol/index.ts';

// Anonymous occupancy (issue 4, item 7; AN-1): how many distinct devices were present in this
// gateway's zone during each window, as one integer, and nothing when fewer than k were. Off by
// default. A device counts in a window if it was present at any moment of it: the window starts with
// everyone present at that moment, and each enter during it adds one.
//
// Distinctness needs memory of who was already counted, but only within the window: the counter keeps
// a 32-bit fingerprint (the first 4 bytes of the pseudonym, itself an HMAC output, so uniformly
// distributed), never the pseudonym, and forgets every fingerprint when the window closes. With n
// devices, two fingerprints collide with probability about n²/2^33 (1.2 % at 10,000), undercounting by
// one; at most maxDistinct fingerprints are held, beyond which the count is reported as that bound.
// Pure: time comes in as arguments.

export type OccupancyConfig = {
  /** Window length; at least 60 s (shorter windows would let counts single out a shopper). */
  windowMs: number;
  /** Counts below this are suppressed (published as null); at least 2. */
  minCount: number;
  /** Upper bound on fingerprints held in one window. */
  maxDistinct: number;
};

export const MIN_OCCUPANCY_WINDOW_MS = 60_000;

export const DEFAULT_OCCUPANCY: OccupancyConfig = { windowMs: 60_000, minCount: 5, maxDistinct: 10_000 };

export type OccupancyWindow = {
  startMs: number;
  endMs: number;
  /** Distinct devices present during [startMs, endMs), or null when fewer than minCount (suppressed). */
  count: number | null;
  /** The window held maxDistinct fingerprints: count is a lower bound. */
  saturated: boolean;
};

export type OccupancyCounter = {
  /** A device entered the zone. */
  add(pseudonym: Pseudonym): void;
  /**
   * Closes the window if nowMs reached its end and opens the one containing nowMs, seeded with those
   * present now. Returns the closed window, or undefined (no boundary passed, or the first, partial window).
   */
  roll(nowMs: number, presentNow: Iterable<Pseudonym>): OccupancyWindow | undefined;
  /** Fingerprints held now (a metric). */
  size(): number;
};

/** Throws a RangeError naming the field at fault. */
export function validateOccupancyConfig(config: OccupancyConfig): void {
  if (!(Number.isInteger(config.windowMs) && config.windowMs >= MIN_OCCUPANCY_WINDOW_MS)) {
    throw new RangeError(`occupancy.windowMs must be an integer ≥ ${MIN_OCCUPANCY_WINDOW_MS} (60 s), got ${config.windowMs}`);
  }
  if (!(Number.isInteger(config.minCount) && config.minCount >= 2)) throw new RangeError(`occupancy.minCount (k) must be an integer ≥ 2, got ${config.minCount}`);
  if (!(Number.isInteger(config.maxDistinct) && config.maxDistinct >= config.minCount)) {
    throw new RangeError(`occupancy.maxDistinct must be an integer ≥ minCount, got ${config.maxDistinct}`);
  }
}

/** The count as it may be published: null below k. */
export function suppressBelow(count: number, minCount: number): number | null {
  return count >= minCount ? count : null;
}

const fingerprint = (pseudonym: Pseudonym): number => Number.parseInt(pseudonym.slice(0, 8), 16);

export function createOccupancyCounter(overrides: Partial<OccupancyConfig> = {}, nowMs?: number): OccupancyCounter {
  const config: OccupancyConfig = { ...DEFAULT_OCCUPANCY, ...overrides };
  validateOccupancyConfig(config);
  const seen = new Set<number>();
  let saturated = false;
  // Windows sit on multiples of windowMs (minute boundaries by default), so gateways' windows line up.
  const windowStart = (atMs: number): number => Math.floor(atMs / config.windowMs) * config.windowMs;
  let startMs = nowMs === undefined ? undefined : windowStart(nowMs);
  // A window the counter joined part way through undercounts: it is not published.
  let partial = true;

  const add = (pseudonym: Pseudonym): void => {
    if (seen.size >= config.maxDistinct) {
      if (!seen.has(fingerprint(pseudonym))) saturated = true;
      return;
    }
    seen.add(fingerprint(pseudonym));
  };

  return {
    add,
    roll(atMs, presentNow) {
      const currentStart = windowStart(atMs);
      if (startMs === undefined) {
        startMs = currentStart;
        for (const pseudonym of presentNow) add(pseudonym);
        return undefined;
      }
      if (currentStart <= startMs) return undefined;
      const closed: OccupancyWindow = {
        startMs,
        endMs: startMs + config.windowMs,
        count: suppressBelow(saturated ? config.maxDistinct : seen.size, config.minCount),
        saturated,
      };
      const wasPartial = partial;
      seen.clear();
      saturated = false;
      partial = false;
      startMs = currentStart;
      for (const pseudonym of presentNow) add(pseudonym);
      return wasPartial ? undefined : closed;
    },
    size: () => seen.size,
  };
}
