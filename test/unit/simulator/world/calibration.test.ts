import { describe, expect, it } from 'vitest';
import { calibrateGateway, FLOOR_PLAN_CALIBRATION, zoneClearanceM } from '#simulator/world/calibration.ts';

const FLOOR = { widthM: 30, heightM: 10 };
const square = (x: number, y: number, w: number, h: number) => [{ x, y }, { x: x + w, y }, { x: x + w, y: y + h }, { x, y: y + h }];
const RADIO = { pathLossExponent: 2.5, txPowerAt1mDbm: -59 };

describe('zoneClearanceM', () => {
  it('measures to the nearest inner edge and ignores the outside walls', () => {
    // A 10 × 10 zone on the floor's left wall, top and bottom walls outside: only the edge at x = 10 is inner.
    expect(zoneClearanceM({ x: 3, y: 5 }, square(0, 0, 10, 10), FLOOR)).toBe(7);
    // In the middle of the floor every edge is inner.
    expect(zoneClearanceM({ x: 15, y: 5 }, square(10, 2, 10, 6), FLOOR)).toBe(3);
  });

  it('is unbounded for a zone that is the whole floor', () => {
    expect(zoneClearanceM({ x: 15, y: 5 }, square(0, 0, 30, 10), FLOOR)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('calibrateGateway', () => {
  it('captures inside the zone with a margin, releases beyond it, and holds for the time to walk across', () => {
    const c = calibrateGateway({ id: 'gw', zoneId: 'z', position: { x: 15, y: 5 } }, square(10, 2, 10, 6), FLOOR, RADIO);
    expect(c).toMatchObject({ gatewayId: 'gw', zoneId: 'z', clearanceM: 3, captureM: 2.4, releaseM: 3.9, source: 'floor-plan' });
    // The log-distance model: −59 − 25·log10(2.4) = −68.5 dBm; at 3.9 m, −73.8 dBm.
    expect(c.presence).toEqual({ enterRssiDbm: -68.5, exitRssiDbm: -73.8, awayTimeoutMs: FLOOR_PLAN_CALIBRATION.awayTimeoutMs, enterHoldMs: 6_000 });
    expect(c.presence.exitRssiDbm).toBeLessThan(c.presence.enterRssiDbm);
  });

  it('never captures closer than the minimum, and reaches half the floor for a zone that is all of it', () => {
    const tight = calibrateGateway({ id: 'gw', zoneId: 'z', position: { x: 10.5, y: 5 } }, square(10, 2, 10, 6), FLOOR, RADIO);
    expect(tight.captureM).toBe(FLOOR_PLAN_CALIBRATION.minCaptureM);
    const whole = calibrateGateway({ id: 'gw', zoneId: 'z', position: { x: 15, y: 5 } }, square(0, 0, 30, 10), FLOOR, RADIO);
    expect(whole.clearanceM).toBeNull();
    expect(whole.captureM).toBeCloseTo(0.8 * Math.hypot(30, 10) / 2, 1);
  });
});
