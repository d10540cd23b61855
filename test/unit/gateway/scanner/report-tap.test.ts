import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '#gateway/scanner/backoff.ts';
import { openHciNoble } from '#gateway/scanner/noble-hci.ts';
import { tapAdvertisingReports } from '#gateway/scanner/report-tap.ts';
import { ScannerUnavailableError } from '#gateway/scanner/scanner.ts';

// noble's own HCI event parser (lib/hci-socket/hci.js), run on hand-built HCI LE Meta event
// parameters, with the tap listening as it does on hardware.
const require = createRequire(import.meta.url);
type HciParsers = {
  processLeAdvertisingReport(this: EventEmitter, numReports: number, data: Buffer): void;
  processLeExtendedAdvertisingReport(this: EventEmitter, numReports: number, data: Buffer): void;
};
const Hci = require('@abandonware/noble/lib/hci-socket/hci') as { prototype: HciParsers };

const IBEACON = Buffer.from('0201061aff4c000215f7826da64fa24e988024bc5b71e0893e00010002c5', 'hex');
const EID = Buffer.from('0201060303aafe0d16aafe30eca9b76a71c5f89290', 'hex');
const LONG = Buffer.concat([Buffer.from([0xef, 0xff, 0x4c, 0x00]), Buffer.alloc(236, 7)]); // one 240-byte AD structure (extended advertising only)

/** Address bytes as on the wire (little-endian). */
const wire = (address: string): Buffer => Buffer.from(address.split(':').reverse().join(''), 'hex');

/** One §7.7.65.2 report: Event_Type, Address_Type, Address, Length_Data, Data, RSSI. */
function legacyReport(address: string, eir: Buffer, rssi: number): Buffer {
  return Buffer.concat([Buffer.from([0x03, 0x01]), wire(address), Buffer.from([eir.length]), eir, Buffer.from([rssi & 0xff])]);
}

/** One §7.7.65.13 report (24-byte header, then Data). */
function extendedReport(address: string, eir: Buffer, rssi: number, type = 0x0000): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt16LE(type, 0);
  header.writeUInt8(1, 2);
  wire(address).copy(header, 3);
  header.writeUInt8(1, 9);
  header.writeUInt8(0x7f, 12);
  header.writeInt8(rssi, 13);
  header.writeUInt8(eir.length, 23);
  return Buffer.concat([header, eir]);
}

function tapped() {
  const hci = new EventEmitter();
  const reports: { address: string; eir: Buffer; rssiDbm: number }[] = [];
  const tap = tapAdvertisingReports(hci, (address, eir, rssiDbm) => reports.push({ address, eir: Buffer.from(eir), rssiDbm }));
  return { hci, reports, tap };
}

describe('advertising report tap on noble\'s HCI parser', () => {
  it('takes each legacy report of a multi-report event with its own bytes and RSSI', () => {
    const { hci, reports } = tapped();
    const event = Buffer.concat([legacyReport('c1:00:00:00:00:01', IBEACON, -60), legacyReport('c1:00:00:00:00:02', EID, -71)]);
    Hci.prototype.processLeAdvertisingReport.call(hci, 2, event);
    expect(reports).toEqual([
      { address: 'c1:00:00:00:00:01', eir: IBEACON, rssiDbm: -60 },
      { address: 'c1:00:00:00:00:02', eir: EID, rssiDbm: -71 },
    ]);
  });

  it('trims an extended report to its Data_Length, where noble hands on the rest of the event', () => {
    const { hci, reports } = tapped();
    const seenByNoble: Buffer[] = [];
    hci.on('leExtendedAdvertisingReport', (...args: unknown[]) => seenByNoble.push(args[6] as Buffer));
    const event = Buffer.concat([extendedReport('c1:00:00:00:00:01', IBEACON, -60), extendedReport('c1:00:00:00:00:02', LONG, -65)]);
    Hci.prototype.processLeExtendedAdvertisingReport.call(hci, 2, event);
    // noble's first "eir" runs into the second report (hci.js `data.slice(24)`).
    expect(seenByNoble[0]!.length).toBeGreaterThan(IBEACON.length);
    expect(reports).toEqual([
      { address: 'c1:00:00:00:00:01', eir: IBEACON, rssiDbm: -60 },
      { address: 'c1:00:00:00:00:02', eir: LONG, rssiDbm: -65 },
    ]);
    expect(reports[1]!.eir).toHaveLength(240);
  });

  it('reassembles an extended advertisement sent in fragments, and drops a truncated one', () => {
    const { hci, reports, tap } = tapped();
    const part = (i: number, type: number) => extendedReport('c1:00:00:00:00:03', LONG.subarray(i * 80, (i + 1) * 80), -62, type);
    const INCOMPLETE = 0b01 << 5;
    const TRUNCATED = 0b10 << 5;
    for (const [i, type] of [[0, INCOMPLETE], [1, INCOMPLETE], [2, 0]] as const) Hci.prototype.processLeExtendedAdvertisingReport.call(hci, 1, part(i, type));
    expect(reports).toEqual([{ address: 'c1:00:00:00:00:03', eir: LONG, rssiDbm: -62 }]);
    for (const [i, type] of [[0, INCOMPLETE], [1, TRUNCATED]] as const) Hci.prototype.processLeExtendedAdvertisingReport.call(hci, 1, part(i, type));
    expect(reports).toHaveLength(1);
    expect(tap.stats()).toMatchObject({ extended: 1, fragmentsPending: 0, fragmentsDropped: 1 });
  });

  it('stops listening when detached', () => {
    const { hci, reports, tap } = tapped();
    tap.detach();
    Hci.prototype.processLeAdvertisingReport.call(hci, 1, legacyReport('c1:00:00:00:00:01', IBEACON, -60));
    expect(reports).toEqual([]);
    expect(hci.listenerCount('leAdvertisingReport')).toBe(0);
  });
});

describe('openHciNoble', () => {
  it('opens the adapter at the configured HCI index', () => {
    const opened: unknown[] = [];
    const noble = openHciNoble({ deviceId: 2, extended: true }, (options) => {
      opened.push(options);
      const bindings = Object.assign(new EventEmitter(), { _hci: new EventEmitter(), init: () => undefined });
      return bindings;
    });
    expect(opened).toEqual([{ deviceId: 2, extended: true }]);
    expect(noble.state).toBe('unknown');
  });

  it.each([
    ['EAFNOSUPPORT', 'EAFNOSUPPORT, Address family not supported by protocol', 'EAFNOSUPPORT', /no Bluetooth HCI support/],
    ['EPERM', 'EPERM, Operation not permitted', 'EPERM', /CAP_NET_RAW\/CAP_NET_ADMIN.*setcap.*or as root/],
    ['ENODEV', 'ENODEV, No such device', 'NO_ADAPTER', /HCI index.*scanner\.deviceId/],
  ])('explains %s from the HCI socket', (code, message, problem, explanation) => {
    const open = (): unknown => openHciNoble({ deviceId: 0 }, () => {
      throw Object.assign(new Error(message), { code });
    });
    expect(open).toThrow(ScannerUnavailableError);
    expect(open).toThrow(explanation);
    try {
      open();
    } catch (error) {
      expect(error).toMatchObject({ problem, code: 'SCANNER_UNAVAILABLE' });
    }
  });
});

describe('backoff', () => {
  it('doubles from the initial delay up to the cap, with half of it jittered', () => {
    const options = { initialDelayMs: 1_000, maxDelayMs: 60_000 };
    expect([1, 2, 3, 7, 8, 50].map((attempt) => backoffDelayMs(attempt, options, () => 0))).toEqual([500, 1_000, 2_000, 30_000, 30_000, 30_000]);
    expect([1, 2, 3, 7, 8, 50].map((attempt) => backoffDelayMs(attempt, options, () => 0.999_999))).toEqual([1_000, 2_000, 4_000, 60_000, 60_000, 60_000]);
  });
});
