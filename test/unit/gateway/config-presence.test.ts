import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '#gateway/config.ts';
import { createPresenceTracker } from '#gateway/presence/presence-tracker.ts';

// The presence section of the gateway's config file: tuning, calibration, the estimator and
// occupancy counting, each problem named by its path.

const aFile = (presence: unknown): string => JSON.stringify({
  storeId: 'store-1', gatewayId: 'gw-entrance', zoneId: 'entrance', secret: '00112233445566778899aabbccddeeff',
  mqtt: { url: 'mqtts://broker.example:8883' }, presence,
});
const problemsOf = (presence: unknown): string[] => {
  const result = loadGatewayConfig({}, aFile(presence), 'gateway.json');
  return result.ok ? [] : result.problems;
};

describe('gateway config: presence', () => {
  it('accepts a full presence section, which the tracker then accepts too', () => {
    const presence = {
      enterRssiDbm: -78, exitRssiDbm: -86, minSightings: 3, awayTimeoutMs: 12_000, dwellMarksMs: [30_000, 120_000, 300_000], dwellIntervalMs: 0,
      maxTracked: 5_000, rssiOffsetDb: -2.5, pathLossExponent: 2.8, defaultMeasuredPowerDbm: -61, immediateMaxM: 0.4, nearMaxM: 2.5,
      estimator: { robust: 'median', windowMs: 3_000, maxSamples: 24, smoothing: 'ema', emaTimeConstantMs: 1_000 },
      occupancy: { enabled: true, windowMs: 300_000, minCount: 10 },
    };
    const result = loadGatewayConfig({}, aFile(presence), 'gateway.json');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.presence).toEqual(presence);
    const { occupancy: _occupancy, ...tracker } = result.config.presence;
    expect(() => createPresenceTracker(tracker)).not.toThrow();
  });

  it.each([
    [{ occupancy: { enabled: true, windowMs: 30_000 } }, 'presence.occupancy.windowMs: occupancy windows are at least 60000 ms (60 s)'],
    [{ occupancy: { minCount: 1 } }, 'presence.occupancy.minCount: minCount (k) is at least 2'],
    [{ occupancy: { minCount: 8, maxDistinct: 4 } }, 'presence.occupancy.maxDistinct: maxDistinct must be at least minCount (8)'],
    [{ exitRssiDbm: -70 }, 'presence.exitRssiDbm: exitRssiDbm (-70) must not be above enterRssiDbm (-80): the gap is the hysteresis'],
    [{ immediateMaxM: 4 }, 'presence.nearMaxM: nearMaxM (3 m) must be above immediateMaxM (4 m)'],
    [{ dwellMarksMs: [60_000, 30_000] }, 'presence.dwellMarksMs.1: dwell marks must be in ascending order'],
  ])('refuses %o with a problem naming the field', (presence, problem) => {
    expect(problemsOf(presence)).toEqual([`gateway.json: ${problem}`]);
  });

  it.each([
    [{ pathLossExponent: 1 }, 'presence.pathLossExponent'],
    [{ rssiOffsetDb: 40 }, 'presence.rssiOffsetDb'],
    [{ defaultMeasuredPowerDbm: 4 }, 'presence.defaultMeasuredPowerDbm'],
    [{ nearMaxM: -1 }, 'presence.nearMaxM'],
    [{ awayTimeoutMs: 100 }, 'presence.awayTimeoutMs'],
    [{ dwellIntervalMs: 500 }, 'presence.dwellIntervalMs'],
    [{ estimator: { robust: 'mean' } }, 'presence.estimator.robust'],
    [{ estimator: { trimFraction: 0.5 } }, 'presence.estimator.trimFraction'],
    [{ estimator: { colour: 'blue' } }, 'presence.estimator'],
    [{ occupancy: { enabled: 'yes' } }, 'presence.occupancy.enabled'],
    [{ exitHoldMs: 8_000 }, 'presence'],
  ])('refuses %o, naming %s', (presence, path) => {
    const problems = problemsOf(presence);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.map((p) => p.split(': ')[1])).toContain(path);
  });
});
