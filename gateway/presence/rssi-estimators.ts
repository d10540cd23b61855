import { DEFAULT_RSSI_FILTER, startEstimate, updateEstimate, type RssiEstimate, type RssiFilterConfig } from './rssi-filter.ts';

// Per-device RSSI estimation: a robust stage over a short time window (median or trimmed mean of the
// packets heard in the last windowMs), optionally followed by a smoother (EMA or the scalar Kalman
// filter of rssi-filter.ts). Multipath fades knock single packets down by 6 dB or more and shadowing
// adds σ ≈ 4 dB (simulator/radio/propagation.ts); an order statistic ignores the fades outright where
// a mean or a Kalman filter is dragged by them. simulator/bench/presence-bench.ts compares the
// candidates on seeded simulator tracks; docs/benchmarks.md ("Presence estimators") has the table
// that chose DEFAULT_RSSI_ESTIMATOR.
//
// The statistics are pure functions. The window itself is a small ring per device, mutated in place
// (allocation-free on the hot path) and bounded by maxSamples.

export type RobustStage = 'median' | 'trimmed-mean' | 'last';
export type SmoothingStage = 'none' | 'ema' | 'kalman';

export type RssiEstimatorConfig = {
  /** The robust statistic over the window ('last' = no window: the newest packet alone). */
  robust: RobustStage;
  /** Packets older than this are out of the window. */
  windowMs: number;
  /** At most this many packets per window (the newest win), so a 10 Hz phone costs no more than this. */
  maxSamples: number;
  /** For 'trimmed-mean': the fraction cut from each end (0.25 = interquartile mean). */
  trimFraction: number;
  smoothing: SmoothingStage;
  /** For 'ema': time constant τ; each update weighs the new value by 1 − e^(−Δt/τ). */
  emaTimeConstantMs: number;
  /** For 'kalman'. */
  kalman: RssiFilterConfig;
};

/** The default, chosen on simulator data (docs/benchmarks.md, "Presence estimators"). */
export const DEFAULT_RSSI_ESTIMATOR: RssiEstimatorConfig = {
  robust: 'trimmed-mean',
  windowMs: 4_000,
  maxSamples: 32,
  trimFraction: 0.25,
  smoothing: 'none',
  emaTimeConstantMs: 1_500,
  kalman: DEFAULT_RSSI_FILTER,
};

/** Throws a RangeError naming the field at fault. */
export function validateRssiEstimatorConfig(config: RssiEstimatorConfig): void {
  if (!['median', 'trimmed-mean', 'last'].includes(config.robust)) throw new RangeError(`estimator.robust must be median, trimmed-mean or last, got ${String(config.robust)}`);
  if (!['none', 'ema', 'kalman'].includes(config.smoothing)) throw new RangeError(`estimator.smoothing must be none, ema or kalman, got ${String(config.smoothing)}`);
  if (!(config.windowMs >= 100 && config.windowMs <= 60_000)) throw new RangeError(`estimator.windowMs must be 100..60000, got ${config.windowMs}`);
  if (!(Number.isInteger(config.maxSamples) && config.maxSamples >= 1 && config.maxSamples <= 64)) throw new RangeError(`estimator.maxSamples must be an integer 1..64, got ${config.maxSamples}`);
  if (!(config.trimFraction >= 0 && config.trimFraction < 0.5)) throw new RangeError(`estimator.trimFraction must be in [0, 0.5), got ${config.trimFraction}`);
  if (!(config.emaTimeConstantMs > 0)) throw new RangeError(`estimator.emaTimeConstantMs must be > 0, got ${config.emaTimeConstantMs}`);
  if (!(config.kalman.processNoiseDb2PerS > 0) || !(config.kalman.measurementNoiseDb2 > 0)) throw new RangeError('estimator.kalman noise variances must be > 0');
}

// ---- pure statistics ------------------------------------------------------------------------

/** Sorts values[0..n) in place, ascending (insertion sort: n ≤ 64, and usually nearly sorted). */
function sortPrefix(values: Float64Array, n: number): void {
  for (let i = 1; i < n; i += 1) {
    const v = values[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! > v) {
      values[j + 1] = values[j]!;
      j -= 1;
    }
    values[j + 1] = v;
  }
}

/** Median of values[0..n) that are already sorted; NaN for n = 0. */
export function sortedMedian(sorted: ArrayLike<number>, n = sorted.length): number {
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Mean of sorted values[0..n) after cutting floor(n × trimFraction) from each end (at least one value
 * stays). trimFraction 0 is the mean; close to 0.5 it tends to the median.
 */
export function sortedTrimmedMean(sorted: ArrayLike<number>, trimFraction: number, n = sorted.length): number {
  if (n === 0) return Number.NaN;
  const cut = Math.min(Math.floor(n * trimFraction), (n - 1) >> 1);
  let sum = 0;
  for (let i = cut; i < n - cut; i += 1) sum += sorted[i]!;
  return sum / (n - 2 * cut);
}

/** Median of any values (copies them). */
export function median(values: readonly number[]): number {
  const copy = Float64Array.from(values);
  sortPrefix(copy, copy.length);
  return sortedMedian(copy);
}

/** Trimmed mean of any values (copies them). */
export function trimmedMean(values: readonly number[], trimFraction: number): number {
  const copy = Float64Array.from(values);
  sortPrefix(copy, copy.length);
  return sortedTrimmedMean(copy, trimFraction);
}

/** One step of a time-based exponential moving average: irregular packet gaps weigh by elapsed time. */
export function emaStep(previous: number, value: number, elapsedMs: number, timeConstantMs: number): number {
  const alpha = 1 - Math.exp(-Math.max(0, elapsedMs) / timeConstantMs);
  return previous + alpha * (value - previous);
}

// ---- the per-device estimator -----------------------------------------------------------------

/** One device's window and smoother. Mutable; created by startRssi, advanced by updateRssi. */
export type RssiEstimatorState = {
  /** Interleaved [atMs, rssiDbm] pairs in arrival order: a ring that grows by doubling up to maxSamples. */
  ring: Float64Array;
  head: number;
  count: number;
  /** The same count values, kept sorted ascending (insertion on arrival, removal on expiry). */
  sorted: Float64Array;
  smoothed: RssiEstimate;
  /** The current estimate, dBm. */
  rssiDbm: number;
};

/** Removes one occurrence of value from sorted[0..n). */
function removeSorted(sorted: Float64Array, n: number, value: number): void {
  let i = 0;
  while (i < n && sorted[i] !== value) i += 1;
  for (; i < n - 1; i += 1) sorted[i] = sorted[i + 1]!;
}

/** Inserts value into sorted[0..n) (capacity > n). */
function insertSorted(sorted: Float64Array, n: number, value: number): void {
  let j = n - 1;
  while (j >= 0 && sorted[j]! > value) {
    sorted[j + 1] = sorted[j]!;
    j -= 1;
  }
  sorted[j + 1] = value;
}

/** Drops the oldest sample. */
function dropOldest(state: RssiEstimatorState): void {
  const capacity = state.ring.length >> 1;
  let oldest = state.head - state.count;
  if (oldest < 0) oldest += capacity;
  removeSorted(state.sorted, state.count, state.ring[2 * oldest + 1]!);
  state.count -= 1;
}

/** 'last' needs no window: one sample. */
const maxCapacity = (config: RssiEstimatorConfig): number => (config.robust === 'last' ? 1 : config.maxSamples);

function push(state: RssiEstimatorState, rssiDbm: number, atMs: number, config: RssiEstimatorConfig): void {
  let capacity = state.ring.length >> 1;
  // Samples that fell out of the window go first (oldest first); the newest always stays.
  while (state.count > 0) {
    let oldest = state.head - state.count;
    if (oldest < 0) oldest += capacity;
    if (atMs - state.ring[2 * oldest]! < config.windowMs) break;
    dropOldest(state);
  }
  if (state.count === capacity) {
    if (capacity < maxCapacity(config)) {
      // Grow: unroll the ring oldest-first into a buffer twice the size (bounded by maxSamples).
      const grownCapacity = Math.min(maxCapacity(config), capacity * 2);
      const grown = new Float64Array(2 * grownCapacity);
      for (let i = 0; i < state.count; i += 1) {
        const from = (state.head - state.count + i + capacity) % capacity;
        grown[2 * i] = state.ring[2 * from]!;
        grown[2 * i + 1] = state.ring[2 * from + 1]!;
      }
      const sorted = new Float64Array(grownCapacity);
      sorted.set(state.sorted.subarray(0, state.count));
      state.ring = grown;
      state.sorted = sorted;
      state.head = state.count % grownCapacity;
      capacity = grownCapacity;
    } else {
      dropOldest(state);
    }
  }
  state.ring[2 * state.head] = atMs;
  state.ring[2 * state.head + 1] = rssiDbm;
  state.head = state.head + 1 === capacity ? 0 : state.head + 1;
  insertSorted(state.sorted, state.count, rssiDbm);
  state.count += 1;
}

function robustValue(state: RssiEstimatorState, config: RssiEstimatorConfig): number {
  switch (config.robust) {
    case 'last':
      return state.ring[2 * (state.head === 0 ? (state.ring.length >> 1) - 1 : state.head - 1) + 1]!;
    case 'median':
      return sortedMedian(state.sorted, state.count);
    case 'trimmed-mean':
      return sortedTrimmedMean(state.sorted, config.trimFraction, state.count);
  }
}

function smooth(state: RssiEstimatorState, value: number, atMs: number, config: RssiEstimatorConfig): number {
  switch (config.smoothing) {
    case 'none':
      state.smoothed.rssiDbm = value;
      state.smoothed.atMs = atMs;
      return value;
    case 'ema':
      state.smoothed.rssiDbm = emaStep(state.smoothed.rssiDbm, value, atMs - state.smoothed.atMs, config.emaTimeConstantMs);
      state.smoothed.atMs = atMs;
      return state.smoothed.rssiDbm;
    case 'kalman':
      state.smoothed = updateEstimate(state.smoothed, value, atMs, config.kalman);
      return state.smoothed.rssiDbm;
  }
}

/** A new device's estimator, at its first packet. */
export function startRssi(rssiDbm: number, atMs: number, config: RssiEstimatorConfig = DEFAULT_RSSI_ESTIMATOR): RssiEstimatorState {
  const state: RssiEstimatorState = {
    // Two samples to start: most devices the gateway hears pass by once (a flood fills no windows).
    ring: new Float64Array(2 * Math.min(2, maxCapacity(config))),
    head: 0,
    count: 0,
    sorted: new Float64Array(Math.min(2, maxCapacity(config))),
    smoothed: startEstimate(rssiDbm, atMs, config.kalman),
    rssiDbm,
  };
  push(state, rssiDbm, atMs, config);
  return state;
}

/** Adds one packet and returns the new estimate (also left in state.rssiDbm). Packets may arrive slightly out of order. */
export function updateRssi(state: RssiEstimatorState, rssiDbm: number, atMs: number, config: RssiEstimatorConfig = DEFAULT_RSSI_ESTIMATOR): number {
  const latestMs = Math.max(atMs, state.smoothed.atMs);
  push(state, rssiDbm, latestMs, config);
  const value = robustValue(state, config);
  state.rssiDbm = smooth(state, value, latestMs, config);
  return state.rssiDbm;
}
