import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runStoreDay } from '#simulator/world/store-day.ts';
import { hourlyRates, storeDayTimes } from '#simulator/world/store-population.ts';
import { parseStoreScenario, StoreScenarioSchema } from '#simulator/world/store-scenario.ts';

// A store day in process: the real gateway code on noble's bindings, the server's arbiter, the scoring.

const logger = pino({ level: 'silent' });
const square = (x: number, y: number, w: number, h: number) => [{ x, y }, { x: x + w, y }, { x: x + w, y: y + h }, { x, y: y + h }];

/** Two big rooms, a gateway in each, everybody with the app and consenting, plus devices that are nobody's. */
const twoRooms = (overrides: Record<string, unknown> = {}) => StoreScenarioSchema.parse({
  version: 2, name: 'two rooms', seed: 3,
  store: { id: 'two-rooms', name: 'Two rooms', timezone: 'UTC', openingHours: { open: '09:00', close: '18:00' } },
  floorPlan: { widthM: 40, heightM: 12 }, entrances: [{ x: 0, y: 6 }],
  zones: [{ id: 'left', name: 'Left', polygon: square(0, 0, 20, 12) }, { id: 'right', name: 'Right', polygon: square(20, 0, 20, 12) }],
  gateways: [{ id: 'gw-left', zoneId: 'left', position: { x: 10, y: 6 } }, { id: 'gw-right', zoneId: 'right', position: { x: 30, y: 6 } }],
  population: { arrivalsPerHour: 120, appShare: 1, platforms: { android: 1, iosForeground: 0, iosBackground: 0 }, optIn: { presence: 1, promotions: 1, personalisation: 0, analytics: 0 }, loyaltyBeaconShare: 0.3 },
  movement: { walkingSpeedMps: { mean: 1.1 }, stopsPerVisit: [1, 2], dwellS: { medianS: 120, sigma: 0.3 } },
  environment: { foreignDevices: 20 },
  simulation: { durationS: 1_800 },
  ...overrides,
});

describe('runStoreDay', () => {
  it('follows consenting shoppers through the real gateway code into the right rooms, and drops everything else on receipt', async () => {
    const report = await runStoreDay({ scenario: twoRooms(), logger });
    expect(report.population.tracked).toBeGreaterThan(20);
    expect(report.population.byPlatform.loyaltyBeacon).toBeGreaterThan(0);
    expect(report.presence.zoneAccuracy).toBeGreaterThan(0.95);
    expect(report.presence.enters.recall).toBeGreaterThan(0.5);
    // The foreign devices and the phones of people without the app never become events.
    expect(report.radio.foreignEmitted).toBeGreaterThan(0);
    expect(report.gateways.dropped['not-a-beacon']! + report.gateways.dropped['unregistered-beacon']!).toBeGreaterThan(0);
    expect(report.run.speedup).toBeGreaterThan(1);
    expect(report.heat.seconds.some((s) => s !== null && s > 0)).toBe(true);
  }, 60_000);

  it('resolves nobody without presence consent: their apps do not advertise, and nothing is scored for them', async () => {
    const report = await runStoreDay({ scenario: twoRooms({ population: { ...twoRooms().population, optIn: { presence: 0, promotions: 0, personalisation: 0, analytics: 0 } } }), logger });
    expect(report.population.arrivals).toBeGreaterThan(20);
    expect(report.population.tracked).toBe(0);
    // Only the foreign Eddystone-EID tags reach the server (a gateway cannot tell them from app tokens), and none resolves.
    expect(report.gateways.dropped.unresolved).toBe(report.gateways.events);
    expect(report.presence.zoneAccuracy).toBeNull();
  }, 60_000);
});

describe('the supermarket scenario', () => {
  it('expects about 2,000 shoppers over its opening hours', () => {
    const parsed = parseStoreScenario(readFileSync(fileURLToPath(new URL('../../../simulator/scenarios/supermarket.json', import.meta.url)), 'utf8'));
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const rates = hourlyRates(parsed.scenario, storeDayTimes(parsed.scenario));
    const expected = rates.reduce((sum, r) => sum + (r.perHour * (r.toMs - r.fromMs)) / 3_600_000, 0);
    expect(expected).toBeGreaterThan(1_990);
    expect(expected).toBeLessThan(2_010);
  });
});
