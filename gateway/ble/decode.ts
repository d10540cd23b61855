// Decodes one advertising packet into frames. Pure and total: every input yields a value, never an
// exception. Each packet's own bytes are decoded (never merged across packets, unlike noble), and
// every manufacturer (0xFF) and service-data (0x16) block is decoded on its own.
// Byte order (ble-frames.md): company IDs and 16-bit UUIDs are little-endian; beacon payloads big-endian.

import { AdType, parseAdStructures } from './ad-parser.ts';
import type { AdStructure, DecodeError } from './ad-parser.ts';
import {
  CompanyId,
  EDDYSTONE_URL_EXPANSIONS,
  EDDYSTONE_URL_SCHEMES,
  EddystoneFrameType,
  ServiceUuid16,
  bytesToHex,
  formatUuid,
  parseHex,
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
// Bytes before a service-data body: length, AD type, UUID (2).
const SERVICE_DATA_HEADER = 4;

const utf8 = new TextDecoder('utf-8'); // not fatal: malformed names decode with U+FFFD, never throw

const u8 = (d: Uint8Array, i: number): number => d[i] ?? 0;
const i8 = (d: Uint8Array, i: number): number => (u8(d, i) << 24) >> 24;
const u16le = (d: Uint8Array, i: number): number => u8(d, i) | (u8(d, i + 1) << 8);
const u16be = (d: Uint8Array, i: number): number => (u8(d, i) << 8) | u8(d, i + 1);
const u32be = (d: Uint8Array, i: number): number => ((u8(d, i) << 24) | (u8(d, i + 1) << 16) | (u16be(d, i + 2))) >>> 0;
const hexByte = (byte: number): string => `0x${byte.toString(16).padStart(2, '0')}`;
const isError = (result: BlockResult): result is DecodeError => 'code' in result;

/**
 * Checks a fixed-size frame: fewer bytes than `min` is `truncated`, more than `max` is `invalid`.
 * The error sits at the AD structure's offset and names the frame and both byte counts.
 */
function checkSize(s: AdStructure, frame: string, after: string, got: number, min: number, max = min): DecodeError | undefined {
  if (got >= min && got <= max) return undefined;
  const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min}–${max}`;
  return {
    code: got < min ? 'truncated' : 'invalid',
    offset: s.offset,
    message: `${frame}: expected ${expected} bytes after ${after}, got ${got}`,
  };
}

function invalid(offset: number, message: string): DecodeError {
  return { code: 'invalid', offset, message };
}

function truncated(s: AdStructure, message: string): DecodeError {
  return { code: 'truncated', offset: s.offset, message };
}

function decodeIBeacon(s: AdStructure, body: Uint8Array): BlockResult {
  const sizeError = checkSize(s, 'iBeacon', 'the company ID', body.length, IBEACON_BYTES);
  if (sizeError) return sizeError;
  const measuredPowerDbm = i8(body, 22);
  return {
    type: 'ibeacon',
    uuid: formatUuid(body.subarray(2, 18)),
    major: u16be(body, 18),
    minor: u16be(body, 20),
    measuredPowerDbm,
    // ble-frames.md: positive values occur in the wild; keep the raw value and flag it.
    ...(measuredPowerDbm >= 0 ? { implausiblePower: true as const } : {}),
  };
}

function decodeApple(s: AdStructure, body: Uint8Array): BlockResult {
  const subtype = body[0];
  if (subtype === undefined) {
    return truncated(s, 'Apple: expected a message type after the company ID, got 0 bytes');
  }
  // Type 0x02 with TLV length 0x15 is an iBeacon; any other Apple type is Continuity, never a beacon.
  if (subtype === 0x02 && (body.length === 1 || body[1] === 0x15)) return decodeIBeacon(s, body);
  if (subtype === 0x12) return { type: 'apple-findmy' };
  return { type: 'apple-continuity', subtype };
}

function decodeAltBeacon(s: AdStructure, companyId: number, body: Uint8Array): BlockResult {
  const sizeError = checkSize(s, 'AltBeacon', 'the company ID', body.length, ALTBEACON_BYTES);
  if (sizeError) return sizeError;
  return {
    type: 'altbeacon',
    companyId,
    id1: formatUuid(body.subarray(2, 18)),
    id2: u16be(body, 18),
    id3: u16be(body, 20),
    referenceRssiDbm: i8(body, 22),
    reserved: u8(body, 23),
  };
}

function decodeManufacturerData(s: AdStructure): BlockResult {
  const sizeError = checkSize(s, 'manufacturer data', 'the AD type', s.data.length, 2, Infinity);
  if (sizeError) return sizeError;
  const companyId = u16le(s.data, 0);
  const body = s.data.subarray(2);
  // Company-specific formats first, so an Apple or Microsoft frame can never read as a beacon.
  if (companyId === CompanyId.apple) return decodeApple(s, body);
  if (companyId === CompanyId.microsoft) return { type: 'microsoft-cdp' };
  // AltBeacon: beacon code 0xBEAC after any company ID.
  if (body[0] === 0xbe && body[1] === 0xac) return decodeAltBeacon(s, companyId, body);
  return { type: 'manufacturer', companyId, data: bytesToHex(body) };
}

function decodeEddystoneUrl(s: AdStructure, rest: Uint8Array, restOffset: number): BlockResult {
  const sizeError = checkSize(s, 'Eddystone-URL', 'the frame type', rest.length, 2, Infinity);
  if (sizeError) return sizeError;
  const schemeByte = u8(rest, 1);
  const scheme = EDDYSTONE_URL_SCHEMES[schemeByte];
  if (scheme === undefined) {
    return invalid(restOffset + 1, `Eddystone-URL: unknown URL scheme prefix ${hexByte(schemeByte)} at offset ${restOffset + 1}`);
  }
  let url = scheme;
  for (let i = 2; i < rest.length; i++) {
    const byte = u8(rest, i);
    const expansion = EDDYSTONE_URL_EXPANSIONS[byte];
    if (expansion !== undefined) url += expansion;
    // 0x0E–0x20 and 0x7F–0xFF are reserved: refuse rather than pass control bytes downstream.
    else if (byte > 0x20 && byte < 0x7f) url += String.fromCharCode(byte);
    else return invalid(restOffset + i, `Eddystone-URL: reserved URL byte ${hexByte(byte)} at offset ${restOffset + i}`);
  }
  return { type: 'eddystone-url', url, txPowerDbm: i8(rest, 0) };
}

function decodeEddystoneTlm(s: AdStructure, rest: Uint8Array, restOffset: number): BlockResult {
  const version = rest[0];
  if (version === undefined) return truncated(s, 'Eddystone-TLM: expected a version byte after the frame type, got 0 bytes');
  if (version === 0x00) {
    // Plain TLM: version ‖ battery mV u16 ‖ temperature 8.8 ‖ adv count u32 ‖ uptime (0.1 s) u32.
    const sizeError = checkSize(s, 'Eddystone-TLM', 'the frame type', rest.length, 13);
    if (sizeError) return sizeError;
    const batteryMv = u16be(rest, 1);
    const temperature = u16be(rest, 3);
    return {
      type: 'eddystone-tlm',
      version: 0,
      batteryMv: batteryMv === 0 ? null : batteryMv,
      temperatureC: temperature === 0x8000 ? null : ((temperature << 16) >> 16) / 256,
      advCount: u32be(rest, 5),
      uptimeS: u32be(rest, 9) / 10,
    };
  }
  if (version === 0x01) {
    // eTLM: version ‖ encrypted TLM 12 ‖ salt 2 ‖ MIC 2.
    const sizeError = checkSize(s, 'Eddystone-eTLM', 'the frame type', rest.length, 17);
    if (sizeError) return sizeError;
    return {
      type: 'eddystone-etlm',
      version: 1,
      etlm: bytesToHex(rest.subarray(1, 13)),
      salt: bytesToHex(rest.subarray(13, 15)),
      mic: bytesToHex(rest.subarray(15, 17)),
    };
  }
  return invalid(restOffset, `Eddystone-TLM: unknown version ${hexByte(version)} at offset ${restOffset}`);
}

function decodeEddystone(s: AdStructure, body: Uint8Array): BlockResult {
  const frameOffset = s.offset + SERVICE_DATA_HEADER;
  const frameType = body[0];
  if (frameType === undefined) return truncated(s, 'Eddystone: expected a frame type byte after the service UUID, got 0 bytes');
  const rest = body.subarray(1);
  switch (frameType) {
    case EddystoneFrameType.uid: {
      // TX power ‖ namespace 10 ‖ instance 6 ‖ RFU 2 (the RFU bytes may be missing).
      const sizeError = checkSize(s, 'Eddystone-UID', 'the frame type', rest.length, 17, 19);
      if (sizeError) return sizeError;
      return {
        type: 'eddystone-uid',
        namespace: bytesToHex(rest.subarray(1, 11)),
        instance: bytesToHex(rest.subarray(11, 17)),
        txPowerDbm: i8(rest, 0),
      };
    }
    case EddystoneFrameType.url:
      return decodeEddystoneUrl(s, rest, frameOffset + 1);
    case EddystoneFrameType.tlm:
      return decodeEddystoneTlm(s, rest, frameOffset + 1);
    case EddystoneFrameType.eid: {
      // TX power ‖ EID 8.
      const sizeError = checkSize(s, 'Eddystone-EID', 'the frame type', rest.length, 9);
      if (sizeError) return sizeError;
      return { type: 'eddystone-eid', eid: bytesToHex(rest.subarray(1, 9)), txPowerDbm: i8(rest, 0) };
    }
    default:
      return invalid(frameOffset, `Eddystone: unknown frame type ${hexByte(frameType)} at offset ${frameOffset}`);
  }
}

function decodeServiceData(s: AdStructure): BlockResult {
  const sizeError = checkSize(s, 'service data', 'the AD type', s.data.length, 2, Infinity);
  if (sizeError) return sizeError;
  const uuid = u16le(s.data, 0);
  const body = s.data.subarray(2);
  if (uuid === ServiceUuid16.eddystone) return decodeEddystone(s, body);
  if (uuid === ServiceUuid16.exposureNotification) return { type: 'exposure-notification' };
  return { type: 'service-data', uuid: uuid.toString(16).padStart(4, '0'), data: bytesToHex(body) };
}

/** Reads a list of little-endian UUIDs of `size` bytes; a partial last UUID is reported. */
function readUuidList(s: AdStructure, size: 2 | 16, into: string[], errors: DecodeError[]): void {
  const whole = s.data.length - (s.data.length % size);
  for (let i = 0; i < whole; i += size) {
    const uuid = size === 2 ? u16le(s.data, i).toString(16).padStart(4, '0') : formatUuid(s.data.slice(i, i + size).reverse());
    if (!into.includes(uuid)) into.push(uuid);
  }
  if (whole !== s.data.length) {
    errors.push({
      code: 'truncated',
      offset: s.offset,
      message: `${size * 8}-bit service UUID list: ${s.data.length} bytes is not a multiple of ${size}`,
    });
  }
}

/** Decodes one advertising packet (legacy or extended advertising data, or a scan response). */
export function decodeAdvertisement(data: Uint8Array): Advertisement {
  const { structures, error } = parseAdStructures(data);
  const ad: Advertisement = { frames: [], serviceUuids16: [], serviceUuids128: [], errors: [] };
  for (const s of structures) {
    switch (s.type) {
      case AdType.manufacturerData:
      case AdType.serviceData16: {
        const result = s.type === AdType.manufacturerData ? decodeManufacturerData(s) : decodeServiceData(s);
        if (isError(result)) ad.errors.push(result);
        else ad.frames.push(result);
        break;
      }
      case AdType.flags:
      case AdType.txPowerLevel: {
        const isFlags = s.type === AdType.flags;
        const sizeError = checkSize(s, isFlags ? 'flags' : 'TX power level', 'the AD type', s.data.length, 1, Infinity);
        if (sizeError) ad.errors.push(sizeError);
        else if (isFlags) ad.flags ??= u8(s.data, 0);
        else ad.txPowerDbm ??= i8(s.data, 0);
        break;
      }
      case AdType.incompleteServiceUuids16:
      case AdType.completeServiceUuids16:
        readUuidList(s, 2, ad.serviceUuids16, ad.errors);
        break;
      case AdType.incompleteServiceUuids128:
      case AdType.completeServiceUuids128:
        readUuidList(s, 16, ad.serviceUuids128, ad.errors);
        break;
      case AdType.completeLocalName:
        ad.localName = utf8.decode(s.data);
        ad.localNameComplete = true;
        break;
      case AdType.shortenedLocalName:
        // A complete name, wherever it sits in the packet, wins over a shortened one.
        if (ad.localNameComplete !== true) {
          ad.localName = utf8.decode(s.data);
          ad.localNameComplete = false;
        }
        break;
      default:
        break; // other AD types carry nothing Vicino uses
    }
  }
  if (error) ad.errors.push(error);
  return ad;
}

/** `decodeAdvertisement` for hex text, as found in logs and scenario files. */
export function decodeHexAdvertisement(hex: string): Advertisement | { error: DecodeError } {
  const bytes = parseHex(hex);
  if (!(bytes instanceof Uint8Array)) return bytes;
  if (bytes.length === 0) return { error: { code: 'empty', offset: 0, message: 'hex: no digits' } };
  return decodeAdvertisement(bytes);
}
