import { createEidGenerator, DEFAULT_ROTATION_EXPONENT } from '#gateway/protocol/index.ts';
import { APP_TX_POWER_AT_0M_DBM } from '../app/app-identity.ts';
import { encodeAppleContinuity, encodeEddystoneEid } from '../radio/encoders.ts';
import type { Rng } from '../rng.ts';
import { foreignBeacon, foreignPhone, loyaltyBeacon, type ForeignDevice, type LoyaltyBeacon } from '../shoppers/population.ts';
import { localToUtcMs } from './local-time.ts';
import { openingHourIndices, type StoreScenario } from './store-scenario.ts';
import { createRouter, planStoreVisit, poissonArrivals, pointInside, type HourlyRate, type PlannedVisit } from './store-visits.ts';

// The people of a store day, drawn once from the scenario and the seed: who arrives when, which app
// and consents they have, what they carry, and where they walk. Plus the devices that are not
// shoppers': fixed foreign devices and BLE spam. Pure apart from the RNG.

export type Platform = 'android' | 'iosForeground' | 'iosBackground';

export type Consents = { presence: boolean; promotions: boolean; personalisation: boolean; analytics: boolean };

export type PlannedShopper = {
  index: number;
  visit: PlannedVisit;
  /** The app, if the shopper has it: its platform and the purposes consented to. */
  app: { platform: Platform; consents: Consents; identityKey: Buffer; withdrawsAtMs: number | undefined } | undefined;
  /** A loyalty beacon the shopper carries, linked to them (only with presence consent). */
  loyaltyBeacon: LoyaltyBeacon | undefined;
  /** Phones of people without the app that advertise anyway: dropped at the gateway. */
  foreignPhones: ForeignDevice[];
};

export type FixedDevice = { id: string; position: { x: number; y: number }; device: ForeignDevice };

export type SpamDevice = { id: string; position: { x: number; y: number }; intervalMs: number; addressPool: number; payload(): Buffer };

export type StoreDayTimes = { startMs: number; openMs: number; closeMs: number; arrivalsEndMs: number; endMs: number | undefined };

export function storeDayTimes(scenario: StoreScenario): StoreDayTimes {
  const { date, timezone, openingHours } = scenario.store;
  const openMs = localToUtcMs(date, openingHours.open, timezone);
  const closeMs = localToUtcMs(date, openingHours.close, timezone);
  const startMs = scenario.simulation.startAt === undefined ? openMs : localToUtcMs(date, scenario.simulation.startAt, timezone);
  const durationMs = scenario.simulation.durationS === undefined ? undefined : scenario.simulation.durationS * 1000;
  const endMs = durationMs === undefined ? undefined : startMs + durationMs;
  return { startMs, openMs, closeMs, arrivalsEndMs: Math.min(closeMs, endMs ?? closeMs), endMs };
}

/** The arrival rate of each local hour between start and the end of arrivals: λ·w(h)/mean(w over opening hours). */
export function hourlyRates(scenario: StoreScenario, times: StoreDayTimes): HourlyRate[] {
  const { date, timezone, openingHours } = scenario.store;
  const profile = scenario.population.hourlyProfile;
  const weights = Array.from({ length: 24 }, (_, h) => (profile === undefined ? 1 : profile[h]!));
  const openHours = openingHourIndices(openingHours);
  const mean = openHours.reduce((sum, h) => sum + weights[h]!, 0) / Math.max(1, openHours.length);
  const rates: HourlyRate[] = [];
  const hourStart = (h: number): number => localToUtcMs(date, `${String(h).padStart(2, '0')}:00`, timezone);
  for (const h of openHours) {
    const fromMs = Math.max(times.startMs, times.openMs, hourStart(h));
    const toMs = Math.min(times.arrivalsEndMs, h === 23 ? times.closeMs : hourStart(h + 1));
    if (toMs > fromMs && mean > 0) rates.push({ fromMs, toMs, perHour: (scenario.population.arrivalsPerHour * weights[h]!) / mean });
  }
  return rates;
}

const chance = (rng: Rng, p: number): boolean => rng.next() < p;

export function planShoppers(scenario: StoreScenario, times: StoreDayTimes, rng: Rng): PlannedShopper[] {
  const { population, movement } = scenario;
  const route = createRouter(scenario.walkways);
  const arrivals = poissonArrivals(rng.fork('arrivals'), hourlyRates(scenario, times));
  const { android, iosForeground, iosBackground } = population.platforms;
  const platformTotal = android + iosForeground + iosBackground;
  return arrivals.map((arrivalMs, index) => {
    const own = rng.fork(`shopper:${index}`);
    const visit = planStoreVisit({
      rng: own.fork('visit'), startMs: arrivalMs, entrances: scenario.entrances, zones: scenario.zones,
      stopsPerVisit: movement.stopsPerVisit, dwellS: movement.dwellS, walkingSpeedMps: movement.walkingSpeedMps, route,
    });
    let app: PlannedShopper['app'];
    if (chance(own, population.appShare)) {
      const r = own.next() * platformTotal;
      const platform: Platform = r < android ? 'android' : r < android + iosForeground ? 'iosForeground' : 'iosBackground';
      const presence = chance(own, population.optIn.presence);
      const promotions = presence && chance(own, population.optIn.promotions);
      const consents = { presence, promotions, personalisation: promotions && chance(own, population.optIn.personalisation), analytics: presence && chance(own, population.optIn.analytics) };
      const [minS, maxS] = population.withdrawal.afterS;
      const withdrawsAtMs = promotions && chance(own, population.withdrawal.share) ? arrivalMs + (minS + own.next() * (maxS - minS)) * 1000 : undefined;
      app = { platform, consents, identityKey: own.bytes(16), withdrawsAtMs };
    }
    const carriesBeacon = app?.consents.presence === true && chance(own, population.loyaltyBeaconShare);
    const phones = Math.floor(population.phonesWithoutAppPerShopper) + (chance(own, population.phonesWithoutAppPerShopper % 1) ? 1 : 0);
    const foreignPhones = Array.from({ length: app === undefined ? phones : Math.max(0, phones - 1) }, () =>
      foreignPhone(own.fork(`phone:${index}`), chance(own, scenario.environment.exposureNotificationShare) ? 1 : 0));
    return { index, visit, app, loyaltyBeacon: carriesBeacon ? loyaltyBeacon(own.fork('beacon')) : undefined, foreignPhones };
  });
}

export function planFixedDevices(scenario: StoreScenario, rng: Rng): FixedDevice[] {
  const floor = [{ x: 0, y: 0 }, { x: scenario.floorPlan.widthM, y: 0 }, { x: scenario.floorPlan.widthM, y: scenario.floorPlan.heightM }, { x: 0, y: scenario.floorPlan.heightM }];
  return Array.from({ length: scenario.environment.foreignDevices }, (_, i) => {
    const own = rng.fork(`fixed:${i}`);
    // Half are phones (staff, passers-by), half beacons of other systems (neighbours' tags, asset trackers).
    const device = i % 2 === 0 ? foreignPhone(own, chance(own, scenario.environment.exposureNotificationShare) ? 1 : 0) : foreignBeacon(own, i >> 1);
    return { id: `fixed:${i}`, position: pointInside(own, floor, 0), device };
  });
}

export function planSpamDevices(scenario: StoreScenario, rng: Rng): SpamDevice[] {
  return scenario.environment.spamDevices.map((spam, i) => {
    const own = rng.fork(`spam:${i}`);
    // The "BLE spam" popup flood (Flipper Zero and others): Apple Continuity proximity-pairing frames with
    // random device models, a fresh random address each time from a large pool.
    return {
      id: `spam:${i}`, position: spam.position, intervalMs: 1000 / spam.advertisementsPerSecond, addressPool: spam.addressPool,
      payload: () => encodeAppleContinuity({ subtype: 0x07, payload: own.bytes(9) }),
    };
  });
}

/** The app's advertisement: an Eddystone-EID frame whose EID rotates every 2^K s (the app's own generator). */
export function appAdvertisement(identityKey: Uint8Array): { eidAt(timeS: number): Buffer; payloadAt(nowMs: number): Buffer } {
  const eid = createEidGenerator(identityKey, DEFAULT_ROTATION_EXPONENT);
  let windowS = -1;
  let frame: Buffer | undefined;
  let token: Buffer | undefined;
  const eidAt = (timeS: number): Buffer => {
    const w = Math.floor(timeS / 2 ** DEFAULT_ROTATION_EXPONENT);
    if (w !== windowS || token === undefined) {
      windowS = w;
      token = eid(timeS);
      frame = encodeEddystoneEid({ eid: token, txPowerDbm: APP_TX_POWER_AT_0M_DBM });
    }
    return token;
  };
  return {
    eidAt,
    payloadAt(nowMs) {
      eidAt(Math.floor(nowMs / 1000));
      return frame!;
    },
  };
}

/** The same day moved by shiftMs (a live run starts now, whatever the scenario's date). */
export function shiftDayTimes(times: StoreDayTimes, shiftMs: number): StoreDayTimes {
  return {
    startMs: times.startMs + shiftMs, openMs: times.openMs + shiftMs, closeMs: times.closeMs + shiftMs, arrivalsEndMs: times.arrivalsEndMs + shiftMs,
    endMs: times.endMs === undefined ? undefined : times.endMs + shiftMs,
  };
}

/** The same shopper with every planned time moved by shiftMs. */
export function shiftShopper(shopper: PlannedShopper, shiftMs: number): PlannedShopper {
  if (shiftMs === 0) return shopper;
  const { visit, app } = shopper;
  return {
    ...shopper,
    visit: {
      startMs: visit.startMs + shiftMs, endMs: visit.endMs + shiftMs,
      legs: visit.legs.map((leg) => ({ ...leg, fromMs: leg.fromMs + shiftMs, toMs: leg.toMs + shiftMs })),
      stops: visit.stops.map((stop) => ({ ...stop, arriveMs: stop.arriveMs + shiftMs, leaveMs: stop.leaveMs + shiftMs })),
    },
    app: app === undefined ? undefined : { ...app, withdrawsAtMs: app.withdrawsAtMs === undefined ? undefined : app.withdrawsAtMs + shiftMs },
  };
}
