import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { registerVirtualApp, type ReceivedPromotion, type VirtualApp } from '../app/virtual-app.ts';
import { createVirtualRadio, runRealtime, type Advertiser, type Position } from '../radio/virtual-radio.ts';
import { createRng, type Rng } from '../rng.ts';
import type { Scenario } from '../scenario.ts';
import { foreignBeacon, foreignPhone, loyaltyBeacon, randomUUIDFrom, type ForeignDevice, type LoyaltyBeacon } from '../shoppers/population.ts';
import { planVisit, type Visit } from '../shoppers/walker.ts';
import { percentileOf } from '../world/presence-scoring.ts';
import { startVirtualGateways, type VirtualGateway } from './virtual-gateways.ts';

// A simulated store against a running server and broker: it provisions the store through the admin
// API, starts the gateways on simulated radios, and brings in shoppers — apps that register and
// consent through the real API, and people whose devices the system must ignore.

export type ShopperKind = 'opted-in' | 'presence-only' | 'withdrawing' | 'registered-no-consent' | 'phone-without-app' | 'foreign-beacon';

type Shopper = {
  id: string;
  kind: ShopperKind;
  visit: Visit | undefined;
  nextVisitMs: number;
  app?: VirtualApp;
  /** A linked loyalty iBeacon: the shopper is seen by it, and their phone does not advertise. */
  loyaltyBeacon?: LoyaltyBeacon;
  /** An iOS app in the background: it does not advertise, and reports store beacons it comes near. */
  ios?: { regions: { uuid: string; major?: number }[]; beaconId?: string; enteredAtS: number };
  device?: ForeignDevice;
  /** When promotions stopped being allowed (withdrawal acknowledged), if they did. */
  promotionsWithdrawnAtMs?: number;
  marketable: boolean;
};

export type LiveStats = { shoppersInStore: number; advertisements: number; presenceEvents: number; promotionsDelivered: number };

export type SimulationSummary = LiveStats & {
  consentingShoppers: number;
  promotionsToNonConsenting: number;
  /** Coupons the shoppers took to a till (redeemProbability of the promotions shown), and what the till heard back. */
  redemptions: { attempted: number; redeemed: number; refused: Record<string, number> };
  latencyMs: { p50: number | null; p99: number | null; max: number | null; samples: number };
  dropped: Record<string, number>;
  radio: { emitted: number; delivered: number; lost: number };
  shoppers: Record<ShopperKind, number>;
};

export type DeliveredPromotion = { title: string; zoneId: string; kind: ShopperKind; latencyMs: number | undefined };

/** Every raw identifier the simulated devices exposed: what must never appear downstream of a gateway. */
export type GroundTruth = {
  /** Bluetooth addresses, as aa:bb:cc:dd:ee:ff. */
  addresses: string[];
  /** App tokens (EIDs, hex) of every window the run touched, ±1. */
  eids: string[];
  /** The apps' identity keys (hex). */
  identityKeys: string[];
  /** What foreign devices carried: beacon UUIDs, major/minor blocks, namespaces, rolling identifiers (hex or UUID form). */
  deviceIdentifiers: string[];
};

export type SimulatedStore = {
  stats(): LiveStats;
  groundTruth(): GroundTruth;
  /** Each promotion an app shows, with its latency from the advertisement that caused it. */
  onPromotion(listener: (promotion: DeliveredPromotion) => void): void;
  apps(): { kind: ShopperKind; app: VirtualApp; loyaltyBeacon?: LoyaltyBeacon; ios: boolean }[];
  /** Sightings the iOS apps reported, and how many the server refused (no presence consent). */
  sightings(): { reported: number; refused: number };
  devices(): ForeignDevice[];
  gateways(): VirtualGateway[];
  stop(): Promise<SimulationSummary>;
};

export type SimulatedStoreOptions = {
  scenario: Scenario; serverUrl: string; adminToken: string; mqttUrl: string; logger: Logger; now?: () => number;
  /**
   * Mixed into the loyalty beacons' identifiers (random by default): a beacon is linked to one shopper only,
   * and a second run on the same database registers new shoppers, so the same seed must not bring the same
   * beacons. Nothing else the run does depends on it.
   */
  runId?: string;
};

export const FIRST_NAMES = ['Giulia', 'Marco', 'Sofia', 'Luca', 'Aisha', 'Jonas', 'Chloé', 'Mateo', 'Emma', 'Noah', 'Yuki', 'Lena'];

/** Where the admin API is, and the bootstrap admin token. */
export type AdminApi = Pick<SimulatedStoreOptions, 'serverUrl' | 'adminToken'>;

/** One admin API call with the bootstrap token (or `token`); throws with the server's message on an error status. */
export async function admin<T>(options: AdminApi, method: string, path: string, body: unknown, token = options.adminToken): Promise<T> {
  const response = await fetch(`${options.serverUrl}${path}`, {
    method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as T & { error?: { message: string } };
  if (!response.ok) throw new Error(`${method} ${path} failed: HTTP ${response.status} ${json.error?.message ?? ''}`);
  return json;
}

/**
 * Puts the scenario's campaign live as a marketing team would (maker–checker, SEC-2): two API keys of
 * distinct principals, one writing and submitting the campaign and the other approving it. A campaign
 * left live by an earlier run on the same database is paused (or rejected) first, then edited.
 */
export async function launchCampaign(options: AdminApi, campaignId: string, definition: Record<string, unknown>): Promise<void> {
  const key = async (name: string) => (await admin<{ key: string }>(options, 'POST', '/v1/admin/api-keys', { name, role: 'marketer' })).key;
  const maker = await key('simulator maker');
  const checker = await key('simulator checker');
  const path = `/v1/admin/campaigns/${campaignId}`;
  const existing = await fetch(`${options.serverUrl}${path}`, { headers: { authorization: `Bearer ${maker}` } });
  const status = existing.ok ? ((await existing.json()) as { status: string }).status : undefined;
  if (status === 'ended') throw new Error(`campaign ${campaignId} has ended on this server: use a fresh data directory`);
  if (status === 'active') await admin(options, 'POST', `${path}/pause`, undefined, maker);
  if (status === 'pending') await admin(options, 'POST', `${path}/reject`, { reason: 'replaced by a new simulator run' }, maker);
  await admin(options, 'PUT', path, definition, maker);
  await admin(options, 'POST', `${path}/submit`, undefined, maker);
  await admin(options, 'POST', `${path}/approve`, undefined, checker);
}

export type Till = {
  /** Redeems a coupon (POST /v1/pos/redemptions, a fresh request ID); the outcome goes to counts(). */
  redeem(couponCode: string): void;
  /** Resolves once every redemption sent has its answer. */
  settled(): Promise<void>;
  counts(): { attempted: number; redeemed: number; refused: Record<string, number> };
};

/** A till of the store's own, with its POS device credential (POST /v1/admin/stores/:store/pos-devices). */
export async function openTill(options: AdminApi, storeId: string, logger: Logger): Promise<Till> {
  const { token } = await admin<{ deviceId: string; token: string }>(options, 'POST', `/v1/admin/stores/${storeId}/pos-devices`, { name: 'Simulated till' });
  const counts = { attempted: 0, redeemed: 0, refused: {} as Record<string, number> };
  const pending = new Set<Promise<void>>();
  return {
    redeem(couponCode) {
      counts.attempted += 1;
      const request = fetch(`${options.serverUrl}/v1/pos/redemptions`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ couponCode, requestId: randomUUID() }),
      }).then(async (response) => {
        if (response.ok) counts.redeemed += 1;
        else {
          const code = ((await response.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code ?? `HTTP ${response.status}`;
          counts.refused[code] = (counts.refused[code] ?? 0) + 1;
        }
      }, (error: Error) => logger.warn({ err: error.message }, 'a simulated till could not reach the server'));
      pending.add(request);
      void request.finally(() => pending.delete(request));
    },
    settled: async () => void (await Promise.allSettled([...pending])),
    counts: () => ({ ...counts, refused: { ...counts.refused } }),
  };
}

export async function startSimulatedStore(options: SimulatedStoreOptions): Promise<SimulatedStore> {
  const { scenario, logger } = options;
  const now = options.now ?? Date.now;
  const rng = createRng(scenario.seed);

  // 1. Provision the store (with one store iBeacon per zone, beside its gateway), its gateways and the
  //    campaign through the admin API. The store beacons are not put on the simulated air: only iOS
  //    region monitoring uses them here (by distance), and gateways would drop them as unregistered.
  const beaconRng = rng.fork('store-beacons');
  const storeBeaconUuid = randomUUIDFrom(beaconRng);
  const storeBeaconMajor = beaconRng.int(1, 65_000);
  const storeBeacons = scenario.zones.map((zone, i) => ({
    id: `sb-${zone.id}`, zoneId: zone.id, uuid: storeBeaconUuid, major: storeBeaconMajor, minor: i + 1, position: zone.gateway.position,
  }));
  await admin(options, 'PUT', `/v1/admin/stores/${scenario.store.id}`, {
    name: scenario.store.name, timezone: scenario.store.timezone, zones: scenario.zones.map((z) => ({ id: z.id, name: z.name, sensitive: z.sensitive })),
    beacons: storeBeacons.map(({ position: _position, ...beacon }) => beacon),
  });
  const credentials = [];
  for (const zone of scenario.zones) {
    const { config } = await admin<{ config: { secret: string } }>(options, 'POST', `/v1/admin/stores/${scenario.store.id}/gateways`, { id: zone.gateway.id, zoneId: zone.id, rotateSecret: true });
    credentials.push({ storeId: scenario.store.id, gatewayId: zone.gateway.id, zoneId: zone.id, secret: Buffer.from(config.secret, 'base64url') });
  }
  const { id: campaignId, zoneIds: campaignZoneIds, ...campaign } = scenario.campaign;
  await launchCampaign(options, campaignId, { ...campaign, placement: { level: 'zones', storeId: scenario.store.id, zoneIds: campaignZoneIds }, priority: 100 });

  // 2. Gateways on simulated adapters; the latency clock starts at the advertisement that caused an event.
  const causedBy = new Map<string, number>();
  const gateways = await startVirtualGateways({
    credentials, mqttUrl: options.mqttUrl, logger, now,
    onPublished: (event, causedByMs) => {
      causedBy.set(event.eventId, causedByMs);
      if (causedBy.size > 100_000) causedBy.delete(causedBy.keys().next().value!);
    },
  });
  const addressesSeen = new Set<string>();
  const radio = createVirtualRadio({
    rng: rng.fork('radio'),
    startMs: now(),
    onAddress: (_id, address) => addressesSeen.add(address),
    propagation: scenario.radio,
    receivers: scenario.zones.map((zone) => ({
      id: zone.gateway.id, position: zone.gateway.position, rssiOffsetDb: zone.gateway.rssiOffsetDb, dutyCycle: zone.gateway.dutyCycle,
      bindings: gateways.find((g) => g.id === zone.gateway.id)!.bindings,
    })),
  });

  // 3. The people.
  const p = scenario.population;
  const kinds: ShopperKind[] = [
    ...Array<ShopperKind>(p.optedInApps).fill('opted-in'), ...Array<ShopperKind>(p.presenceOnlyApps).fill('presence-only'),
    ...Array<ShopperKind>(p.withdrawingApps).fill('withdrawing'), ...Array<ShopperKind>(p.registeredWithoutConsentApps).fill('registered-no-consent'),
    ...Array<ShopperKind>(p.phonesWithoutApp).fill('phone-without-app'),
    ...Array<ShopperKind>(p.foreignBeacons).fill('foreign-beacon'),
  ];
  const startMs = now();
  const loyaltyShoppers = Math.round(p.optedInApps * p.loyaltyBeaconShare);
  // The last iosBackgroundShare of each app kind run on iOS in the background (the first opted-in carry loyalty beacons).
  const iosFrom = new Map<ShopperKind, number>();
  for (const kind of new Set(kinds)) {
    const first = kinds.indexOf(kind);
    const count = kinds.filter((k) => k === kind).length;
    iosFrom.set(kind, first + count - Math.round(count * p.iosBackgroundShare));
  }
  const runId = options.runId ?? randomUUID();
  // Every app registered so far, so that a failure part-way through closes them (their sockets would keep the process alive).
  const registered: VirtualApp[] = [];
  const settled = await Promise.allSettled(kinds.map(async (kind, i): Promise<Shopper> => {
    const own = rng.fork(`shopper:${i}`);
    const shopper: Shopper = { id: `s${i}`, kind, visit: undefined, nextVisitMs: startMs + own.next() * p.arrivalSpreadS * 1000, marketable: kind === 'opted-in' || kind === 'withdrawing' };
    if (kind === 'phone-without-app') shopper.device = foreignPhone(own, i);
    else if (kind === 'foreign-beacon') shopper.device = foreignBeacon(own, i);
    else {
      const personalised = kind === 'opted-in' && i % 2 === 0;
      const app = await registerVirtualApp({ baseUrl: options.serverUrl, now, ...(personalised ? { firstName: FIRST_NAMES[i % FIRST_NAMES.length]! } : {}) });
      registered.push(app);
      // An app registered but never given presence consent still advertises (a misbehaving or stale app): the
      // server must resolve nothing for it (CON-1).
      if (kind !== 'registered-no-consent') {
        await app.setConsent(kind === 'presence-only' ? { presence: true } : { presence: true, promotions: true, ...(personalised ? { personalisation: true } : {}) });
      }
      // The first opted-in shoppers carry a loyalty beacon; the app links it once presence is granted.
      if (kind === 'opted-in' && i < loyaltyShoppers) {
        shopper.loyaltyBeacon = loyaltyBeacon(own.fork(`loyalty-beacon:${runId}`));
        await app.linkBeacon(shopper.loyaltyBeacon.identifier);
      } else if (i >= iosFrom.get(kind)!) {
        // An iOS app asks which regions to monitor. One without presence consent that monitors (and reports)
        // anyway is a misbehaving app: the server must refuse its sightings.
        shopper.ios = { regions: await app.regions(), enteredAtS: 0 };
      }
      await app.connect();
      shopper.app = app;
    }
    return shopper;
  }));
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(registered.map((app) => app.close().catch(() => undefined)));
    throw failed.reason;
  }
  const shoppers = settled.map((result) => (result as PromiseFulfilledResult<Shopper>).value);

  // A till in the store, with its own credential: shoppers redeem some of their coupons at it.
  const till = await openTill(options, scenario.store.id, logger);
  const redemptionRng = rng.fork('redemptions');
  const redeemTimers = new Set<NodeJS.Timeout>();

  const received: { shopper: Shopper; promotion: ReceivedPromotion }[] = [];
  const promotionListeners: ((promotion: DeliveredPromotion) => void)[] = [];
  let nonConsenting = 0;
  for (const shopper of shoppers) {
    shopper.app?.onPromotion((promotion) => {
      received.push({ shopper, promotion });
      const caused = causedBy.get(promotion.eventId);
      const delivered: DeliveredPromotion = {
        title: promotion.title, zoneId: (promotion.why as { zoneId: string }).zoneId, kind: shopper.kind,
        latencyMs: caused === undefined ? undefined : promotion.receivedAtMs - caused,
      };
      for (const listener of promotionListeners) listener(delivered);
      if (redemptionRng.next() < p.redeemProbability) {
        const [minS, maxS] = p.redeemAfterS;
        const timer = setTimeout(() => {
          redeemTimers.delete(timer);
          till.redeem(promotion.couponCode);
        }, (minS + redemptionRng.next() * Math.max(0, maxS - minS)) * 1000);
        redeemTimers.add(timer);
      }
      // Issued after the withdrawal was acknowledged = a violation (one issued before and still in flight is not).
      const allowed = shopper.marketable && (shopper.promotionsWithdrawnAtMs === undefined || promotion.issuedAtMs < shopper.promotionsWithdrawnAtMs);
      if (!allowed) {
        nonConsenting += 1;
        logger.error({ kind: shopper.kind }, 'promotion reached a shopper without marketing consent');
      }
    });
  }

  const inStore = (shopper: Shopper, nowMs: number): boolean => shopper.visit !== undefined && nowMs >= shopper.visit.startMs && nowMs <= shopper.visit.endMs;
  const advertiserFor = (shopper: Shopper, own: Rng): Advertiser => {
    const position = (): Position => shopper.visit?.positionAt(radio.nowMs()) ?? scenario.door;
    const beacon = shopper.loyaltyBeacon;
    // A beacon keeps a static address; phones rotate theirs.
    // An iOS app in the background puts nothing readable on the air (ble-frames.md, "Platform limits").
    if (shopper.ios) return { id: shopper.id, position, intervalMs: p.appAdvertisingIntervalMs, txPowerAt1mDbm: -61, payload: () => undefined };
    if (beacon) return { id: shopper.id, position, intervalMs: beacon.intervalMs, txPowerAt1mDbm: beacon.txPowerAt1mDbm, payload: (nowMs) => (inStore(shopper, nowMs) ? beacon.payload() : undefined), jitterMs: own.int(5, 10) };
    return {
      id: shopper.id,
      position,
      intervalMs: shopper.app ? p.appAdvertisingIntervalMs : shopper.device!.intervalMs,
      txPowerAt1mDbm: shopper.app ? -61 : shopper.device!.txPowerAt1mDbm,
      addressRotationMs: shopper.app ? 15 * 60_000 : shopper.device!.addressRotationMs,
      payload: (nowMs) => {
        if (!inStore(shopper, nowMs)) return undefined;
        return shopper.app ? shopper.app.tokens.advertisementAt(nowMs) : shopper.device!.payload(nowMs);
      },
      jitterMs: own.int(5, 10),
    };
  };
  shoppers.forEach((shopper, i) => radio.addAdvertiser(advertiserFor(shopper, rng.fork(`advertiser:${i}`))));

  // Visits: when one ends, the next is planned after a pause.
  const visitRng = rng.fork('visits');
  const planVisits = (): void => {
    const t = now();
    for (const shopper of shoppers) {
      if (shopper.visit !== undefined && t <= shopper.visit.endMs) continue;
      if (shopper.visit !== undefined) {
        shopper.nextVisitMs = shopper.visit.endMs + (p.revisitAfterS[0] + visitRng.next() * (p.revisitAfterS[1] - p.revisitAfterS[0])) * 1000;
        shopper.visit = undefined;
      }
      if (t >= shopper.nextVisitMs) {
        shopper.visit = planVisit({ rng: visitRng, startMs: t, door: scenario.door, zones: scenario.zones, dwellS: p.dwellS, speedMps: p.walkingSpeedMps });
      }
    }
  };
  planVisits();
  const visitTimer = setInterval(planVisits, 100);

  // iOS region monitoring: an app reports 'enter' when its shopper comes within range of a store beacon
  // of a region it monitors, and 'exit' on leaving it.
  const sightings = { reported: 0, refused: 0 };
  const report = (shopper: Shopper, beacon: (typeof storeBeacons)[number], kind: 'enter' | 'exit', atS: number, dwellS: number): void => {
    sightings.reported += 1;
    shopper.app!.reportSighting({ storeId: scenario.store.id, beacon: { uuid: beacon.uuid, major: beacon.major, minor: beacon.minor }, kind, atS, dwellS }).catch((error: Error) => {
      sightings.refused += 1;
      logger.debug({ err: error.message.slice(0, 80) }, 'a simulated iOS app\'s sighting was refused');
    });
  };
  const monitorRegions = (): void => {
    const t = now();
    const atS = Math.floor(t / 1000);
    for (const shopper of shoppers) {
      if (shopper.ios === undefined) continue;
      const at = inStore(shopper, t) ? shopper.visit!.positionAt(t) : undefined;
      const monitored = storeBeacons.filter((b) => shopper.ios!.regions.some((r) => r.uuid === b.uuid && (r.major === undefined || r.major === b.major)));
      const near = at === undefined ? undefined : monitored
        .map((b) => ({ b, d: Math.hypot(b.position.x - at.x, b.position.y - at.y) }))
        .filter(({ d }) => d <= p.storeBeaconRangeM)
        .sort((x, y) => x.d - y.d)[0]?.b;
      if (near?.id === shopper.ios.beaconId) continue;
      const previous = storeBeacons.find((b) => b.id === shopper.ios!.beaconId);
      if (previous) report(shopper, previous, 'exit', atS, Math.max(0, atS - shopper.ios.enteredAtS));
      if (near) report(shopper, near, 'enter', atS, 0);
      shopper.ios.beaconId = near?.id;
      shopper.ios.enteredAtS = atS;
    }
  };
  const regionTimer = setInterval(monitorRegions, 200);
  const stopRadio = runRealtime(radio, { now, stepMs: 20 });

  // Scheduled withdrawals (CON-4 in action): after this, nothing may reach these apps.
  const withdrawTimers = shoppers.filter((s) => s.kind === 'withdrawing').map((shopper) => setTimeout(() => {
    const requestedAt = now();
    shopper.app!.setConsent({ promotions: false }).then(
      () => {
        shopper.promotionsWithdrawnAtMs = now();
        logger.info({ tookMs: now() - requestedAt }, 'a simulated shopper withdrew promotions consent');
      },
      (error: Error) => logger.error({ err: error.message }, 'withdrawal failed'),
    );
  }, p.withdrawAfterS * 1000));

  const stats = (): LiveStats => {
    const t = now();
    return {
      shoppersInStore: shoppers.filter((s) => s.visit !== undefined && t >= s.visit.startMs && t <= s.visit.endMs).length,
      advertisements: gateways.reduce((n, g) => n + g.gateway.stats().advertisements, 0),
      presenceEvents: gateways.reduce((n, g) => n + g.gateway.stats().transitions, 0),
      promotionsDelivered: received.length,
    };
  };

  let stopped: Promise<SimulationSummary> | undefined;
  let finalTruth: GroundTruth | undefined;
  const groundTruth = (): GroundTruth => {
    if (finalTruth) return finalTruth;
    const eids = new Set<string>();
    const endS = Math.floor(now() / 1000);
    for (const shopper of shoppers) {
      if (!shopper.app) continue;
      const period = 2 ** 10; // the registration default; a window either side covers any K ≤ 10
      for (let t = Math.floor(startMs / 1000) - period; t <= endS + period; t += Math.min(period, 64)) eids.add(shopper.app.tokens.eidAt(t).toString('hex'));
    }
    return {
      addresses: [...addressesSeen],
      eids: [...eids],
      identityKeys: shoppers.flatMap((s) => (s.app ? [s.app.identityKeyHex()] : [])),
      deviceIdentifiers: shoppers.flatMap((s) => [...(s.device?.identifiers() ?? []), ...(s.loyaltyBeacon?.identifiers() ?? [])]),
    };
  };

  return {
    stats,
    groundTruth,
    onPromotion: (listener) => void promotionListeners.push(listener),
    apps: () => shoppers.filter((s) => s.app).map((s) => ({ kind: s.kind, app: s.app!, ios: s.ios !== undefined, ...(s.loyaltyBeacon ? { loyaltyBeacon: s.loyaltyBeacon } : {}) })),
    sightings: () => ({ ...sightings }),
    devices: () => shoppers.flatMap((s) => (s.device ? [s.device] : [])),
    gateways: () => gateways,
    stop() {
      stopped ??= (async () => {
        clearInterval(visitTimer);
        clearInterval(regionTimer);
        withdrawTimers.forEach(clearTimeout);
        redeemTimers.forEach(clearTimeout);
        // Redemptions already at the till finish (the server is still up).
        await till.settled();
        stopRadio();
        const final = stats();
        // Taken before the apps close: closing forgets their keys, as a real app does on opt-out.
        finalTruth = groundTruth();
        await Promise.all(gateways.map((g) => g.gateway.stop()));
        await Promise.all(shoppers.map((s) => s.app?.close()));
        const latencies = received
          .map(({ promotion }) => (causedBy.has(promotion.eventId) ? promotion.receivedAtMs - causedBy.get(promotion.eventId)! : undefined))
          .filter((v): v is number => v !== undefined)
          .sort((a, b) => a - b);
        const dropped: Record<string, number> = {};
        for (const g of gateways) for (const [reason, n] of Object.entries(g.gateway.stats().dropped)) dropped[reason] = (dropped[reason] ?? 0) + n;
        const count = (kind: ShopperKind): number => shoppers.filter((s) => s.kind === kind).length;
        return {
          ...final,
          consentingShoppers: shoppers.filter((s) => s.marketable && s.promotionsWithdrawnAtMs === undefined).length,
          promotionsToNonConsenting: nonConsenting,
          redemptions: till.counts(),
          latencyMs: { p50: percentileOf(latencies, 50), p99: percentileOf(latencies, 99), max: latencies.at(-1) ?? null, samples: latencies.length },
          dropped,
          radio: radio.stats(),
          shoppers: {
            'opted-in': count('opted-in'), 'presence-only': count('presence-only'), withdrawing: count('withdrawing'),
            'registered-no-consent': count('registered-no-consent'), 'phone-without-app': count('phone-without-app'), 'foreign-beacon': count('foreign-beacon'),
          },
        };
      })();
      return stopped;
    },
  };
}
