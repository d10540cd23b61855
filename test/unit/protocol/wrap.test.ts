import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unwrapEpochKey, wrapEpochKey } from '#gateway/protocol/wrap.ts';

const SECRET = Buffer.alloc(32, 0x5a);
const GATEWAY = 'gw-entrance';
const KEY_ID = 'k-2030-01-07';
const EPOCH_KEY = randomBytes(32);

/** Flips one bit of the decoded wrapping at byteIndex and re-encodes it. */
const tamper = (wrapped: string, byteIndex: number): string => {
  const raw = Buffer.from(wrapped, 'base64url');
  raw[byteIndex % raw.length]! ^= 0x01;
  return raw.toString('base64url');
};

describe('epoch-key wrapping', () => {
  it('round-trips an epoch key for the gateway it was wrapped for', () => {
    const wrapped = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    expect(unwrapEpochKey(SECRET, GATEWAY, KEY_ID, wrapped)).toEqual(EPOCH_KEY);
  });

  it('is base64url and does not show the key in any common encoding', () => {
    const wrapped = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    expect(wrapped).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(wrapped).not.toContain(EPOCH_KEY.toString('base64url'));
    expect(wrapped).not.toContain(EPOCH_KEY.toString('hex'));
  });

  it('gives a different wrapping each time (random IV)', () => {
    const first = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    const second = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    expect(first).not.toBe(second);
    expect(Buffer.from(first, 'base64url').subarray(0, 12)).not.toEqual(Buffer.from(second, 'base64url').subarray(0, 12));
    expect(unwrapEpochKey(SECRET, GATEWAY, KEY_ID, second)).toEqual(EPOCH_KEY);
  });

  it('returns undefined under another gateway secret', () => {
    const wrapped = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    expect(unwrapEpochKey(Buffer.alloc(32, 0x5b), GATEWAY, KEY_ID, wrapped)).toBeUndefined();
  });

  it('returns undefined for another gateway ID, so a key cannot be replayed to a neighbour', () => {
    const wrapped = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    expect(unwrapEpochKey(SECRET, 'gw-checkout', KEY_ID, wrapped)).toBeUndefined();
  });

  it('returns undefined under another key ID (authenticated as AAD)', () => {
    const wrapped = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    expect(unwrapEpochKey(SECRET, GATEWAY, 'k-2030-01-08', wrapped)).toBeUndefined();
  });

  it('returns undefined when any bit of the IV, ciphertext or tag is flipped', () => {
    const wrapped = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    const length = Buffer.from(wrapped, 'base64url').length;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: length - 1 }), (index) => {
        expect(unwrapEpochKey(SECRET, GATEWAY, KEY_ID, tamper(wrapped, index))).toBeUndefined();
      }),
    );
  });

  it.each([
    ['empty', ''],
    ['too short to hold IV and tag', Buffer.alloc(28).toString('base64url')],
    ['not base64url at all', '!!!!'],
  ])('returns undefined for a wrapping that is %s', (_name, wrapped) => {
    expect(unwrapEpochKey(SECRET, GATEWAY, KEY_ID, wrapped)).toBeUndefined();
  });

  it('refuses a gateway secret shorter than 128 bits', () => {
    expect(() => wrapEpochKey(Buffer.alloc(15), GATEWAY, KEY_ID, EPOCH_KEY)).toThrow(RangeError);
    const wrapped = wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY);
    expect(() => unwrapEpochKey(Buffer.alloc(15), GATEWAY, KEY_ID, wrapped)).toThrow(/at least 16 bytes/);
  });
});
