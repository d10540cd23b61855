import type { Logger } from 'pino';
import { unwrapEpochKey, type GatewayConfigMessage } from '#gateway/protocol/index.ts';
import type { Publisher } from '#gateway/publisher/publisher.ts';
import { registerVirtualApp, type ReceivedPromotion, type VirtualApp } from '../app/virtual-app.ts';
import { admin, FIRST_NAMES, launchCampaign, openTill } from '../store/simulated-store.ts';
import { simulatedGatewayPublisher } from '../store/virtual-gateways.ts';
import { percentileOf } from './presence-scoring.ts';
import type { PromotionReport } from './store-report.ts';
import type { StoreScenario } from './store-scenario.ts';
import type { PlannedShopper } from './store-population.ts';
import type { Rng } from '../rng.ts';
import { randomUUIDFrom } from '../shoppers/population.ts';

// A store day against a running server and broker, in real time: the store, its zones, store beacons
// and gateways are provisioned through the admin API, the gateways publish to the broker, and every
// shopper with the app uses the real shopper API — registers, consents purpose by purpose, links a
// loyalty beacon, reports store beacons from iOS in the background, receives and acknowledges
// promotions, redeems some at a till, and withdraws when scheduled.

export type LiveServer = { serverUrl: string; adminToken: string; mqttUrl: string };

/** How near (m) a store beacon an iOS app in the background must be for region monitoring to report it. */
export const REGION_RANGE_M = 4;

export type LiveStore = {
  /**
   * An iOS app in the background, once a second: it reports entering the region of the nearest store beacon
   * it monitors within REGION_RANGE_M, and leaving the one it was in (POST /v1/me/sightings).
   */
  monitorRegions(app: VirtualApp, state: RegionState, at: { x: number; y: number } | undefined, nowMs: number): void;
  secretOf(gatewayId: string): Buffer;
  /** The gateway's publisher to the broker; every epoch key its config brings is told to onKey. */
  publisher(gatewayId: string, logger: Logger, now: () => number, onKey: (key: Buffer) => void): Publisher;
  /** Registers the shopper's app and gives the consents it has; resolves once it is connected. */
  openApp(shopper: PlannedShopper, now: () => number): Promise<VirtualApp>;
  /** Shows a promotion to the tally: latency from the advertisement that caused it, consent at the time, a redemption with the scenario's probability. */
  shown(promotion: ReceivedPromotion, causedByMs: number | undefined, promotionsAllowed: boolean): void;
  /** Withdraws promotions consent (the scheduled withdrawal); resolves once the server acknowledged it. */
  withdraw(app: VirtualApp): Promise<void>;
  report(): Promise<PromotionReport>;
};

/** What an iOS app's region monitoring knows: the regions it was told to watch, and the beacon it is near. */
export type RegionState = { regions: { uuid: string; major?: number }[]; beaconId: string | undefined; enteredAtS: number };

export async function openLiveStore(scenario: StoreScenario, server: LiveServer, logger: Logger, random: () => number, rng: Rng): Promise<LiveStore> {
  const storeId = scenario.store.id;
  // The store's own iBeacons: one UUID and major for the store, a minor each.
  const uuid = randomUUIDFrom(rng);
  const major = rng.int(1, 65_000);
  const storeBeacons = scenario.storeBeacons.map((beacon, i) => ({ ...beacon, uuid, major, minor: i + 1 }));
  await admin(server, 'PUT', `/v1/admin/stores/${storeId}`, {
    name: scenario.store.name, timezone: scenario.store.timezone,
    // The scenario's geometry, so the console's live view draws the store as simulated.
    floorPlan: scenario.floorPlan,
    zones: scenario.zones.map((z) => ({ id: z.id, name: z.name, sensitive: z.sensitive, polygon: z.polygon.map((p) => [p.x, p.y]) })),
    beacons: storeBeacons.map(({ position: _position, ...beacon }) => beacon),
  });
  const secrets = new Map<string, Buffer>();
  for (const gateway of scenario.gateways) {
    const { config } = await admin<{ config: { secret: string } }>(server, 'POST', `/v1/admin/stores/${storeId}/gateways`, { id: gateway.id, zoneId: gateway.zoneId, rotateSecret: true });
    secrets.set(gateway.id, Buffer.from(config.secret, 'base64url'));
  }
  if (scenario.campaign !== undefined) {
    const { id, zoneIds, ...campaign } = scenario.campaign;
    await launchCampaign(server, id, { ...campaign, placement: { level: 'zones', storeId, zoneIds }, priority: 100 });
  }
  const till = await openTill(server, storeId, logger);
  const sightings = { reported: 0, refused: 0 };
  const latencies: number[] = [];
  const tally = { delivered: 0, toNonConsenting: 0 };
  const pending = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => undefined);
    return promise;
  };
  const report = (app: VirtualApp, beacon: (typeof storeBeacons)[number], kind: 'enter' | 'exit', atS: number, dwellS: number): void => {
    sightings.reported += 1;
    void track(app.reportSighting({ storeId, beacon: { uuid: beacon.uuid, major: beacon.major, minor: beacon.minor }, kind, atS, dwellS }).catch((error: Error) => {
      sightings.refused += 1;
      logger.debug({ err: error.message.slice(0, 80) }, 'a simulated iOS app\'s sighting was refused');
    }));
  };

  return {
    monitorRegions(app, state, at, nowMs) {
      const atS = Math.floor(nowMs / 1000);
      const near = at === undefined ? undefined : storeBeacons
        .filter((b) => state.regions.some((r) => r.uuid === b.uuid && (r.major === undefined || r.major === b.major)))
        .map((b) => ({ b, d: Math.hypot(b.position.x - at.x, b.position.y - at.y) }))
        .filter(({ d }) => d <= REGION_RANGE_M)
        .sort((x, y) => x.d - y.d)[0]?.b;
      if (near?.id === state.beaconId) return;
      const previous = storeBeacons.find((b) => b.id === state.beaconId);
      if (previous !== undefined) report(app, previous, 'exit', atS, Math.max(0, atS - state.enteredAtS));
      if (near !== undefined) report(app, near, 'enter', atS, 0);
      state.beaconId = near?.id;
      state.enteredAtS = atS;
    },
    secretOf: (gatewayId) => secrets.get(gatewayId)!,
    publisher(gatewayId, gatewayLogger, now, onKey) {
      const secret = secrets.get(gatewayId)!;
      const publisher = simulatedGatewayPublisher({ mqttUrl: server.mqttUrl, storeId, gatewayId, secret, logger: gatewayLogger, now });
      // The simulator knows which pseudonym is whose (for scoring) as the server's resolver does: it unwraps the keys too.
      publisher.onConfig((config: GatewayConfigMessage) => {
        for (const wrapped of config.epochKeys) {
          const key = unwrapEpochKey(secret, gatewayId, wrapped.keyId, wrapped.wrapped);
          if (key !== undefined) onKey(key);
        }
      });
      return publisher;
    },
    async openApp(shopper, now) {
      const consents = shopper.app!.consents;
      const app = await registerVirtualApp({ baseUrl: server.serverUrl, now, ...(consents.personalisation ? { firstName: FIRST_NAMES[shopper.index % FIRST_NAMES.length]! } : {}) });
      const decisions = Object.fromEntries(Object.entries(consents).filter(([, granted]) => granted));
      if (Object.keys(decisions).length > 0) await app.setConsent(decisions);
      if (shopper.loyaltyBeacon !== undefined) await app.linkBeacon(shopper.loyaltyBeacon.identifier);
      await app.connect();
      return app;
    },
    shown(promotion, causedByMs, promotionsAllowed) {
      tally.delivered += 1;
      if (causedByMs !== undefined) latencies.push(promotion.receivedAtMs - causedByMs);
      if (!promotionsAllowed) {
        tally.toNonConsenting += 1;
        logger.error({ campaignId: promotion.campaignId }, 'a promotion reached a shopper without marketing consent');
      }
      if (random() < scenario.population.redeemProbability) till.redeem(promotion.couponCode);
    },
    async withdraw(app) {
      await track(app.setConsent({ promotions: false }));
    },
    async report() {
      await Promise.allSettled([...pending]);
      await till.settled();
      const sorted = latencies.slice().sort((a, b) => a - b);
      return {
        delivered: tally.delivered, toNonConsenting: tally.toNonConsenting,
        latencyMs: { p50: percentileOf(sorted, 50), p99: percentileOf(sorted, 99), samples: sorted.length },
        redemptions: till.counts(),
        iosSightings: { ...sightings },
      };
    },
  };
}
