// Decodes one advertising packet into frames. Pure and total: every input yields a value, never an
// exception. Each packet's own bytes are decoded (never merged across packets, unlike noble), and
// every manufacturer (0xFF) and service-data (0x16, 0x20, 0x21) block is decoded on its own.
// Byte order (ble-frames.md): company IDs and 16-bit UUIDs are little-endian; beacon payloads big-endian.
//
// This is the gateway's hot path, so it reads the packet by index: no views, no copies, and strings
// are built only for the fields a frame reports. parseAdStructures (ad-parser.ts) is the same walk
// returning views; the property tests check that both always agree.

import { AdType, overrunError, zeroLengthError } from './ad-parser.ts';
import type { DecodeError } from './ad-parser.ts';
import {
  CompanyId,
  EDDYSTONE_URL_EXPANSIONS,
  EDDYSTONE_URL_SCHEMES,
  EddystoneFrameType,
  ServiceUuid16,
  hexOf,
  parseHex,
  reversedUuidAt,
  uuidAt,
} from './frames.ts';
import type { Frame } from './frames.ts';

export type { DecodeError } from './ad-parser.ts';

export type Advertisement = {
  /** Frames in packet order, one per manufacturer or service-data block that decoded. */
  frames: Frame[];
  /** The first flags byte (AD type 0x01). */
  flags?: number;
  /** Complete local name if present, else the shortened one. */
  localName?: string;
  localNameComplete?: boolean;
  /** Advertised TX power level (AD type 0x0A). */
  txPowerDbm?: number;
  /** 16-bit service UUIDs, 4 lowercase hex digits each, without duplicates. */
  serviceUuids16: string[];
  /** 32-bit service UUIDs, 8 lowercase hex digits each, without duplicates. */
  serviceUuids32: string[];
  /** 128-bit service UUIDs, lowercase and hyphenated, without duplicates. */
  serviceUuids128: string[];
  /** Problems found, in packet order. A block with an error yields no frame. */
  errors: DecodeError[];
};

type BlockResult = Frame | DecodeError;

// iBeacon: 02 15 ‖ UUID 16 ‖ major 2 ‖ minor 2 ‖ measured power 1.
const IBEACON_BYTES = 23;
// AltBeacon: BE AC ‖ beacon ID 20 ‖ reference RSSI 1 ‖ reserved 1.
const ALTBEACON_BYTES = 24;
// Bytes before a 16-bit service-data body: length, AD type, UUID (2).
const SERVICE_DATA_HEADER = 4;

const utf8 = new TextDecoder('utf-8'); // not fatal: malformed names decode with U+FFFD, never throw

const u8 = (d: Uint8Array, i: number): number => d[i] ?? 0;
const i8 = (d: Uint8Array, i: number): number => (u8(d, i) << 24) >> 24;
const u16le = (d: Uint8Array, i: number): number => u8(d, i) | (u8(d, i + 1) << 8);
const u16be = (d: Uint8Array, i: number): number => (u8(d, i) << 8) | u8(d, i + 1);
const u32be = (d: Uint8Array, i: number): number => ((u8(d, i) << 24) | (u8(d, i + 1) << 16) | (u16be(d, i + 2))) >>> 0;
const hexByte = (byte: number): string => `0x${byte.toString(16).padStart(2, '0')}`;
const hex16 = (value: number): string => value.toString(16).padStart(4, '0');
const isError = (result: BlockResult): result is DecodeError => 'code' in result;

/**
 * Checks a fixed-size frame: fewer bytes than `min` is `truncated`, more than `max` is `invalid`.
 * The error sits at the AD structure's offset `at` and names the frame and both byte counts.
 */
function checkSize(at: number, frame: string, after: string, got: number, min: number, max = min): DecodeError | undefined {
  if (got >= min && got <= max) return undefined;
  const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min}–${max}`;
  return {
    code: got < min ? 'truncated' : 'invalid',
    offset: at,
    message: `${frame}: expected ${expected} bytes after ${after}, got ${got}`,
  };
}

function invalid(offset: number, message: string): DecodeError {
  return { code: 'invalid', offset, message };
}

function truncated(at: number, message: string): DecodeError {
  return { code: 'truncated', offset: at, message };
}

// Each decoder below reads d[start, end): the bytes after the company ID or service UUID. `at` is
// the offset of the AD structure's length byte, where errors about the whole block point.

function decodeIBeacon(d: Uint8Array, at: number, start: number, end: number): BlockResult {
  const sizeError = checkSize(at, 'iBeacon', 'the company ID', end - start, IBEACON_BYTES);
  if (sizeError) return sizeError;
  const measuredPowerDbm = i8(d, start + 22);
  const uuid = uuidAt(d, start + 2);
  const major = u16be(d, start + 18);
  const minor = u16be(d, start + 20);
  // ble-frames.md: positive values occur in the wild; keep the raw value and flag it.
  if (measuredPowerDbm >= 0) return { type: 'ibeacon', uuid, major, minor, measuredPowerDbm, implausiblePower: true };
  return { type: 'ibeacon', uuid, major, minor, measuredPowerDbm };
}

function decodeApple(d: Uint8Array, at: number, start: number, end: number): BlockResult {
  if (start >= end) return truncated(at, 'Apple: expected a message type after the company ID, got 0 bytes');
  const subtype = u8(d, start);
  // Type 0x02 with TLV length 0x15 is an iBeacon; any other Apple type is Continuity, never a beacon.
  if (subtype === 0x02 && (end - start === 1 || u8(d, start + 1) === 0x15)) return decodeIBeacon(d, at, start, end);
  if (subtype === 0x12) return { type: 'apple-findmy' };
  return { type: 'apple-continuity', subtype };
}

function decodeManufacturerData(d: Uint8Array, at: number, start: number, end: number): BlockResult {
  const sizeError = checkSize(at, 'manufacturer data', 'the AD type', end - start, 2, Infinity);
  if (sizeError) return sizeError;
  const companyId = u16le(d, start);
  const body = start + 2;
  // Company-specific formats first, so an Apple or Microsoft frame can never read as a beacon.
  if (companyId === CompanyId.apple) return decodeApple(d, at, body, end);
  if (companyId === CompanyId.microsoft) return { type: 'microsoft-cdp' };
  // AltBeacon (altbeacon/spec): beacon code 0xBEAC after any company ID.
  if (end - body >= 2 && u8(d, body) === 0xbe && u8(d, body + 1) === 0xac) {
    const altError = checkSize(at, 'AltBeacon', 'the company ID', end - body, ALTBEACON_BYTES);
    if (altError) return altError;
    return {
      type: 'altbeacon',
      companyId,
      id1: uuidAt(d, body + 2),
      id2: u16be(d, body + 18),
      id3: u16be(d, body + 20),
      referenceRssiDbm: i8(d, body + 22),
      reserved: u8(d, body + 23),
    };
  }
  return { type: 'manufacturer', companyId, data: hexOf(d, body, end) };
}

/** `start` is the TX power byte, just after the frame type. */
function decodeEddystoneUrl(d: Uint8Array, at: number, start: number, end: number): BlockResult {
  const sizeError = checkSize(at, 'Eddystone-URL', 'the frame type', end - start, 2, Infinity);
  if (sizeError) return sizeError;
  const schemeByte = u8(d, start + 1);
  const scheme = EDDYSTONE_URL_SCHEMES[schemeByte];
  if (scheme === undefined) {
    return invalid(start + 1, `Eddystone-URL: unknown URL scheme prefix ${hexByte(schemeByte)} at offset ${start + 1}`);
  }
  let url = scheme;
  for (let i = start + 2; i < end; i++) {
    const byte = u8(d, i);
    const expansion = EDDYSTONE_URL_EXPANSIONS[byte];
    if (expansion !== undefined) url += expansion;
    // 0x0E–0x20 and 0x7F–0xFF are reserved: refuse rather than pass control bytes downstream.
    else if (byte > 0x20 && byte < 0x7f) url += String.fromCharCode(byte);
    else return invalid(i, `Eddystone-URL: reserved URL byte ${hexByte(byte)} at offset ${i}`);
  }
  return { type: 'eddystone-url', url, txPowerDbm: i8(d, start) };
}

/** `start` is the version byte, just after the frame type. */
function decodeEddystoneTlm(d: Uint8Array, at: number, start: number, end: number): BlockResult {
  if (start >= end) return truncated(at, 'Eddystone-TLM: expected a version byte after the frame type, got 0 bytes');
  const version = u8(d, start);
  if (version === 0x00) {
    // Plain TLM (eddystone-tlm/tlm-plain.md): version ‖ battery mV u16 ‖ temperature 8.8 ‖ adv count u32 ‖ uptime (0.1 s) u32.
    const sizeError = checkSize(at, 'Eddystone-TLM', 'the frame type', end - start, 13);
    if (sizeError) return sizeError;
    const batteryMv = u16be(d, start + 1);
    const temperature = u16be(d, start + 3);
    return {
      type: 'eddystone-tlm',
      version: 0,
      batteryMv: batteryMv === 0 ? null : batteryMv,
      temperatureC: temperature === 0x8000 ? null : ((temperature << 16) >> 16) / 256,
      advCount: u32be(d, start + 5),
      uptimeS: u32be(d, start + 9) / 10,
    };
  }
  if (version === 0x01) {
    // eTLM (eddystone-tlm/tlm-encrypted.md): version ‖ encrypted TLM 12 ‖ salt 2 ‖ MIC 2.
    const sizeError = checkSize(at, 'Eddystone-eTLM', 'the frame type', end - start, 17);
    if (sizeError) return sizeError;
    return {
      type: 'eddystone-etlm',
      version: 1,
      etlm: hexOf(d, start + 1, start + 13),
      salt: hexOf(d, start + 13, start + 15),
      mic: hexOf(d, start + 15, start + 17),
    };
  }
  return invalid(start, `Eddystone-TLM: unknown version ${hexByte(version)} at offset ${start}`);
}

/** `start` is the frame type byte, just after the 0xFEAA UUID. */
function decodeEddystone(d: Uint8Array, at: number, start: number, end: number): BlockResult {
  if (start >= end) return truncated(at, 'Eddystone: expected a frame type byte after the service UUID, got 0 bytes');
  const frameType = u8(d, start);
  const rest = start + 1;
  switch (frameType) {
    case EddystoneFrameType.uid: {
      // TX power ‖ namespace 10 ‖ instance 6 ‖ RFU 2 (the RFU bytes may be missing).
      const sizeError = checkSize(at, 'Eddystone-UID', 'the frame type', end - rest, 17, 19);
      if (sizeError) return sizeError;
      return { type: 'eddystone-uid', namespace: hexOf(d, rest + 1, rest + 11), instance: hexOf(d, rest + 11, rest + 17), txPowerDbm: i8(d, rest) };
    }
    case EddystoneFrameType.url:
      return decodeEddystoneUrl(d, at, rest, end);
    case EddystoneFrameType.tlm:
      return decodeEddystoneTlm(d, at, rest, end);
    case EddystoneFrameType.eid: {
      // TX power ‖ EID 8.
      const sizeError = checkSize(at, 'Eddystone-EID', 'the frame type', end - rest, 9);
      if (sizeError) return sizeError;
      return { type: 'eddystone-eid', eid: hexOf(d, rest + 1, rest + 9), txPowerDbm: i8(d, rest) };
    }
    default:
      return invalid(start, `Eddystone: unknown frame type ${hexByte(frameType)} at offset ${start}`);
  }
}

function decodeServiceData16(d: Uint8Array, at: number, start: number, end: number): BlockResult {
  const sizeError = checkSize(at, 'service data', 'the AD type', end - start, 2, Infinity);
  if (sizeError) return sizeError;
  const uuid = u16le(d, start);
  if (uuid === ServiceUuid16.eddystone) return decodeEddystone(d, at, at + SERVICE_DATA_HEADER, end);
  if (uuid === ServiceUuid16.exposureNotification) return { type: 'exposure-notification' };
  return { type: 'service-data', uuid: hex16(uuid), data: hexOf(d, start + 2, end) };
}

/** Service data with a 32-bit (0x20) or 128-bit (0x21) UUID, little-endian. */
function decodeWideServiceData(d: Uint8Array, at: number, start: number, end: number, size: 4 | 16): BlockResult {
  const sizeError = checkSize(at, `${size * 8}-bit service data`, 'the AD type', end - start, size, Infinity);
  if (sizeError) return sizeError;
  const uuid = size === 4 ? hex16(u16le(d, start + 2)) + hex16(u16le(d, start)) : reversedUuidAt(d, start);
  return { type: 'service-data', uuid, data: hexOf(d, start + size, end) };
}

/** Reads a list of little-endian UUIDs of `size` bytes; a partial last UUID is reported. */
function readUuidList(d: Uint8Array, at: number, start: number, end: number, size: 2 | 4 | 16, into: string[], errors: DecodeError[]): void {
  const length = end - start;
  const whole = start + length - (length % size);
  for (let i = start; i < whole; i += size) {
    const uuid = size === 2 ? hex16(u16le(d, i)) : size === 4 ? hex16(u16le(d, i + 2)) + hex16(u16le(d, i)) : reversedUuidAt(d, i);
    if (!into.includes(uuid)) into.push(uuid);
  }
  if (whole !== end) {
    errors.push({ code: 'truncated', offset: at, message: `${size * 8}-bit service UUID list: ${length} bytes is not a multiple of ${size}` });
  }
}

function push(ad: Advertisement, result: BlockResult): void {
  if (isError(result)) ad.errors.push(result);
  else ad.frames.push(result);
}

/** One AD structure: its length byte at `at`, its type at `at + 1`, its data in d[at + 2, end). */
function decodeStructure(ad: Advertisement, d: Uint8Array, at: number, end: number): void {
  const type = u8(d, at + 1);
  const start = at + 2;
  switch (type) {
    case AdType.manufacturerData:
      push(ad, decodeManufacturerData(d, at, start, end));
      break;
    case AdType.serviceData16:
      push(ad, decodeServiceData16(d, at, start, end));
      break;
    case AdType.serviceData32:
      push(ad, decodeWideServiceData(d, at, start, end, 4));
      break;
    case AdType.serviceData128:
      push(ad, decodeWideServiceData(d, at, start, end, 16));
      break;
    case AdType.flags:
      if (start >= end) ad.errors.push(checkSize(at, 'flags', 'the AD type', 0, 1, Infinity)!);
      else ad.flags ??= u8(d, start);
      break;
    case AdType.txPowerLevel:
      if (start >= end) ad.errors.push(checkSize(at, 'TX power level', 'the AD type', 0, 1, Infinity)!);
      else ad.txPowerDbm ??= i8(d, start);
      break;
    case AdType.incompleteServiceUuids16:
    case AdType.completeServiceUuids16:
      readUuidList(d, at, start, end, 2, ad.serviceUuids16, ad.errors);
      break;
    case AdType.incompleteServiceUuids32:
    case AdType.completeServiceUuids32:
      readUuidList(d, at, start, end, 4, ad.serviceUuids32, ad.errors);
      break;
    case AdType.incompleteServiceUuids128:
    case AdType.completeServiceUuids128:
      readUuidList(d, at, start, end, 16, ad.serviceUuids128, ad.errors);
      break;
    case AdType.completeLocalName:
      ad.localName = utf8.decode(d.subarray(start, end));
      ad.localNameComplete = true;
      break;
    case AdType.shortenedLocalName:
      // A complete name, wherever it sits in the packet, wins over a shortened one.
      if (ad.localNameComplete !== true) {
        ad.localName = utf8.decode(d.subarray(start, end));
        ad.localNameComplete = false;
      }
      break;
    default:
      break; // other AD types carry nothing Vicino uses
  }
}

/**
 * Decodes one advertising packet: legacy (≤ 31 bytes) or extended (≤ 254 per AD structure, longer
 * when chained) advertising data, or a scan response. Structures before a malformed one are kept.
 */
export function decodeAdvertisement(data: Uint8Array): Advertisement {
  const ad: Advertisement = { frames: [], serviceUuids16: [], serviceUuids32: [], serviceUuids128: [], errors: [] };
  const size = data.length;
  let offset = 0;
  while (offset < size) {
    const length = u8(data, offset);
    if (length === 0) {
      const error = zeroLengthError(data, offset);
      if (error) ad.errors.push(error);
      break;
    }
    const end = offset + 1 + length;
    if (end > size) {
      ad.errors.push(overrunError(offset, length, size - offset - 1));
      break;
    }
    decodeStructure(ad, data, offset, end);
    offset = end;
  }
  return ad;
}

/** `decodeAdvertisement` for hex text, as found in logs and scenario files. */
export function decodeHexAdvertisement(hex: string): Advertisement | { error: DecodeError } {
  const bytes = parseHex(hex);
  if (!(bytes instanceof Uint8Array)) return bytes;
  if (bytes.length === 0) return { error: { code: 'empty', offset: 0, message: 'hex: no digits' } };
  return decodeAdvertisement(bytes);
}

/**
 * Manufacturer-specific data on its own (company ID first, little-endian), as noble and phone APIs
 * hand it over. Errors about the whole block point at offset 0.
 */
export function decodeManufacturerBytes(data: Uint8Array): Frame | DecodeError {
  if (data.length < 2) {
    return { code: 'truncated', offset: 0, message: `manufacturer data: expected a 2-byte company ID, got ${data.length} byte${data.length === 1 ? '' : 's'}` };
  }
  // `at` is where an AD structure's length byte would sit, two bytes before the company ID.
  const result = decodeManufacturerData(data, -2, 0, data.length);
  return isError(result) && result.offset < 0 ? { ...result, offset: 0 } : result;
}
