import { describe, expect, it } from 'vitest';
import { topics } from '#gateway/protocol/index.ts';
import { mayPublish, maySubscribe, mayWill, type Principal } from '#server/broker/broker-access.ts';

// SEC-1 as a table: what a gateway and a server may publish and subscribe to. The same rules are in
// server/broker/mosquitto/acl; test/integration/broker/ runs them against both brokers for real.

const gwA: Principal = { kind: 'gateway', storeId: 'shop-1', gatewayId: 'gw-a' };
const server: Principal = { kind: 'server' };

describe('broker access rules', () => {
  it.each([
    ['its own events', topics.events('shop-1', 'gw-a'), true],
    ['its own status', topics.status('shop-1', 'gw-a'), true],
    ['its own occupancy', topics.occupancy('shop-1', 'gw-a'), true],
    ["another gateway's occupancy", topics.occupancy('shop-1', 'gw-b'), false],
    ['its own occupancy under another store', topics.occupancy('shop-2', 'gw-a'), false],
    ['its own config (the server writes it)', topics.config('shop-1', 'gw-a'), false],
    ["another gateway's events", topics.events('shop-1', 'gw-b'), false],
    ['its own ID under another store', topics.events('shop-2', 'gw-a'), false],
    ['the server bus', 'vicino/v1/_servers/bus', false],
    ['outside the root', 'other/topic', false],
    ['$SYS', '$SYS/broker/uptime', false],
  ])('lets a gateway publish to %s: %s → %s', (_name, topic, allowed) => {
    expect(mayPublish(gwA, topic)).toBe(allowed);
  });

  it.each([
    ['its own config', topics.config('shop-1', 'gw-a'), true],
    ["another gateway's config", topics.config('shop-1', 'gw-b'), false],
    ['every config by wildcard', 'vicino/v1/stores/+/gateways/+/config', false],
    ['its own config by a store wildcard', 'vicino/v1/stores/+/gateways/gw-a/config', false],
    ['everything', '#', false],
    ['all events', topics.allEvents, false],
    ['its own occupancy (it only writes it)', topics.occupancy('shop-1', 'gw-a'), false],
    ['all occupancy', topics.allOccupancy, false],
  ])('lets a gateway subscribe to %s: %s → %s', (_name, filter, allowed) => {
    expect(maySubscribe(gwA, filter)).toBe(allowed);
  });

  it('lets a gateway leave a will only on its own status topic', () => {
    expect(mayWill(gwA, topics.status('shop-1', 'gw-a'))).toBe(true);
    expect(mayWill(gwA, topics.events('shop-1', 'gw-a'))).toBe(false);
    expect(mayWill(gwA, topics.occupancy('shop-1', 'gw-a'))).toBe(false);
    expect(mayWill(gwA, topics.status('shop-1', 'gw-b'))).toBe(false);
  });

  it.each([
    [topics.allEvents, true],
    [topics.allStatus, true],
    [topics.allOccupancy, true],
    [`$share/servers/${topics.allOccupancy}`, true],
    [`$share/servers/${topics.allEvents}`, true],
    ['vicino/v1/_servers/bus', true],
    ['vicino/v1/#', true],
    ['vicino/#', false],
    ['#', false],
    ['$SYS/#', false],
    ['$share/servers/#', false],
  ])('lets the server subscribe to %s → %s', (filter, allowed) => {
    expect(maySubscribe(server, filter)).toBe(allowed);
  });

  it('lets the server publish under vicino/v1/ only', () => {
    expect(mayPublish(server, topics.config('shop-1', 'gw-a'))).toBe(true);
    expect(mayPublish(server, 'vicino/v1/_servers/bus')).toBe(true);
    expect(mayPublish(server, 'vicino/v2/x')).toBe(false);
    expect(mayPublish(server, 'vicino/v1x')).toBe(false);
  });
});
