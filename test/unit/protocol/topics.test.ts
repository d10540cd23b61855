import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_PATTERN, TOPIC_ROOT, parseTopic, sharedSubscription, topics } from '#gateway/protocol/topics.ts';

describe('topic builders', () => {
  it('build one topic per store, gateway and kind under vicino/v1', () => {
    expect(topics.events('store-1', 'gw-1')).toBe('vicino/v1/stores/store-1/gateways/gw-1/events');
    expect(topics.status('store-1', 'gw-1')).toBe('vicino/v1/stores/store-1/gateways/gw-1/status');
    expect(topics.config('store-1', 'gw-1')).toBe('vicino/v1/stores/store-1/gateways/gw-1/config');
  });

  it('offer server filters with one-level wildcards for store and gateway', () => {
    expect(topics.allEvents).toBe('vicino/v1/stores/+/gateways/+/events');
    expect(topics.allStatus).toBe('vicino/v1/stores/+/gateways/+/status');
  });
});

describe('parseTopic', () => {
  const id = fc.stringMatching(ID_PATTERN);

  it('inverts every builder for valid IDs', () => {
    fc.assert(
      fc.property(id, id, fc.constantFrom('events', 'status', 'config') as fc.Arbitrary<'events' | 'status' | 'config'>, (storeId, gatewayId, kind) => {
        expect(parseTopic(topics[kind](storeId, gatewayId))).toEqual({ storeId, gatewayId, kind });
      }),
    );
  });

  it.each([
    ['another root', 'vicino/v2/stores/store-1/gateways/gw-1/events'],
    ['another application', 'other/v1/stores/store-1/gateways/gw-1/events'],
    ['the old flat layout', 'vicino/v1/store-1/gw-1/events'],
    ['a missing "stores" segment', 'vicino/v1/shops/store-1/gateways/gw-1/events'],
    ['a missing "gateways" segment', 'vicino/v1/stores/store-1/devices/gw-1/events'],
    ['too few segments', 'vicino/v1/stores/store-1/gateways/events'],
    ['too many segments', 'vicino/v1/stores/store-1/gateways/gw-1/events/extra'],
    ['a trailing slash', 'vicino/v1/stores/store-1/gateways/gw-1/events/'],
    ['a single-level wildcard as store', 'vicino/v1/stores/+/gateways/gw-1/events'],
    ['a multi-level wildcard as gateway', 'vicino/v1/stores/store-1/gateways/#/events'],
    ['an uppercase store ID', 'vicino/v1/stores/Store-1/gateways/gw-1/events'],
    ['an uppercase gateway ID', 'vicino/v1/stores/store-1/gateways/GW-1/status'],
    ['a $-prefixed ID', 'vicino/v1/stores/$sys/gateways/gw-1/status'],
    ['an ID starting with a dash', 'vicino/v1/stores/store-1/gateways/-gw/status'],
    ['an ID starting with an underscore (the servers\' own namespace)', 'vicino/v1/stores/_servers/gateways/gw-1/status'],
    ['an empty ID', 'vicino/v1/stores//gateways/gw-1/status'],
    ['an ID of 65 characters', `vicino/v1/stores/${'s'.repeat(65)}/gateways/gw-1/status`],
    ['an unknown kind', 'vicino/v1/stores/store-1/gateways/gw-1/telemetry'],
    ['an uppercase kind', 'vicino/v1/stores/store-1/gateways/gw-1/Events'],
    ['the empty topic', ''],
  ])('rejects %s', (_name, topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });

  it('never throws and accepts only what the builders could have made', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('stores/', 'gateways/', 's', '/', '1', '+', '#', 'A', '$', 'events', '-') }), (topic) => {
        const parsed = parseTopic(`${TOPIC_ROOT}/${topic}`);
        if (parsed !== undefined) expect(topics[parsed.kind](parsed.storeId, parsed.gatewayId)).toBe(`${TOPIC_ROOT}/${topic}`);
      }),
    );
  });
});

describe('sharedSubscription', () => {
  it('prefixes a filter with $share/<group>/ (MQTT 5.0 §4.8.2)', () => {
    expect(sharedSubscription('servers', topics.allEvents)).toBe('$share/servers/vicino/v1/stores/+/gateways/+/events');
  });

  it.each([
    ['empty', ''],
    ['with a slash', 'a/b'],
    ['a wildcard', '+'],
    ['uppercase', 'Servers'],
    ['with a space', 'my servers'],
  ])('rejects a group that is %s', (_name, group) => {
    expect(() => sharedSubscription(group, topics.allEvents)).toThrow(/shared subscription group/);
  });
});
