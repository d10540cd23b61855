import { performance } from 'node:perf_hooks';
import { createPresenceTracker, DEFAULT_PRESENCE_CONFIG, type PresenceOverrides, type PresenceTransition } from '#gateway/presence/presence-tracker.ts';
import { DEFAULT_RSSI_ESTIMATOR, startRssi, updateRssi, type RssiEstimatorConfig } from '#gateway/presence/rssi-estimators.ts';
import type { Pseudonym } from '#gateway/protocol/index.ts';
import { defaultRadioEnvironment, type RadioEnvironment } from '#simulator/radio/propagation.ts';
import { createRng } from '#simulator/rng.ts';
import {
  hearTrack, passBy, radiusForRssi, standAt, timeWithin, walkIn, walkOut, type Sighting, type Track,
} from '#simulator/shoppers/presence-tracks.ts';

// Which RSSI estimator keeps presence from flapping without making it slow? Seeded simulator tracks
// (simulator/shoppers/presence-tracks.ts, through the real virtual radio: log-distance path loss with
// shadowing σ 4 dB, multipath fades, 2 % packet loss, the reception edge, advDelay jitter) go through
// the real presence tracker with each candidate estimator, ticking once a second as the gateway does.
// Every candidate sees the same packets. The gateway is at the origin; the zone's radii follow the
// thresholds (enter radius: mean RSSI = enterRssiDbm; exit radius: mean RSSI = exitRssiDbm).
//   flaps              enters beyond the true visits: standing 10 min at the enter radius, half-way
//                      (in dB) and at the exit radius; passing by at 3, 8, 12 and 20 m (at 20 m, beyond
//                      the exit radius, no visit is true)
//   walk-in (door)     enter − the moment the shopper comes in through a door DOOR_M from the gateway
//   walk-out (door)    exit − the moment the shopper leaves through that door (heard no more)
//   walk-up (floor)    enter − the moment a shopper walking up crosses the enter radius
//   walk-away (floor)  exit − the moment a shopper walking away crosses the exit radius, still heard
//   CPU                the estimator alone (updateRssi), ns per packet

export type Candidate = { name: string; estimator: Partial<RssiEstimatorConfig> };

export const CANDIDATES: readonly Candidate[] = [
  { name: 'raw (last packet)', estimator: { robust: 'last', smoothing: 'none' } },
  { name: 'Kalman (the previous default)', estimator: { robust: 'last', smoothing: 'kalman' } },
  { name: 'EMA τ 2 s', estimator: { robust: 'last', smoothing: 'ema', emaTimeConstantMs: 2_000 } },
  { name: 'median 3 s', estimator: { robust: 'median', windowMs: 3_000, smoothing: 'none' } },
  { name: 'median 4 s', estimator: { robust: 'median', windowMs: 4_000, smoothing: 'none' } },
  { name: 'median 5 s', estimator: { robust: 'median', windowMs: 5_000, smoothing: 'none' } },
  { name: 'trimmed mean 3 s', estimator: { robust: 'trimmed-mean', windowMs: 3_000, trimFraction: 0.25, smoothing: 'none' } },
  { name: 'trimmed mean 4 s (default)', estimator: { robust: 'trimmed-mean', windowMs: 4_000, trimFraction: 0.25, smoothing: 'none' } },
  { name: 'trimmed mean 5 s', estimator: { robust: 'trimmed-mean', windowMs: 5_000, trimFraction: 0.25, smoothing: 'none' } },
  { name: 'trimmed mean 4 s → EMA τ 1 s', estimator: { robust: 'trimmed-mean', windowMs: 4_000, smoothing: 'ema', emaTimeConstantMs: 1_000 } },
  { name: 'trimmed mean 4 s → Kalman', estimator: { robust: 'trimmed-mean', windowMs: 4_000, smoothing: 'kalman' } },
];

/** The radios the candidates run in: the simulator's default store, and a crowded one (bodies, phones in pockets). */
export const ENVIRONMENTS: readonly { name: string; environment: Partial<RadioEnvironment> }[] = [
  { name: 'simulator default', environment: {} },
  { name: 'crowded: 20 % of packets faded by 12 dB', environment: { multipathBurstProbability: 0.2, multipathBurstDb: -12 } },
];

export type Scenario = { track: Track; truth: { maxVisits: number; enterMs?: number; arrivedMs?: number; exitMs?: number; leftMs?: number } };

const TX_AT_1M_DBM = -59;
const SPEED_MPS = 1.2;
/**
 * The store's door, from the entrance gateway: inside the 6.9 m zone with a 3.5 dB margin, as an
 * entrance gateway is placed (the demo store's door is 6.3 m out, right at the zone's edge).
 */
export const DOOR_M = 5;

/** The scenarios for a presence configuration: radii follow its thresholds and path-loss exponent. */
export function presenceScenarios(config: Pick<typeof DEFAULT_PRESENCE_CONFIG, 'enterRssiDbm' | 'exitRssiDbm' | 'pathLossExponent'> = DEFAULT_PRESENCE_CONFIG): Scenario[] {
  const enterM = radiusForRssi(config.enterRssiDbm, TX_AT_1M_DBM, config.pathLossExponent);
  const exitM = radiusForRssi(config.exitRssiDbm, TX_AT_1M_DBM, config.pathLossExponent);
  const stand = (m: number): Scenario => ({ track: standAt(m, 600_000), truth: { maxVisits: 1 } });
  const upTrack = walkIn({ fromM: 30, toM: 2, speedMps: SPEED_MPS, startMs: 5_000, durationMs: 5_000 + (28 / SPEED_MPS) * 1000 + 30_000 });
  const inTrack = walkIn({ fromM: 30, toM: 2, doorM: DOOR_M, speedMps: SPEED_MPS, startMs: 5_000, durationMs: 5_000 + (28 / SPEED_MPS) * 1000 + 30_000 });
  const awayTrack = walkOut({ fromM: 2, toM: 40, speedMps: SPEED_MPS, startMs: 30_000, durationMs: 30_000 + (38 / SPEED_MPS) * 1000 + 30_000 });
  const doorTrack = walkOut({ fromM: 2, toM: 40, doorM: DOOR_M, speedMps: SPEED_MPS, startMs: 30_000, durationMs: 30_000 + (38 / SPEED_MPS) * 1000 + 30_000 });
  const by = (closestM: number): Scenario => ({
    track: passBy({ closestM, lengthM: 80, speedMps: SPEED_MPS, durationMs: (80 / SPEED_MPS) * 1000 + 30_000 }),
    truth: { maxVisits: closestM <= exitM ? 1 : 0 },
  });
  return [
    stand(enterM),
    stand(Math.sqrt(enterM * exitM)),
    stand(exitM),
    { track: inTrack, truth: { maxVisits: 1, arrivedMs: inTrack.audibleFromMs } },
    { track: upTrack, truth: { maxVisits: 1, enterMs: timeWithin(upTrack, enterM)!.firstMs } },
    { track: doorTrack, truth: { maxVisits: 1, leftMs: doorTrack.audibleUntilMs } },
    { track: awayTrack, truth: { maxVisits: 1, exitMs: timeWithin(awayTrack, exitM)!.lastMs } },
    by(3), by(8), by(12), by(20),
  ];
}

const SHOPPER = '0123456789abcdef0123456789abcdef' as Pseudonym;

/** Runs one heard track through a tracker, ticking every tickMs as the gateway does, until the track ends and every away timeout has run. */
export function replay(sightings: readonly Sighting[], durationMs: number, overrides: PresenceOverrides, txAt1mDbm = TX_AT_1M_DBM, tickMs = 1_000): PresenceTransition[] {
  // One token per track, never rotated: no rotation grace (tracks start at t = 0, a rotation boundary).
  const tracker = createPresenceTracker({ rotationGraceMs: 0, ...overrides });
  const awayMs = overrides.awayTimeoutMs ?? DEFAULT_PRESENCE_CONFIG.awayTimeoutMs;
  const out: PresenceTransition[] = [];
  let nextTickMs = tickMs;
  for (const s of sightings) {
    for (; nextTickMs <= s.atMs; nextTickMs += tickMs) out.push(...tracker.tick(nextTickMs));
    out.push(...tracker.observe(SHOPPER, 'eddystone-eid', 'k', s.rssiDbm, s.atMs, txAt1mDbm));
  }
  for (; nextTickMs <= durationMs + awayMs + 2 * tickMs; nextTickMs += tickMs) out.push(...tracker.tick(nextTickMs));
  return out;
}

export type Latencies = { ms: number[]; missed: number };

export type CandidateResult = {
  name: string;
  /** Enters beyond the true visits, per advertising interval (ms). */
  flapsByInterval: Map<number, number>;
  /** Boundary-stand and pass-by runs with any flap, of flapRuns. */
  runsWithFlaps: number;
  flapRuns: number;
  /** Per scenario label, for a closer look. */
  flapsByScenario: Map<string, number>;
  walkIn: Latencies;
  walkUp: Latencies;
  walkOut: Latencies;
  walkAway: Latencies;
  nsPerSample: number;
};

export const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

/** The estimator alone: ns per packet over a long noisy stream at 5 Hz, median of rounds. */
function estimatorCost(estimator: RssiEstimatorConfig, samples: number, rounds: number): number {
  const rng = createRng(7);
  const values = Float64Array.from({ length: samples }, () => Math.round(-75 + rng.normal(0, 4)));
  const perRound: number[] = [];
  let sink = 0;
  for (let round = 0; round < rounds; round += 1) {
    const state = startRssi(values[0]!, 0, estimator);
    const started = performance.now();
    for (let i = 1; i < samples; i += 1) sink += updateRssi(state, values[i]!, i * 200, estimator);
    perRound.push(((performance.now() - started) * 1e6) / samples);
  }
  if (Number.isNaN(sink)) throw new Error('estimator produced NaN');
  return percentile(perRound, 50);
}

export type PresenceBenchOptions = {
  seeds: number;
  /** Advertising intervals to run every scenario at. */
  intervalsMs: readonly number[];
  candidates?: readonly Candidate[];
  presence?: PresenceOverrides;
  /** The radio, on top of the simulator's default (simulator/radio/propagation.ts). */
  environment?: Partial<RadioEnvironment>;
  costSamples?: number;
  /** Also print flaps per scenario. */
  detail?: boolean;
  print?: (line: string) => void;
};

export function runPresenceBench(options: PresenceBenchOptions): CandidateResult[] {
  const print = options.print ?? (() => undefined);
  const presence = { ...options.presence };
  const thresholds = { ...DEFAULT_PRESENCE_CONFIG, ...presence };
  const scenarios = presenceScenarios(thresholds);
  const candidates = options.candidates ?? CANDIDATES;
  const env: RadioEnvironment = { ...defaultRadioEnvironment, ...options.environment };
  print(`${options.seeds} seeds × ${options.intervalsMs.map((ms) => `${1000 / ms} Hz`).join(' and ')} advertising; enter ${thresholds.enterRssiDbm} dBm, exit ${thresholds.exitRssiDbm} dBm, ` +
    `minSightings ${thresholds.minSightings}, away ${thresholds.awayTimeoutMs / 1000} s, tick 1 s; radio: n ${env.pathLossExponent}, σ ${env.shadowingSigmaDb} dB, ` +
    `fades ${env.multipathBurstProbability * 100} % × ${env.multipathBurstDb} dB, loss ${env.packetLoss * 100} %`);

  // Hear every track once per (seed, interval); every candidate then sees the same packets.
  const heard = scenarios.flatMap((scenario) => options.intervalsMs.flatMap((intervalMs) =>
    Array.from({ length: options.seeds }, (_, seed) => ({ scenario, intervalMs, sightings: hearTrack(scenario.track, { seed: 1_000 + seed, intervalMs, txPowerAt1mDbm: TX_AT_1M_DBM, environment: env }) }))));

  const results: CandidateResult[] = [];
  for (const candidate of candidates) {
    const estimator = { ...DEFAULT_RSSI_ESTIMATOR, ...candidate.estimator };
    const result: CandidateResult = {
      name: candidate.name, flapsByInterval: new Map(options.intervalsMs.map((ms) => [ms, 0])), runsWithFlaps: 0, flapRuns: 0, flapsByScenario: new Map(),
      walkIn: { ms: [], missed: 0 }, walkUp: { ms: [], missed: 0 }, walkOut: { ms: [], missed: 0 }, walkAway: { ms: [], missed: 0 }, nsPerSample: 0,
    };
    for (const { scenario, intervalMs, sightings } of heard) {
      const transitions = replay(sightings, scenario.track.durationMs, { ...presence, estimator });
      const enters = transitions.filter((t) => t.kind === 'enter');
      const extra = Math.max(0, enters.length - scenario.truth.maxVisits);
      result.flapsByInterval.set(intervalMs, result.flapsByInterval.get(intervalMs)! + extra);
      const key = `${scenario.track.label} @ ${1000 / intervalMs} Hz`;
      result.flapsByScenario.set(key, (result.flapsByScenario.get(key) ?? 0) + extra);
      if (scenario.track.kind === 'boundary-stand' || scenario.track.kind === 'pass-by') {
        result.flapRuns += 1;
        if (extra > 0) result.runsWithFlaps += 1;
      }
      const { enterMs, arrivedMs, exitMs, leftMs } = scenario.truth;
      for (const [truthMs, latencies] of [[arrivedMs, result.walkIn], [enterMs, result.walkUp]] as const) {
        if (truthMs === undefined) continue;
        const enter = enters[0];
        if (enter === undefined) latencies.missed += 1;
        else latencies.ms.push(enter.atMs - truthMs);
      }
      for (const [truthMs, latencies] of [[leftMs, result.walkOut], [exitMs, result.walkAway]] as const) {
        if (truthMs === undefined) continue;
        const exit = transitions.find((t) => t.kind === 'exit');
        if (exit === undefined) latencies.missed += 1;
        else latencies.ms.push(exit.atMs - truthMs);
      }
    }
    result.nsPerSample = estimatorCost(estimator, options.costSamples ?? 200_000, 7);
    results.push(result);
  }

  const s = (ms: number): string => (Number.isNaN(ms) ? '–' : (ms / 1000).toFixed(1));
  const latency = (l: Latencies): string =>
    `${s(percentile(l.ms, 50))} / ${s(percentile(l.ms, 95))} / ${s(percentile(l.ms, 100))}${l.missed > 0 ? ` (${l.missed} missed)` : ''}`;
  const hz = options.intervalsMs.map((ms) => `${1000 / ms} Hz`).join(' / ');
  print(`| estimator | flaps ${hz} (runs with any) | walk-in (door) p50 / p95 / max, s | walk-out (door) | walk-up (floor) | walk-away (floor) | CPU ns/packet |`);
  print('|---|---|---|---|---|---|---|');
  for (const r of results) {
    print(`| ${r.name} | ${[...r.flapsByInterval.values()].join(' / ')} (${r.runsWithFlaps}/${r.flapRuns}) | ${latency(r.walkIn)} | ${latency(r.walkOut)} | ${latency(r.walkUp)} | ${latency(r.walkAway)} | ${r.nsPerSample.toFixed(0)} |`);
  }
  if (options.detail) {
    for (const r of results) {
      const flapping = [...r.flapsByScenario].filter(([, n]) => n > 0).map(([label, n]) => `${label}: ${n}`);
      print(`${r.name}: ${flapping.length === 0 ? 'no flaps' : flapping.join('; ')}`);
    }
  }
  return results;
}
