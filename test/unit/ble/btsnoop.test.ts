import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BTSNOOP_UNIX_EPOCH_US, btsnoopToUnixMs, parseBtsnoop } from '#gateway/ble/btsnoop.ts';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import { createBtsnoopWriter, type BtsnoopReport } from '#simulator/radio/btsnoop-writer.ts';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+|#[^\n]*/g, ''), 'hex'));
const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex');

// A capture built by hand from the specs' bytes (Core Spec v5.4 Vol 4 Part E §7.7.65.2 and
// §7.7.65.13; btsnoop as Android writes it: datalink 1002, H4 packet indicator first).
const IBEACON = '02 01 06 1A FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 00 02 C5'; // 30 bytes
const EID = '02 01 06 03 03 AA FE 0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90'; // 21 bytes
const HEADER_H4 = '62 74 73 6E 6F 6F 70 00  00 00 00 01  00 00 03 EA'; // "btsnoop\0", version 1, datalink 1002
const T0 = '00 E3 24 FB 55 4F C0 00'; // 2026-01-01T00:00:00Z in µs since 0 AD
const T1 = '00 E3 24 FB 55 66 A3 60'; // 1.5 s later
const HAND_BUILT = `${HEADER_H4}
  # record 1: two legacy reports in one LE Meta event (76 bytes: H4 04, event 3E, length 0x49)
  00 00 00 4C  00 00 00 4C  00 00 00 03  00 00 00 00  ${T0}
  04  3E 49  02 02
    03 01  FF EE DD CC BB 4A  1E ${IBEACON}  C4        # ADV_NONCONN_IND, random 4a:bb:cc:dd:ee:ff, −60 dBm
    00 00  06 05 04 03 02 01  15 ${EID}  7F            # ADV_IND, public 01:02:03:04:05:06, RSSI not available
  # record 2: a command the host sent (HCI LE Set Scan Enable): not a report
  00 00 00 07  00 00 00 07  00 00 00 02  00 00 00 00  ${T0}
  01  0C 20 02 01 00 00
  # record 3: one extended report (H4 04, event 3E, length 0x2F = 2 + 24 + 21)
  00 00 00 32  00 00 00 32  00 00 00 03  00 00 00 02  ${T1}
  04  3E 2F  0D 01
    10 00  01  11 22 33 44 55 C6  01 00 FF  EC  B5  00 00  00 00 00 00 00 00 00  15 ${EID}
`;

describe('parseBtsnoop', () => {
  it('reads every advertising report of a capture built by hand from spec bytes', () => {
    const capture = parseBtsnoop(bytes(HAND_BUILT));
    expect(capture.errors).toEqual([]);
    expect(capture).toMatchObject({ datalink: 1002, records: 3, drops: 2 });
    expect(capture.reports.map(({ data, ...rest }) => ({ ...rest, data: hex(data) }))).toEqual([
      {
        record: 1, offset: 45, timestampUs: BTSNOOP_UNIX_EPOCH_US + 1_767_225_600_000_000n, unixMs: Date.UTC(2026, 0, 1),
        extended: false, eventType: 3, addressType: 'random', address: '4a:bb:cc:dd:ee:ff', rssiDbm: -60, data: hex(bytes(IBEACON)),
      },
      {
        record: 1, offset: 85, timestampUs: BTSNOOP_UNIX_EPOCH_US + 1_767_225_600_000_000n, unixMs: Date.UTC(2026, 0, 1),
        extended: false, eventType: 0, addressType: 'public', address: '01:02:03:04:05:06', rssiDbm: null, data: hex(bytes(EID)),
      },
      {
        record: 3, offset: expect.any(Number), timestampUs: BTSNOOP_UNIX_EPOCH_US + 1_767_225_601_500_000n, unixMs: Date.UTC(2026, 0, 1) + 1_500,
        extended: true, eventType: 0x10, addressType: 'random', address: 'c6:55:44:33:22:11', rssiDbm: -75, txPowerDbm: -20, dataStatus: 'complete', data: hex(bytes(EID)),
      },
    ]);
    expect(decodeAdvertisement(capture.reports[0]!.data).frames).toMatchObject([{ type: 'ibeacon', major: 1, minor: 2 }]);
    expect(decodeAdvertisement(capture.reports[2]!.data).frames).toMatchObject([{ type: 'eddystone-eid', eid: 'a9b76a71c5f89290' }]);
  });

  it('reads datalink 1001 (no H4 indicator; events flagged received + event) and 2001 (btmon, opcode 3)', () => {
    // Data: flags (3 bytes) + a 28-byte manufacturer block = 31 (0x1F); parameters 2 + 9 + 31 + 1 = 43 (0x2B); event 45 (0x2D).
    const event = `3E 2B 02 01 03 01 FF EE DD CC BB 4A 1F 02 01 06 1B FF 59 00 ${'AA '.repeat(24)} C4`;
    const record = (flags: string) => `00 00 00 2D 00 00 00 2D ${flags} 00 00 00 00 ${T0} ${event}`;
    const h1001 = bytes(`62 74 73 6E 6F 6F 70 00 00 00 00 01 00 00 03 E9 ${record('00 00 00 02')} ${record('00 00 00 03')}`);
    const h2001 = bytes(`62 74 73 6E 6F 6F 70 00 00 00 00 01 00 00 07 D1 ${record('00 00 00 02')} ${record('00 00 00 03')}`);
    // 1001: only the second record is a received event (the first is flagged as sent).
    expect(parseBtsnoop(h1001)).toMatchObject({ datalink: 1001, records: 2, errors: [], reports: [{ record: 2, rssiDbm: -60 }] });
    // 2001: opcode 2 is a command, 3 an event.
    expect(parseBtsnoop(h2001)).toMatchObject({ datalink: 2001, records: 2, errors: [], reports: [{ record: 2, address: '4a:bb:cc:dd:ee:ff' }] });
    expect(decodeAdvertisement(parseBtsnoop(h2001).reports[0]!.data)).toMatchObject({ errors: [], frames: [{ type: 'manufacturer', companyId: 0x59 }] });
  });

  it.each<[string, string, { offset: number; message: RegExp }]>([
    ['a file shorter than the header', '62 74 73 6E 6F 6F', { offset: 6, message: /shorter than the 16-byte header/ }],
    ['the wrong signature', '62 74 73 6E 6F 6F 71 00 00 00 00 01 00 00 03 EA', { offset: 6, message: /not a btsnoop file/ }],
    ['version 2', '62 74 73 6E 6F 6F 70 00 00 00 00 02 00 00 03 EA', { offset: 8, message: /version 2 at offset 8/ }],
    ['an unknown datalink', '62 74 73 6E 6F 6F 70 00 00 00 00 01 00 00 03 EC', { offset: 12, message: /datalink 1004 at offset 12/ }],
    ['a record header cut short', `${HEADER_H4} 00 00 00 4C 00 00`, { offset: 16, message: /record 1 at offset 16 is cut short/ }],
    ['a record longer than the file', `${HEADER_H4} 00 00 00 4C 00 00 00 4C 00 00 00 03 00 00 00 00 ${T0} 04 3E`, { offset: 20, message: /declares 76 bytes but only 2 follow/ }],
    ['an LE Meta event longer than its record', `${HEADER_H4} 00 00 00 06 00 00 00 06 00 00 00 03 00 00 00 00 ${T0} 04 3E 49 02 01 03`, { offset: 42, message: /parameter length 73 at offset 42/ }],
    ['a report whose data length runs past its event', `${HEADER_H4} 00 00 00 11 00 00 00 11 00 00 00 03 00 00 00 00 ${T0} 04 3E 0E 02 01 03 01 FF EE DD CC BB 4A 1E 02 01 06`,
      { offset: 53, message: /data length 30 at offset 53 runs past the event/ }],
  ])('names the byte offset of %s', (_name, input, expected) => {
    const capture = parseBtsnoop(bytes(input));
    expect(capture.errors).toHaveLength(1);
    expect(capture.errors[0]).toMatchObject({ offset: expected.offset, message: expect.stringMatching(expected.message) });
  });

  it('keeps the reports before a cut record and after a malformed event', () => {
    const good = HAND_BUILT.slice(HAND_BUILT.indexOf('# record 1'), HAND_BUILT.indexOf('# record 2'));
    const bad = `00 00 00 06 00 00 00 06 00 00 00 03 00 00 00 00 ${T0} 04 3E 49 02 01 03`;
    const capture = parseBtsnoop(bytes(`${HEADER_H4} ${bad} ${good} 00 00 00`));
    expect(capture.reports).toHaveLength(2);
    expect(capture.errors.map((e) => e.message)).toEqual([expect.stringMatching(/parameter length 73/), expect.stringMatching(/record 3 .* cut short/)]);
  });

  it('never throws on arbitrary or mutated captures, and every offset lies within the file', () => {
    const base = bytes(HAND_BUILT);
    const mutated = fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }), fc.nat()).map(([flips, cut]) => {
      const copy = Uint8Array.from(base);
      for (const [at, mask] of flips) copy[16 + (at % (copy.length - 16))]! ^= mask;
      return copy.subarray(0, cut % (copy.length + 1));
    });
    fc.assert(fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 200 })), (data) => {
      const capture = parseBtsnoop(data);
      for (const error of capture.errors) if (!(error.offset >= 0 && error.offset <= data.length)) expect.fail(JSON.stringify(error));
      for (const report of capture.reports) {
        const end = report.data.byteOffset - data.byteOffset + report.data.length;
        if (!(report.offset >= 16 && end <= data.length)) expect.fail(`report outside the file: ${report.offset}`);
      }
    }), { numRuns: 5_000 });
  });
});

describe('createBtsnoopWriter', () => {
  const address = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
  const report = (maxData: number): fc.Arbitrary<BtsnoopReport> => fc.record({
    address,
    addressType: fc.constantFrom('public' as const, 'random' as const),
    data: fc.uint8Array({ maxLength: maxData }),
    rssiDbm: fc.option(fc.integer({ min: -127, max: 20 }), { nil: null }),
    atMs: fc.integer({ min: 0, max: 4_102_444_800_000 }), // to 2100, whole ms
  });

  it.each([1001, 1002] as const)('writes captures (datalink %i) that parse back to exactly the reports written', (datalink) => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), report(31)), { maxLength: 8 }), (reports) => {
      const chunks: Uint8Array[] = [];
      const writer = createBtsnoopWriter((chunk) => chunks.push(chunk), { datalink });
      for (const [extended, r] of reports) (extended ? writer.extendedAdvertisingReport : writer.advertisingReport)(r);
      const capture = parseBtsnoop(Buffer.concat(chunks));
      expect(capture.errors).toEqual([]);
      expect(capture.records).toBe(reports.length);
      expect(capture.reports.map((r) => ({ address: r.address, addressType: r.addressType, data: hex(r.data), rssiDbm: r.rssiDbm, atMs: r.unixMs, extended: r.extended })))
        .toEqual(reports.map(([extended, r]) => ({ address: r.address, addressType: r.addressType, data: hex(r.data), rssiDbm: r.rssiDbm, atMs: r.atMs, extended })));
    }), { numRuns: 500 });
  });

  it('writes the hand-built capture\'s first report byte for byte', () => {
    const chunks: Uint8Array[] = [];
    const writer = createBtsnoopWriter((chunk) => chunks.push(chunk));
    writer.advertisingReport({ address: '4a:bb:cc:dd:ee:ff', addressType: 'random', data: bytes(IBEACON), rssiDbm: -60, atMs: Date.UTC(2026, 0, 1) });
    const expected = `${HEADER_H4} 00 00 00 2D 00 00 00 2D 00 00 00 03 00 00 00 00 ${T0} 04 3E 2A 02 01 03 01 FF EE DD CC BB 4A 1E ${IBEACON} C4`;
    expect(hex(Buffer.concat(chunks))).toBe(hex(bytes(expected)));
    expect(btsnoopToUnixMs(parseBtsnoop(Buffer.concat(chunks)).reports[0]!.timestampUs)).toBe(Date.UTC(2026, 0, 1));
  });

  it('refuses data no single report event can carry', () => {
    const writer = createBtsnoopWriter(() => undefined);
    const r = { address: '4a:bb:cc:dd:ee:ff', addressType: 'random' as const, rssiDbm: -60, atMs: 0 };
    expect(() => writer.advertisingReport({ ...r, data: new Uint8Array(32) })).toThrow(RangeError);
    expect(() => writer.extendedAdvertisingReport({ ...r, data: new Uint8Array(230) })).toThrow(RangeError);
    expect(() => writer.advertisingReport({ ...r, address: 'not an address', data: new Uint8Array(3) })).toThrow(RangeError);
  });
});
