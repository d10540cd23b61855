import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createGateway, type Gateway, type GatewaySettings } from '#gateway/gateway.ts';
import { deriveEventMacKey, GatewayConfigMessageSchema, OccupancySchema, pseudonymise, verifyMessage, wrapEpochKey } from '#gateway/protocol/index.ts';
import { createMemoryPublisher, type MemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import type { RawAdvertisement, Scanner } from '#gateway/scanner/scanner.ts';
import { encodeEddystoneEid } from '#simulator/radio/encoders.ts';
import { createLogSink, type LogSink } from '#test/helpers/log-sink.ts';

// The gateway's presence inputs and occupancy output, end to end through createGateway: the frame's
// measured power reaches the tracker, and occupancy counts go out on their own (opt-in) path.
// Virtual time: fake timers drive the gateway's tick, and now() is the test's clock.

const STORE = 'store-1';
const GATEWAY = 'gw-entrance';
const ZONE = 'entrance';
const T0 = Date.UTC(2030, 0, 7, 9, 0, 0); // a minute boundary
const SECRET = randomBytes(32);
const EPOCH_KEY = randomBytes(32);
const KEY_ID = 'k-2030-01-07';

const config = GatewayConfigMessageSchema.parse({
  v: 1, storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, issuedAtS: T0 / 1000,
  epochKeys: [{ keyId: KEY_ID, wrapped: wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY), notBeforeS: T0 / 1000 - 3_600, notAfterS: T0 / 1000 + 86_400 }],
  registeredBeacons: [],
});

const eid = (n: number): string => n.toString(16).padStart(16, '0');

type Harness = { gateway: Gateway; publisher: MemoryPublisher; logs: LogSink; hear(ad: Buffer, rssiDbm: number): void; advance(ms: number): void };

function aGateway(presence: GatewaySettings['presence'] = {}): Harness {
  let nowMs = T0 + 15_000;
  let listener: ((advertisement: RawAdvertisement) => void) | undefined;
  const scanner: Scanner = {
    async start(onAdvertisement) {
      listener = onAdvertisement;
    },
    async stop() {
      listener = undefined;
    },
    stats: () => ({ reports: 0, trackedAddresses: 0 }),
  };
  const publisher = createMemoryPublisher();
  const logs = createLogSink();
  const gateway = createGateway({
    scanner, publisher, logger: logs.logger, now: () => nowMs,
    settings: { storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, secret: SECRET, presence },
  });
  return {
    gateway, publisher, logs,
    hear: (data, rssiDbm) => listener?.({ data, rssiDbm, receivedAtMs: nowMs }),
    advance(ms) {
      for (let i = 0; i < ms; i += 1_000) {
        nowMs += 1_000;
        vi.advanceTimersByTime(1_000);
      }
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('gateway presence inputs', () => {
  it('takes the proximity band from the frame\'s own measured power', async () => {
    const { gateway, publisher } = aGateway();
    await gateway.start();
    gateway.applyConfig(config);
    // Both heard at −72 dBm: from a weak phone (TX −34 dBm at 0 m → −75 at 1 m) that is 0.76 m, near;
    // from a strong one (TX −9 dBm → −50 at 1 m) it is 7.6 m, far.
    const weak = encodeEddystoneEid({ eid: eid(1), txPowerDbm: -34 });
    const strong = encodeEddystoneEid({ eid: eid(2), txPowerDbm: -9 });
    for (let i = 0; i < 2; i += 1) {
      gateway.handle({ data: weak, rssiDbm: -72, receivedAtMs: T0 + i * 100 });
      gateway.handle({ data: strong, rssiDbm: -72, receivedAtMs: T0 + i * 100 });
    }
    const proximityOf = (n: number): string | undefined =>
      publisher.events.find((e) => e.pseudonym === pseudonymise(EPOCH_KEY, 'eddystone-eid', Buffer.from(eid(n), 'hex')))?.proximity;
    expect(proximityOf(1)).toBe('near');
    expect(proximityOf(2)).toBe('far');
    await gateway.stop();
  });

  it('applies the configured calibration and thresholds', async () => {
    const { gateway, publisher } = aGateway({ rssiOffsetDb: 10, enterRssiDbm: -70, exitRssiDbm: -75 });
    await gateway.start();
    gateway.applyConfig(config);
    const ad = encodeEddystoneEid({ eid: eid(3), txPowerDbm: -20 });
    gateway.handle({ data: ad, rssiDbm: -79, receivedAtMs: T0 });
    gateway.handle({ data: ad, rssiDbm: -79, receivedAtMs: T0 + 100 }); // −69 dBm calibrated
    expect(publisher.events.map((e) => e.kind)).toEqual(['enter']);
    await gateway.stop();
  });
});

describe('gateway occupancy', () => {
  const shoppers = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => encodeEddystoneEid({ eid: eid(100 + i), txPowerDbm: -20 }));

  it('publishes nothing unless enabled', async () => {
    const { gateway, publisher, hear, advance } = aGateway();
    await gateway.start();
    gateway.applyConfig(config);
    for (const ad of shoppers(8)) hear(ad, -60);
    for (const ad of shoppers(8)) hear(ad, -60);
    advance(180_000);
    expect(publisher.events.filter((e) => e.kind === 'enter')).toHaveLength(8);
    expect(publisher.occupancy).toEqual([]);
    await gateway.stop();
  });

  it('publishes one integer per whole window, null below k, and nothing that identifies anyone', async () => {
    const { gateway, publisher, hear, advance, logs } = aGateway({ occupancy: { enabled: true, windowMs: 60_000, minCount: 5 } });
    await gateway.start();
    gateway.applyConfig(config);
    advance(45_000); // into the first whole window (T0 + 60 s …)
    const crowd = shoppers(7);
    for (let second = 0; second < 70; second += 1) {
      for (const ad of crowd) hear(ad, -60);
      advance(1_000);
    }
    advance(120_000); // the crowd left at +130 s: the window from +120 s counts them (present at its start), the next one nobody
    const reports = publisher.occupancy.map((report) => OccupancySchema.parse(report));
    expect(reports.map(({ tag: _tag, ...report }) => report)).toEqual([
      { v: 1, storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, windowStartS: T0 / 1000 + 60, windowEndS: T0 / 1000 + 120, count: 7 },
      { v: 1, storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, windowStartS: T0 / 1000 + 120, windowEndS: T0 / 1000 + 180, count: 7 },
      { v: 1, storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, windowStartS: T0 / 1000 + 180, windowEndS: T0 / 1000 + 240, count: null },
    ]);
    // Each count is signed by this gateway (event-auth.ts), so a server can tell it is not forged.
    for (const report of reports) expect(verifyMessage(deriveEventMacKey(SECRET, GATEWAY), 'occupancy', report)).toBe(true);
    const outside = `${JSON.stringify(publisher.occupancy)}\n${logs.text()}`;
    for (const event of publisher.events) expect(outside).not.toContain(event.pseudonym);
    await gateway.stop();
  });
});
