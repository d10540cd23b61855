import { Buffer } from 'node:buffer';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAdStructures } from '#gateway/ble/ad-parser.ts';
import type { AdStructure } from '#gateway/ble/ad-parser.ts';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import type { Advertisement } from '#gateway/ble/decode.ts';
import type { BeaconFrame } from '#gateway/ble/frames.ts';
import {
  encodeAltBeacon,
  encodeAppleContinuity,
  encodeExposureNotification,
  encodeMicrosoftCdp,
  encodeEddystoneEid,
  encodeEddystoneTlm,
  encodeEddystoneUid,
  encodeEddystoneUrl,
  encodeIBeacon,
} from '#simulator/radio/encoders.ts';

// Random and mutated buffers: 40,000 arbitrary + 10,000 runs × (5 single mutations + their stack) = 100,000;
// round trips: 7 × 5,000.
const ARBITRARY_RUNS = 40_000;
const MUTATION_RUNS = 10_000;
const MUTATIONS_PER_RUN = 5;
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

const BEACON_TYPES = new Set<string>(['ibeacon', 'altbeacon', 'eddystone-uid', 'eddystone-url', 'eddystone-tlm', 'eddystone-etlm', 'eddystone-eid']);

/** One AD structure as a packet of its own. */
const alone = (s: AdStructure): Uint8Array => Uint8Array.of(s.data.length + 1, s.type, ...s.data);

/**
 * The invariants every decode keeps, whatever the input:
 * - every error offset lies within the packet, and the result is plain JSON;
 * - the structural verdict (overrun, zero-length) is exactly parseAdStructures' one;
 * - every beacon comes from a well-formed AD structure of the packet: that structure, decoded alone,
 *   gives exactly this beacon and no error (so nothing is read across structures or past an error).
 */
function expectInvariants(data: Uint8Array): Advertisement {
  // Plain checks, with expect() only to report a failure: 100k+ inputs must run in seconds.
  const fail = (what: string): never => {
    expect.fail(`${what}\ninput: ${Buffer.from(data).toString('hex')}`);
  };
  const ad = decodeAdvertisement(data);
  for (const error of ad.errors) {
    if (!(Number.isInteger(error.offset) && error.offset >= 0 && error.offset < data.length)) fail(`error offset out of bounds: ${JSON.stringify(error)}`);
    if (!/\S/.test(error.message)) fail('error without a message');
  }
  // Plain JSON: no undefined, NaN or class instances (every key and value survives a round trip).
  const json = JSON.stringify(ad);
  if (JSON.stringify(JSON.parse(json)) !== json || !isDeepStrictEqual(JSON.parse(json), ad)) fail(`not plain JSON: ${json}`);
  const parsed = parseAdStructures(data);
  const structural = ad.errors.filter((e) => e.code === 'overrun' || e.code === 'zero-length');
  if (!isDeepStrictEqual(structural, parsed.error ? [parsed.error] : [])) fail(`structural errors ${JSON.stringify(structural)} ≠ parseAdStructures ${JSON.stringify(parsed.error)}`);
  let from = 0;
  for (const frame of ad.frames) {
    if (!BEACON_TYPES.has(frame.type)) continue;
    const expected = JSON.stringify({ ...EMPTY, frames: [frame] });
    const index = parsed.structures.findIndex((s, i) => i >= from && JSON.stringify(decodeAdvertisement(alone(s))) === expected);
    if (index < 0) fail(`beacon ${JSON.stringify(frame)} has no well-formed structure of its own`);
    from = index + 1;
  }
  return ad;
}

const EMPTY: Advertisement = { frames: [], serviceUuids16: [], serviceUuids32: [], serviceUuids128: [], errors: [] };

/** Valid packets to mutate: every beacon, the non-beacons, and a long extended-advertising packet. */
const valid = fc.oneof(
  ...Object.values(beacons).map((arbitrary) => arbitrary.map(([packet]) => Uint8Array.from(packet))),
  fc.constant(Uint8Array.from(encodeAppleContinuity({ subtype: 0x10, payload: '0b1c6e8b40' }))),
  fc.constant(Uint8Array.from(encodeExposureNotification({ rpi: '8b12077e510c4f3a9d63e2a15c08bb70', metadata: '40080000' }))),
  fc.constant(Uint8Array.from(encodeMicrosoftCdp(`01092002${'3c'.repeat(23)}`))),
  fc.tuple(beacons.ibeacon, beacons['eddystone-eid'], beacons.altbeacon).map(([[a], [b], [c]]) => Uint8Array.from([...a, ...b.subarray(3), ...c.subarray(3)])),
);

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; structure: number; value: number }
  | { kind: 'insert'; at: number; byte: number }
  | { kind: 'append'; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 0xff }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), structure: fc.nat(), value: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xff })) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xff })) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);

function mutate(packet: Uint8Array, m: Mutation): Uint8Array {
  const bytes = Uint8Array.from(packet);
  switch (m.kind) {
    case 'flip':
      bytes[m.at % bytes.length] = (bytes[m.at % bytes.length] ?? 0) ^ m.mask;
      return bytes;
    case 'truncate':
      return bytes.subarray(0, m.at % (bytes.length + 1));
    case 'length': {
      // Edit the length byte of one of the packet's AD structures.
      const { structures } = parseAdStructures(packet);
      const target = structures[m.structure % structures.length];
      if (target !== undefined) bytes[target.offset] = m.value;
      return bytes;
    }
    case 'insert': {
      const at = m.at % (bytes.length + 1);
      const inserted = new Uint8Array(bytes.length + 1);
      inserted.set(bytes.subarray(0, at));
      inserted[at] = m.byte;
      inserted.set(bytes.subarray(at), at + 1);
      return inserted;
    }
    case 'append': {
      const appended = new Uint8Array(bytes.length + m.bytes.length);
      appended.set(bytes);
      appended.set(m.bytes, bytes.length);
      return appended;
    }
  }
}

describe('decodeAdvertisement, for any input', () => {
  it('never throws on arbitrary bytes, and keeps every invariant', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (data) => void expectInvariants(data)), { numRuns: ARBITRARY_RUNS });
  }, 60_000);

  it('never throws on mutated packets (bit flips, truncation, length-byte edits, insertions), and keeps every invariant', () => {
    fc.assert(
      fc.property(valid, fc.array(mutation, { minLength: MUTATIONS_PER_RUN, maxLength: MUTATIONS_PER_RUN }), (packet, mutations) => {
        // Each mutation on its own, then all of them stacked.
        let stacked: Uint8Array = packet;
        for (const m of mutations) {
          expectInvariants(mutate(packet, m));
          stacked = mutate(stacked, m);
        }
        expectInvariants(stacked);
      }),
      { numRuns: MUTATION_RUNS },
    );
  }, 60_000);

  it('reports a length-byte edit that overruns the packet at that structure\'s offset', () => {
    fc.assert(
      fc.property(valid, fc.nat(), (packet, pick) => {
        const { structures } = parseAdStructures(packet);
        const target = structures[pick % structures.length]!;
        const edited = mutate(packet, { kind: 'length', structure: pick, value: packet.length - target.offset });
        expect(decodeAdvertisement(edited).errors).toContainEqual(expect.objectContaining({ code: 'overrun', offset: target.offset }));
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('encode then decode', () => {
  it.each(Object.entries(beacons))('gives back exactly the %s parameters', (_type, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, ([packet, frame]) => {
        const ad = decodeAdvertisement(packet);
        if (ad.errors.length > 0 || !isDeepStrictEqual(ad.frames, [frame]) || packet.length > 31) {
          expect({ errors: ad.errors, frames: ad.frames, bytes: packet.length }).toStrictEqual({ errors: [], frames: [frame], bytes: packet.length });
          expect(packet.length).toBeLessThanOrEqual(31);
        }
      }),
      { numRuns: ROUND_TRIP_RUNS },
    );
  });
});
