import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_PATTERN, TOPIC_ROOT, parseTopic, sharedSubscription, topics } from '#gateway/protocol/topics.ts';

describe('topic builders', () => {
  it('build one topic per store, gateway and kind under vicino/v1', () => {
    expect(topics.presence('store-1', 'gw-1')).toBe('vicino/v1/store-1/gw-1/presence');
    expect(topics.status('store-1', 'gw-1')).toBe('vicino/v1/store-1/gw-1/status');
    expect(topics.config('store-1', 'gw-1')).toBe('vicino/v1/store-1/gw-1/config');
  });

  it('offer server filters with one-level wildcards for store and gateway', () => {
    expect(topics.allPresence).toBe('vicino/v1/+/+/presence');
    expect(topics.allStatus).toBe('vicino/v1/+/+/status');
  });
});

describe('parseTopic', () => {
  const id = fc.stringMatching(ID_PATTERN);

  it('inverts every builder for valid IDs', () => {
    fc.assert(
      fc.property(id, id, fc.constantFrom('presence', 'status', 'config') as fc.Arbitrary<'presence' | 'status' | 'config'>, (storeId, gatewayId, kind) => {
        expect(parseTopic(topics[kind](storeId, gatewayId))).toEqual({ storeId, gatewayId, kind });
      }),
    );
  });

  it.each([
    ['another root', 'vicino/v2/store-1/gw-1/presence'],
    ['another application', 'other/v1/store-1/gw-1/presence'],
    ['too few segments', 'vicino/v1/store-1/presence'],
    ['too many segments', 'vicino/v1/store-1/gw-1/presence/extra'],
    ['a trailing slash', 'vicino/v1/store-1/gw-1/presence/'],
    ['a single-level wildcard as store', 'vicino/v1/+/gw-1/presence'],
    ['a multi-level wildcard as gateway', 'vicino/v1/store-1/#/presence'],
    ['an uppercase store ID', 'vicino/v1/Store-1/gw-1/presence'],
    ['an uppercase gateway ID', 'vicino/v1/store-1/GW-1/status'],
    ['a $-prefixed ID', 'vicino/v1/$sys/gw-1/status'],
    ['an ID starting with a dash', 'vicino/v1/store-1/-gw/status'],
    ['an empty ID', 'vicino/v1//gw-1/status'],
    ['an ID of 65 characters', `vicino/v1/${'s'.repeat(65)}/gw-1/status`],
    ['an unknown kind', 'vicino/v1/store-1/gw-1/telemetry'],
    ['an uppercase kind', 'vicino/v1/store-1/gw-1/Presence'],
    ['the empty topic', ''],
  ])('rejects %s', (_name, topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });

  it('never throws and accepts only what the builders could have made', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('v', 'i', '/', '1', '+', '#', 'A', '$', 'p', '-') }), (topic) => {
        const parsed = parseTopic(`${TOPIC_ROOT}/${topic}`);
        if (parsed !== undefined) expect(topics[parsed.kind](parsed.storeId, parsed.gatewayId)).toBe(`${TOPIC_ROOT}/${topic}`);
      }),
    );
  });
});

describe('sharedSubscription', () => {
  it('prefixes a filter with $share/<group>/ (MQTT 5.0 §4.8.2)', () => {
    expect(sharedSubscription('servers', topics.allPresence)).toBe('$share/servers/vicino/v1/+/+/presence');
  });

  it.each([
    ['empty', ''],
    ['with a slash', 'a/b'],
    ['a wildcard', '+'],
    ['uppercase', 'Servers'],
    ['with a space', 'my servers'],
  ])('rejects a group that is %s', (_name, group) => {
    expect(() => sharedSubscription(group, topics.allPresence)).toThrow(/shared subscription group/);
  });
});
