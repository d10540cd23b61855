import { randomBytes } from 'node:crypto';
import { ScenarioSchema, type Scenario } from '#simulator/scenario.ts';

/**
 * A small, fast store for tests: two zones, every kind of shopper, everyone arriving within a second.
 * The store ID is unique per call, so runs sharing a broker (the machine's Mosquitto) never collide.
 */
export function aTestScenario(overrides: Partial<Scenario['population']> = {}, campaign: Partial<Scenario['campaign']> = {}): Scenario {
  const id = `t-${randomBytes(4).toString('hex')}`;
  return ScenarioSchema.parse({
    name: 'test store',
    seed: 7,
    store: { id, name: 'Test store', timezone: 'UTC' },
    door: { x: 0, y: 5 },
    zones: [
      { id: 'entrance', name: 'Entrance', centre: { x: 5, y: 5 }, gateway: { id: `${id}-gw-a`, position: { x: 5, y: 6 } } },
      { id: 'aisle', name: 'Aisle', centre: { x: 20, y: 5 }, gateway: { id: `${id}-gw-b`, position: { x: 20, y: 6 } } },
    ],
    radio: { pathLossExponent: 2.5, shadowingSigmaDb: 3, multipathBurstProbability: 0.1, multipathBurstDb: -6, packetLoss: 0.02 },
    population: {
      optedInApps: 4, presenceOnlyApps: 2, withdrawingApps: 0, phonesWithoutApp: 3, foreignBeacons: 3,
      arrivalSpreadS: 0.5, revisitAfterS: [2, 4], dwellS: [3, 5], walkingSpeedMps: 2, appAdvertisingIntervalMs: 100,
      ...overrides,
    },
    campaign: {
      id: 'welcome', name: 'Welcome', zoneIds: ['entrance'], trigger: { kind: 'enter' },
      message: { title: 'Welcome', body: 'Hi {{firstName}}, 10% off today.', validForS: 600 },
      caps: { perShopper: { count: 1, periodS: 3600 }, minGapS: 0, perShopperDaily: 5, cooldownS: 0 },
      ...campaign,
    },
  });
}
