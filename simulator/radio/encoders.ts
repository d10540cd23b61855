// Builds advertisement bytes the way real devices send them: the inverse of gateway/ble/decode.ts.
// Each encoder returns a whole advertising payload (≤ 31 bytes, legacy advertising) and throws a
// RangeError on parameters no real device could send: these are programming errors in a scenario.

import { Buffer } from 'node:buffer';
import { AdType } from '#gateway/ble/ad-parser.ts';
import {
  CompanyId,
  EDDYSTONE_URL_EXPANSIONS,
  EDDYSTONE_URL_SCHEMES,
  EddystoneFrameType,
  ServiceUuid16,
  parseHex,
} from '#gateway/ble/frames.ts';
import type { AltBeaconFrame, EddystoneTlmFrame, EddystoneUrlFrame, IBeaconFrame } from '#gateway/ble/frames.ts';

/** Raw bytes, or the same as hex (separators `:`, space and `-` allowed). */
export type Bytes = Uint8Array | string;

export type IBeaconParams = Omit<IBeaconFrame, 'type' | 'implausiblePower'>;
export type AltBeaconParams = Omit<AltBeaconFrame, 'type'>;
export type EddystoneUidParams = { namespace: Bytes; instance: Bytes; txPowerDbm: number };
export type EddystoneUrlParams = Omit<EddystoneUrlFrame, 'type'>;
export type EddystoneTlmParams =
  | (Omit<EddystoneTlmFrame, 'type' | 'version'> & { version?: 0 })
  | { version: 1; etlm: Bytes; salt: Bytes; mic: Bytes };
export type EddystoneEidParams = { eid: Bytes; txPowerDbm: number };
export type ExposureNotificationParams = { rpi: Bytes; metadata: Bytes };
export type AppleContinuityParams = { subtype: number; payload: Bytes };

/** Legacy advertising carries at most 31 bytes of AdvData (Core Spec Vol 6 Part B §2.3.1.1). */
export const LEGACY_ADV_BYTES = 31;
/** Eddystone-URL: at most 17 bytes of encoded URL (google/eddystone `eddystone-url`). */
export const EDDYSTONE_URL_MAX_BYTES = 17;

// Flags 0x06: LE General Discoverable, BR/EDR not supported — what beacons send.
const BEACON_FLAGS = [0x02, AdType.flags, 0x06];
// Flags 0x1A: LE General Discoverable, simultaneous LE and BR/EDR — what phones send (and the GAEN
// Bluetooth specification v1.2 prescribes for Exposure Notification).
const PHONE_FLAGS = [0x02, AdType.flags, 0x1a];
const APPLE_FIND_MY = 0x12;
const APPLE_IBEACON = 0x02;
const longestFirst = (a: string, b: string): number => b.length - a.length;
const SCHEMES_LONGEST_FIRST = [...EDDYSTONE_URL_SCHEMES].sort(longestFirst);
const EXPANSIONS_LONGEST_FIRST = [...EDDYSTONE_URL_EXPANSIONS].sort(longestFirst);

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer ${min}…${max}, got ${value}`);
  }
  return value;
}

function bytesOf(name: string, value: Bytes, size?: number): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === 'string') {
    const parsed = parseHex(value.replaceAll('-', ''));
    if (!(parsed instanceof Uint8Array)) throw new RangeError(`${name}: ${parsed.error.message}`);
    bytes = parsed;
  } else {
    bytes = value;
  }
  if (size !== undefined && bytes.length !== size) throw new RangeError(`${name} must be ${size} bytes, got ${bytes.length}`);
  return bytes;
}

const u16le = (value: number): number[] => [value & 0xff, value >>> 8];
const u16be = (value: number): number[] => [value >>> 8, value & 0xff];
const u32be = (value: number): number[] => [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
const int8 = (name: string, value: number): number => checkInt(name, value, -128, 127) & 0xff;

/** One AD structure: `[length][type][data]`. */
function adStructure(type: number, ...parts: (Uint8Array | readonly number[])[]): Buffer {
  const data = Buffer.concat(parts.map((part) => Uint8Array.from(part)));
  if (data.length > 254) throw new RangeError(`AD structure 0x${type.toString(16)} holds ${data.length} bytes; at most 254 fit`);
  return Buffer.concat([Uint8Array.of(data.length + 1, type), data]);
}

function advertisement(...structures: (Buffer | readonly number[])[]): Buffer {
  const bytes = Buffer.concat(structures.map((part) => Uint8Array.from(part)));
  if (bytes.length > LEGACY_ADV_BYTES) {
    throw new RangeError(`advertisement is ${bytes.length} bytes; legacy advertising carries ${LEGACY_ADV_BYTES}`);
  }
  return bytes;
}

const manufacturerData = (companyId: number, ...parts: (Uint8Array | readonly number[])[]): Buffer =>
  adStructure(AdType.manufacturerData, u16le(checkInt('companyId', companyId, 0, 0xffff)), ...parts);

/** iBeacon: `02 01 06 1A FF 4C 00 02 15 <UUID> <major BE> <minor BE> <measured power>`. */
export function encodeIBeacon({ uuid, major, minor, measuredPowerDbm }: IBeaconParams): Buffer {
  return advertisement(
    BEACON_FLAGS,
    manufacturerData(CompanyId.apple, [APPLE_IBEACON, 0x15], bytesOf('uuid', uuid, 16),
      u16be(checkInt('major', major, 0, 0xffff)), u16be(checkInt('minor', minor, 0, 0xffff)),
      [int8('measuredPowerDbm', measuredPowerDbm)]),
  );
}

/** AltBeacon: `02 01 06 1B FF <company LE> BE AC <id1 16> <id2 BE> <id3 BE> <ref RSSI> <reserved>`. */
export function encodeAltBeacon({ companyId, id1, id2, id3, referenceRssiDbm, reserved }: AltBeaconParams): Buffer {
  return advertisement(
    BEACON_FLAGS,
    manufacturerData(companyId, [0xbe, 0xac], bytesOf('id1', id1, 16),
      u16be(checkInt('id2', id2, 0, 0xffff)), u16be(checkInt('id3', id3, 0, 0xffff)),
      [int8('referenceRssiDbm', referenceRssiDbm), checkInt('reserved', reserved, 0, 0xff)]),
  );
}

/** Eddystone: flags, the `03 03 AA FE` service list, then `<len> 16 AA FE <frame type> <frame>`. */
function eddystone(frameType: number, ...frame: (Uint8Array | readonly number[])[]): Buffer {
  return advertisement(
    BEACON_FLAGS,
    adStructure(AdType.completeServiceUuids16, u16le(ServiceUuid16.eddystone)),
    adStructure(AdType.serviceData16, u16le(ServiceUuid16.eddystone), [frameType], ...frame),
  );
}

/** Eddystone-UID with its two RFU bytes (zero). */
export function encodeEddystoneUid({ namespace, instance, txPowerDbm }: EddystoneUidParams): Buffer {
  return eddystone(EddystoneFrameType.uid, [int8('txPowerDbm', txPowerDbm)],
    bytesOf('namespace', namespace, 10), bytesOf('instance', instance, 6), [0x00, 0x00]);
}

/**
 * The shortest Eddystone-URL encoding: the longest scheme prefix, then the longest expansion at each
 * position. Greedy is optimal here: every expansion starts with '.' and holds no other '.', so taking
 * the longest never blocks a later one.
 */
export function encodeUrl(url: string): Uint8Array {
  const scheme = SCHEMES_LONGEST_FIRST.find((prefix) => url.startsWith(prefix));
  if (scheme === undefined) throw new RangeError(`URL must start with one of ${EDDYSTONE_URL_SCHEMES.join(' ')}: ${url}`);
  const bytes = [EDDYSTONE_URL_SCHEMES.indexOf(scheme)];
  for (let i = scheme.length; i < url.length;) {
    const expansion = EXPANSIONS_LONGEST_FIRST.find((text) => url.startsWith(text, i));
    if (expansion !== undefined) {
      bytes.push(EDDYSTONE_URL_EXPANSIONS.indexOf(expansion));
      i += expansion.length;
      continue;
    }
    const code = url.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) throw new RangeError(`URL character ${JSON.stringify(url.charAt(i))} at ${i} cannot be sent`);
    bytes.push(code);
    i += 1;
  }
  if (bytes.length - 1 > EDDYSTONE_URL_MAX_BYTES) {
    throw new RangeError(`URL encodes to ${bytes.length - 1} bytes; Eddystone-URL carries at most ${EDDYSTONE_URL_MAX_BYTES}`);
  }
  return Uint8Array.from(bytes);
}

export function encodeEddystoneUrl({ url, txPowerDbm }: EddystoneUrlParams): Buffer {
  return eddystone(EddystoneFrameType.url, [int8('txPowerDbm', txPowerDbm)], encodeUrl(url));
}

/** Eddystone-TLM, plain (version 0) or encrypted (version 1, eTLM). */
export function encodeEddystoneTlm(params: EddystoneTlmParams): Buffer {
  if (params.version === 1) {
    return eddystone(EddystoneFrameType.tlm, [0x01],
      bytesOf('etlm', params.etlm, 12), bytesOf('salt', params.salt, 2), bytesOf('mic', params.mic, 2));
  }
  const { batteryMv, temperatureC, advCount, uptimeS } = params;
  // 0 mV and 0x8000 (−128 °C) mean "not supported", so neither can be sent as a reading.
  const battery = batteryMv === null ? 0 : checkInt('batteryMv', batteryMv, 1, 0xffff);
  const temperature = temperatureC === null ? 0x8000 : checkInt('temperatureC × 256', Math.round(temperatureC * 256), -0x7fff, 0x7fff) & 0xffff;
  const uptimeTenths = checkInt('uptimeS × 10', Math.round(uptimeS * 10), 0, 0xffffffff);
  return eddystone(EddystoneFrameType.tlm, [0x00], u16be(battery), u16be(temperature),
    u32be(checkInt('advCount', advCount, 0, 0xffffffff)), u32be(uptimeTenths));
}

/** Eddystone-EID: `02 01 06 03 03 AA FE 0D 16 AA FE 30 <TX power> <EID 8>`. */
export function encodeEddystoneEid({ eid, txPowerDbm }: EddystoneEidParams): Buffer {
  return eddystone(EddystoneFrameType.eid, [int8('txPowerDbm', txPowerDbm)], bytesOf('eid', eid, 8));
}

/** Exposure Notification: `02 01 1A 03 03 6F FD 17 16 6F FD <RPI 16> <metadata 4>` (GAEN Bluetooth spec v1.2). */
export function encodeExposureNotification({ rpi, metadata }: ExposureNotificationParams): Buffer {
  const uuid = u16le(ServiceUuid16.exposureNotification);
  return advertisement(
    PHONE_FLAGS,
    adStructure(AdType.completeServiceUuids16, uuid),
    adStructure(AdType.serviceData16, uuid, bytesOf('rpi', rpi, 16), bytesOf('metadata', metadata, 4)),
  );
}

/**
 * One Apple Continuity message, `<len> FF 4C 00 <type> <payload length> <payload>`, after phone flags.
 * Find My (type 0x12) fills the whole packet, so AirTags send it without flags.
 */
export function encodeAppleContinuity({ subtype, payload }: AppleContinuityParams): Buffer {
  checkInt('subtype', subtype, 0, 0xff);
  const bytes = bytesOf('payload', payload);
  if (subtype === APPLE_IBEACON && bytes.length === 0x15) throw new RangeError('type 0x02 with 21 bytes is an iBeacon: use encodeIBeacon');
  const message = manufacturerData(CompanyId.apple, [subtype, checkInt('payload length', bytes.length, 0, 0xff)], bytes);
  return subtype === APPLE_FIND_MY ? advertisement(message) : advertisement(PHONE_FLAGS, message);
}

/** Microsoft Connected Devices Platform beacon: `<len> FF 06 00 <payload>`, non-connectable, no flags. */
export function encodeMicrosoftCdp(payload: Bytes): Buffer {
  return advertisement(manufacturerData(CompanyId.microsoft, bytesOf('payload', payload)));
}

/**
 * A connectable device's name: flags, then the complete local name (0x09), or the shortened name
 * (0x08) cut at a UTF-8 character boundary when the whole name does not fit.
 */
export function encodeLocalName(name: string): Buffer {
  const room = LEGACY_ADV_BYTES - BEACON_FLAGS.length - 2;
  const utf8 = Buffer.from(name, 'utf8');
  if (utf8.length <= room) return advertisement(BEACON_FLAGS, adStructure(AdType.completeLocalName, utf8));
  let cut = room;
  while (cut > 0 && ((utf8[cut] ?? 0) & 0xc0) === 0x80) cut -= 1; // back off UTF-8 continuation bytes
  return advertisement(BEACON_FLAGS, adStructure(AdType.shortenedLocalName, utf8.subarray(0, cut)));
}
