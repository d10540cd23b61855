import { createHmac } from 'node:crypto';
import { z } from 'zod';

/**
 * A keyed-hash pseudonym: HMAC-SHA-256(epoch key, frame kind ‖ identifier) truncated to 128 bits,
 * as 32 lowercase hex characters. The brand makes it impossible to pass a raw identifier
 * (a MAC, an EID, a beacon ID) where a pseudonym is expected, so a raw value cannot reach
 * a publisher, a log line or a table by accident.
 */
export const PseudonymSchema = z.string().regex(/^[0-9a-f]{32}$/, 'a pseudonym is 32 lowercase hex characters').brand<'Pseudonym'>();
export type Pseudonym = z.infer<typeof PseudonymSchema>;

/** What kind of identifier was hashed. It is part of the HMAC input, so kinds never collide. */
export const IdentifierKindSchema = z.enum(['eddystone-eid', 'ibeacon', 'altbeacon', 'eddystone-uid']);
export type IdentifierKind = z.infer<typeof IdentifierKindSchema>;

const KIND_BYTE: Record<IdentifierKind, number> = {
  'eddystone-eid': 0x30, // the Eddystone frame type byte
  'eddystone-uid': 0x00,
  ibeacon: 0x02, // Apple's iBeacon type byte
  altbeacon: 0xac, // from the 0xBEAC beacon code
};

export const PSEUDONYM_BYTES = 16;
export const EPOCH_KEY_BYTES = 32;

/** HMAC-SHA-256(key, kind ‖ identifier)[0..16). Pure: the same inputs always give the same pseudonym. */
export function pseudonymise(epochKey: Uint8Array, kind: IdentifierKind, identifier: Uint8Array): Pseudonym {
  return pseudonymBytes(epochKey, kind, identifier).toString('hex') as Pseudonym;
}

/** The same pseudonym as its 16 raw bytes, for tables keyed on bytes (no hex string per pseudonym). */
export function pseudonymBytes(epochKey: Uint8Array, kind: IdentifierKind, identifier: Uint8Array): Buffer {
  if (epochKey.length !== EPOCH_KEY_BYTES) throw new RangeError(`epoch key must be ${EPOCH_KEY_BYTES} bytes, got ${epochKey.length}`);
  const hmac = createHmac('sha256', epochKey);
  hmac.update(Uint8Array.of(KIND_BYTE[kind]));
  hmac.update(identifier);
  return hmac.digest().subarray(0, PSEUDONYM_BYTES);
}

const HEX_DIGIT = new Int8Array(128).fill(-1);
for (const [value, digit] of [...'0123456789abcdef'].entries()) HEX_DIGIT[digit.charCodeAt(0)] = value;

/**
 * Writes the 16 bytes of a pseudonym's hex form into `into` at `offset`, allocating nothing; false
 * (and `into` partly written) if the text is not 32 lowercase hex characters.
 */
export function decodePseudonym(text: string, into: Uint8Array, offset = 0): boolean {
  if (text.length !== PSEUDONYM_BYTES * 2 || into.length < offset + PSEUDONYM_BYTES) return false;
  for (let i = 0; i < PSEUDONYM_BYTES; i += 1) {
    const high = HEX_DIGIT[text.charCodeAt(2 * i)] ?? -1;
    const low = HEX_DIGIT[text.charCodeAt(2 * i + 1)] ?? -1;
    if ((high | low) < 0) return false;
    into[offset + i] = (high << 4) | low;
  }
  return true;
}
