import { describe, expect, it } from 'vitest';
import { computeEid, generateX25519KeyPair } from '#gateway/protocol/index.ts';
import { hashToken, identityKeyFor, newAppToken, newShopperId, tokenMatches } from '#server/identity.ts';
import { createAppIdentity } from '#simulator/app/app-identity.ts';
import { START_MS } from '#test/helpers/builders.ts';

describe('app credentials', () => {
  it('issues a 256-bit token and keeps only its SHA-256', () => {
    const { token, tokenHash } = newAppToken();
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(tokenHash).toBe(hashToken(token));
    expect(tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(newAppToken().token).not.toBe(token);
  });

  it('matches a token against its hash, and nothing else', () => {
    const { token, tokenHash } = newAppToken();
    expect(tokenMatches(token, tokenHash)).toBe(true);
    expect(tokenMatches(`${token}x`, tokenHash)).toBe(false);
    expect(tokenMatches(newAppToken().token, tokenHash)).toBe(false);
    expect(tokenMatches(token, 'not-a-hash')).toBe(false);
    expect(tokenMatches(token, '')).toBe(false);
  });

  it('names shoppers sh_ and 32 hex digits, never twice', () => {
    expect(newShopperId()).toMatch(/^sh_[0-9a-f]{32}$/);
    expect(newShopperId()).not.toBe(newShopperId());
  });
});

describe('identityKeyFor', () => {
  it('derives the identity key the app derives, so both compute the same EIDs', () => {
    const resolver = generateX25519KeyPair();
    const app = createAppIdentity();
    const serverKey = identityKeyFor(resolver, app.keyPair.publicKey);
    expect(serverKey).toHaveLength(16);
    const tokens = app.bind(resolver.publicKey.toString('hex'), 10);
    const nowS = START_MS / 1000;
    expect(tokens.eidAt(nowS)).toEqual(computeEid(serverKey, 10, nowS));
  });

  it('gives each app its own identity key', () => {
    const resolver = generateX25519KeyPair();
    expect(identityKeyFor(resolver, createAppIdentity().keyPair.publicKey)).not.toEqual(identityKeyFor(resolver, createAppIdentity().keyPair.publicKey));
  });

  it('refuses a low-order public key (an all-zero shared secret)', () => {
    expect(() => identityKeyFor(generateX25519KeyPair(), Buffer.alloc(32))).toThrow();
  });
});
