// Writes what a virtual gateway's adapter hears as a btsnoop HCI capture, byte for byte what a real
// controller would hand the host (LE Advertising Report / LE Extended Advertising Report events),
// so `vicino decode --btsnoop` and the replay scanner read simulator recordings and phone captures
// alike. The inverse of gateway/ble/btsnoop.ts. Bytes go to a sink: the caller owns any file.

import {
  BTSNOOP_FLAGS_RECEIVED_EVENT,
  BTSNOOP_HEADER_BYTES,
  BTSNOOP_MAGIC,
  BTSNOOP_RECORD_HEADER_BYTES,
  BTSNOOP_VERSION,
  BtsnoopDatalink,
  EXTENDED_REPORT_HEADER_BYTES,
  HCI_EVENT_LE_META,
  HCI_H4_EVENT,
  LE_ADVERTISING_REPORT,
  LE_EXTENDED_ADVERTISING_REPORT,
  unixMsToBtsnoop,
  type AddressType,
} from '#gateway/ble/btsnoop.ts';
import type { AdvertisingReport, SimulatedBindings } from '../noble-bindings.ts';

export type BtsnoopReport = {
  /** `aa:bb:cc:dd:ee:ff`, most significant byte first. */
  address: string;
  addressType: AddressType;
  data: Uint8Array;
  /** dBm; null writes 127 ("not available"). */
  rssiDbm: number | null;
  /** When the controller reported it, Unix ms. */
  atMs: number;
  /** Legacy: ADV_IND 0x00 … ADV_NONCONN_IND 0x03, SCAN_RSP 0x04 (default 0x03, as beacons send). Extended: the Event_Type bits (default 0x0000: non-connectable, complete). */
  eventType?: number;
  /** Extended reports only; null (the default) writes 127. */
  txPowerDbm?: number | null;
};

export type BtsnoopWriter = {
  /** One LE Advertising Report event (subevent 0x02) holding this one report. Data ≤ 31 bytes. */
  advertisingReport(report: BtsnoopReport): void;
  /** One LE Extended Advertising Report event (subevent 0x0D) holding this one report. Data ≤ 229 bytes. */
  extendedAdvertisingReport(report: BtsnoopReport): void;
  /** Records written so far. */
  records(): number;
};

export type BtsnoopWriterOptions = {
  /** 1002 (HCI UART/H4, Android's and the default) or 1001 (HCI, no packet indicator). */
  datalink?: typeof BtsnoopDatalink.hci | typeof BtsnoopDatalink.hciUart;
};

const ADDRESS_TYPE_CODES: Record<AddressType, number> = {
  public: 0x00, random: 0x01, 'public-identity': 0x02, 'random-identity': 0x03, anonymous: 0xff, unknown: 0x01,
};
/** An HCI event's parameters are at most 255 bytes: subevent 1 + count 1 + the report. */
const MAX_EVENT_PARAMETERS = 255;
export const MAX_LEGACY_REPORT_DATA = 31;
export const MAX_EXTENDED_REPORT_DATA = MAX_EVENT_PARAMETERS - 2 - EXTENDED_REPORT_HEADER_BYTES;

function addressBytes(address: string): number[] {
  const match = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(address);
  if (match === null) throw new RangeError(`address must be aa:bb:cc:dd:ee:ff, got ${JSON.stringify(address)}`);
  return match.slice(1).reverse().map((part) => Number.parseInt(part, 16)); // BD_ADDR travels little-endian
}

function int8(name: string, value: number | null | undefined): number {
  if (value === null || value === undefined) return 127;
  if (!Number.isInteger(value) || value < -127 || value > 126) throw new RangeError(`${name} must be an integer -127…126 dBm, got ${value}`);
  return value & 0xff;
}

/** The btsnoop file header: signature, version 1, datalink. */
export function btsnoopHeader(datalink: number): Uint8Array {
  const header = new Uint8Array(BTSNOOP_HEADER_BYTES);
  for (let i = 0; i < BTSNOOP_MAGIC.length; i++) header[i] = BTSNOOP_MAGIC.charCodeAt(i);
  const view = new DataView(header.buffer);
  view.setUint32(8, BTSNOOP_VERSION);
  view.setUint32(12, datalink);
  return header;
}

/** Writes the header to `sink` at once, then one record per report. */
export function createBtsnoopWriter(sink: (chunk: Uint8Array) => void, options: BtsnoopWriterOptions = {}): BtsnoopWriter {
  const datalink = options.datalink ?? BtsnoopDatalink.hciUart;
  const indicator = datalink === BtsnoopDatalink.hciUart ? 1 : 0;
  let records = 0;
  sink(btsnoopHeader(datalink));

  /** One record holding the LE Meta event with `subevent` and one report of `report` bytes. */
  const record = (atMs: number, subevent: number, report: readonly number[]): void => {
    const event = [HCI_EVENT_LE_META, 2 + report.length, subevent, 1, ...report];
    const bytes = new Uint8Array(BTSNOOP_RECORD_HEADER_BYTES + indicator + event.length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, indicator + event.length); // original length
    view.setUint32(4, indicator + event.length); // included length
    view.setUint32(8, BTSNOOP_FLAGS_RECEIVED_EVENT); // received, event
    view.setUint32(12, 0); // cumulative drops
    view.setBigInt64(16, unixMsToBtsnoop(atMs));
    if (indicator) bytes[BTSNOOP_RECORD_HEADER_BYTES] = HCI_H4_EVENT;
    bytes.set(event, BTSNOOP_RECORD_HEADER_BYTES + indicator);
    records += 1;
    sink(bytes);
  };

  return {
    advertisingReport(r) {
      if (r.data.length > MAX_LEGACY_REPORT_DATA) throw new RangeError(`a legacy advertising report carries at most ${MAX_LEGACY_REPORT_DATA} bytes, got ${r.data.length}`);
      record(r.atMs, LE_ADVERTISING_REPORT, [
        r.eventType ?? 0x03, ADDRESS_TYPE_CODES[r.addressType], ...addressBytes(r.address), r.data.length, ...r.data, int8('rssiDbm', r.rssiDbm),
      ]);
    },
    extendedAdvertisingReport(r) {
      if (r.data.length > MAX_EXTENDED_REPORT_DATA) throw new RangeError(`one extended advertising report event carries at most ${MAX_EXTENDED_REPORT_DATA} bytes, got ${r.data.length}`);
      const eventType = r.eventType ?? 0x0000;
      record(r.atMs, LE_EXTENDED_ADVERTISING_REPORT, [
        eventType & 0xff, eventType >> 8, ADDRESS_TYPE_CODES[r.addressType], ...addressBytes(r.address),
        0x01, 0x00, 0xff, // primary PHY LE 1M, no secondary PHY, no advertising SID
        int8('txPowerDbm', r.txPowerDbm), int8('rssiDbm', r.rssiDbm),
        0x00, 0x00, // no periodic advertising
        0x00, 0, 0, 0, 0, 0, 0, // not directed
        r.data.length, ...r.data,
      ]);
    },
    records: () => records,
  };
}

/**
 * Records every report a simulated adapter passes to noble (what a real controller would send the
 * host while scanning) by wrapping its `report`. Returns the same bindings object.
 */
export function recordBindings(bindings: SimulatedBindings, writer: BtsnoopWriter, now: () => number): SimulatedBindings {
  const report = bindings.report.bind(bindings);
  bindings.report = (r: AdvertisingReport): boolean => {
    const told = report(r);
    if (told) {
      const heard = { address: r.address, addressType: r.addressType, data: r.eir, rssiDbm: Math.max(-127, Math.min(126, Math.round(r.rssi))), atMs: now() };
      // Longer than legacy advertising allows: only extended advertising could have carried it.
      if (r.eir.length > MAX_LEGACY_REPORT_DATA) writer.extendedAdvertisingReport({ ...heard, eventType: r.connectable ? 0x0001 : 0x0000 });
      else writer.advertisingReport({ ...heard, eventType: r.connectable ? 0x00 : 0x03 });
    }
    return told;
  };
  return bindings;
}
