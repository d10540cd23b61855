import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OccupancySchema, PROTOCOL_VERSION, parsePayload } from '#gateway/protocol/messages.ts';
import { ID_PATTERN, parseTopic, topics } from '#gateway/protocol/topics.ts';

const aReport = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  v: PROTOCOL_VERSION,
  storeId: 'store-1',
  gatewayId: 'gw-1',
  zoneId: 'entrance',
  windowStartS: 1_893_920_400,
  windowEndS: 1_893_920_460,
  count: 12,
  tag: 'A'.repeat(43),
  ...overrides,
});

describe('OccupancySchema', () => {
  it('accepts a count, and null for a suppressed one', () => {
    expect(OccupancySchema.parse(aReport())).toEqual(aReport());
    expect(OccupancySchema.parse(aReport({ count: null }))).toEqual(aReport({ count: null }));
  });

  it.each([
    ['a pseudonym riding along', { pseudonym: 'c0ffee00c0ffee00c0ffee00c0ffee00' }],
    ['a list of devices', { devices: [] }],
    ['a proximity', { proximity: 'near' }],
  ])('rejects any extra field: %s', (_what, extra) => {
    const result = parsePayload(OccupancySchema, JSON.stringify(aReport(extra)));
    expect(result).toEqual({ ok: false, error: '(root): 1 unrecognized key(s)' });
  });

  it.each([
    ['a fractional count', { count: 2.5 }, 'count'],
    ['a negative count', { count: -1 }, 'count'],
    ['a count as text', { count: '<5' }, 'count'],
    ['a missing count', { count: undefined }, 'count'],
    ['a window shorter than 60 s', { windowEndS: 1_893_920_459 }, 'windowEndS'],
    ['a window ending before it starts', { windowEndS: 1_893_920_000 }, 'windowEndS'],
    ['fractional seconds', { windowStartS: 1.5 }, 'windowStartS'],
    ['a bad zone ID', { zoneId: 'Entrance Hall' }, 'zoneId'],
    ['another protocol version', { v: 2 }, 'v'],
  ])('rejects %s, naming the field', (_what, overrides, field) => {
    const result = parsePayload(OccupancySchema, JSON.stringify(aReport(overrides)));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.startsWith(`${field}: `)).toBe(true);
  });
});

describe('occupancy topic', () => {
  it('is the gateway\'s own occupancy topic, and parses back', () => {
    expect(topics.occupancy('store-1', 'gw-1')).toBe('vicino/v1/stores/store-1/gateways/gw-1/occupancy');
    expect(topics.allOccupancy).toBe('vicino/v1/stores/+/gateways/+/occupancy');
    fc.assert(
      fc.property(fc.stringMatching(ID_PATTERN), fc.stringMatching(ID_PATTERN), (storeId, gatewayId) => {
        expect(parseTopic(topics.occupancy(storeId, gatewayId))).toEqual({ storeId, gatewayId, kind: 'occupancy' });
      }),
    );
  });

  it('rejects near misses', () => {
    expect(parseTopic('vicino/v1/stores/store-1/gateways/gw-1/Occupancy')).toBeUndefined();
    expect(parseTopic('vicino/v1/stores/store-1/gateways/gw-1/occupancy/extra')).toBeUndefined();
    expect(parseTopic('vicino/v1/stores/+/gateways/gw-1/occupancy')).toBeUndefined();
  });
});
