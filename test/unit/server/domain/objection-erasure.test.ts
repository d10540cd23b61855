import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import { replayConsent } from '#server/domain/consent.ts';
import { canonicalLedger, erasureProof, revokedTokenHash } from '#server/domain/erasure.ts';
import { deriveDeviceSecretDigestKey, DeviceSecretSchema, deviceSecretDigest, objectionRecords, refusedAfterObjection } from '#server/domain/objection.ts';
import { hashToken } from '#server/identity.ts';
import { aConsent } from '#test/helpers/builders.ts';

// Pure helpers of the objection (domain/objection.ts) and the erasure proof (domain/erasure.ts).

describe('the device secret digest (DSR-3)', () => {
  const key = deriveDeviceSecretDigestKey(randomBytes(32));

  it('is a keyed hash: the same secret gives the same digest under one master key, another under another', () => {
    const secret = randomBytes(32).toString('base64url');
    expect(deviceSecretDigest(key, secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(deviceSecretDigest(key, secret)).toBe(deviceSecretDigest(key, secret));
    expect(deviceSecretDigest(deriveDeviceSecretDigestKey(randomBytes(32)), secret)).not.toBe(deviceSecretDigest(key, secret));
    expect(deviceSecretDigest(key, secret)).not.toBe(createHash('sha256').update(Buffer.from(secret, 'base64url')).digest('hex'));
  });

  it('accepts exactly 32 bytes of base64url without padding', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => DeviceSecretSchema.safeParse(Buffer.from(bytes).toString('base64url')).success));
    for (const bad of [randomBytes(31).toString('base64url'), randomBytes(33).toString('base64url'), randomBytes(32).toString('base64'), `${randomBytes(32).toString('base64url').slice(0, 42)}+`, '']) {
      expect(DeviceSecretSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe('objection records', () => {
  it('withdraws promotions and personalisation, each naming the state before it, on the current texts', () => {
    const state = replayConsent([aConsent({ shopperId: 'sh_1', purpose: 'promotions', granted: true })]);
    const records = objectionRecords({ shopperId: 'sh_1', state, texts: CURRENT_CONSENT_TEXTS, locale: 'it-IT', atMs: 5, clientTimeMs: null, newId: () => 'id' });
    expect(records.map((r) => [r.purpose, r.granted, r.previousGranted, r.channel, r.textSha256])).toEqual([
      ['promotions', false, true, 'app', CURRENT_CONSENT_TEXTS.promotions.sha256],
      ['personalisation', false, null, 'app', CURRENT_CONSENT_TEXTS.personalisation.sha256],
    ]);
  });

  it('refuses only grants of the objected purposes', () => {
    expect(refusedAfterObjection({ purpose: 'promotions', granted: true })).toBe(true);
    expect(refusedAfterObjection({ purpose: 'personalisation', granted: true })).toBe(true);
    expect(refusedAfterObjection({ purpose: 'personalisation', granted: false })).toBe(false);
    expect(refusedAfterObjection({ purpose: 'presence', granted: true })).toBe(false);
    expect(refusedAfterObjection({ purpose: 'analytics', granted: true })).toBe(false);
  });
});

describe('the erasure proof (DSR-2)', () => {
  it('fingerprints the ledger in order, keeps the final state and counts, and nothing personal', () => {
    const records = [aConsent({ shopperId: 'sh_1', locale: 'fr-FR', clientTimeMs: 42 }), aConsent({ shopperId: 'sh_1', granted: false, previousGranted: true, serverTimeMs: 9 })];
    const proof = erasureProof('sh_1', 100, records, replayConsent(records));
    expect(proof).toEqual({
      shopperId: 'sh_1', erasedAtMs: 100, consentRecords: 2,
      consentLedgerSha256: createHash('sha256').update(canonicalLedger(records)).digest('hex'),
      finalState: { presence: { granted: false, textVersion: records[1]!.textVersion, atMs: 9 } },
    });
    expect(erasureProof('sh_1', 100, [...records].reverse(), {}).consentLedgerSha256).not.toBe(proof.consentLedgerSha256);
    expect(JSON.stringify(proof)).not.toMatch(/fr-FR|"42"|:42/);
  });

  it('leaves a credential hash that no token hashes to', () => {
    fc.assert(fc.property(fc.string({ minLength: 20 }), (token) => hashToken(token) !== revokedTokenHash('sh_1')));
  });
});
