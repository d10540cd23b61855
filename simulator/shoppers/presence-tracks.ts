import { createSimulatedBindings } from '../noble-bindings.ts';
import { encodeEddystoneEid } from '../radio/encoders.ts';
import type { RadioEnvironment } from '../radio/propagation.ts';
import { createVirtualRadio } from '../radio/virtual-radio.ts';
import { createRng } from '../rng.ts';
import type { Point } from './walker.ts';

// Ground-truth tracks for presence tuning: one shopper moving on a straight line relative to one
// gateway at the origin, heard through the simulator's real radio (virtual-radio.ts: log-distance
// path loss, shadowing, multipath fades, packet loss, the reception edge, advDelay jitter) on a
// simulated adapter. The presence tests and simulator/bench/presence-bench.ts share them, so a
// benchmark figure and a test assertion describe the same thing.

export type TrackKind = 'boundary-stand' | 'walk-in' | 'walk-out' | 'pass-by';

/** A path made of straight legs between timed waypoints; position is held after the last one. */
export type Track = {
  kind: TrackKind;
  label: string;
  durationMs: number;
  waypoints: readonly { atMs: number; at: Point }[];
  /** The shopper comes into earshot (in through the door) at this time; undefined = from the start. */
  audibleFromMs?: number;
  /** The shopper goes out of earshot (out through the door) at this time; undefined = never. */
  audibleUntilMs?: number;
};

export type Sighting = { atMs: number; rssiDbm: number };

export const GATEWAY_AT: Point = { x: 0, y: 0 };

export function positionAt(track: Track, atMs: number): Point {
  const { waypoints } = track;
  const first = waypoints[0]!;
  if (atMs <= first.atMs) return first.at;
  for (let i = 1; i < waypoints.length; i += 1) {
    const to = waypoints[i]!;
    if (atMs <= to.atMs) {
      const from = waypoints[i - 1]!;
      const f = to.atMs === from.atMs ? 1 : (atMs - from.atMs) / (to.atMs - from.atMs);
      return { x: from.at.x + (to.at.x - from.at.x) * f, y: from.at.y + (to.at.y - from.at.y) * f };
    }
  }
  return waypoints.at(-1)!.at;
}

export const distanceAt = (track: Track, atMs: number): number => {
  const p = positionAt(track, atMs);
  return Math.hypot(p.x - GATEWAY_AT.x, p.y - GATEWAY_AT.y);
};

/** Distance at which the mean RSSI equals rssiDbm (log-distance model without noise). */
export function radiusForRssi(rssiDbm: number, txPowerAt1mDbm: number, pathLossExponent: number): number {
  return 10 ** ((txPowerAt1mDbm - rssiDbm) / (10 * pathLossExponent));
}

/** First and last moment (10 ms resolution) the track is within radiusM of the gateway; undefined if never. */
export function timeWithin(track: Track, radiusM: number): { firstMs: number; lastMs: number } | undefined {
  let firstMs: number | undefined;
  let lastMs = 0;
  for (let t = 0; t <= track.durationMs; t += 10) {
    if (distanceAt(track, t) <= radiusM) {
      firstMs ??= t;
      lastMs = t;
    }
  }
  return firstMs === undefined ? undefined : { firstMs, lastMs };
}

/** Standing still at distanceM for durationMs. */
export function standAt(distanceM: number, durationMs: number): Track {
  return { kind: 'boundary-stand', label: `stand at ${distanceM.toFixed(1)} m`, durationMs, waypoints: [{ atMs: 0, at: { x: distanceM, y: 0 } }] };
}

/**
 * Walking straight at the gateway from fromM to toM (starting at startMs), then staying until
 * durationMs. With doorM, the shopper comes in through a door that far from the gateway (from the
 * street): nothing is heard before that moment.
 */
export function walkIn(options: { fromM: number; toM: number; speedMps: number; startMs: number; durationMs: number; doorM?: number }): Track {
  const arriveMs = options.startMs + ((options.fromM - options.toM) / options.speedMps) * 1000;
  const doorMs = options.doorM === undefined ? undefined : options.startMs + ((options.fromM - options.doorM) / options.speedMps) * 1000;
  return {
    kind: 'walk-in', label: options.doorM === undefined ? `walk up ${options.fromM}→${options.toM} m` : `walk in through a door at ${options.doorM} m`,
    durationMs: options.durationMs,
    waypoints: [{ atMs: options.startMs, at: { x: options.fromM, y: 0 } }, { atMs: arriveMs, at: { x: options.toM, y: 0 } }],
    audibleFromMs: doorMs,
  };
}

/**
 * Standing at fromM until startMs, then walking straight away to toM and staying there until
 * durationMs. With doorM, the shopper leaves through a door that far from the gateway (out of the
 * store): nothing is heard from that moment on.
 */
export function walkOut(options: { fromM: number; toM: number; speedMps: number; startMs: number; durationMs: number; doorM?: number }): Track {
  const arriveMs = options.startMs + ((options.toM - options.fromM) / options.speedMps) * 1000;
  const doorMs = options.doorM === undefined ? undefined : options.startMs + ((options.doorM - options.fromM) / options.speedMps) * 1000;
  return {
    kind: 'walk-out', label: options.doorM === undefined ? `walk away ${options.fromM}→${options.toM} m` : `walk out through a door at ${options.doorM} m`,
    durationMs: options.durationMs,
    waypoints: [{ atMs: options.startMs, at: { x: options.fromM, y: 0 } }, { atMs: arriveMs, at: { x: options.toM, y: 0 } }],
    audibleUntilMs: doorMs,
  };
}

/** Walking past on a straight line whose closest approach to the gateway is closestM, over lengthM. */
export function passBy(options: { closestM: number; lengthM: number; speedMps: number; durationMs: number }): Track {
  const walkMs = (options.lengthM / options.speedMps) * 1000;
  return {
    kind: 'pass-by', label: `pass by at ${options.closestM} m`, durationMs: options.durationMs,
    waypoints: [{ atMs: 0, at: { x: -options.lengthM / 2, y: options.closestM } }, { atMs: walkMs, at: { x: options.lengthM / 2, y: options.closestM } }],
  };
}

export type HearOptions = {
  seed: number;
  /** Advertising interval (1 Hz = 1000); the radio adds the spec's 0–10 ms advDelay. */
  intervalMs: number;
  txPowerAt1mDbm: number;
  environment?: Partial<RadioEnvironment>;
  /** The gateway adapter's calibration error, dB. */
  rssiOffsetDb?: number;
};

/** Every packet the gateway's simulated adapter reports for this track, in time order. */
export function hearTrack(track: Track, options: HearOptions): Sighting[] {
  const bindings = createSimulatedBindings();
  bindings.init();
  bindings.startScanning([], true);
  const radio = createVirtualRadio({
    rng: createRng(options.seed),
    receivers: [{ id: 'gw', position: GATEWAY_AT, bindings, rssiOffsetDb: options.rssiOffsetDb ?? 0 }],
    propagation: options.environment,
  });
  const sightings: Sighting[] = [];
  bindings.on('discover', (...args: unknown[]) => void sightings.push({ atMs: radio.nowMs(), rssiDbm: args[5] as number }));
  const payload = encodeEddystoneEid({ eid: '0011223344556677', txPowerDbm: options.txPowerAt1mDbm + 41 });
  const audibleFromMs = track.audibleFromMs ?? Number.NEGATIVE_INFINITY;
  const audibleUntilMs = track.audibleUntilMs ?? Number.POSITIVE_INFINITY;
  radio.addAdvertiser({
    id: 'shopper', position: () => positionAt(track, radio.nowMs()), intervalMs: options.intervalMs, txPowerAt1mDbm: options.txPowerAt1mDbm,
    payload: (nowMs) => (nowMs >= audibleFromMs && nowMs < audibleUntilMs ? payload : undefined),
  });
  radio.advance(track.durationMs);
  return sightings;
}
