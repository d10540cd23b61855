import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePseudonym, IdentifierKindSchema, PseudonymSchema, pseudonymBytes, pseudonymise, type IdentifierKind } from '#gateway/protocol/pseudonym.ts';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
const ID = Buffer.from('a9b76a71c5f89290', 'hex');
const KINDS = IdentifierKindSchema.options;

describe('pseudonymise', () => {
  it('is deterministic: the same key, kind and identifier give the same pseudonym', () => {
    expect(pseudonymise(KEY, 'eddystone-eid', ID)).toBe(pseudonymise(Buffer.from(KEY), 'eddystone-eid', Buffer.from(ID)));
  });

  it('is 32 lowercase hex characters that PseudonymSchema accepts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(...KINDS), fc.uint8Array({ maxLength: 24 }), (key, kind, id) => {
        const pseudonym = pseudonymise(key, kind, id);
        expect(pseudonym).toMatch(/^[0-9a-f]{32}$/);
        expect(PseudonymSchema.safeParse(pseudonym).success).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('differs by identifier kind for the same identifier bytes', () => {
    const pseudonyms = new Set(KINDS.map((kind: IdentifierKind) => pseudonymise(KEY, kind, ID)));
    expect(pseudonyms.size).toBe(KINDS.length);
  });

  it('differs by epoch key, so yesterday\'s pseudonyms cannot be recomputed with today\'s key', () => {
    expect(pseudonymise(KEY, 'ibeacon', ID)).not.toBe(pseudonymise(OTHER_KEY, 'ibeacon', ID));
  });

  it('does not contain the identifier it hides', () => {
    expect(pseudonymise(KEY, 'eddystone-eid', ID)).not.toContain(ID.toString('hex'));
  });

  it.each([0, 16, 31, 33, 64])('rejects a %i-byte epoch key', (length) => {
    expect(() => pseudonymise(Buffer.alloc(length), 'ibeacon', ID)).toThrow(RangeError);
    expect(() => pseudonymise(Buffer.alloc(length), 'ibeacon', ID)).toThrow(`epoch key must be 32 bytes, got ${length}`);
  });
});

describe('pseudonymBytes', () => {
  it('is the pseudonym as its 16 raw bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(...KINDS), fc.uint8Array({ maxLength: 24 }), (key, kind, id) => {
        const bytes = pseudonymBytes(key, kind, id);
        expect(bytes).toHaveLength(16);
        expect(bytes.toString('hex')).toBe(pseudonymise(key, kind, id));
      }),
      { numRuns: 100 },
    );
  });

  it('rejects a short epoch key as pseudonymise does', () => {
    expect(() => pseudonymBytes(Buffer.alloc(16), 'eddystone-eid', ID)).toThrow('epoch key must be 32 bytes, got 16');
  });
});

describe('decodePseudonym', () => {
  it('writes back the bytes of any pseudonym, at an offset, and touches nothing around them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(8), (bytes, offset) => {
        const into = new Uint8Array(offset + 20).fill(0xee);
        expect(decodePseudonym(Buffer.from(bytes).toString('hex'), into, offset)).toBe(true);
        expect(into.subarray(offset, offset + 16)).toEqual(bytes);
        expect([...into.subarray(0, offset), ...into.subarray(offset + 16)].every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ['uppercase hex', '0123456789ABCDEF0123456789ABCDEF'],
    ['31 characters', '0'.repeat(31)],
    ['33 characters', '0'.repeat(33)],
    ['a non-hex letter', `${'0'.repeat(31)}g`],
    ['a character past ASCII', `${'0'.repeat(31)}\u00e9`],
    ['a character past Latin-1', `${'0'.repeat(31)}\u4e00`],
    ['the empty string', ''],
  ])('refuses %s', (_name, text) => {
    expect(decodePseudonym(text, new Uint8Array(16))).toBe(false);
  });

  it('refuses to write past the end of its target', () => {
    expect(decodePseudonym('0'.repeat(32), new Uint8Array(16), 1)).toBe(false);
  });
});

describe('PseudonymSchema', () => {
  it('accepts 32 lowercase hex characters', () => {
    expect(PseudonymSchema.safeParse('0123456789abcdef0123456789abcdef').success).toBe(true);
  });

  it.each([
    ['uppercase hex', '0123456789ABCDEF0123456789ABCDEF'],
    ['31 characters', '0'.repeat(31)],
    ['33 characters', '0'.repeat(33)],
    ['a non-hex letter', `${'0'.repeat(31)}g`],
    ['an 8-byte EID', 'a9b76a71c5f89290'],
    ['a MAC address', 'c1:22:33:44:55:66'],
    ['the empty string', ''],
    ['surrounding whitespace', ` ${'0'.repeat(32)}`],
    ['a number', 1234],
    ['null', null],
  ])('rejects %s', (_name, value) => {
    expect(PseudonymSchema.safeParse(value).success).toBe(false);
  });
});
