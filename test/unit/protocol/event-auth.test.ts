import { hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalEventBytes,
  canonicalJson,
  deriveEventMacKey,
  eventMac,
  SIGNED_FIELDS,
  signMessage,
  signPresenceEvent,
  verifyMessage,
  verifyPresenceEvent,
  type UnsignedPresenceEvent,
} from '#gateway/protocol/event-auth.ts';
import { GatewayStatusSchema, PresenceEventSchema, type PresenceEvent } from '#gateway/protocol/messages.ts';
import type { Pseudonym } from '#gateway/protocol/pseudonym.ts';

const SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => i)); // 00 01 … 1f
const KEY = deriveEventMacKey(SECRET, 'gw-1');

const anUnsignedEvent = (overrides: Partial<UnsignedPresenceEvent> = {}): UnsignedPresenceEvent => ({
  v: 1,
  eventId: '0b6f1a52-8c3d-4e7f-9a10-2b3c4d5e6f70',
  storeId: 'store-1',
  gatewayId: 'gw-1',
  zoneId: 'entrance',
  keyId: 'store-1-20300107',
  idKind: 'eddystone-eid',
  pseudonym: 'c0ffee00c0ffee00c0ffee00c0ffee00' as Pseudonym,
  kind: 'enter',
  atS: 1_893_920_400,
  dwellS: 0,
  proximity: 'near',
  boot: '6f1c2a4e-93b5-4d0e-a7c8-2b9f0e1d3c57',
  seq: 1,
  ...overrides,
});

/** Any event the schema accepts, before signing. */
const unsignedEvents: fc.Arbitrary<UnsignedPresenceEvent> = fc.record({
  v: fc.constant(1 as const),
  eventId: fc.uuid(),
  storeId: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
  gatewayId: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
  zoneId: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
  keyId: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
  idKind: fc.constantFrom('eddystone-eid', 'ibeacon', 'altbeacon', 'eddystone-uid'),
  pseudonym: fc.stringMatching(/^[0-9a-f]{32}$/).map((p) => p as Pseudonym),
  kind: fc.constantFrom('enter', 'dwell', 'exit'),
  atS: fc.integer({ min: 0, max: 4_000_000_000 }),
  dwellS: fc.integer({ min: 0, max: 100_000 }),
  proximity: fc.constantFrom('immediate', 'near', 'far'),
  boot: fc.uuid(),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
});

describe('event MAC key', () => {
  it('is HKDF-SHA256 of the gateway secret, salt "vicino/v1/event-mac", info the gateway ID', () => {
    expect(KEY).toEqual(Buffer.from(hkdfSync('sha256', SECRET, 'vicino/v1/event-mac', 'gw-1', 32)));
    expect(KEY.toString('hex')).toBe('c9fe6626321ca8d3f3ab7b40387b662c12a6c41dc83c7ae786c90db1f449bba5');
  });

  it('differs per gateway under one secret, and from the epoch-key wrapping key', () => {
    expect(deriveEventMacKey(SECRET, 'gw-2')).not.toEqual(KEY);
    expect(KEY).not.toEqual(Buffer.from(hkdfSync('sha256', SECRET, 'vicino/v1/epoch-key-wrap', 'gw-1', 32)));
  });

  it('refuses a secret shorter than 128 bits', () => {
    expect(() => deriveEventMacKey(randomBytes(15), 'gw-1')).toThrow(RangeError);
  });
});

describe('canonical event bytes', () => {
  it('sign every field but tag, in schema order', () => {
    expect([...SIGNED_FIELDS]).toEqual(Object.keys(PresenceEventSchema.shape).filter((name) => name !== 'tag'));
  });

  it('are u32 BE length ‖ "name=value" for each field, integers in decimal', () => {
    const event = anUnsignedEvent();
    const items = [
      'v=1', 'eventId=0b6f1a52-8c3d-4e7f-9a10-2b3c4d5e6f70', 'storeId=store-1', 'gatewayId=gw-1', 'zoneId=entrance', 'keyId=store-1-20300107',
      'idKind=eddystone-eid', 'pseudonym=c0ffee00c0ffee00c0ffee00c0ffee00', 'kind=enter', 'atS=1893920400', 'dwellS=0', 'proximity=near',
      'boot=6f1c2a4e-93b5-4d0e-a7c8-2b9f0e1d3c57', 'seq=1',
    ];
    const expected = Buffer.concat(items.flatMap((item) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(Buffer.byteLength(item));
      return [length, Buffer.from(item)];
    }));
    expect(canonicalEventBytes(event)).toEqual(expected);
  });

  it('are the same for the signed event: the tag is not part of them', () => {
    const event = anUnsignedEvent();
    expect(canonicalEventBytes(signPresenceEvent(KEY, event))).toEqual(canonicalEventBytes(event));
  });

  it('keep field boundaries: moving text from one field to the next changes them', () => {
    const a = anUnsignedEvent({ storeId: 'store-1', gatewayId: 'gw-1' });
    const b = anUnsignedEvent({ storeId: 'store-1g', gatewayId: 'w-1' });
    expect(canonicalEventBytes(a)).not.toEqual(canonicalEventBytes(b));
    expect(eventMac(KEY, a)).not.toBe(eventMac(KEY, b));
  });

  it('differ for any two different events', () => {
    fc.assert(
      fc.property(unsignedEvents, unsignedEvents, (a, b) => {
        const same = SIGNED_FIELDS.every((name) => a[name] === b[name]);
        expect(canonicalEventBytes(a).equals(canonicalEventBytes(b))).toBe(same);
      }),
    );
  });
});

describe('signing and verifying', () => {
  it('gives the pinned MAC for a known event (checked against an independent HMAC/HKDF implementation)', () => {
    // Pinned: a change here breaks every gateway in the field.
    expect(eventMac(KEY, anUnsignedEvent())).toBe('LXC8L1xm2rPb_U7pZZYXETVjRcgU8oVX3owTh297Lq0');
  });

  it('signs events the schema accepts, and verifies them under the same key', () => {
    fc.assert(
      fc.property(unsignedEvents, (unsigned) => {
        const key = deriveEventMacKey(SECRET, unsigned.gatewayId);
        const event = signPresenceEvent(key, unsigned);
        expect(PresenceEventSchema.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
        expect(verifyPresenceEvent(key, event)).toBe(true);
      }),
    );
  });

  it('fails when any signed field changes', () => {
    fc.assert(
      fc.property(
        unsignedEvents,
        fc.constantFrom(...SIGNED_FIELDS),
        fc.oneof(fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        (unsigned, field, value) => {
          fc.pre(String(value) !== String(unsigned[field]));
          const key = deriveEventMacKey(SECRET, unsigned.gatewayId);
          const tampered = { ...signPresenceEvent(key, unsigned), [field]: value } as PresenceEvent;
          expect(verifyPresenceEvent(key, tampered)).toBe(false);
        },
      ),
    );
  });

  it.each<[string, Partial<UnsignedPresenceEvent>]>([
    ['a later time', { atS: 1_893_920_401 }],
    ['another zone', { zoneId: 'pharmacy' }],
    ['another pseudonym', { pseudonym: 'c0ffee00c0ffee00c0ffee00c0ffee01' as Pseudonym }],
    ['another kind', { kind: 'exit' }],
    ['a longer dwell', { dwellS: 60 }],
    ['another sequence number', { seq: 2 }],
    ['another boot', { boot: randomUUID() }],
    ['another event ID', { eventId: randomUUID() }],
  ])('fails for a signed event given %s', (_name, change) => {
    const event = signPresenceEvent(KEY, anUnsignedEvent());
    expect(verifyPresenceEvent(KEY, { ...event, ...change })).toBe(false);
  });

  it('fails when any character of the MAC changes', () => {
    const event = signPresenceEvent(KEY, anUnsignedEvent());
    fc.assert(
      fc.property(fc.nat({ max: 42 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), (at, char) => {
        fc.pre(event.tag[at] !== char);
        expect(verifyPresenceEvent(KEY, { ...event, tag: `${event.tag.slice(0, at)}${char}${event.tag.slice(at + 1)}` })).toBe(false);
      }),
    );
  });

  it('fails for a re-encoded MAC that decodes to the same bytes', () => {
    const event = signPresenceEvent(KEY, anUnsignedEvent());
    // 32 bytes fill 42⅔ base64 characters: the last one carries 2 unused bits that a lenient decoder ignores.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(event.tag.at(-1)!);
    const reencoded = `${event.tag.slice(0, -1)}${alphabet[last ^ 0b01]}`;
    expect(Buffer.from(reencoded, 'base64url')).toEqual(Buffer.from(event.tag, 'base64url'));
    expect(verifyPresenceEvent(KEY, { ...event, tag: reencoded })).toBe(false);
  });

  it("fails under another gateway's key, and under another secret", () => {
    const event = signPresenceEvent(KEY, anUnsignedEvent());
    expect(verifyPresenceEvent(deriveEventMacKey(SECRET, 'gw-2'), event)).toBe(false);
    expect(verifyPresenceEvent(deriveEventMacKey(randomBytes(32), 'gw-1'), event)).toBe(false);
  });

  it('returns false, without throwing, for a MAC of the wrong length', () => {
    const event = signPresenceEvent(KEY, anUnsignedEvent());
    for (const tag of ['', 'short', `${event.tag}A`, event.tag.slice(0, 42)]) expect(verifyPresenceEvent(KEY, { ...event, tag })).toBe(false);
  });
});

describe('status and occupancy authentication', () => {
  const status = { v: 1 as const, storeId: 'store-1', gatewayId: 'gw-1', online: true, atS: 1_800_000_000, counts: { uptimeS: 5, advertisements: 12 } };

  it('signs a message so that it parses and verifies, whatever the order of its keys', () => {
    const signed = signMessage(KEY, 'status', status);
    expect(GatewayStatusSchema.parse(JSON.parse(JSON.stringify(signed)))).toEqual(signed);
    const reordered = { tag: signed.tag, counts: { advertisements: 12, uptimeS: 5 }, atS: status.atS, online: true, gatewayId: 'gw-1', storeId: 'store-1', v: 1 as const };
    expect(verifyMessage(KEY, 'status', reordered)).toBe(true);
  });

  it('fails for another key, another kind of message, and any changed field, nested ones included', () => {
    const signed = signMessage(KEY, 'status', status);
    expect(verifyMessage(randomBytes(32), 'status', signed)).toBe(false);
    expect(verifyMessage(KEY, 'occupancy', signed)).toBe(false);
    fc.assert(fc.property(fc.constantFrom('online', 'atS', 'gatewayId', 'counts'), (field) => {
      const changed = { ...signed, [field]: field === 'online' ? false : field === 'atS' ? status.atS + 1 : field === 'counts' ? { uptimeS: 6, advertisements: 12 } : 'gw-2' };
      return !verifyMessage(KEY, 'status', changed);
    }));
    expect(verifyMessage(KEY, 'status', { ...signed, version: '9.9' } as typeof signed)).toBe(false);
  });

  it('writes canonical JSON with sorted keys and no undefined members', () => {
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], e: undefined })).toBe('{"a":[{"c":"x","d":null}],"b":1}');
  });
});
