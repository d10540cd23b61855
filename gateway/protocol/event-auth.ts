import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { PresenceEvent } from './messages.ts';

// Message authentication for presence events. A subscriber cannot see which client published a
// message, and a broker ACL can be misconfigured, so each event proves its gateway itself:
//
//   K_msg     = HKDF-SHA256(IKM = gateway secret, salt = "vicino/v1/event-mac", info = gatewayId), 32 bytes
//   canonical = ‖ over SIGNED_FIELDS in order: u32 BE byte length(item) ‖ item,  item = UTF-8("<name>=<value>")
//               (strings as they are; integers in decimal)
//   mac       = base64url(HMAC-SHA-256(K_msg, canonical)), 43 characters, no padding
//
// The length prefixes make the encoding injective (no two events share canonical bytes), and the
// gateway ID is both signed and the HKDF info, so a gateway's key cannot sign for another gateway.
// Pure: no I/O, the same inputs always give the same bytes.

export type UnsignedPresenceEvent = Omit<PresenceEvent, 'tag'>;

/** Every field but `tag`, in schema order. */
export const SIGNED_FIELDS = [
  'v', 'eventId', 'storeId', 'gatewayId', 'zoneId', 'keyId', 'idKind', 'pseudonym', 'kind', 'atS', 'dwellS', 'proximity', 'boot', 'seq',
] as const satisfies readonly (keyof UnsignedPresenceEvent)[];

// The compiler checks the list is complete: a field added to the schema and not signed names itself here.
type Unsigned = Exclude<keyof UnsignedPresenceEvent, (typeof SIGNED_FIELDS)[number]>;
const _everyFieldSigned: [Unsigned] extends [never] ? true : Unsigned = true;
void _everyFieldSigned;

export const EVENT_MAC_KEY_BYTES = 32;
const SALT = Buffer.from('vicino/v1/event-mac');

/** K_msg for one gateway: derive once (a gateway at start, a server per gateway, cached) and sign or verify with it. */
export function deriveEventMacKey(gatewaySecret: Uint8Array, gatewayId: string): Buffer {
  if (gatewaySecret.length < 16) throw new RangeError('gateway secret must be at least 16 bytes');
  return Buffer.from(hkdfSync('sha256', gatewaySecret, SALT, Buffer.from(gatewayId), EVENT_MAC_KEY_BYTES));
}

/** The bytes the MAC covers. Reads only SIGNED_FIELDS, so a signed event (its `tag` included) gives the same bytes. */
export function canonicalEventBytes(event: UnsignedPresenceEvent): Buffer {
  const parts: Buffer[] = [];
  for (const name of SIGNED_FIELDS) {
    const value = event[name];
    const item = Buffer.from(`${name}=${typeof value === 'number' ? String(value) : value}`, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(item.length);
    parts.push(length, item);
  }
  return Buffer.concat(parts);
}

export function eventMac(macKey: Uint8Array, event: UnsignedPresenceEvent): string {
  return createHmac('sha256', macKey).update(canonicalEventBytes(event)).digest('base64url');
}

export function signPresenceEvent(macKey: Uint8Array, event: UnsignedPresenceEvent): PresenceEvent {
  return { ...event, tag: eventMac(macKey, event) };
}

/**
 * True only if `tag` is exactly the MAC of every other field under this key. The comparison is on the
 * canonical base64url text, in constant time, so a re-encoded tag (other padding bits) does not pass.
 */
export function verifyPresenceEvent(macKey: Uint8Array, event: PresenceEvent): boolean {
  const expected = Buffer.from(eventMac(macKey, event), 'ascii');
  const given = Buffer.from(event.tag, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// Status and occupancy messages carry a tag too, under the same K_msg, over a domain label and the
// message's canonical JSON (object keys sorted, `tag` left out), so a tag made for one kind of message
// never verifies as another:
//   tag = base64url(HMAC-SHA-256(K_msg, "vicino/v1/<kind>" ‖ 0x00 ‖ canonicalJson(message without tag)))

export type AuthenticatedKind = 'status' | 'occupancy';

/** JSON with every object's keys in sorted order: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function messageMac(macKey: Uint8Array, kind: AuthenticatedKind, message: object): string {
  const { tag: _tag, ...rest } = message as { tag?: unknown };
  return createHmac('sha256', macKey).update(`vicino/v1/${kind}\0`, 'utf8').update(canonicalJson(rest), 'utf8').digest('base64url');
}

export function signMessage<T extends object>(macKey: Uint8Array, kind: AuthenticatedKind, message: T): T & { tag: string } {
  return { ...message, tag: messageMac(macKey, kind, message) };
}

/** True only if `tag` is exactly the MAC of the rest of the message under this key, for this kind of message. */
export function verifyMessage(macKey: Uint8Array, kind: AuthenticatedKind, message: { tag: string }): boolean {
  const expected = Buffer.from(messageMac(macKey, kind, message), 'ascii');
  const given = Buffer.from(message.tag, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
