import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '#server/identity.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import { runStoreDay } from '#simulator/world/store-day.ts';
import type { StoreDayReport } from '#simulator/world/store-report.ts';
import { StoreScenarioSchema } from '#simulator/world/store-scenario.ts';
import { createLogCapture } from '../helpers/log-capture.ts';
import { openTestStore, type TestStore } from '../helpers/open-test-store.ts';
import { startTestBroker, type TestBroker } from '../helpers/start-broker.ts';

// A store scenario (version 2) against a running server, in real time: provisioned through the admin
// API, the gateways on the broker, every app on the shopper API. Presence is scored as in a virtual
// day; the report adds the promotions: latency, none to a shopper without marketing consent, redemptions.

const square = (x: number, y: number, w: number, h: number) => [{ x, y }, { x: x + w, y }, { x: x + w, y: y + h }, { x, y: y + h }];

describe('a store day against the server (live)', () => {
  let broker: TestBroker;
  let testStore: TestStore;
  let server: RunningServer;
  let report: StoreDayReport;
  const adminToken = randomBytes(24).toString('base64url');
  const logs = createLogCapture('info');
  const storeId = `live-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    broker = await startTestBroker();
    testStore = await openTestStore('sqlite');
    server = await startServer({
      store: testStore.store, masterKey: randomBytes(32), logger: logs.logger, adminTokenHash: hashToken(adminToken), mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' },
    });
    const scenario = StoreScenarioSchema.parse({
      version: 2, name: 'live corner shop', seed: 11,
      store: { id: storeId, name: 'Live corner shop', timezone: 'UTC', openingHours: { open: '09:00', close: '18:00' } },
      floorPlan: { widthM: 24, heightM: 8 }, entrances: [{ x: 0, y: 4 }],
      zones: [{ id: 'front', name: 'Front', polygon: square(0, 0, 12, 8) }, { id: 'back', name: 'Back', polygon: square(12, 0, 12, 8) }],
      // Settings an installer set on the server (not calibrated from the floor plan): enter within a second.
      gateways: [
        { id: `${storeId}-gw-front`, zoneId: 'front', position: { x: 6, y: 4 }, presence: { enterRssiDbm: -75, exitRssiDbm: -82, enterHoldMs: 1_000 } },
        { id: `${storeId}-gw-back`, zoneId: 'back', position: { x: 18, y: 4 }, presence: { enterRssiDbm: -75, exitRssiDbm: -82, enterHoldMs: 1_000 } },
      ],
      // The store's own beacons, which iOS apps in the background monitor and report through the API.
      storeBeacons: [{ id: 'sb-front', zoneId: 'front', position: { x: 6, y: 5 } }, { id: 'sb-back', zoneId: 'back', position: { x: 18, y: 5 } }],
      // One arrival every 2 s on average; most of those with the app grant promotions, the rest presence only.
      population: {
        arrivalsPerHour: 1_800, appShare: 1, platforms: { android: 0.7, iosForeground: 0, iosBackground: 0.3 },
        optIn: { presence: 1, promotions: 0.7, personalisation: 0, analytics: 0 }, redeemProbability: 1, phonesWithoutAppPerShopper: 0,
        // Some withdraw promotions consent a few seconds after they come in: nothing may reach them after that.
        withdrawal: { share: 0.4, afterS: [4, 10] },
      },
      movement: { walkingSpeedMps: { mean: 1.0 }, stopsPerVisit: [1, 2], dwellS: { medianS: 15, sigma: 0.2 } },
      simulation: { durationS: 30 },
      campaign: {
        id: 'welcome', name: 'Welcome', zoneIds: ['front', 'back'], trigger: { kind: 'enter' },
        message: { title: 'Hello', body: 'Ten per cent off today.', validForS: 3_600 },
        caps: { perShopper: { count: 5, periodS: 3_600 }, minGapS: 1, perShopperDaily: 5, cooldownS: 1 },
      },
    });
    report = await runStoreDay({ scenario, logger: logs.logger, live: { serverUrl: server.url, adminToken, mqttUrl: broker.url } });
  }, 90_000);

  afterAll(async () => {
    await server?.close();
    await testStore?.close();
    await broker?.close();
  });

  it('runs on the real clock and scores presence as a virtual day does', () => {
    expect(report.run.clock).toBe('real');
    expect(report.scenario.simulatedS).toBeGreaterThanOrEqual(30);
    expect(report.population.tracked).toBeGreaterThan(3);
    expect(report.gateways.events).toBeGreaterThan(0);
    expect(report.presence.zoneAccuracy).not.toBeNull();
  });

  it('delivers promotions through the server to the apps that consented, none to the others, and redeems them at the till', () => {
    const promotions = report.promotions!;
    expect(promotions.delivered).toBeGreaterThanOrEqual(1);
    expect(promotions.toNonConsenting).toBe(0);
    // Latency is measured from the advertisement: promotions that an iOS sighting caused have none.
    expect(promotions.latencyMs.samples).toBeGreaterThanOrEqual(1);
    expect(promotions.latencyMs.samples).toBeLessThanOrEqual(promotions.delivered);
    expect(promotions.latencyMs.p99).toBeLessThan(2_000);
    expect(promotions.redemptions.attempted).toBe(promotions.delivered);
    expect(promotions.redemptions.redeemed).toBeGreaterThanOrEqual(1);
    // A coupon is refused only because its shopper withdrew consent (the server cancels their coupons).
    expect(Object.keys(promotions.redemptions.refused).filter((code) => code !== 'COUPON_CANCELLED')).toEqual([]);
    expect(report.population.withdrew).toBeGreaterThanOrEqual(1);
    // iOS apps in the background, with presence consent, report store beacons; the server accepts them.
    expect(report.population.byPlatform.iosBackground).toBeGreaterThanOrEqual(1);
    expect(promotions.iosSightings.reported).toBeGreaterThanOrEqual(1);
    expect(promotions.iosSightings.refused).toBe(0);
    expect(logs.text().map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([]);
  });

  it('provisions the store with its floor plan and zone outlines, for the console\'s live view', async () => {
    const response = await fetch(`${server.url}/v1/admin/stores/${storeId}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      floorPlan: { widthM: 24, heightM: 8 },
      zones: [{ id: 'back', polygon: [[12, 0], [24, 0], [24, 8], [12, 8]] }, { id: 'front', polygon: [[0, 0], [12, 0], [12, 8], [0, 8]] }],
    });
  });
});
