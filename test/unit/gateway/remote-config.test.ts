import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '#gateway/gateway.ts';
import { createPresenceTracker } from '#gateway/presence/presence-tracker.ts';
import { GatewayConfigMessageSchema, wrapEpochKey, type GatewayConfigMessage, type Pseudonym } from '#gateway/protocol/index.ts';
import { createMemoryPublisher, type MemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import type { Scanner } from '#gateway/scanner/scanner.ts';
import { encodeEddystoneEid } from '#simulator/radio/encoders.ts';
import { createLogSink, type LogSink } from '#test/helpers/log-sink.ts';

// Remote configuration (item 9): the presence settings and the zone on the gateway's retained config
// topic take effect without a restart; bad settings are refused and the current ones kept.

const NOW_MS = Date.UTC(2030, 0, 7, 9, 0, 0);
const NOW_S = NOW_MS / 1000;
const SECRET = randomBytes(32);
const KEY = randomBytes(32);
const EID_AD = encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 });
const OTHER_AD = encodeEddystoneEid({ eid: '0011223344556677', txPowerDbm: -20 });

const idleScanner: Scanner = { start: async () => undefined, stop: async () => undefined, stats: () => ({ reports: 0, trackedAddresses: 0 }) };

const aConfig = (overrides: Partial<Record<keyof GatewayConfigMessage, unknown>> = {}): GatewayConfigMessage =>
  GatewayConfigMessageSchema.parse({
    v: 1, storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', issuedAtS: NOW_S,
    epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(SECRET, 'gw-1', 'k1', KEY), notBeforeS: NOW_S - 3_600, notAfterS: NOW_S + 86_400 }],
    registeredBeacons: [],
    ...overrides,
  });

function aGateway(): { gateway: Gateway; publisher: MemoryPublisher; logs: LogSink } {
  const publisher = createMemoryPublisher();
  const logs = createLogSink();
  const gateway = createGateway({
    scanner: idleScanner, publisher, logger: logs.logger, now: () => NOW_MS,
    settings: { storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', secret: SECRET, presence: { minSightings: 3 } },
  });
  return { gateway, publisher, logs };
}

describe('remote configuration', () => {
  it('applies the presence thresholds of a new config message at once', () => {
    const { gateway, publisher } = aGateway();
    gateway.applyConfig(aConfig());
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS });
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS + 100 });
    expect(publisher.events).toHaveLength(0); // the file says three sightings

    gateway.applyConfig(aConfig({ presence: { minSightings: 1, enterRssiDbm: -70 } }));
    gateway.handle({ data: OTHER_AD, rssiDbm: -65, receivedAtMs: NOW_MS + 200 });
    expect(publisher.events.map((e) => e.kind)).toEqual(['enter']);
    // -75 dBm is below the remote enter threshold: no enter, however many sightings.
    const weak = encodeEddystoneEid({ eid: 'ffeeddccbbaa9988', txPowerDbm: -20 });
    for (let i = 0; i < 5; i += 1) gateway.handle({ data: weak, rssiDbm: -75, receivedAtMs: NOW_MS + 300 + i });
    expect(publisher.events).toHaveLength(1);
  });

  it('falls back to the file settings when the server withdraws its own', () => {
    const { gateway, publisher } = aGateway();
    gateway.applyConfig(aConfig({ presence: { minSightings: 1 } }));
    gateway.applyConfig(aConfig());
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS });
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS + 100 });
    expect(publisher.events).toHaveLength(0);
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS + 200 });
    expect(publisher.events.map((e) => e.kind)).toEqual(['enter']);
  });

  it('refuses settings that break hysteresis with the file ones, logs why, and keeps the current settings', () => {
    const { gateway, publisher, logs } = aGateway();
    gateway.applyConfig(aConfig({ presence: { minSightings: 1 } }));
    // exitRssiDbm -70 above the default enterRssiDbm -80: refused as a whole.
    gateway.applyConfig(aConfig({ presence: { minSightings: 5, exitRssiDbm: -70 } }));
    expect(logs.lines().some((line) => line.msg === 'remote presence settings rejected; keeping the current ones')).toBe(true);
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS });
    expect(publisher.events.map((e) => e.kind)).toEqual(['enter']);
  });

  it('moves to a new zone: presences in the old zone exit there first', () => {
    const { gateway, publisher } = aGateway();
    gateway.applyConfig(aConfig({ presence: { minSightings: 1 } }));
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS });
    gateway.applyConfig(aConfig({ zoneId: 'bakery', presence: { minSightings: 1 } }));
    gateway.handle({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS + 1_000 });
    expect(publisher.events.map((e) => [e.kind, e.zoneId])).toEqual([['enter', 'entrance'], ['exit', 'entrance'], ['enter', 'bakery']]);
  });

  it('rejects a config message whose presence settings break hysteresis on their own, naming the field', () => {
    const parsed = GatewayConfigMessageSchema.safeParse({ ...aConfig(), presence: { enterRssiDbm: -90, exitRssiDbm: -80 } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['presence.exitRssiDbm']);
  });
});

describe('presence tracker reconfigure', () => {
  it('changes thresholds for devices already tracked and refuses an inverted pair without changing anything', () => {
    const tracker = createPresenceTracker({ minSightings: 3 });
    const p = 'a'.repeat(32) as Pseudonym;
    expect(tracker.observe(p, 'eddystone-eid', 'k1', -60, 0)).toEqual([]);
    tracker.reconfigure({ minSightings: 2 });
    expect(tracker.observe(p, 'eddystone-eid', 'k1', -60, 100).map((t) => t.kind)).toEqual(['enter']);
    expect(() => tracker.reconfigure({ exitRssiDbm: -50 })).toThrow(/hysteresis/);
    const q = 'b'.repeat(32) as Pseudonym;
    tracker.observe(q, 'eddystone-eid', 'k1', -60, 200);
    expect(tracker.observe(q, 'eddystone-eid', 'k1', -60, 300).map((t) => t.kind)).toEqual(['enter']);
  });
});
