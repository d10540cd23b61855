import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import type { Frame } from '#gateway/ble/frames.ts';
import {
  DEFAULT_PROXIMITY, EDDYSTONE_0M_TO_1M_DB, estimateDistanceM, measuredPowerAt1mDbm, proximityBand, proximityOf, validateProximityConfig, type ProximityConfig,
} from '#gateway/presence/proximity.ts';
import { encodeAltBeacon, encodeEddystoneEid, encodeEddystoneUid, encodeIBeacon } from '#simulator/radio/encoders.ts';

const UUID = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';
/** The first frame the gateway's decoder finds in these AD bytes. */
const frameOf = (ad: Buffer): Frame => decodeAdvertisement(ad).frames[0]!;

describe('measured power from the decoded frame', () => {
  it.each([
    ['iBeacon measured power (at 1 m)', encodeIBeacon({ uuid: UUID, major: 1, minor: 2, measuredPowerDbm: -59 }), -59],
    ['AltBeacon reference RSSI (at 1 m)', encodeAltBeacon({ companyId: 0x0118, id1: UUID, id2: 1, id3: 2, referenceRssiDbm: -62, reserved: 0 }), -62],
    ['Eddystone-EID TX power (at 0 m) less 41 dB', encodeEddystoneEid({ eid: '0011223344556677', txPowerDbm: -20 }), -61],
    ['Eddystone-UID TX power (at 0 m) less 41 dB', encodeEddystoneUid({ namespace: '00112233445566778899', instance: 'aabbccddeeff', txPowerDbm: -4 }), -45],
  ])('reads %s', (_what, ad, expected) => {
    expect(measuredPowerAt1mDbm(frameOf(ad))).toBe(expected);
  });

  it('uses the usual 41 dB from 0 m to 1 m for Eddystone', () => {
    expect(EDDYSTONE_0M_TO_1M_DB).toBe(41);
  });

  it.each([
    ['a positive iBeacon measured power (flagged implausible by the decoder)', encodeIBeacon({ uuid: UUID, major: 1, minor: 2, measuredPowerDbm: 10 })],
    ['an AltBeacon reference RSSI of 0 dBm', encodeAltBeacon({ companyId: 0x0118, id1: UUID, id2: 1, id3: 2, referenceRssiDbm: 0, reserved: 0 })],
    ['an Eddystone TX power of −100 dBm (−141 at 1 m)', encodeEddystoneEid({ eid: '0011223344556677', txPowerDbm: -100 })],
  ])('ignores %s', (_what, ad) => {
    expect(measuredPowerAt1mDbm(frameOf(ad))).toBeUndefined();
  });

  it('has none for frames that carry no calibration', () => {
    expect(measuredPowerAt1mDbm({ type: 'apple-findmy' })).toBeUndefined();
    expect(measuredPowerAt1mDbm({ type: 'eddystone-tlm', version: 0, batteryMv: 3000, temperatureC: 20, advCount: 1, uptimeS: 1 } as Frame)).toBeUndefined();
  });
});

describe('distance and band', () => {
  it('inverts the log-distance model: at the measured power the distance is 1 m, and 10·n dB less is 10 m', () => {
    expect(estimateDistanceM(-59, -59, 2.5)).toBeCloseTo(1, 10);
    expect(estimateDistanceM(-84, -59, 2.5)).toBeCloseTo(10, 10);
    expect(estimateDistanceM(-79, -59, 2)).toBeCloseTo(10, 10);
  });

  it.each([
    [0.3, 'immediate'], [0.5, 'immediate'], [0.51, 'near'], [3, 'near'], [3.01, 'far'], [40, 'far'],
  ] as const)('puts %d m in the %s band (defaults: immediate ≤ 0.5 m, near ≤ 3 m)', (distanceM, band) => {
    expect(proximityBand(distanceM, DEFAULT_PROXIMITY)).toBe(band);
  });

  it('falls back to defaultMeasuredPowerDbm when the frame has none', () => {
    const config: ProximityConfig = { ...DEFAULT_PROXIMITY, defaultMeasuredPowerDbm: -59 };
    expect(proximityOf(-60, undefined, config)).toBe('near');
    expect(proximityOf(-60, -75, config)).toBe('immediate'); // 0.23 m from a weak transmitter
  });

  it.each([
    [{ rssiOffsetDb: 31 }, /rssiOffsetDb/],
    [{ pathLossExponent: 1 }, /pathLossExponent/],
    [{ pathLossExponent: Number.NaN }, /pathLossExponent/],
    [{ defaultMeasuredPowerDbm: 5 }, /defaultMeasuredPowerDbm/],
    [{ immediateMaxM: 0 }, /immediateMaxM/],
    [{ nearMaxM: 0.4 }, /nearMaxM/],
  ])('refuses %o, naming the field', (overrides, message) => {
    expect(() => validateProximityConfig({ ...DEFAULT_PROXIMITY, ...overrides })).toThrow(message);
  });
});
