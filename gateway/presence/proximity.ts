import type { Frame } from '../ble/frames.ts';
import type { Proximity } from '../protocol/index.ts';

// Proximity band from an RSSI estimate: log-distance path loss (Rappaport, "Wireless
// Communications", §4.9), RSSI(d) = P(1 m) − 10·n·log10(d / 1 m), solved for d with the
// transmitter's own calibration (the frame's measured power) and this gateway's path-loss exponent,
// then cut into the coarse bands of ProximitySchema (MIN-4: no finer location leaves the gateway).

export type ProximityConfig = {
  /** Added to every RSSI this gateway reports (calibration: an adapter that reads 3 dB low gets +3). */
  rssiOffsetDb: number;
  /** n of the log-distance model: 2 in free space, 2–3.5 in a store. */
  pathLossExponent: number;
  /** RSSI at 1 m assumed for a frame that carries no plausible measured power, dBm. */
  defaultMeasuredPowerDbm: number;
  /** Estimated distance up to which a device is 'immediate', metres. */
  immediateMaxM: number;
  /** Estimated distance up to which a device is 'near' (beyond it: 'far'), metres. */
  nearMaxM: number;
};

export const DEFAULT_PROXIMITY: ProximityConfig = {
  rssiOffsetDb: 0,
  pathLossExponent: 2.5,
  defaultMeasuredPowerDbm: -59,
  immediateMaxM: 0.5,
  nearMaxM: 3,
};

/** Eddystone calibrates TX power at 0 m; the usual loss from 0 m to 1 m is 41 dB (Eddystone spec, "Tx Power"). */
export const EDDYSTONE_0M_TO_1M_DB = 41;

/** Measured power at 1 m outside this range is a misconfigured beacon (positive values occur in the wild), dBm. */
const PLAUSIBLE_AT_1M_DBM = { min: -100, max: -20 } as const;

/** The frame's own calibration as RSSI at 1 m, dBm; undefined when it carries none or an implausible one. */
export function measuredPowerAt1mDbm(frame: Frame): number | undefined {
  let at1m: number;
  switch (frame.type) {
    case 'ibeacon':
      if (frame.implausiblePower) return undefined;
      at1m = frame.measuredPowerDbm;
      break;
    case 'altbeacon':
      at1m = frame.referenceRssiDbm;
      break;
    case 'eddystone-eid':
    case 'eddystone-uid':
    case 'eddystone-url':
      at1m = frame.txPowerDbm - EDDYSTONE_0M_TO_1M_DB;
      break;
    default:
      return undefined;
  }
  return at1m >= PLAUSIBLE_AT_1M_DBM.min && at1m <= PLAUSIBLE_AT_1M_DBM.max ? at1m : undefined;
}

/** Estimated distance, metres, of a (calibrated) RSSI from a transmitter whose RSSI at 1 m is measuredPowerDbm. */
export function estimateDistanceM(rssiDbm: number, measuredPowerDbm: number, pathLossExponent: number): number {
  return 10 ** ((measuredPowerDbm - rssiDbm) / (10 * pathLossExponent));
}

export function proximityBand(distanceM: number, config: Pick<ProximityConfig, 'immediateMaxM' | 'nearMaxM'>): Proximity {
  if (distanceM <= config.immediateMaxM) return 'immediate';
  if (distanceM <= config.nearMaxM) return 'near';
  return 'far';
}

/** The band of an estimate that already includes rssiOffsetDb. */
export function proximityOf(calibratedRssiDbm: number, measuredPowerDbm: number | undefined, config: ProximityConfig): Proximity {
  return proximityBand(estimateDistanceM(calibratedRssiDbm, measuredPowerDbm ?? config.defaultMeasuredPowerDbm, config.pathLossExponent), config);
}

/** Throws a RangeError naming the field at fault. */
export function validateProximityConfig(config: ProximityConfig): void {
  if (!(Math.abs(config.rssiOffsetDb) <= 30)) throw new RangeError(`rssiOffsetDb must be within ±30 dB, got ${config.rssiOffsetDb}`);
  if (!(config.pathLossExponent >= 1.5 && config.pathLossExponent <= 6)) throw new RangeError(`pathLossExponent must be 1.5..6, got ${config.pathLossExponent}`);
  if (!(config.defaultMeasuredPowerDbm >= PLAUSIBLE_AT_1M_DBM.min && config.defaultMeasuredPowerDbm <= PLAUSIBLE_AT_1M_DBM.max)) {
    throw new RangeError(`defaultMeasuredPowerDbm must be ${PLAUSIBLE_AT_1M_DBM.min}..${PLAUSIBLE_AT_1M_DBM.max} dBm, got ${config.defaultMeasuredPowerDbm}`);
  }
  if (!(config.immediateMaxM > 0)) throw new RangeError(`immediateMaxM must be > 0 m, got ${config.immediateMaxM}`);
  if (!(config.nearMaxM > config.immediateMaxM)) throw new RangeError(`nearMaxM must be above immediateMaxM (${config.immediateMaxM} m), got ${config.nearMaxM}`);
}
