// RSSI smoothing. A scalar Kalman filter over dBm: a random-walk state (the shopper moves slowly
// against the advertising rate) observed with Gaussian noise. It follows a real change within a
// few packets yet damps the ±6 dB multipath bursts that make naive trackers flap.

export type RssiFilterConfig = {
  /** Variance added per second of elapsed time, dB²/s: how fast the true signal may drift. */
  processNoiseDb2PerS: number;
  /** Measurement variance, dB²: shadowing plus multipath (σ ≈ 4 dB → 16). */
  measurementNoiseDb2: number;
};

export const DEFAULT_RSSI_FILTER: RssiFilterConfig = { processNoiseDb2PerS: 4, measurementNoiseDb2: 16 };

export type RssiEstimate = { rssiDbm: number; varianceDb2: number; atMs: number };

export function startEstimate(rssiDbm: number, atMs: number, config: RssiFilterConfig = DEFAULT_RSSI_FILTER): RssiEstimate {
  return { rssiDbm, varianceDb2: config.measurementNoiseDb2, atMs };
}

export function updateEstimate(estimate: RssiEstimate, rssiDbm: number, atMs: number, config: RssiFilterConfig = DEFAULT_RSSI_FILTER): RssiEstimate {
  const elapsedS = Math.max(0, atMs - estimate.atMs) / 1000;
  const predicted = estimate.varianceDb2 + config.processNoiseDb2PerS * elapsedS;
  const gain = predicted / (predicted + config.measurementNoiseDb2);
  return {
    rssiDbm: estimate.rssiDbm + gain * (rssiDbm - estimate.rssiDbm),
    varianceDb2: (1 - gain) * predicted,
    atMs: Math.max(atMs, estimate.atMs),
  };
}
