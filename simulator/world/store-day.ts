import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import { createGateway, identifierOf, type Gateway } from '#gateway/gateway.ts';
import type { PresenceOverrides } from '#gateway/presence/presence-tracker.ts';
import { PROTOCOL_VERSION, pseudonymise, wrapEpochKey, type IdentifierKind, type PresenceEvent } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import { createNobleScanner, type NobleLike } from '#gateway/scanner/noble-scanner.ts';
import { arbitrateZone, arbitrateZoneAt, DEFAULT_ARBITER_CONFIG, zoneStateDueAtMs, type ArbiterConfig, type ZoneState } from '#server/domain/zone-arbiter.ts';
import { createSimulatedBindings, type SimulatedBindings } from '../noble-bindings.ts';
import { createBtsnoopWriter, recordBindings } from '../radio/btsnoop-writer.ts';
import { createVirtualRadio, randomAddress, type Advertiser } from '../radio/virtual-radio.ts';
import { createRng } from '../rng.ts';
import { calibrateGateway, type GatewayCalibration } from './calibration.ts';
import { createZoneIndex } from '#server/domain/geometry.ts';
import { localClock } from './local-time.ts';
import { createPresenceScorer, type ScoredShopper, type Transition } from './presence-scoring.ts';
import { createHeat } from './heat-grid.ts';
import type { StoreDayReport } from './store-report.ts';
import type { StoreScenario } from './store-scenario.ts';
import type { VirtualApp } from '../app/virtual-app.ts';
import { openLiveStore, type LiveServer, type RegionState } from './store-day-live.ts';
import { appAdvertisement, planFixedDevices, planShoppers, planSpamDevices, shiftDayTimes, shiftShopper, storeDayTimes, type PlannedShopper } from './store-population.ts';
import { createPositionCursor } from './store-visits.ts';

// A store day on a virtual clock: the scenario's people walk, their devices advertise on the simulated
// air, and the real gateway code hears them through noble's bindings (noble's gap.js, the gateway's
// scanner tap, decode, pseudonyms, presence). Each event a gateway publishes goes to the server's zone
// arbiter (the same pure function the server runs on every event), and the arbitrated zone is scored
// against where each shopper truly stood. Time is the radio's virtual clock: a day runs in seconds.
// Resolution stands in for the server's resolver: the run knows which pseudonym is whose, and resolves
// only shoppers with presence consent, as the resolver does.

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings') as (bindings: unknown) => NobleLike;

export type StoreDayProgress = { localTime: string; fraction: number; inStore: number; arrivals: number; advertisements: number; events: number; speedup: number };

export type StoreDayOptions = {
  scenario: StoreScenario;
  logger: Logger;
  /** Seconds either side within which a detection counts as on time (default 10). */
  toleranceS?: number;
  /** Shortest stay in a zone that counts as a visit (default 20 s). */
  minVisitS?: number;
  flapWindowS?: number;
  /** Gateway presence tuning over the defaults (the same overrides the server can push). */
  presence?: PresenceOverrides;
  /**
   * Calibrate each gateway without settings of its own from the floor plan (calibration.ts), as an
   * installer would; false runs them on the defaults (or `presence`). Default true.
   */
  calibrate?: boolean;
  arbiter?: ArbiterConfig;
  /** Heat cells visited by fewer shoppers than this are suppressed (default 5). */
  minHeatShoppers?: number;
  onProgress?: (progress: StoreDayProgress) => void;
  /**
   * Diagnostics for developers tuning presence: each scored shopper's true zones and detected
   * transitions as they are scored. Never part of a report (reports are aggregates only).
   */
  onScored?: (trace: ScoredShopper & { index: number }) => void;
  /**
   * A directory to write each gateway's radio traffic to, as a btsnoop capture (<gateway>.btsnoop, what
   * its controller reported to noble). A store day is gigabytes: capture a window (--duration).
   */
  btsnoopDir?: string;
  /** Pace the virtual clock by the wall clock (a demo to watch) instead of running as fast as it can. */
  realtime?: boolean;
  /**
   * Run against this server and broker, in real time from now: provisioned through the admin API, the
   * gateways publishing to the broker, the apps on the shopper API (store-day-live.ts). Presence is still
   * scored here, on the same events, through the same arbiter; the report adds the promotions.
   */
  live?: LiveServer;
  /** Each virtual second: its time, the wall time it took (ms) and the shoppers in the store (benchmarks). */
  onStep?: (step: { virtualMs: number; wallMs: number; inStore: number }) => void;
};

type Tracked = {
  shopper: PlannedShopper;
  position: (nowMs: number) => { x: number; y: number } | undefined;
  startS: number;
  truth: (string | null)[];
  transitions: Transition[];
  zoneState: ZoneState | undefined;
  dueAtMs: number | null;
  advertisers: string[];
  /** What the shopper's devices are identified by now (token of this window, beacon): re-pseudonymised when a key arrives. */
  identifiers: Map<string, { kind: IdentifierKind; bytes: Buffer }>;
  /** Live: the shopper's app on the server's API, once registered; and when promotions were withdrawn. */
  app?: VirtualApp;
  withdrawnAtMs?: number;
  withdrawing?: boolean;
  /** Live, an iOS app in the background: its region monitoring. */
  regions?: RegionState;
  /** Followed by the radio system and scored: presence consent and something that advertises. */
  scored: boolean;
};

const STEP_MS = 1_000;
/** In real time the radio advances in steps this long, ms. */
const REALTIME_STEP_MS = 20;
/** How long after a shopper left the arbiter may still be settling (exit timeout, tick, hold). */
const SETTLE_MS = 60_000;

export async function runStoreDay(options: StoreDayOptions): Promise<StoreDayReport> {
  const { scenario, logger } = options;
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const toleranceS = options.toleranceS ?? 10;
  const minVisitS = options.minVisitS ?? 20;
  const arbiter = options.arbiter ?? DEFAULT_ARBITER_CONFIG;
  const rng = createRng(scenario.seed);
  const planned = storeDayTimes(scenario);
  // Live, the day starts now (the server and the apps run on real time): every planned time moves with it.
  const shiftMs = options.live === undefined ? 0 : Date.now() - planned.startMs;
  const times = shiftDayTimes(planned, shiftMs);
  const shoppers = planShoppers(scenario, planned, rng.fork('people')).map((shopper) => shiftShopper(shopper, shiftMs));
  const zoneIndex = createZoneIndex(scenario.zones);
  const realtime = options.realtime === true || options.live !== undefined;
  const redemptionRng = rng.fork('redemptions');
  const live = options.live === undefined ? undefined : await openLiveStore(scenario, options.live, logger, () => redemptionRng.next(), rng.fork('store-beacons'));

  // Keys, as the server would issue them: one epoch key for the day and a secret per gateway (live: the
  // server's, unwrapped from each gateway's config as they come). The run knows whose each pseudonym is.
  const keyRng = rng.fork('keys');
  const epochKeys: Buffer[] = [];
  const keyId = 'sim-day';
  const owners = new Map<string, number>();
  const tracked = new Map<number, Tracked>();
  const identify = (t: Tracked, slot: string, kind: IdentifierKind, bytes: Buffer): void => {
    t.identifiers.set(slot, { kind, bytes });
    for (const key of epochKeys) owners.set(pseudonymise(key, kind, bytes), t.shopper.index);
  };
  const addKey = (key: Buffer): void => {
    if (epochKeys.some((known) => known.equals(key))) return;
    epochKeys.push(key);
    for (const t of tracked.values()) for (const { kind, bytes } of t.identifiers.values()) owners.set(pseudonymise(key, kind, bytes), t.shopper.index);
  };
  const beaconIdentifier = (beacon: NonNullable<PlannedShopper['loyaltyBeacon']>) => identifierOf(decodeAdvertisement(beacon.payload()).frames[0]!)!;
  if (live === undefined) addKey(keyRng.bytes(32));
  const registeredBeacons = live !== undefined ? [] : shoppers.flatMap((shopper) => {
    if (shopper.loyaltyBeacon === undefined) return [];
    const id = beaconIdentifier(shopper.loyaltyBeacon);
    return [pseudonymise(epochKeys[0]!, id.kind, id.bytes)];
  });

  // Gateways: the real pipeline on noble with simulated bindings, ticking on the virtual clock.
  const ticks: (() => void)[] = [];
  const bindings = new Map<string, SimulatedBindings>(scenario.gateways.map((g) => [g.id, createSimulatedBindings()]));
  const captures: WriteStream[] = [];
  if (options.btsnoopDir !== undefined) {
    await mkdir(options.btsnoopDir, { recursive: true });
    for (const [id, gatewayBindings] of bindings) {
      const file = createWriteStream(join(options.btsnoopDir, `${id}.btsnoop`));
      captures.push(file);
      recordBindings(gatewayBindings, createBtsnoopWriter((chunk) => void file.write(chunk)), () => radio.nowMs());
    }
  }
  const radio = createVirtualRadio({
    rng: rng.fork('radio'), startMs: times.startMs, propagation: scenario.radio,
    receivers: scenario.gateways.map((g) => ({ id: g.id, position: g.position, rssiOffsetDb: g.rssiOffsetDb, dutyCycle: g.dutyCycle, bindings: bindings.get(g.id)! })),
  });
  const now = (): number => radio.nowMs();
  const events: PresenceEvent[] = [];
  const causedBy = new Map<string, number>();
  const gateways: Gateway[] = [];
  const calibration = scenario.gateways.map((g): GatewayCalibration | undefined => {
    if (g.presence !== undefined || options.calibrate === false) return undefined;
    const zone = scenario.zones.find((z) => z.id === g.zoneId)!;
    return calibrateGateway(g, zone.polygon, scenario.floorPlan, { pathLossExponent: scenario.radio.pathLossExponent, txPowerAt1mDbm: scenario.radio.txPowerAt1mDbm.phone });
  });
  for (const [i, g] of scenario.gateways.entries()) {
    const secret = live?.secretOf(g.id) ?? keyRng.bytes(32);
    const gatewayLogger = logger.child({ component: 'gateway', gatewayId: g.id });
    const publisher = live?.publisher(g.id, gatewayLogger, now, addKey) ?? createMemoryPublisher();
    const gateway = createGateway({
      scanner: createNobleScanner({ noble: withBindings(bindings.get(g.id)), now, watchdogMs: 0 }),
      publisher, logger: gatewayLogger, now,
      settings: { storeId: scenario.store.id, gatewayId: g.id, zoneId: g.zoneId, secret, presence: { ...options.presence, ...calibration[i]?.presence, ...g.presence } },
      onPublished: (event, causedByMs) => {
        events.push(event);
        if (live === undefined) return;
        causedBy.set(event.eventId, causedByMs);
        if (causedBy.size > 100_000) causedBy.delete(causedBy.keys().next().value!);
      },
      every: (_intervalMs, task) => {
        ticks.push(task);
        return () => ticks.splice(ticks.indexOf(task), 1);
      },
    });
    await gateway.start();
    gateways.push(gateway);
    if (live !== undefined) continue; // its config, with the server's keys, comes over the broker
    gateway.applyConfig({
      v: PROTOCOL_VERSION, storeId: scenario.store.id, gatewayId: g.id, zoneId: g.zoneId, issuedAtS: Math.floor(times.startMs / 1000),
      epochKeys: [{ keyId, wrapped: wrapEpochKey(secret, g.id, keyId, epochKeys[0]!), notBeforeS: Math.floor(times.startMs / 1000) - 3_600, notAfterS: Math.floor(times.startMs / 1000) + 2 * 86_400 }],
      registeredBeacons: registeredBeacons as PresenceEvent['pseudonym'][],
    });
  }
  if (live !== undefined) await untilConfigured(gateways);

  // The devices that are nobody's shopper, on the air all day.
  const tx = scenario.radio.txPowerAt1mDbm;
  const interval = scenario.radio.advertisingIntervalMs;
  const jitterMs = scenario.radio.advertisingJitterMs;
  const counted = { foreign: 0, spam: 0 };
  for (const fixed of planFixedDevices(scenario, rng.fork('fixed'))) {
    radio.addAdvertiser({
      id: fixed.id, position: () => fixed.position, intervalMs: fixed.device.intervalMs, jitterMs, txPowerAt1mDbm: fixed.device.txPowerAt1mDbm,
      payload: (t) => fixed.device.payload(t), ...(fixed.device.addressRotationMs ? { addressRotationMs: fixed.device.addressRotationMs } : {}),
      onEmit: () => void (counted.foreign += 1),
    });
  }
  for (const spam of planSpamDevices(scenario, rng.fork('spam'))) {
    const pool = rng.fork(`${spam.id}:addresses`);
    const addresses = new Map<number, string>();
    radio.addAdvertiser({
      id: spam.id, position: () => spam.position, intervalMs: spam.intervalMs, jitterMs: 0, txPowerAt1mDbm: tx.phone, payload: () => spam.payload(),
      addressAt: () => {
        const slot = pool.int(0, spam.addressPool - 1);
        let address = addresses.get(slot);
        if (address === undefined) addresses.set(slot, (address = randomAddress(pool, 'static')));
        return address;
      },
      onEmit: () => void (counted.spam += 1),
    });
  }

  // The shoppers' own devices, while they are in the store.
  const addShopperDevices = (tracked: Tracked): void => {
    const { shopper, position } = tracked;
    const at = (): { x: number; y: number } => position(radio.nowMs()) ?? shopper.visit.legs.at(-1)?.to ?? scenario.entrances[0]!;
    const add = (advertiser: Omit<Advertiser, 'position' | 'jitterMs'>): void => {
      radio.addAdvertiser({ ...advertiser, position: at, jitterMs });
      tracked.advertisers.push(advertiser.id);
    };
    const app = shopper.app;
    if (app?.consents.presence && app.platform !== 'iosBackground') {
      // Live, the registered app's own tokens (derived with the server's resolver key); else the planned identity key.
      const advertisement = tracked.app === undefined ? appAdvertisement(app.identityKey) : { eidAt: (s: number) => tracked.app!.tokens.eidAt(s), payloadAt: (ms: number) => tracked.app!.tokens.advertisementAt(ms) };
      let windowToken = '';
      add({
        id: `app:${shopper.index}`, intervalMs: interval[app.platform], txPowerAt1mDbm: tx.phone, addressRotationMs: scenario.radio.macRotationS * 1000,
        payload: (t) => {
          const token = advertisement.eidAt(Math.floor(t / 1000));
          // What the server's resolver does with the identity key: know this window's token as the shopper's.
          if (token.toString('hex') !== windowToken) {
            windowToken = token.toString('hex');
            identify(tracked, 'token', 'eddystone-eid', token);
          }
          return advertisement.payloadAt(t);
        },
      });
    }
    if (shopper.loyaltyBeacon !== undefined) {
      const beacon = shopper.loyaltyBeacon;
      const id = beaconIdentifier(beacon);
      identify(tracked, 'beacon', id.kind, id.bytes);
      add({ id: `beacon:${shopper.index}`, intervalMs: interval.beacon, txPowerAt1mDbm: tx.beacon, payload: () => beacon.payload() });
    }
    shopper.foreignPhones.forEach((phone, i) => add({
      id: `phone:${shopper.index}:${i}`, intervalMs: phone.intervalMs, txPowerAt1mDbm: phone.txPowerAt1mDbm, payload: (t) => phone.payload(t),
      ...(phone.addressRotationMs ? { addressRotationMs: phone.addressRotationMs } : {}), onEmit: () => void (counted.foreign += 1),
    }));
  };

  // The server's side: resolve, then arbitrate the shopper's zone.
  const counts = { events: 0, unresolved: 0 };
  const apply = (event: PresenceEvent): void => {
    counts.events += 1;
    const owner = owners.get(event.pseudonym);
    const t = owner === undefined ? undefined : tracked.get(owner);
    if (t === undefined || !t.shopper.app?.consents.presence) {
      counts.unresolved += 1;
      return;
    }
    const result = arbitrateZone(t.zoneState, { eventId: event.eventId, zoneId: event.zoneId, kind: event.kind, proximity: event.proximity, atMs: event.atS * 1000 }, arbiter);
    t.zoneState = result.state;
    t.dueAtMs = zoneStateDueAtMs(result.state, arbiter);
    for (const transition of result.transitions) t.transitions.push({ kind: transition.kind, zoneId: transition.zoneId, atMs: transition.atMs });
  };
  const drainEvents = (): void => {
    for (const event of events.splice(0)) apply(event);
  };

  // Ground truth and heat, sampled every second.
  const instrumented = new Set(scenario.gateways.map((g) => g.zoneId));
  const scorer = createPresenceScorer({ toleranceS, minVisitS, flapWindowS: options.flapWindowS ?? 60, instrumented });
  const heat = createHeat(scenario.floorPlan.widthM, scenario.floorPlan.heightM, options.minHeatShoppers ?? 5);
  const occupancyS = new Map<string, number>();
  const population = { arrivals: 0, withApp: 0, byPlatform: { android: 0, iosForeground: 0, iosBackground: 0, loyaltyBeacon: 0 }, consented: { presence: 0, promotions: 0, personalisation: 0, analytics: 0 }, tracked: 0, trackedHours: 0, withdrew: 0 };

  const finish = (t: Tracked): void => {
    for (const id of t.advertisers) radio.removeAdvertiser(id);
    tracked.delete(t.shopper.index);
    if (t.app !== undefined) void t.app.close().catch(() => undefined);
    if (!t.scored) return;
    population.trackedHours += (t.shopper.visit.endMs - t.shopper.visit.startMs) / 3_600_000;
    scorer.add({ startS: t.startS, truth: t.truth, transitions: t.transitions });
    options.onScored?.({ index: t.shopper.index, startS: t.startS, truth: t.truth, transitions: t.transitions });
  };

  let nextArrival = 0;
  const endMs = times.endMs ?? times.closeMs + 3 * 3_600_000;
  const totalMs = Math.max(1, (times.endMs ?? times.closeMs) - times.startMs);
  let lastProgressWall = performance.now();
  let yieldAt = times.startMs;
  /** Real time: waits until the wall clock reaches the virtual time atMs, so nothing is heard before it happens. */
  const untilWall = async (atMs: number): Promise<void> => {
    const aheadMs = atMs - times.startMs - (performance.now() - wallStart);
    if (aheadMs > 0) await new Promise((resolve) => setTimeout(resolve, aheadMs));
  };
  for (let nowMs = times.startMs; nowMs <= endMs; nowMs += STEP_MS) {
    if (realtime) {
      // The air in small steps, each once its time has come, so an advertisement is heard when it is sent.
      for (let subMs = nowMs - STEP_MS + REALTIME_STEP_MS; subMs < nowMs; subMs += REALTIME_STEP_MS) {
        await untilWall(subMs);
        radio.advance(subMs);
        drainEvents();
      }
      await untilWall(nowMs);
    }
    const stepStarted = options.onStep === undefined ? 0 : performance.now();
    while (nextArrival < shoppers.length && shoppers[nextArrival]!.visit.startMs <= nowMs) {
      const shopper = shoppers[nextArrival++]!;
      const app = shopper.app;
      const t: Tracked = {
        shopper, position: createPositionCursor(shopper.visit), startS: Math.ceil(shopper.visit.startMs / 1000), truth: [], transitions: [],
        zoneState: undefined, dueAtMs: null, advertisers: [], identifiers: new Map(),
        scored: app?.consents.presence === true && (app.platform !== 'iosBackground' || shopper.loyaltyBeacon !== undefined),
      };
      tracked.set(shopper.index, t);
      population.arrivals += 1;
      if (app !== undefined) {
        population.withApp += 1;
        population.byPlatform[app.platform] += 1;
        for (const purpose of ['presence', 'promotions', 'personalisation', 'analytics'] as const) if (app.consents[purpose]) population.consented[purpose] += 1;
        if (app.withdrawsAtMs !== undefined && app.withdrawsAtMs < shopper.visit.endMs) population.withdrew += 1;
      }
      if (shopper.loyaltyBeacon !== undefined) population.byPlatform.loyaltyBeacon += 1;
      if (t.scored) population.tracked += 1;
      if (live === undefined || app === undefined) addShopperDevices(t);
      else {
        // Live: the app registers and consents through the API first; its devices go on the air once it has.
        live.openApp(shopper, Date.now).then((opened) => {
          t.app = opened;
          opened.onPromotion((promotion) => {
            const allowed = app.consents.promotions && (t.withdrawnAtMs === undefined || promotion.issuedAtMs < t.withdrawnAtMs);
            live.shown(promotion, causedBy.get(promotion.eventId), allowed);
          });
          if (app.platform === 'iosBackground' && app.consents.presence) {
            void opened.regions().then((regions) => void (t.regions = { regions, beaconId: undefined, enteredAtS: 0 }), (error: Error) => logger.warn({ err: error.message }, 'a simulated iOS app could not read its regions'));
          }
          if (tracked.has(shopper.index)) addShopperDevices(t);
        }, (error: Error) => logger.error({ err: error.message }, 'a simulated app could not register; its shopper goes unseen'));
      }
    }
    if (live !== undefined) {
      for (const t of tracked.values()) {
        const at = t.shopper.app?.withdrawsAtMs;
        if (t.app !== undefined && t.regions !== undefined) live.monitorRegions(t.app, t.regions, t.position(nowMs), nowMs);
        if (t.app === undefined || at === undefined || at > nowMs || t.withdrawing) continue;
        t.withdrawing = true;
        void live.withdraw(t.app!).then(() => void (t.withdrawnAtMs = Date.now()), (error: Error) => logger.error({ err: error.message }, 'a scheduled withdrawal failed'));
      }
    }
    radio.advance(nowMs);
    for (const tick of ticks) tick();
    drainEvents();
    for (const t of tracked.values()) {
      if (t.zoneState !== undefined && t.dueAtMs !== null && t.dueAtMs <= nowMs) {
        const result = arbitrateZoneAt(t.zoneState, nowMs, arbiter);
        t.zoneState = result.state;
        t.dueAtMs = zoneStateDueAtMs(result.state, arbiter);
        for (const transition of result.transitions) t.transitions.push({ kind: transition.kind, zoneId: transition.zoneId, atMs: transition.atMs });
      }
      const s = Math.floor(nowMs / 1000);
      const p = s >= t.startS ? t.position(s * 1000) : undefined;
      if (p !== undefined) {
        const zoneId = zoneIndex.zoneAt(p) ?? null;
        t.truth[s - t.startS] = zoneId;
        heat.add(p, t.shopper.index);
        if (zoneId !== null) occupancyS.set(zoneId, (occupancyS.get(zoneId) ?? 0) + 1);
      } else if (nowMs > t.shopper.visit.endMs) {
        // Gone: stop its devices now, score it once the system has had time to notice.
        if (t.advertisers.length > 0) {
          for (const id of t.advertisers) radio.removeAdvertiser(id);
          t.advertisers = [];
        }
        if (nowMs - t.shopper.visit.endMs >= SETTLE_MS && (t.zoneState?.current == null || nowMs - t.shopper.visit.endMs >= arbiter.staleMs + SETTLE_MS)) finish(t);
      }
    }
    options.onStep?.({ virtualMs: nowMs, wallMs: performance.now() - stepStarted, inStore: tracked.size });
    if (times.endMs === undefined && nowMs >= times.closeMs && nextArrival >= shoppers.length && tracked.size === 0) break;
    if (nowMs - yieldAt >= 60_000 || realtime) {
      yieldAt = nowMs;
      await new Promise((resolve) => setImmediate(resolve));
      // Virtual time outruns the disk: let the captures drain before going on.
      for (const file of captures) if (file.writableNeedDrain) await once(file, 'drain');
      if (options.onProgress && performance.now() - lastProgressWall >= 1_000) {
        lastProgressWall = performance.now();
        options.onProgress({
          localTime: localClock(nowMs, scenario.store.timezone), fraction: Math.min(1, (nowMs - times.startMs) / totalMs), inStore: tracked.size,
          arrivals: nextArrival, advertisements: radio.stats().emitted, events: counts.events, speedup: (nowMs - times.startMs) / (performance.now() - wallStart),
        });
      }
    }
  }
  // Closing: gateways stop (their open presences exit), and everyone still tracked is scored.
  const closedMs = radio.nowMs();
  for (const gateway of gateways) await gateway.stop();
  drainEvents();
  for (const t of [...tracked.values()]) finish(t);
  const promotions = await live?.report();
  await Promise.all(captures.map((file) => new Promise((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve(undefined))))));

  const wallMs = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuStart);
  const simulatedS = (closedMs - times.startMs) / 1000;
  const { presence, visits } = scorer.result(population.trackedHours);
  const gatewayStats = gateways.map((g) => g.stats());
  const dropped: Record<string, number> = { unresolved: counts.unresolved };
  for (const stats of gatewayStats) for (const [reason, n] of Object.entries(stats.dropped)) dropped[reason] = (dropped[reason] ?? 0) + n;
  const radioStats = radio.stats();
  logger.info({ simulatedS, wallMs: Math.round(wallMs), events: counts.events }, 'store day simulated');
  return {
    scenario: {
      name: scenario.name, seed: scenario.seed, storeId: scenario.store.id, date: scenario.store.date, timezone: scenario.store.timezone,
      startLocal: localClock(times.startMs, scenario.store.timezone), simulatedS,
    },
    run: { clock: realtime ? 'real' : 'virtual', wallMs, speedup: (simulatedS * 1000) / wallMs, cpuMs: (cpu.user + cpu.system) / 1000 },
    population,
    radio: {
      emitted: radioStats.emitted, received: radioStats.delivered, lost: radioStats.lost,
      byGateway: Object.fromEntries(scenario.gateways.map((g, i) => [g.id, gatewayStats[i]!.advertisements])), foreignEmitted: counted.foreign, spamEmitted: counted.spam,
    },
    gateways: { advertisements: gatewayStats.reduce((sum, s) => sum + s.advertisements, 0), dropped, events: counts.events },
    calibration: calibration.flatMap((c) => (c === undefined ? [] : [c])),
    presence,
    zones: scenario.zones.map((zone) => ({
      id: zone.id, name: zone.name, sensitive: zone.sensitive, instrumented: instrumented.has(zone.id),
      truthVisits: visits.get(zone.id)?.truth ?? 0, detectedVisits: visits.get(zone.id)?.detected ?? 0, occupancyS: occupancyS.get(zone.id) ?? 0,
    })),
    heat: heat.grid(),
    ...(promotions === undefined ? {} : { promotions }),
  };
}

/** Live: waits for every gateway's config (its epoch keys) from the broker. */
async function untilConfigured(gateways: readonly Gateway[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (gateways.some((g) => g.stats().liveKeys === 0)) {
    if (Date.now() > deadline) throw new Error(`gateways received no epoch key within ${timeoutMs} ms: is the server connected to the same broker (MQTT_URL)?`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
