import { createHmac } from 'node:crypto';
import { z } from 'zod';

// A shopper's loyalty beacon, as the app names it and as a gateway hashes it. The identifier bytes are
// exactly those of the gateway's identifierOf (gateway/gateway.ts), so a linked beacon's pseudonym is
// pseudonymise(epoch key, kind, bytes) on both sides:
//   iBeacon:       proximity UUID (16) ‖ major (u16 BE) ‖ minor (u16 BE)   — Apple iBeacon spec
//   Eddystone-UID: namespace (10) ‖ instance (6)                          — Eddystone UID frame 0x00
// These identifiers are personal data once linked: the Store keeps them only sealed, and unique by a
// keyed digest (beaconDigest) so the plaintext is never needed to find a duplicate.

export type LinkedBeaconKind = 'ibeacon' | 'eddystone-uid';

const hex = (length: number, field: string, example: string) =>
  z.string().regex(new RegExp(`^[0-9a-fA-F]{${length}}$`), `${field} is ${length} hex characters, like "${example}"`).transform((s) => s.toLowerCase());
const u16 = (field: string) => z.number().int(`${field} is a whole number`).min(0, `${field} is 0–65535`).max(65_535, `${field} is 0–65535`);

export const BeaconIdentifierSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('ibeacon'),
    uuid: z
      .string()
      .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'uuid is a UUID like "f7826da6-4fa2-4e98-8024-bc5b71e0893e"')
      .transform((s) => s.toLowerCase()),
    major: u16('major'),
    minor: u16('minor'),
  }).strict(),
  z.object({
    kind: z.literal('eddystone-uid'),
    namespace: hex(20, 'namespace', 'edd1ebeac04e5defa017'),
    instance: hex(12, 'instance', '0123456789ab'),
  }).strict(),
]);
export type BeaconIdentifier = z.infer<typeof BeaconIdentifierSchema>;

/** The identifier's bytes, laid out as gateway.ts identifierOf lays out the frame it decoded. */
export function beaconIdentifierBytes(beacon: BeaconIdentifier): Buffer {
  if (beacon.kind === 'eddystone-uid') return Buffer.from(beacon.namespace + beacon.instance, 'hex');
  const bytes = Buffer.alloc(20);
  Buffer.from(beacon.uuid.replaceAll('-', ''), 'hex').copy(bytes, 0);
  bytes.writeUInt16BE(beacon.major, 16);
  bytes.writeUInt16BE(beacon.minor, 18);
  return bytes;
}

/** The inverse of beaconIdentifierBytes, for showing shoppers their own beacons. */
export function beaconIdentifierFromBytes(kind: LinkedBeaconKind, bytes: Buffer): BeaconIdentifier {
  if (kind === 'eddystone-uid') {
    if (bytes.length !== 16) throw new RangeError(`an Eddystone-UID identifier is 16 bytes, got ${bytes.length}`);
    return { kind, namespace: bytes.subarray(0, 10).toString('hex'), instance: bytes.subarray(10, 16).toString('hex') };
  }
  if (bytes.length !== 20) throw new RangeError(`an iBeacon identifier is 20 bytes, got ${bytes.length}`);
  const h = bytes.subarray(0, 16).toString('hex');
  return { kind, uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`, major: bytes.readUInt16BE(16), minor: bytes.readUInt16BE(18) };
}

/** HMAC-SHA-256(digest key, kind ‖ 0x00 ‖ identifier), hex: equal exactly when the same beacon is linked twice. */
export function beaconDigest(digestKey: Uint8Array, kind: LinkedBeaconKind, identifier: Uint8Array): string {
  return createHmac('sha256', digestKey).update(kind).update(Uint8Array.of(0)).update(identifier).digest('hex');
}

/** The sealing label of a linked beacon's identifier (AES-GCM associated data): it opens only for that row. */
export const beaconIdentifierLabel = (beaconId: string): string => `beacon-identifier:${beaconId}`;
