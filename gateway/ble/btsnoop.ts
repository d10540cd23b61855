// Reads btsnoop HCI captures: Android's "Bluetooth HCI snoop log", BlueZ `btmon -w`, and the
// simulator's own recordings (simulator/radio/btsnoop-writer.ts). Pure: bytes in, reports out; it
// never throws, and every problem names the byte offset in the file where it was found.
//
// Format (RFC 1761 "snoop", as adapted by btsnoop; Wireshark's btsnoop reader and BlueZ src/shared/btsnoop.c):
//   file header  "btsnoop\0" ‖ version u32 BE (1) ‖ datalink u32 BE
//   each record  original length u32 ‖ included length u32 ‖ flags u32 ‖ cumulative drops u32 ‖
//                timestamp i64 (µs since midnight 1 January 0 AD) ‖ packet (included length bytes)
// Datalinks: 1001 HCI without an H4 indicator (flags bit 1 = command/event, bit 0 = received),
// 1002 HCI UART (H4: the packet's first byte is its type, 0x04 = event), 2001 the Linux monitor
// (btmon: the flags' low 16 bits are the opcode, 3 = event).
// HCI events read: LE Meta (0x3E) with subevent 0x02 LE Advertising Report and 0x0D LE Extended
// Advertising Report (Core Spec v5.4 Vol 4 Part E §7.7.65.2 and §7.7.65.13).

export const BTSNOOP_MAGIC = 'btsnoop\0';
export const BTSNOOP_VERSION = 1;
export const BtsnoopDatalink = { hci: 1001, hciUart: 1002, linuxMonitor: 2001 } as const;
export type BtsnoopDatalinkCode = (typeof BtsnoopDatalink)[keyof typeof BtsnoopDatalink];
/** Microseconds from btsnoop's epoch (midnight 1 January 0 AD) to the Unix epoch (Wireshark, BlueZ and Android agree). */
export const BTSNOOP_UNIX_EPOCH_US = 0x00dcddb30f2f8000n;

export const BTSNOOP_HEADER_BYTES = 16;
export const BTSNOOP_RECORD_HEADER_BYTES = 24;

export const HCI_H4_EVENT = 0x04;
export const HCI_EVENT_LE_META = 0x3e;
export const LE_ADVERTISING_REPORT = 0x02;
export const LE_EXTENDED_ADVERTISING_REPORT = 0x0d;
/** Record flags (datalinks 1001/1002): bit 0 = received (controller → host), bit 1 = command or event. */
export const BTSNOOP_FLAGS_RECEIVED_EVENT = 0x03;
/** btmon's opcode for an HCI event (BlueZ src/shared/btsnoop.h, BTSNOOP_OPCODE_EVENT_PKT). */
export const MONITOR_OPCODE_EVENT = 3;
/** Bytes of an extended report before its data (Event_Type 2 … Data_Length 1). */
export const EXTENDED_REPORT_HEADER_BYTES = 24;
/** RSSI and TX power 127 (0x7F) mean "not available". */
const NOT_AVAILABLE = 127;

export type AddressType = 'public' | 'random' | 'public-identity' | 'random-identity' | 'anonymous' | 'unknown';
export type ExtendedDataStatus = 'complete' | 'incomplete' | 'truncated';

export type BtsnoopError = { offset: number; message: string };

/** One advertising report: one device's one packet, as the controller handed it to the host. */
export type BtsnoopAdvertisingReport = {
  /** 1-based number of the record it came in (a record may hold several reports). */
  record: number;
  /** Byte offset in the file of this report's first byte. */
  offset: number;
  /** Microseconds since midnight 1 January 0 AD, as recorded. */
  timestampUs: bigint;
  /** The same instant in Unix milliseconds. */
  unixMs: number;
  extended: boolean;
  /** Legacy: ADV_IND 0 … SCAN_RSP 4; extended: the Event_Type bit field. */
  eventType: number;
  addressType: AddressType;
  /** `aa:bb:cc:dd:ee:ff`, most significant byte first. An identifier: never log or publish it. */
  address: string;
  /** null when the controller reports 127 (not available). */
  rssiDbm: number | null;
  /** Extended reports only; null when not available. */
  txPowerDbm?: number | null;
  /** Extended reports only (Event_Type bits 5–6). */
  dataStatus?: ExtendedDataStatus;
  /** This report's AD bytes: a view into the file's bytes. */
  data: Uint8Array;
};

export type BtsnoopCapture = {
  datalink: number;
  /** Records read (all kinds of packet). */
  records: number;
  /** The cumulative drop count of the last record: packets the capturing stack lost. */
  drops: number;
  reports: BtsnoopAdvertisingReport[];
  /** Problems, in file order. A malformed event is skipped; a bad header or a cut record ends the read. */
  errors: BtsnoopError[];
};

const u16le = (d: Uint8Array, i: number): number => (d[i] ?? 0) | ((d[i + 1] ?? 0) << 8);
const u32be = (d: Uint8Array, i: number): number => (((d[i] ?? 0) << 24) | ((d[i + 1] ?? 0) << 16) | ((d[i + 2] ?? 0) << 8) | (d[i + 3] ?? 0)) >>> 0;
const i8 = (d: Uint8Array, i: number): number => ((d[i] ?? 0) << 24) >> 24;
const hex2 = (byte: number): string => byte.toString(16).padStart(2, '0');

const ADDRESS_TYPES: readonly AddressType[] = ['public', 'random', 'public-identity', 'random-identity'];
const addressTypeOf = (code: number): AddressType => ADDRESS_TYPES[code] ?? (code === 0xff ? 'anonymous' : 'unknown');
const DATA_STATUS: readonly ExtendedDataStatus[] = ['complete', 'incomplete', 'truncated'];

/** A BD_ADDR travels little-endian; people read it most significant byte first. */
function addressAt(d: Uint8Array, i: number): string {
  let text = hex2(d[i + 5] ?? 0);
  for (let j = 4; j >= 0; j--) text += `:${hex2(d[i + j] ?? 0)}`;
  return text;
}

function i64be(d: Uint8Array, i: number): bigint {
  return (BigInt(u32be(d, i)) << 32n) | BigInt(u32be(d, i + 4));
}

/** btsnoop microseconds (since 0 AD) → Unix milliseconds. */
export function btsnoopToUnixMs(timestampUs: bigint): number {
  return Number(timestampUs - BTSNOOP_UNIX_EPOCH_US) / 1000;
}

/** Unix milliseconds → btsnoop microseconds (since 0 AD). */
export function unixMsToBtsnoop(unixMs: number): bigint {
  return BigInt(Math.round(unixMs * 1000)) + BTSNOOP_UNIX_EPOCH_US;
}

/** Checks the 16-byte file header; returns the datalink or the error. */
export function readBtsnoopHeader(bytes: Uint8Array): { datalink: number } | { error: BtsnoopError } {
  if (bytes.length < BTSNOOP_HEADER_BYTES) {
    return { error: { offset: bytes.length, message: `btsnoop: file is ${bytes.length} bytes, shorter than the ${BTSNOOP_HEADER_BYTES}-byte header` } };
  }
  for (let i = 0; i < BTSNOOP_MAGIC.length; i++) {
    if (bytes[i] !== BTSNOOP_MAGIC.charCodeAt(i)) {
      return { error: { offset: i, message: `btsnoop: not a btsnoop file (byte ${i} of the "btsnoop\\0" signature differs)` } };
    }
  }
  const version = u32be(bytes, 8);
  if (version !== BTSNOOP_VERSION) return { error: { offset: 8, message: `btsnoop: version ${version} at offset 8; only version 1 exists` } };
  const datalink = u32be(bytes, 12);
  if (datalink !== BtsnoopDatalink.hci && datalink !== BtsnoopDatalink.hciUart && datalink !== BtsnoopDatalink.linuxMonitor) {
    return { error: { offset: 12, message: `btsnoop: datalink ${datalink} at offset 12 is not HCI (1001), HCI UART/H4 (1002) or the Linux monitor (2001)` } };
  }
  return { datalink };
}

type Sink = { reports: BtsnoopAdvertisingReport[]; errors: BtsnoopError[] };
type RecordContext = { record: number; timestampUs: bigint; unixMs: number };

/** LE Advertising Report (§7.7.65.2), reports one after another: type, address type, address, length, data, RSSI. */
function readLegacyReports(d: Uint8Array, start: number, end: number, context: RecordContext, sink: Sink): void {
  const count = d[start] ?? 0;
  let at = start + 1;
  for (let n = 0; n < count; n++) {
    if (at + 9 > end) {
      sink.errors.push({ offset: at, message: `LE Advertising Report: report ${n + 1} of ${count} at offset ${at} is cut short (needs 9 header bytes, ${end - at} left)` });
      return;
    }
    const length = d[at + 8] ?? 0;
    if (at + 9 + length + 1 > end) {
      sink.errors.push({ offset: at + 8, message: `LE Advertising Report: data length ${length} at offset ${at + 8} runs past the event (${end - at - 9} bytes left for data and RSSI)` });
      return;
    }
    const rssi = i8(d, at + 9 + length);
    sink.reports.push({
      ...context,
      offset: at,
      extended: false,
      eventType: d[at] ?? 0,
      addressType: addressTypeOf(d[at + 1] ?? 0),
      address: addressAt(d, at + 2),
      rssiDbm: rssi === NOT_AVAILABLE ? null : rssi,
      data: d.subarray(at + 9, at + 9 + length),
    });
    at += 9 + length + 1;
  }
}

/** LE Extended Advertising Report (§7.7.65.13): a 24-byte header per report, then its data. */
function readExtendedReports(d: Uint8Array, start: number, end: number, context: RecordContext, sink: Sink): void {
  const count = d[start] ?? 0;
  let at = start + 1;
  for (let n = 0; n < count; n++) {
    if (at + EXTENDED_REPORT_HEADER_BYTES > end) {
      sink.errors.push({ offset: at, message: `LE Extended Advertising Report: report ${n + 1} of ${count} at offset ${at} is cut short (needs ${EXTENDED_REPORT_HEADER_BYTES} header bytes, ${end - at} left)` });
      return;
    }
    const length = d[at + 23] ?? 0;
    if (at + EXTENDED_REPORT_HEADER_BYTES + length > end) {
      sink.errors.push({ offset: at + 23, message: `LE Extended Advertising Report: data length ${length} at offset ${at + 23} runs past the event (${end - at - EXTENDED_REPORT_HEADER_BYTES} bytes left)` });
      return;
    }
    const eventType = u16le(d, at);
    const txPower = i8(d, at + 12);
    const rssi = i8(d, at + 13);
    sink.reports.push({
      ...context,
      offset: at,
      extended: true,
      eventType,
      addressType: addressTypeOf(d[at + 2] ?? 0),
      address: addressAt(d, at + 3),
      rssiDbm: rssi === NOT_AVAILABLE ? null : rssi,
      txPowerDbm: txPower === NOT_AVAILABLE ? null : txPower,
      dataStatus: DATA_STATUS[(eventType >> 5) & 0x3] ?? 'truncated',
      data: d.subarray(at + EXTENDED_REPORT_HEADER_BYTES, at + EXTENDED_REPORT_HEADER_BYTES + length),
    });
    at += EXTENDED_REPORT_HEADER_BYTES + length;
  }
}

/** One HCI event packet in d[start, end) (event code, parameter length, parameters). */
function readEvent(d: Uint8Array, start: number, end: number, context: RecordContext, sink: Sink): void {
  if (end - start < 2) {
    sink.errors.push({ offset: start, message: `HCI event at offset ${start} is ${end - start} byte${end - start === 1 ? '' : 's'}, shorter than its 2-byte header` });
    return;
  }
  if (d[start] !== HCI_EVENT_LE_META) return;
  const parameters = d[start + 1] ?? 0;
  if (start + 2 + parameters > end) {
    sink.errors.push({ offset: start + 1, message: `LE Meta event: parameter length ${parameters} at offset ${start + 1} runs past the record (${end - start - 2} bytes captured)` });
    return;
  }
  const eventEnd = start + 2 + parameters;
  const subevent = d[start + 2];
  if (parameters < 2) return; // no reports in it, whatever the subevent
  if (subevent === LE_ADVERTISING_REPORT) readLegacyReports(d, start + 3, eventEnd, context, sink);
  else if (subevent === LE_EXTENDED_ADVERTISING_REPORT) readExtendedReports(d, start + 3, eventEnd, context, sink);
}

/**
 * Every LE (extended) advertising report in a btsnoop capture, in file order. Other packets
 * (commands, ACL data, other events) are counted as records and skipped.
 */
export function parseBtsnoop(bytes: Uint8Array): BtsnoopCapture {
  const sink: Sink = { reports: [], errors: [] };
  const header = readBtsnoopHeader(bytes);
  if ('error' in header) return { datalink: 0, records: 0, drops: 0, reports: [], errors: [header.error] };
  const { datalink } = header;
  let records = 0;
  let drops = 0;
  let at = BTSNOOP_HEADER_BYTES;
  while (at < bytes.length) {
    if (at + BTSNOOP_RECORD_HEADER_BYTES > bytes.length) {
      sink.errors.push({ offset: at, message: `btsnoop: record ${records + 1} at offset ${at} is cut short: its 24-byte header has only ${bytes.length - at} bytes` });
      break;
    }
    const included = u32be(bytes, at + 4);
    const flags = u32be(bytes, at + 8);
    const dataStart = at + BTSNOOP_RECORD_HEADER_BYTES;
    if (dataStart + included > bytes.length) {
      sink.errors.push({ offset: at + 4, message: `btsnoop: record ${records + 1} at offset ${at} declares ${included} bytes but only ${bytes.length - dataStart} follow` });
      break;
    }
    records += 1;
    drops = u32be(bytes, at + 12);
    const timestampUs = i64be(bytes, at + 16);
    const context: RecordContext = { record: records, timestampUs, unixMs: btsnoopToUnixMs(timestampUs) };
    const dataEnd = dataStart + included;
    if (datalink === BtsnoopDatalink.hciUart) {
      if (included > 0 && bytes[dataStart] === HCI_H4_EVENT) readEvent(bytes, dataStart + 1, dataEnd, context, sink);
    } else if (datalink === BtsnoopDatalink.hci) {
      if ((flags & BTSNOOP_FLAGS_RECEIVED_EVENT) === BTSNOOP_FLAGS_RECEIVED_EVENT) readEvent(bytes, dataStart, dataEnd, context, sink);
    } else if ((flags & 0xffff) === MONITOR_OPCODE_EVENT) {
      readEvent(bytes, dataStart, dataEnd, context, sink);
    }
    at = dataEnd;
  }
  return { datalink, records, drops, reports: sink.reports, errors: sink.errors };
}
