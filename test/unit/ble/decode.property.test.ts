import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import type { Advertisement } from '#gateway/ble/decode.ts';
import type { BeaconFrame } from '#gateway/ble/frames.ts';
import {
  encodeAltBeacon,
  encodeEddystoneEid,
  encodeEddystoneTlm,
  encodeEddystoneUid,
  encodeEddystoneUrl,
  encodeIBeacon,
} from '#simulator/radio/encoders.ts';

// 40,000 + 30,000 + 7 × 5,000 = 105,000 runs in all.
const ARBITRARY_RUNS = 40_000;
const MUTATION_RUNS = 30_000;
const ROUND_TRIP_RUNS = 5_000;

const hexOf = (size: number) => fc.uint8Array({ minLength: size, maxLength: size }).map((b) => Buffer.from(b).toString('hex'));
const uuid = hexOf(16).map((h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
const int8 = fc.integer({ min: -128, max: 127 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

const iBeacon = fc.record({ uuid, major: u16, minor: u16, measuredPowerDbm: int8 });
const altBeacon = fc.record({
  companyId: u16.filter((id) => id !== 0x004c && id !== 0x0006), // Apple and Microsoft frames are never AltBeacons
  id1: uuid, id2: u16, id3: u16, referenceRssiDbm: int8, reserved: fc.integer({ min: 0, max: 0xff }),
});
const eddystoneUid = fc.record({ namespace: hexOf(10), instance: hexOf(6), txPowerDbm: int8 });
// A URL is a scheme then up to 17 tokens, each a printable character or an expansion: it always fits.
const urlToken = fc.oneof(
  fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc.constantFrom('.com/', '.org/', '.edu/', '.net/', '.info/', '.biz/', '.gov/', '.com', '.org', '.edu', '.net', '.info', '.biz', '.gov'),
);
const url = fc
  .tuple(fc.constantFrom('http://www.', 'https://www.', 'http://', 'https://'), fc.array(urlToken, { maxLength: 17 }))
  .map(([scheme, tokens]) => scheme + tokens.join(''));
const eddystoneUrl = fc.record({ url, txPowerDbm: int8 });
const eddystoneTlm = fc.record({
  batteryMv: fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: null }),
  temperatureC: fc.option(fc.integer({ min: -0x7fff, max: 0x7fff }).map((fixed) => fixed / 256), { nil: null }),
  advCount: u32,
  uptimeS: u32.map((tenths) => tenths / 10),
});
const eddystoneEtlm = fc.record({ version: fc.constant(1 as const), etlm: hexOf(12), salt: hexOf(2), mic: hexOf(2) });
const eddystoneEid = fc.record({ eid: hexOf(8), txPowerDbm: int8 });

/** Each kind of beacon: its parameters, its encoder, and the frame it must decode to. */
const beacons = {
  ibeacon: iBeacon.map((p) => [encodeIBeacon(p),
    { type: 'ibeacon', ...p, ...(p.measuredPowerDbm >= 0 ? { implausiblePower: true } : {}) }] as const),
  altbeacon: altBeacon.map((p) => [encodeAltBeacon(p), { type: 'altbeacon', ...p }] as const),
  'eddystone-uid': eddystoneUid.map((p) => [encodeEddystoneUid(p), { type: 'eddystone-uid', ...p }] as const),
  'eddystone-url': eddystoneUrl.map((p) => [encodeEddystoneUrl(p), { type: 'eddystone-url', ...p }] as const),
  'eddystone-tlm': eddystoneTlm.map((p) => [encodeEddystoneTlm(p), { type: 'eddystone-tlm', version: 0, ...p }] as const),
  'eddystone-etlm': eddystoneEtlm.map((p) => [encodeEddystoneTlm(p), { type: 'eddystone-etlm', ...p }] as const),
  'eddystone-eid': eddystoneEid.map((p) => [encodeEddystoneEid(p), { type: 'eddystone-eid', ...p }] as const),
} satisfies Record<BeaconFrame['type'], fc.Arbitrary<readonly [Buffer, BeaconFrame]>>;

function expectWellFormed(ad: Advertisement, length: number): void {
  for (const error of ad.errors) {
    expect(Number.isInteger(error.offset) && error.offset >= 0 && error.offset < length).toBe(true);
  }
  expect(JSON.parse(JSON.stringify(ad))).toStrictEqual(ad); // plain JSON: no undefined, NaN or class instances
}

describe('decodeAdvertisement, for any input', () => {
  it('never throws on arbitrary bytes, and every error offset lies within the packet', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expectWellFormed(decodeAdvertisement(data), data.length);
      }),
      { numRuns: ARBITRARY_RUNS },
    );
  });

  it('never throws on mutated or truncated beacon advertisements, and errors point inside them', () => {
    const mutated = fc
      .tuple(
        fc.oneof(...Object.values(beacons)),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 0xff })), { maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([[packet], flips, cut]) => {
        const bytes = Uint8Array.from(packet);
        for (const [index, mask] of flips) {
          const at = index % bytes.length;
          bytes[at] = (bytes[at] ?? 0) ^ mask;
        }
        return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
      });
    fc.assert(
      fc.property(mutated, (data) => {
        expectWellFormed(decodeAdvertisement(data), data.length);
      }),
      { numRuns: MUTATION_RUNS },
    );
  });
});

describe('encode then decode', () => {
  it.each(Object.entries(beacons))('gives back exactly the %s parameters', (_type, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, ([packet, frame]) => {
        const ad = decodeAdvertisement(packet);
        expect(ad.errors).toEqual([]);
        expect(ad.frames).toStrictEqual([frame]);
        expect(packet.length).toBeLessThanOrEqual(31);
      }),
      { numRuns: ROUND_TRIP_RUNS },
    );
  });
});
