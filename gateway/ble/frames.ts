// The frames Vicino recognises in an advertisement, as plain JSON-serialisable objects.
// Hex strings and UUIDs are lowercase; `null` stands where a beacon reports "unsupported".

import type { DecodeError } from './ad-parser.ts';

/** Bluetooth SIG company identifiers (Assigned Numbers, "Company Identifiers"). */
export const CompanyId = { apple: 0x004c, microsoft: 0x0006, radiusNetworks: 0x0118 } as const;

/** 16-bit service UUIDs (Assigned Numbers, "16-bit UUIDs for members" / GAEN). */
export const ServiceUuid16 = { eddystone: 0xfeaa, exposureNotification: 0xfd6f } as const;

/** iBeacon: manufacturer data `4C 00 02 15 <UUID 16> <major BE> <minor BE> <power int8>`. */
export type IBeaconFrame = {
  type: 'ibeacon';
  uuid: string;
  major: number;
  minor: number;
  /** Calibrated RSSI at 1 m. Kept raw even when implausible. */
  measuredPowerDbm: number;
  /** Present (true) only when the measured power is ≥ 0 dBm, which no real radio measures at 1 m. */
  implausiblePower?: true;
};

/** AltBeacon (altbeacon/spec): `<company LE> BE AC <ID 20> <ref RSSI int8> <reserved u8>`. */
export type AltBeaconFrame = {
  type: 'altbeacon';
  companyId: number;
  /** First 16 bytes of the beacon ID, as a UUID (the usual convention). */
  id1: string;
  /** Bytes 16–17 of the beacon ID, u16 big-endian. */
  id2: number;
  /** Bytes 18–19 of the beacon ID, u16 big-endian. */
  id3: number;
  /** Average RSSI at 1 m. */
  referenceRssiDbm: number;
  reserved: number;
};

/** Eddystone-UID (google/eddystone `eddystone-uid`). TX power is calibrated at 0 m. */
export type EddystoneUidFrame = { type: 'eddystone-uid'; namespace: string; instance: string; txPowerDbm: number };

/** Eddystone-URL (google/eddystone `eddystone-url`), expanded to the full URL. */
export type EddystoneUrlFrame = { type: 'eddystone-url'; url: string; txPowerDbm: number };

/** Eddystone-TLM version 0x00 (google/eddystone `eddystone-tlm/tlm-plain.md`). */
export type EddystoneTlmFrame = {
  type: 'eddystone-tlm';
  version: 0;
  /** Battery voltage in mV; null when the beacon reports 0 (not supported). */
  batteryMv: number | null;
  /** °C from 8.8 signed fixed point; null when the beacon reports 0x8000 (not supported). */
  temperatureC: number | null;
  /** Advertising PDUs sent since power-up or reboot. */
  advCount: number;
  /** Time since power-up or reboot, in seconds (sent in 0.1 s units). */
  uptimeS: number;
};

/** Eddystone-TLM version 0x01, encrypted (google/eddystone `eddystone-tlm/tlm-encrypted.md`). */
export type EddystoneEtlmFrame = {
  type: 'eddystone-etlm';
  version: 1;
  /** The 12-byte encrypted TLM, hex. */
  etlm: string;
  /** 2-byte salt, hex. */
  salt: string;
  /** 2-byte message integrity check, hex. */
  mic: string;
};

/** Eddystone-EID (google/eddystone `eddystone-eid`): an 8-byte rotating ephemeral ID. */
export type EddystoneEidFrame = { type: 'eddystone-eid'; eid: string; txPowerDbm: number };

/** Apple Continuity message (company 0x004C) other than iBeacon and Find My; `subtype` is its type byte. */
export type AppleContinuityFrame = { type: 'apple-continuity'; subtype: number };

/** Apple Find My / offline finding (company 0x004C, type 0x12). */
export type AppleFindMyFrame = { type: 'apple-findmy' };

/** Google/Apple Exposure Notification (service data 0xFD6F). Recognised so that it is dropped. */
export type ExposureNotificationFrame = { type: 'exposure-notification' };

/** Microsoft Connected Devices Platform beacon (company 0x0006). */
export type MicrosoftCdpFrame = { type: 'microsoft-cdp' };

/** Any other manufacturer-specific block. `data` is the hex after the company ID. */
export type ManufacturerFrame = { type: 'manufacturer'; companyId: number; data: string };

/**
 * Any other service data (AD types 0x16, 0x20, 0x21). `uuid` is 4 hex digits (16-bit), 8 hex digits
 * (32-bit) or a hyphenated 128-bit UUID; `data` is the hex after the UUID.
 */
export type ServiceDataFrame = { type: 'service-data'; uuid: string; data: string };

export type BeaconFrame =
  | IBeaconFrame
  | AltBeaconFrame
  | EddystoneUidFrame
  | EddystoneUrlFrame
  | EddystoneTlmFrame
  | EddystoneEtlmFrame
  | EddystoneEidFrame;

export type Frame =
  | BeaconFrame
  | AppleContinuityFrame
  | AppleFindMyFrame
  | ExposureNotificationFrame
  | MicrosoftCdpFrame
  | ManufacturerFrame
  | ServiceDataFrame;

export type FrameType = Frame['type'];

/** Eddystone frame type byte, the first byte of 0xFEAA service data. */
export const EddystoneFrameType = { uid: 0x00, url: 0x10, tlm: 0x20, eid: 0x30 } as const;

/** Eddystone-URL scheme prefix byte → prefix (google/eddystone `eddystone-url`, "URL Scheme Prefix"). */
export const EDDYSTONE_URL_SCHEMES: readonly string[] = ['http://www.', 'https://www.', 'http://', 'https://'];

/** Eddystone-URL bytes 0x00–0x0D → text ("HTTP URL encoding"). 0x0E–0x20 and 0x7F–0xFF are reserved. */
export const EDDYSTONE_URL_EXPANSIONS: readonly string[] = [
  '.com/', '.org/', '.edu/', '.net/', '.info/', '.biz/', '.gov/',
  '.com', '.org', '.edu', '.net', '.info', '.biz', '.gov',
];

const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Lowercase hex of `bytes[start, end)`, no separators. Reads by index: no views, no copies. */
export function hexOf(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let hex = '';
  for (let i = start; i < end; i++) hex += HEX_BYTES[bytes[i] ?? 0];
  return hex;
}

/** Lowercase hex of `bytes`, no separators. */
export function bytesToHex(bytes: Uint8Array): string {
  return hexOf(bytes, 0, bytes.length);
}

/** The 16 bytes at `start`, big-endian, as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lowercase). */
export function uuidAt(bytes: Uint8Array, start: number): string {
  let hex = '';
  for (let i = start; i < start + 16; i++) {
    hex += HEX_BYTES[bytes[i] ?? 0];
    if (i === start + 3 || i === start + 5 || i === start + 7 || i === start + 9) hex += '-';
  }
  return hex;
}

/** The 16 bytes at `start`, little-endian as service UUIDs travel (Core Spec Vol 3 Part C §11), as a UUID. */
export function reversedUuidAt(bytes: Uint8Array, start: number): string {
  let hex = '';
  for (let i = start + 15; i >= start; i--) {
    hex += HEX_BYTES[bytes[i] ?? 0];
    if (i === start + 12 || i === start + 10 || i === start + 8 || i === start + 6) hex += '-';
  }
  return hex;
}

/** A 16-byte big-endian UUID as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase. */
export function formatUuid(bytes: Uint8Array): string {
  return uuidAt(bytes, 0);
}

function hexDigitValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10; // a-f, A-F
  return -1;
}

/**
 * Parses hex with optional whitespace or colon separators (`02 01 06`, `02:01:06`) into bytes.
 * Errors name the character position in `hex`.
 */
export function parseHex(hex: string): Uint8Array | { error: DecodeError } {
  const bytes = new Uint8Array(hex.length >> 1);
  let count = 0;
  let high = -1;
  let highPosition = 0;
  for (let position = 0; position < hex.length; position++) {
    const code = hex.charCodeAt(position);
    if (code === 0x3a || code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) continue; // : space tab LF CR
    const nibble = hexDigitValue(code);
    if (nibble < 0) {
      return { error: { code: 'invalid', offset: position, message: `hex: ${JSON.stringify(hex.charAt(position))} at position ${position} is not a hex digit` } };
    }
    if (high < 0) {
      high = nibble;
      highPosition = position;
    } else {
      bytes[count++] = (high << 4) | nibble;
      high = -1;
    }
  }
  if (high >= 0) {
    return { error: { code: 'truncated', offset: highPosition, message: `hex: odd number of digits; the digit at position ${highPosition} has no partner` } };
  }
  return bytes.subarray(0, count);
}
