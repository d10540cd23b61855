import { describe, expect, it } from 'vitest';
import { gatewayAclBlock, withGatewayAclBlock } from '#server/broker/mosquitto-acl.ts';
import { gatewayTopicGrants } from '#server/broker/broker-access.ts';

// The ACL block provisioning writes for Mosquitto names exactly the topics the embedded broker allows.

const SHIPPED_HEAD = 'topic read $SYS/broker/uptime\n\nuser vicino-server\ntopic readwrite vicino/v1/#\n';

describe('Mosquitto ACL blocks', () => {
  it("names the gateway's own topics in full, store segment included, as the embedded broker grants them", () => {
    const block = gatewayAclBlock('shop-1', 'gw-a');
    const grants = gatewayTopicGrants('shop-1', 'gw-a');
    const lines = block.trim().split('\n');
    expect(lines[1]).toBe('user gw-a');
    expect(lines.slice(2)).toEqual([...grants.write.map((t) => `topic write ${t}`), ...grants.read.map((t) => `topic read ${t}`)]);
    expect(lines.slice(2).every((line) => line.includes('/stores/shop-1/gateways/gw-a/') && !/[+#]/.test(line))).toBe(true);
  });

  it('appends a block and keeps everything that was there', () => {
    const text = withGatewayAclBlock(withGatewayAclBlock(SHIPPED_HEAD, 'shop-1', 'gw-a'), 'shop-1', 'gw-b');
    expect(text.startsWith(SHIPPED_HEAD)).toBe(true);
    expect(text).toContain(gatewayAclBlock('shop-1', 'gw-a'));
    expect(text).toContain(gatewayAclBlock('shop-1', 'gw-b'));
  });

  it("replaces a gateway's earlier block — a gateway moved to another store loses the old store's topics", () => {
    const once = withGatewayAclBlock(withGatewayAclBlock(SHIPPED_HEAD, 'shop-1', 'gw-a'), 'shop-1', 'gw-a1');
    const moved = withGatewayAclBlock(once, 'shop-2', 'gw-a');
    expect(moved).not.toContain('stores/shop-1/gateways/gw-a/');
    expect(moved).toContain('stores/shop-2/gateways/gw-a/');
    // gw-a1 shares a prefix with gw-a and is left alone.
    expect(moved).toContain(gatewayAclBlock('shop-1', 'gw-a1'));
    expect(moved.match(/^user gw-a$/gm)).toHaveLength(1);
    expect(withGatewayAclBlock(moved, 'shop-2', 'gw-a')).toBe(moved);
  });

  it('refuses IDs that could smuggle a wildcard or another line into the file', () => {
    expect(() => gatewayAclBlock('shop-1', 'gw-a\ntopic readwrite #')).toThrow(/gateway ID "gw-a\ntopic readwrite #" is not an ID/);
    expect(() => gatewayAclBlock('+', 'gw-a')).toThrow(/store ID "\+" is not an ID/);
  });
});
