import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer } from '#server/domain/sealing.ts';

const masterKey = randomBytes(32);
const sealer = createSealer(masterKey);
const secret = Buffer.from('identity key: 16 bytes or more');

describe('createSealer', () => {
  it('opens what it sealed, under the same label', () => {
    const sealed = sealer.seal(secret, 'identity-key:sh-1');
    expect(sealer.open(sealed, 'identity-key:sh-1')).toEqual(secret);
  });

  it('opens with another sealer built from the same master key (another server instance)', () => {
    expect(createSealer(Buffer.from(masterKey)).open(sealer.seal(secret, 'l'), 'l')).toEqual(secret);
  });

  it('never stores the plaintext, and seals the same value differently each time', () => {
    const a = sealer.seal(secret, 'label');
    const b = sealer.seal(secret, 'label');
    expect(a.equals(b)).toBe(false);
    expect(a.includes(secret)).toBe(false);
    expect(a).toHaveLength(1 + 12 + secret.length + 16);
  });

  it('refuses another label, naming the label it was asked for', () => {
    const sealed = sealer.seal(secret, 'identity-key:sh-1');
    expect(() => sealer.open(sealed, 'identity-key:sh-2')).toThrow(/"identity-key:sh-2"/);
  });

  it('refuses another master key, naming the label', () => {
    const sealed = sealer.seal(secret, 'epoch-key:store-1-1');
    expect(() => createSealer(randomBytes(32)).open(sealed, 'epoch-key:store-1-1')).toThrow(/"epoch-key:store-1-1" does not open with this master key/);
  });

  it('refuses a value with any one byte changed', () => {
    const sealed = sealer.seal(secret, 'gateway-secret:gw-1');
    for (let i = 0; i < sealed.length; i += 1) {
      const tampered = Buffer.from(sealed);
      tampered[i]! ^= 0x01;
      expect(() => sealer.open(tampered, 'gateway-secret:gw-1')).toThrow(/"gateway-secret:gw-1"/);
    }
  });

  it('refuses truncated or empty input as malformed', () => {
    expect(() => sealer.open(Buffer.alloc(0), 'x')).toThrow(/"x" is malformed/);
    expect(() => sealer.open(sealer.seal(secret, 'x').subarray(0, 20), 'x')).toThrow(/"x" is malformed/);
  });

  it('needs a 32-byte master key', () => {
    expect(() => createSealer(randomBytes(16))).toThrow(/32 bytes, got 16/);
  });
});
