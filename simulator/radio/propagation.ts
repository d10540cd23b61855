import type { Rng } from '#simulator/rng.ts';

// Indoor radio propagation, pure apart from the injected RNG.
// Log-distance path loss with log-normal shadowing (Rappaport, "Wireless Communications", §4.9):
//   RSSI(d) = P(1 m) − 10·n·log10(d / 1 m) + X_σ
// n is about 2 in free space and 2–3.5 in a store; σ is typically 3–8 dB indoors. On top of that a
// multipath fade (people, shelves, the phone in a pocket) occasionally knocks a packet down by several dB.

/** The room: how the channel behaves, whoever transmits. */
export type RadioEnvironment = {
  /** Path-loss exponent n (2 = free space). */
  pathLossExponent: number;
  /** Standard deviation of log-normal shadowing, dB. */
  shadowingSigmaDb: number;
  /** Probability that a packet suffers a multipath fade. */
  multipathBurstProbability: number;
  /** Size of that fade, dB (negative: a loss). */
  multipathBurstDb: number;
  /** Receiver sensitivity, dBm: half of the packets at this level are received. */
  sensitivityDbm: number;
  /** Loss independent of signal strength (collisions, interference), 0..1. */
  packetLoss: number;
};

/** A supermarket-like default: shelving, people, 2.4 GHz Wi-Fi around. */
export const defaultRadioEnvironment: RadioEnvironment = {
  pathLossExponent: 2.5,
  shadowingSigmaDb: 4,
  multipathBurstProbability: 0.05,
  multipathBurstDb: -6,
  sensitivityDbm: -95,
  packetLoss: 0.02,
};

export type LinkParams = Pick<RadioEnvironment, 'pathLossExponent' | 'shadowingSigmaDb' | 'multipathBurstProbability' | 'multipathBurstDb'> & {
  /** The transmitter's RSSI at 1 m (iBeacon "measured power"), dBm. */
  txPowerAt1mDbm: number;
  distanceM: number;
  /** Per-receiver calibration error (antenna, enclosure), dB. */
  rssiOffsetDb: number;
};

/** Closer than this the far-field model breaks down; treat it as this far. */
export const MIN_DISTANCE_M = 0.5;
/** HCI reports RSSI as int8 with 127 meaning "not available"; −127..20 dBm is the meaningful range (Core Spec Vol 4 Part E §7.7.65.2). */
export const RSSI_MIN_DBM = -127;
export const RSSI_MAX_DBM = 20;

/** One packet's RSSI at the receiver, an integer in dBm as a controller reports it. */
export function rssiAt(link: LinkParams, rng: Rng): number {
  const distanceM = Math.max(link.distanceM, MIN_DISTANCE_M);
  let rssi = link.txPowerAt1mDbm - 10 * link.pathLossExponent * Math.log10(distanceM) + link.rssiOffsetDb;
  if (link.shadowingSigmaDb > 0) rssi += rng.normal(0, link.shadowingSigmaDb);
  if (link.multipathBurstProbability > 0 && rng.next() < link.multipathBurstProbability) rssi += link.multipathBurstDb;
  return Math.min(RSSI_MAX_DBM, Math.max(RSSI_MIN_DBM, Math.round(rssi)));
}

/** Width of the reception edge, dB: from ~10 % to ~90 % received over about 6.6 dB. */
const EDGE_DB = 1.5;

/**
 * Probability that a packet at `rssiDbm` is received: a soft edge around the sensitivity
 * (logistic; 50 % at the sensitivity, the usual way a datasheet quotes it) times the
 * signal-independent delivery rate 1 − packetLoss.
 */
export function receptionProbability(rssiDbm: number, sensitivityDbm = -95, packetLoss = 0): number {
  const edge = 1 / (1 + Math.exp(-(rssiDbm - sensitivityDbm) / EDGE_DB));
  return edge * (1 - Math.min(1, Math.max(0, packetLoss)));
}
