import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { distance, pointInPolygon, polygonArea } from '#server/domain/geometry.ts';
import { openingHourIndices, parseStoreScenario, type StoreScenario } from '#simulator/world/store-scenario.ts';

const rect = (x0: number, y0: number, x1: number, y1: number) => [
  { x: x0, y: y0 },
  { x: x1, y: y0 },
  { x: x1, y: y1 },
  { x: x0, y: y1 },
];

/** The smallest valid scenario on a 40 × 30 m plan: two adjacent zones and a sensitive one further along. */
const aScenario = () => ({
  version: 2,
  name: 'Test store',
  store: { id: 'test-store', name: 'Test store', timezone: 'Europe/Rome', openingHours: { open: '10:00', close: '19:00' } },
  floorPlan: { widthM: 40, heightM: 30 },
  entrances: [{ x: 0, y: 5 }],
  zones: [
    { id: 'entrance', name: 'Entrance', polygon: rect(0, 0, 10, 10) },
    { id: 'bakery', name: 'Bakery', polygon: rect(10, 0, 20, 10) },
    { id: 'pharmacy', name: 'Pharmacy', sensitive: true, polygon: rect(30, 0, 40, 10) },
  ],
  gateways: [
    { id: 'gw-entrance', zoneId: 'entrance', position: { x: 5, y: 5 } },
    { id: 'gw-bakery', zoneId: 'bakery', position: { x: 15, y: 5 } },
  ],
  storeBeacons: [{ id: 'sb-entrance', zoneId: 'entrance', position: { x: 1, y: 1 } }],
  walkways: {
    nodes: { door: { x: 1, y: 5 }, bread: { x: 15, y: 5 }, counter: { x: 35, y: 5 } } as Record<string, { x: number; y: number }>,
    edges: [['door', 'bread'], ['bread', 'counter']] as [string, string][],
  },
  population: {
    arrivalsPerHour: 25,
    hourlyProfile: undefined as number[] | undefined,
    appShare: 0.3,
    platforms: { android: 0.6, iosForeground: 0.1, iosBackground: 0.3 },
    optIn: { presence: 0.6, promotions: 0.7, personalisation: 0.5, analytics: 0.4 },
  },
  movement: { walkingSpeedMps: { mean: 1.2 }, stopsPerVisit: [1, 3], dwellS: { medianS: 60, sigma: 0.8 } },
  environment: { spamDevices: [{ position: { x: 20, y: 20 }, advertisementsPerSecond: 100 }] },
  simulation: { startAt: '12:00', durationS: 900 } as { startAt?: string; durationS?: number },
});
type RawScenario = ReturnType<typeof aScenario>;

const problemsOf = (change: (scenario: RawScenario) => void): string[] => {
  const scenario = aScenario();
  change(scenario);
  const result = parseStoreScenario(JSON.stringify(scenario), 'store.json');
  return result.ok ? [] : result.problems;
};
const parsedOk = (change: (scenario: RawScenario) => void = () => {}): StoreScenario => {
  const scenario = aScenario();
  change(scenario);
  const result = parseStoreScenario(JSON.stringify(scenario), 'store.json');
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.scenario;
};
const shipped = (name: string): StoreScenario => {
  const result = parseStoreScenario(readFileSync(new URL(`../../../../simulator/scenarios/${name}`, import.meta.url), 'utf8'), name);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.scenario;
};
const zoneOf = (scenario: StoreScenario, id: string) => scenario.zones.find((zone) => zone.id === id);

describe('parseStoreScenario: the shipped scenarios', () => {
  it('parses the boutique: four zones, the fitting rooms sensitive and without a gateway', () => {
    const boutique = shipped('boutique.json');
    expect(boutique.zones.map((zone) => zone.id)).toEqual(['entrance', 'womenswear', 'accessories', 'fitting-rooms']);
    expect(boutique.zones.filter((zone) => zone.sensitive).map((zone) => zone.id)).toEqual(['fitting-rooms']);
    expect(boutique.gateways).toHaveLength(3);
    for (const gateway of boutique.gateways) expect(zoneOf(boutique, gateway.zoneId)?.sensitive).toBe(false);
  });

  it('parses the supermarket: 30 zones, 12 gateways each inside a distinct, non-sensitive zone', () => {
    const market = shipped('supermarket.json');
    expect(market.zones).toHaveLength(30);
    expect(market.gateways).toHaveLength(12);
    expect(new Set(market.gateways.map((gateway) => gateway.zoneId)).size).toBe(12);
    for (const gateway of market.gateways) {
      const zone = zoneOf(market, gateway.zoneId);
      expect(zone?.sensitive).toBe(false);
      expect(pointInPolygon(gateway.position, zone?.polygon ?? [])).toBe(true);
    }
    expect(market.zones.filter((zone) => zone.sensitive).map((zone) => zone.id).sort()).toEqual(['pharmacy', 'spirits', 'wine']);
    const floorM2 = market.floorPlan.widthM * market.floorPlan.heightM;
    expect(market.zones.reduce((sum, zone) => sum + polygonArea(zone.polygon), 0)).toBeGreaterThanOrEqual(0.9 * floorM2);
  });

  it('expects about 2,000 supermarket shoppers a day, peaking at 11–12 and 17–19', () => {
    const { population, store } = shipped('supermarket.json');
    const profile = population.hourlyProfile ?? [];
    const open = openingHourIndices(store.openingHours);
    expect(open).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    // The engine's rate in hour h: arrivalsPerHour × profile[h] / mean(profile over the opening hours).
    const mean = open.reduce((sum, h) => sum + (profile[h] ?? 0), 0) / open.length;
    const perDay = open.reduce((sum, h) => sum + (population.arrivalsPerHour * (profile[h] ?? 0)) / mean, 0);
    expect(perDay).toBeGreaterThan(1990);
    expect(perDay).toBeLessThan(2010);
    const busiest = [...open].sort((a, b) => (profile[b] ?? 0) - (profile[a] ?? 0)).slice(0, 3);
    expect(busiest.sort()).toEqual([11, 17, 18]);
  });

  it('reaches every supermarket zone and both entrances by walkway', () => {
    const market = shipped('supermarket.json');
    const nodes = Object.values(market.walkways?.nodes ?? {});
    for (const zone of market.zones) expect(nodes.some((node) => pointInPolygon(node, zone.polygon)), zone.id).toBe(true);
    for (const entrance of market.entrances) expect(Math.min(...nodes.map((node) => distance(node, entrance)))).toBeLessThanOrEqual(5);
  });

  it('parses the mall stress test: a crowd of foreign devices, a spammer, 15 minutes of the busiest hour', () => {
    const mall = shipped('mall-stress.json');
    expect(mall.environment).toMatchObject({ foreignDevices: 10_000, exposureNotificationShare: 0.4 });
    expect(mall.environment.spamDevices).toEqual([{ position: { x: 63, y: 27 }, advertisementsPerSecond: 200, addressPool: 50_000 }]);
    expect(mall.gateways.length).toBeGreaterThanOrEqual(8);
    expect(mall.gateways.length).toBeLessThanOrEqual(10);
    const profile = mall.population.hourlyProfile ?? [];
    expect(mall.simulation).toEqual({ startAt: `${profile.indexOf(Math.max(...profile))}:00`, durationS: 900 });
  });
});

describe('parseStoreScenario: defaults', () => {
  it('fills in every default, nested ones included', () => {
    const scenario = parsedOk((s) => {
      Object.assign(s, { storeBeacons: undefined, environment: undefined, simulation: undefined });
    });
    expect(scenario.seed).toBe(1);
    expect(scenario.store.date).toBe('2026-03-02');
    expect(scenario.zones[0]).toMatchObject({ sensitive: false, weight: 1 });
    expect(scenario.zones[0]?.dwellS).toBeUndefined();
    expect(scenario.gateways[0]).toMatchObject({ rssiOffsetDb: 0, dutyCycle: 1 });
    expect(scenario.storeBeacons).toEqual([]);
    expect(scenario.population).toMatchObject({ loyaltyBeaconShare: 0, withdrawal: { share: 0, afterS: [600, 1800] }, redeemProbability: 0.1, phonesWithoutAppPerShopper: 0.6 });
    expect(scenario.movement.walkingSpeedMps).toEqual({ mean: 1.2, sd: 0.15 });
    expect(scenario.radio).toEqual({
      pathLossExponent: 2.5,
      shadowingSigmaDb: 4,
      multipathBurstProbability: 0.1,
      multipathBurstDb: -6,
      packetLoss: 0.02,
      sensitivityDbm: -95,
      txPowerAt1mDbm: { phone: -59, beacon: -59 },
      advertisingIntervalMs: { android: 250, iosForeground: 200, beacon: 1000, foreign: 1000 },
      advertisingJitterMs: 10,
      macRotationS: 900,
    });
    expect(scenario.environment).toEqual({ foreignDevices: 0, exposureNotificationShare: 0.3, spamDevices: [] });
    expect(scenario.simulation).toEqual({});
  });

  it('keeps the other defaults when a nested object is given in part', () => {
    const scenario = parsedOk((s) => Object.assign(s, { radio: { pathLossExponent: 3, advertisingIntervalMs: { beacon: 100 } } }));
    expect(scenario.radio).toMatchObject({ pathLossExponent: 3, shadowingSigmaDb: 4, txPowerAt1mDbm: { phone: -59, beacon: -59 } });
    expect(scenario.radio.advertisingIntervalMs).toEqual({ android: 250, iosForeground: 200, beacon: 100, foreign: 1000 });
    expect(scenario.environment.spamDevices[0]?.addressPool).toBe(10_000);
  });
});

describe('parseStoreScenario: one problem, named by its path', () => {
  const cases: [string, (s: RawScenario) => void, string][] = [
    ['a duplicate zone ID', (s) => { s.zones[2]!.id = 'entrance'; }, 'zones.2.id: duplicate zone ID "entrance" (also zones.0)'],
    ['a duplicate gateway ID', (s) => { s.gateways[1]!.id = 'gw-entrance'; }, 'gateways.1.id: duplicate gateway ID "gw-entrance" (also gateways.0)'],
    ['a duplicate store beacon ID', (s) => { s.storeBeacons.push({ ...s.storeBeacons[0]!, position: { x: 2, y: 2 } }); }, 'storeBeacons.1.id: duplicate store beacon ID "sb-entrance" (also storeBeacons.0)'],
    ['a gateway in a zone that does not exist', (s) => { s.gateways[1]!.zoneId = 'dairy'; }, 'gateways.1.zoneId: no zone "dairy" in this scenario'],
    ['a store beacon in a zone that does not exist', (s) => { s.storeBeacons[0]!.zoneId = 'dairy'; }, 'storeBeacons.0.zoneId: no zone "dairy" in this scenario'],
    ['a zone vertex outside the plan', (s) => { s.zones[2]!.polygon[2] = { x: 45, y: 10 }; }, 'zones.2.polygon.2: (45, 10) is outside the 40 × 30 m floor plan'],
    ['a bow-tie zone', (s) => { s.zones[2]!.polygon = [{ x: 30, y: 0 }, { x: 40, y: 10 }, { x: 40, y: 0 }, { x: 30, y: 10 }]; }, 'zones.2.polygon: edges 0 and 2 cross'],
    ['a repeated vertex', (s) => { s.zones[1]!.polygon.splice(2, 0, { x: 20, y: 0 }); }, 'zones.1.polygon: vertices 1 and 2 are the same point (20, 0)'],
    ['the first vertex repeated at the end', (s) => { s.zones[1]!.polygon.push({ x: 10, y: 0 }); }, 'zones.1.polygon: vertices 4 and 0 are the same point (10, 0); do not repeat the first vertex at the end'],
    ['a zone without area', (s) => { s.zones[2]!.polygon = [{ x: 30, y: 0 }, { x: 35, y: 0 }, { x: 40, y: 0 }]; }, 'zones.2.polygon: encloses no area: all 3 vertices lie on one line'],
    ['overlapping zones, reported once on the later one', (s) => { s.zones[2]!.polygon = rect(15, 5, 25, 15); }, 'zones.2.polygon: overlaps zone "bakery" (zones.1)'],
    ['a gateway outside the plan', (s) => { s.gateways[0]!.position = { x: 45, y: 3 }; }, 'gateways.0.position: (45, 3) is outside the 40 × 30 m floor plan'],
    ['a store beacon outside the plan', (s) => { s.storeBeacons[0]!.position = { x: 1, y: 31 }; }, 'storeBeacons.0.position: (1, 31) is outside the 40 × 30 m floor plan'],
    ['an entrance outside the plan', (s) => { s.entrances.push({ x: -1, y: 5 }); }, 'entrances.1: (-1, 5) is outside the 40 × 30 m floor plan'],
    ['a walkway node outside the plan', (s) => { s.walkways.nodes.counter = { x: 41, y: 5 }; }, 'walkways.nodes.counter: (41, 5) is outside the 40 × 30 m floor plan'],
    ['a spam device outside the plan', (s) => { s.environment.spamDevices[0]!.position = { x: 20, y: 40 }; }, 'environment.spamDevices.0.position: (20, 40) is outside the 40 × 30 m floor plan'],
    ['a walkway edge to a missing node', (s) => { s.walkways.edges[1] = ['bread', 'till']; }, 'walkways.edges.1.1: no walkway node "till"'],
    ['a walkway edge to a node named like an object property', (s) => { s.walkways.edges[1] = ['bread', 'constructor']; }, 'walkways.edges.1.1: no walkway node "constructor"'],
    ['a walkway edge from a node to itself', (s) => { s.walkways.edges[1] = ['door', 'door']; }, 'walkways.edges.1: joins node "door" to itself'],
    ['a walkway node nobody can reach', (s) => { s.walkways.nodes['store-room'] = { x: 38, y: 28 }; }, 'walkways.nodes.store-room: not connected to the rest of the walkways'],
    ['a negative arrival rate', (s) => { s.population.arrivalsPerHour = -5; }, 'population.arrivalsPerHour: must not be negative (got -5)'],
    ['a negative hourly weight', (s) => { s.population.hourlyProfile = Array.from({ length: 24 }, (_, h) => (h === 3 ? -1 : 1)); }, 'population.hourlyProfile.3: must not be negative (got -1)'],
    ['a negative platform weight', (s) => { s.population.platforms.android = -0.1; }, 'population.platforms.android: must not be negative (got -0.1)'],
    ['platform weights that sum to 0', (s) => { s.population.platforms = { android: 0, iosForeground: 0, iosBackground: 0 }; }, 'population.platforms: the platform weights sum to 0; at least one must be positive'],
    ['a spam device that does not advertise', (s) => { s.environment.spamDevices[0]!.advertisementsPerSecond = 0; }, 'environment.spamDevices.0.advertisementsPerSecond: must be positive (got 0)'],
    ['an hourly profile of 23 hours', (s) => { s.population.hourlyProfile = Array.from({ length: 23 }, () => 1); }, 'population.hourlyProfile: Too small: expected array to have exactly 24 items'],
    [
      'arrivals but no weight while open',
      (s) => { s.population.hourlyProfile = Array.from({ length: 24 }, (_, h) => (h < 10 || h >= 19 ? 1 : 0)); },
      'population.hourlyProfile: every hour the store is open (10:00–19:00, hours 10 to 18) has weight 0, so none of the 25 arrivals per hour can come',
    ],
    ['a share above 1', (s) => { s.population.appShare = 1.5; }, 'population.appShare: must be a share from 0 to 1 (got 1.5)'],
    ['an unknown time zone', (s) => { s.store.timezone = 'Mars/Olympus'; }, 'store.timezone: unknown time zone "Mars/Olympus"'],
    ['closing before opening', (s) => { s.store.openingHours.close = '09:00'; s.simulation = {}; }, 'store.openingHours.close: close (09:00) must be after open (10:00)'],
    ['a time of day that is not HH:MM', (s) => { s.store.openingHours.open = '9:00'; }, 'store.openingHours.open: must be a time of day HH:MM, 00:00 to 23:59'],
    ['24:00', (s) => { s.store.openingHours.close = '24:00'; }, 'store.openingHours.close: must be a time of day HH:MM, 00:00 to 23:59'],
    ['a date that does not exist', (s) => Object.assign(s.store, { date: '2026-02-30' }), 'store.date: 2026-02-30 is not a real date'],
    ['month 13', (s) => Object.assign(s.store, { date: '2026-13-01' }), 'store.date: 2026-13-01 is not a real date'],
    ['a date not written YYYY-MM-DD', (s) => Object.assign(s.store, { date: '2 March 2026' }), 'store.date: must be a date YYYY-MM-DD'],
    ['a start before opening', (s) => { s.simulation.startAt = '08:00'; }, 'simulation.startAt: 08:00 is outside the opening hours 10:00–19:00'],
    ['a start at closing time', (s) => { s.simulation.startAt = '19:00'; }, 'simulation.startAt: 19:00 is outside the opening hours 10:00–19:00'],
    ['fewer stops at most than at least', (s) => { s.movement.stopsPerVisit = [5, 2]; }, 'movement.stopsPerVisit: the minimum 5 exceeds the maximum 2'],
    ['a withdrawal window that ends before it starts', (s) => Object.assign(s.population, { withdrawal: { share: 0.1, afterS: [1800, 600] } }), 'population.withdrawal.afterS: the minimum 1800 exceeds the maximum 600'],
    ['an unknown key', (s) => Object.assign(s.floorPlan, { depthM: 3 }), 'floorPlan: Unrecognized key: "depthM"'],
    ['version 1', (s) => { s.version = 1; }, 'version: Invalid input: expected 2'],
  ];

  it.each(cases)('reports %s', (_, change, problem) => {
    expect(problemsOf(change)).toEqual([`store.json: ${problem}`]);
  });

  it('reports a coordinate too large to be finite (JSON has no Infinity, but 1e999 parses to it)', () => {
    const text = JSON.stringify(aScenario()).replace('"x":5,"y":5', '"x":1e999,"y":5');
    expect(parseStoreScenario(text, 'store.json')).toEqual({ ok: false, problems: ['store.json: gateways.0.position.x: Invalid input: expected number, received Infinity'] });
  });

  it('reports text that is not JSON, naming the file', () => {
    const result = parseStoreScenario('{"version": 2,', 'store.json');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([expect.stringMatching(/^store\.json is not valid JSON: /)]);
  });

  it('reports a document that is not an object at (root)', () => {
    expect(parseStoreScenario('[]')).toEqual({ ok: false, problems: ['scenario: (root): Invalid input: expected object, received array'] });
  });

  it('accepts adjacent zones, arrivals of 0 with no weight while open, and a window that runs past closing', () => {
    parsedOk((s) => {
      s.zones[2]!.polygon = rect(20, 0, 30, 10);
      s.population.arrivalsPerHour = 0;
      s.population.hourlyProfile = Array.from({ length: 24 }, () => 0);
      s.simulation = { startAt: '18:59', durationS: 7200 };
    });
  });
});

describe('parseStoreScenario: every problem at once', () => {
  it('lists field and cross-field problems together, checking the geometry of the parts that parsed', () => {
    const problems = problemsOf((s) => {
      s.zones[0]!.name = '';
      s.zones[1]!.polygon = rect(10, 0, 20, 10).slice(0, 2); // too few vertices: no geometry check on it
      s.zones[2]!.polygon = rect(5, 5, 15, 15); // overlaps the entrance only, since the bakery did not parse
      s.gateways[1]!.zoneId = 'dairy';
      s.population.arrivalsPerHour = -1;
      s.store.timezone = 'Europe/Atlantis';
      s.walkways.edges[1] = ['bread', 'till'];
      s.walkways.nodes.counter = { x: 12, y: 12 }; // cut off by the bad edge, but connectivity is not judged past one
    });
    expect(problems).toEqual([
      'store.json: store.timezone: unknown time zone "Europe/Atlantis"',
      'store.json: zones.0.name: Too small: expected string to have >=1 characters',
      'store.json: zones.1.polygon: Too small: expected array to have >=3 items',
      'store.json: population.arrivalsPerHour: must not be negative (got -1)',
      'store.json: gateways.1.zoneId: no zone "dairy" in this scenario',
      'store.json: zones.2.polygon: overlaps zone "entrance" (zones.0)',
      'store.json: walkways.edges.1.1: no walkway node "till"',
    ]);
  });

  it('reports every node of a walkway island, leaving the larger graph as the rest', () => {
    expect(problemsOf((s) => {
      Object.assign(s.walkways.nodes, { 'store-room': { x: 38, y: 28 }, 'loading-bay': { x: 38, y: 20 } });
      s.walkways.edges.push(['store-room', 'loading-bay']);
    })).toEqual([
      'store.json: walkways.nodes.store-room: not connected to the rest of the walkways',
      'store.json: walkways.nodes.loading-bay: not connected to the rest of the walkways',
    ]);
  });

  it('reports an overlap with each earlier zone', () => {
    expect(problemsOf((s) => { s.zones[2]!.polygon = rect(5, 2, 15, 8); })).toEqual([
      'store.json: zones.2.polygon: overlaps zone "entrance" (zones.0)',
      'store.json: zones.2.polygon: overlaps zone "bakery" (zones.1)',
    ]);
  });

  it('never throws, whatever JSON it is given, and names the file in every problem', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const result = parseStoreScenario(JSON.stringify(value), 'store.json');
      expect(result.ok).toBe(false);
      if (!result.ok) for (const problem of result.problems) expect(problem.startsWith('store.json: ')).toBe(true);
    }));
  });

  it('never throws when any part of a valid scenario is replaced by junk', () => {
    const paths = (value: unknown, prefix: string[] = []): string[][] =>
      typeof value === 'object' && value !== null ? Object.entries(value).flatMap(([key, child]) => [[...prefix, key], ...paths(child, [...prefix, key])]) : [];
    const all = paths(aScenario());
    fc.assert(fc.property(fc.constantFrom(...all), fc.jsonValue(), (path, junk) => {
      const scenario = aScenario() as unknown as Record<string, unknown>;
      let parent = scenario;
      for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
      parent[path.at(-1) as string] = junk;
      const result = parseStoreScenario(JSON.stringify(scenario), 'store.json');
      if (!result.ok) expect(result.problems.length).toBeGreaterThan(0);
    }));
  });
});
