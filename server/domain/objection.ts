import { createHmac, hkdfSync } from 'node:crypto';
import { z } from 'zod';
import type { ConsentText } from './consent-texts.ts';
import type { ConsentRecord, ConsentState, Purpose } from './consent.ts';

// Objection to marketing (DSR-3, GDPR art. 21(2)–(3)): permanent. It withdraws promotional messages
// (P4) and personalisation (P2) in the consent ledger, marks the shopper objected — after which no
// grant of either is accepted and no promotion is recorded for them — and leaves a suppression entry
// that outlives the app and the account. To survive a reinstall and a new registration, the app keeps
// a random device secret in storage that survives reinstalling (iOS Keychain, Android Block Store) and
// sends it at registration; the server holds only its keyed digest (HMAC-SHA-256 under a key derived
// from the master key), so the stored value identifies nothing without that key and cannot be reversed.
// A registration whose digest is suppressed starts out objected. Pure: schemas, hashing, records.

/** The purposes an objection withdraws for good: P4 promotional messages, P2 personalisation (profiling for marketing). */
export const OBJECTION_PURPOSES = ['promotions', 'personalisation'] as const satisfies readonly Purpose[];

/** 32 random bytes, base64url without padding (43 characters). */
export const DeviceSecretSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'deviceSecret is 32 random bytes, base64url without padding (43 characters)');

/** The digest key, derived from the master key (HKDF-SHA-256), so every instance computes the same digests. */
export function deriveDeviceSecretDigestKey(masterKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'vicino device secret digest v1', 32));
}

/** HMAC-SHA-256(key, secret bytes), lower-case hex: what the Store keeps instead of the secret. */
export function deviceSecretDigest(key: Uint8Array, deviceSecret: string): string {
  return createHmac('sha256', key).update(Buffer.from(deviceSecret, 'base64url')).digest('hex');
}

/** Whether this decision is one an objected shopper may not make: granting an objection purpose again. */
export const refusedAfterObjection = (decision: { purpose: Purpose; granted: boolean }): boolean =>
  decision.granted && (OBJECTION_PURPOSES as readonly Purpose[]).includes(decision.purpose);

/** The ledger's withdrawal records for an objection, one per objection purpose, each naming the state before it (CON-3). */
export function objectionRecords(options: {
  shopperId: string; state: ConsentState; texts: Record<Purpose, ConsentText>; locale: string; atMs: number; clientTimeMs: number | null; newId: () => string;
}): ConsentRecord[] {
  return OBJECTION_PURPOSES.map((purpose) => ({
    id: options.newId(), shopperId: options.shopperId, purpose, granted: false, textVersion: options.texts[purpose].version,
    textSha256: options.texts[purpose].sha256, locale: options.locale, serverTimeMs: options.atMs, clientTimeMs: options.clientTimeMs,
    channel: 'app', previousGranted: options.state[purpose]?.granted ?? null,
  }));
}

/**
 * Thrown by Store.appendConsent, which appends nothing, when a grant of P2 or P4 reaches a shopper who
 * has objected (DSR-3): checked in the appending transaction, under the shopper's lock, so a grant
 * racing the objection cannot slip in after it.
 */
export class ObjectedGrantError extends Error {
  readonly shopperId: string;
  constructor(shopperId: string) {
    super('the shopper objected to marketing: promotions and personalisation cannot be granted');
    this.name = 'ObjectedGrantError';
    this.shopperId = shopperId;
  }
}
