import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeEid,
  computeEidWithTemporaryKey,
  createEidGenerator,
  deriveIdentityKey,
  generateX25519KeyPair,
  temporaryKey,
  windowStart,
  x25519PublicKey,
  x25519SharedSecret,
} from '#gateway/protocol/eid.ts';

// Published vectors: shared/reference/eid-vectors.md (RadiusNetworks/ephemeral_calc specs).
const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const IK = hex('0102030405060708090a111213141516');
const TK = '6f291c5c48264b8a0b38a19e7fed73cc';
const RESOLVER_PRIVATE = hex('61136adab1bf302f1c49e860196aeefd8fbaa41518b4c226372d6cc469c47278');
const RESOLVER_PUBLIC = '29769a045dcb811ba3025985b9de91eb9a57dadbceb68a1e6a3c2b1af4868e1f';
const BEACON_PRIVATE = hex('6ea13b5ef3cc642fd6102c1d85c096b510f56efc488114a4562a987bf4525628');
const BEACON_PUBLIC = 'c63e6f89aab47552c8d621a59c81d0af203f6570a4bd7a267a08a17561c8bc2b';
const SHARED_SECRET = '690821890fffb83bb348fb620d0a10e625fe3d919b5594e7b9258d50f829b90b';
const DERIVED_IK = 'f40d6f18e5882260e847e99ca33ac44f';

describe('Eddystone-EID published vectors', () => {
  it('computes the temporary key for T < 65536', () => {
    expect(temporaryKey(IK, 0).toString('hex')).toBe(TK);
    expect(temporaryKey(IK, 65_535).toString('hex')).toBe(TK);
  });

  it('computes the EID at T = 0 with K = 10', () => {
    expect(computeEid(IK, 10, 0).toString('hex')).toBe('a9b76a71c5f89290');
  });

  it('computes the EID at T = 2000 as at its window start 1024', () => {
    expect(computeEid(IK, 10, 2000).toString('hex')).toBe('4144413e45fefa58');
    expect(computeEid(IK, 10, 1024).toString('hex')).toBe('4144413e45fefa58');
    expect(computeEidWithTemporaryKey(hex(TK), 10, 2000).toString('hex')).toBe('4144413e45fefa58');
  });

  it('returns 8-byte EIDs', () => {
    expect(computeEid(IK, 10, 123_456)).toHaveLength(8);
  });

  it('derives both X25519 public keys from their private keys', () => {
    expect(x25519PublicKey(RESOLVER_PRIVATE).toString('hex')).toBe(RESOLVER_PUBLIC);
    expect(x25519PublicKey(BEACON_PRIVATE).toString('hex')).toBe(BEACON_PUBLIC);
  });

  it('computes the same shared secret in both directions', () => {
    expect(x25519SharedSecret(RESOLVER_PRIVATE, hex(BEACON_PUBLIC)).toString('hex')).toBe(SHARED_SECRET);
    expect(x25519SharedSecret(BEACON_PRIVATE, hex(RESOLVER_PUBLIC)).toString('hex')).toBe(SHARED_SECRET);
  });

  it('derives the identity key by HKDF over resolver public ‖ beacon public', () => {
    expect(deriveIdentityKey(hex(SHARED_SECRET), hex(RESOLVER_PUBLIC), hex(BEACON_PUBLIC)).toString('hex')).toBe(DERIVED_IK);
  });

  it('agrees on a shared secret for freshly generated key pairs', () => {
    const a = generateX25519KeyPair();
    const b = generateX25519KeyPair();
    expect(a.privateKey).toHaveLength(32);
    expect(a.publicKey).toHaveLength(32);
    expect(x25519PublicKey(a.privateKey)).toEqual(a.publicKey);
    expect(x25519SharedSecret(a.privateKey, b.publicKey)).toEqual(x25519SharedSecret(b.privateKey, a.publicKey));
  });
});

describe('windowStart', () => {
  it('clears the K low bits of T', () => {
    expect(windowStart(0, 10)).toBe(0);
    expect(windowStart(1023, 10)).toBe(0);
    expect(windowStart(2000, 10)).toBe(1024);
    expect(windowStart(2000, 0)).toBe(2000);
  });

  it('stays an unsigned 32-bit value at the top of the range', () => {
    expect(windowStart(0xffffffff, 10)).toBe(0xfffffc00);
    expect(windowStart(0xffffffff, 0)).toBe(0xffffffff);
  });

  it('is a multiple of 2^K no later than T and less than 2^K before it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 15 }), (timeS, k) => {
        const start = windowStart(timeS, k);
        expect(start % 2 ** k).toBe(0);
        expect(start).toBeLessThanOrEqual(timeS);
        expect(timeS - start).toBeLessThan(2 ** k);
      }),
    );
  });
});

describe('createEidGenerator', () => {
  it('equals computeEid on both sides of a temporary-key boundary (T = 65536)', () => {
    const generate = createEidGenerator(IK, 10);
    for (let timeS = 65_536 - 3 * 1024; timeS <= 65_536 + 3 * 1024; timeS += 256) {
      expect(generate(timeS).toString('hex'), `T = ${timeS}`).toBe(computeEid(IK, 10, timeS).toString('hex'));
    }
    // and back again across the boundary, so a stale cached TK would show
    expect(generate(65_535)).toEqual(computeEid(IK, 10, 65_535));
    expect(generate(65_536)).toEqual(computeEid(IK, 10, 65_536));
    expect(generate(65_536)).not.toEqual(generate(65_535));
  });

  it('equals computeEid for any key, K and time sequence', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 8 }),
        (key, k, times) => {
          const generate = createEidGenerator(key, k);
          for (const timeS of times) expect(generate(timeS)).toEqual(computeEid(key, k, timeS));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('is not affected by later changes to the key buffer it was given', () => {
    const key = Buffer.from(IK);
    const generate = createEidGenerator(key, 10);
    key.fill(0);
    expect(generate(0).toString('hex')).toBe('a9b76a71c5f89290');
  });

  it('rejects an invalid time even when the temporary key for its window is cached', () => {
    const generate = createEidGenerator(IK, 10);
    generate(0);
    expect(() => generate(1.5)).toThrow(RangeError);
    expect(() => generate(2 ** 32)).toThrow(/u32/);
  });
});

describe('invalid EID inputs', () => {
  it('names a wrong identity-key length', () => {
    expect(() => computeEid(Buffer.alloc(15), 10, 0)).toThrow(RangeError);
    expect(() => computeEid(Buffer.alloc(15), 10, 0)).toThrow(/identity key must be 16 bytes, got 15/);
    expect(() => temporaryKey(Buffer.alloc(32), 0)).toThrow(/identity key must be 16 bytes, got 32/);
    expect(() => createEidGenerator(Buffer.alloc(8), 10)(0)).toThrow(/identity key must be 16 bytes/);
  });

  it.each([-1, 16, 2.5, Number.NaN])('names a rotation exponent K of %s as out of range', (k) => {
    expect(() => computeEid(IK, k, 0)).toThrow(RangeError);
    expect(() => computeEid(IK, k, 0)).toThrow(/rotation exponent K must be an integer 0–15/);
  });

  it.each([-1, -1024, 0.5, 2 ** 32, Number.NaN])('names a time of %s as not a u32 of seconds', (timeS) => {
    expect(() => computeEid(IK, 10, timeS)).toThrow(RangeError);
    expect(() => computeEid(IK, 10, timeS)).toThrow(/time must be a u32 of seconds/);
    expect(() => createEidGenerator(IK, 10)(timeS)).toThrow(/time must be a u32 of seconds/);
  });

  it('names wrong X25519 key lengths', () => {
    expect(() => x25519SharedSecret(Buffer.alloc(31), hex(BEACON_PUBLIC))).toThrow(/private key must be 32 bytes, got 31/);
    expect(() => x25519SharedSecret(RESOLVER_PRIVATE, Buffer.alloc(33))).toThrow(/public key must be 32 bytes, got 33/);
  });

  it.each([
    ['the zero point', '00'.repeat(32)],
    ['the point u = 1', `01${'00'.repeat(31)}`],
    ['a point of order 8', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'],
  ])('rejects the all-zero shared secret of a low-order peer key (%s)', (_name, peer) => {
    expect(() => x25519SharedSecret(RESOLVER_PRIVATE, hex(peer))).toThrow(RangeError);
    expect(() => x25519SharedSecret(RESOLVER_PRIVATE, hex(peer))).toThrow(/shared secret is all zero/);
  });
});
