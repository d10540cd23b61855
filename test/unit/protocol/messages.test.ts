import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GatewayConfigMessageSchema,
  PresenceEventSchema,
  PROTOCOL_VERSION,
  parsePayload,
  type PresenceEvent,
} from '#gateway/protocol/messages.ts';
import type { Pseudonym } from '#gateway/protocol/pseudonym.ts';

const PSEUDONYM = 'c0ffee00c0ffee00c0ffee00c0ffee00' as Pseudonym;

const anEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  v: PROTOCOL_VERSION,
  eventId: randomUUID(),
  storeId: 'store-1',
  gatewayId: 'gw-1',
  zoneId: 'entrance',
  keyId: 'k-1',
  idKind: 'eddystone-eid',
  pseudonym: PSEUDONYM,
  kind: 'enter',
  atS: 1_893_920_400,
  dwellS: 0,
  proximity: 'near',
  boot: '6f1c2a4e-93b5-4d0e-a7c8-2b9f0e1d3c57',
  seq: 1,
  tag: 'q1Xb3cV9uJ0mN4kP7rS2tW5yZ8aD6fG1hK3lQ9eR0x4',
  ...overrides,
});

const EVENT_KEYS = Object.keys(anEvent());

describe('PresenceEventSchema', () => {
  it('accepts a valid event unchanged', () => {
    const event = anEvent();
    const parsed: PresenceEvent = PresenceEventSchema.parse(event);
    expect(parsed).toEqual(event);
  });

  it('rejects any extra field, whatever its name (MIN-4)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((key) => !EVENT_KEYS.includes(key)),
        fc.jsonValue(),
        (key, value) => {
          const event = { ...anEvent(), [key]: value };
          expect(PresenceEventSchema.safeParse(event).success).toBe(false);
          // and the same over the wire, where JSON.parse makes even "__proto__" an own key
          expect(parsePayload(PresenceEventSchema, JSON.stringify(event)).ok).toBe(false);
        },
      ),
    );
  });

  it.each(['macAddress', 'address', 'eid', 'rssiDbm', 'x', 'name', '__proto__', 'constructor'])('rejects the extra field "%s"', (key) => {
    const text = JSON.stringify(anEvent()).replace(/}$/, `,${JSON.stringify(key)}:"c1:22:33:44:55:66"}`);
    expect(parsePayload(PresenceEventSchema, text).ok).toBe(false);
  });

  it.each<[string, Record<string, unknown>]>([
    ['an uppercase pseudonym', { pseudonym: PSEUDONYM.toUpperCase() }],
    ['a short pseudonym', { pseudonym: 'a9b76a71c5f89290' }],
    ['a non-integer atS', { atS: 1_893_920_400.5 }],
    ['a negative atS', { atS: -1 }],
    ['atS in milliseconds as a string', { atS: '1893920400000' }],
    ['a non-integer dwellS', { dwellS: 0.5 }],
    ['an unknown kind', { kind: 'linger' }],
    ['an unknown proximity', { proximity: 'touching' }],
    ['an unknown identifier kind', { idKind: 'mac' }],
    ['another protocol version', { v: 2 }],
    ['an eventId that is not a UUID', { eventId: 'event-1' }],
    ['a wildcard gateway ID', { gatewayId: '+' }],
    ['a missing zone', { zoneId: undefined }],
    ['seq 0 (numbering starts at 1)', { seq: 0 }],
    ['a negative seq', { seq: -1 }],
    ['a fractional seq', { seq: 1.5 }],
    ['a seq past 2^53 − 1', { seq: 2 ** 53 }],
    ['a seq as a string', { seq: '1' }],
    ['a missing seq', { seq: undefined }],
    ['a boot ID that is not a UUID', { boot: 'boot-1' }],
    ['a missing boot ID', { boot: undefined }],
    ['a MAC with base64 padding', { tag: 'q1Xb3cV9uJ0mN4kP7rS2tW5yZ8aD6fG1hK3lQ9eR0x4=' }],
    ['a MAC in standard base64 (+ and /)', { tag: 'q1Xb3cV9uJ0mN4kP7rS2tW5yZ8aD6fG1hK3lQ9eR0+/' }],
    ['a truncated MAC', { tag: 'q1Xb3cV9uJ0mN4kP7rS2tW5yZ8aD6fG1hK3lQ9eR0x' }],
    ['a MAC in hex', { tag: 'ab'.repeat(32) }],
    ['a missing MAC', { tag: undefined }],
  ])('rejects %s', (_name, overrides) => {
    expect(PresenceEventSchema.safeParse(anEvent(overrides)).success).toBe(false);
  });
});

describe('parsePayload', () => {
  it('parses a valid event from bytes and from text', () => {
    const event = anEvent();
    expect(parsePayload(PresenceEventSchema, Buffer.from(JSON.stringify(event)))).toEqual({ ok: true, value: event });
    expect(parsePayload(PresenceEventSchema, JSON.stringify(event))).toEqual({ ok: true, value: event });
  });

  it('names the field at fault', () => {
    const result = parsePayload(PresenceEventSchema, JSON.stringify(anEvent({ atS: 1.5 })));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/^atS: /);
  });

  it('names a nested field by its path', () => {
    const config = {
      v: 1, storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', issuedAtS: 0,
      epochKeys: [{ keyId: 'k-1', wrapped: 'AAAA', notBeforeS: 0, notAfterS: 1 }, { keyId: 'K 2', wrapped: 'AAAA', notBeforeS: 0, notAfterS: 1 }],
      registeredBeacons: [],
    };
    const result = parsePayload(GatewayConfigMessageSchema, JSON.stringify(config));
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/^epochKeys\.1\.keyId: /) });
  });

  it('lists several faults at once', () => {
    const result = parsePayload(PresenceEventSchema, JSON.stringify(anEvent({ kind: 'linger', proximity: 'touching' })));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toContain('kind: ');
      expect(result.error).toContain('proximity: ');
    }
  });

  it('reports garbage as not JSON', () => {
    expect(parsePayload(PresenceEventSchema, 'hello')).toEqual({ ok: false, error: expect.stringMatching(/not JSON/) });
    expect(parsePayload(PresenceEventSchema, Uint8Array.of(0xff, 0xfe, 0x00))).toEqual({ ok: false, error: expect.stringMatching(/not JSON/) });
  });

  it('reports a JSON value of the wrong shape at the root', () => {
    expect(parsePayload(PresenceEventSchema, '[1,2,3]')).toEqual({ ok: false, error: expect.stringMatching(/^\(root\): /) });
  });

  describe('never echoes the payload in its error', () => {
    const SECRET = 'deadbeefcafe4242';

    it.each<[string, string]>([
      ['a bad pseudonym', JSON.stringify(anEvent({ pseudonym: `${SECRET}${SECRET}`.toUpperCase() }))],
      ['a bad kind', JSON.stringify(anEvent({ kind: SECRET }))],
      ['a bad gateway ID', JSON.stringify(anEvent({ gatewayId: `X${SECRET}` }))],
      ['an extra field named after the value', JSON.stringify({ ...anEvent(), [SECRET]: SECRET })],
      ['text that is not JSON', `${SECRET} is not json`],
      ['JSON broken right after the value', `{"pseudonym": ${SECRET}`],
      ['JSON with trailing garbage', `${JSON.stringify(anEvent())}${SECRET}`],
    ])('for %s', (_name, payload) => {
      const result = parsePayload(PresenceEventSchema, payload);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.length).toBeGreaterThan(0);
        expect(result.error.toLowerCase()).not.toContain(SECRET.slice(0, 6));
      }
    });

    it('for any non-JSON text', () => {
      fc.assert(
        fc.property(fc.stringMatching(/^[a-z]{12}$/), (secret) => {
          const result = parsePayload(PresenceEventSchema, `${secret} {`);
          expect(result).toEqual({ ok: false, error: expect.not.stringContaining(secret.slice(0, 4)) });
        }),
      );
    });
  });
});
