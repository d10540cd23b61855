import { pino } from 'pino';
import { runStoreDay } from '../world/store-day.ts';
import { percentileOf } from '../world/presence-scoring.ts';
import { StoreScenarioSchema, type StoreScenario } from '../world/store-scenario.ts';

// The whole store day at scale, one core: N shoppers, every one with the app advertising at 4 Hz, on
// a floor of G zones with a gateway each — people walking, the radio, noble's bindings and gap.js, the
// real gateway code, the server's zone arbiter and the ground-truth scoring, on the virtual clock. It
// keeps up with real time if each virtual second takes under 1,000 ms of wall time.

export type StoreDayBenchResult = { shoppers: number; gateways: number; steadyS: number; realTimeFactor: number; p50Ms: number; p99Ms: number; maxMs: number; reportsPerS: number };

/** A floor of columns × rows zones of 20 × 15 m, a gateway at each centre, everybody in within the first two minutes. */
export function scaleScenario(shoppers: number, columns: number, rows: number, durationS: number): StoreScenario {
  const zones = [];
  const gateways = [];
  for (let c = 0; c < columns; c += 1) {
    for (let r = 0; r < rows; r += 1) {
      const id = `z-${c}-${r}`;
      const [x, y] = [c * 20, r * 15];
      zones.push({ id, name: `Zone ${c}.${r}`, polygon: [{ x, y }, { x: x + 20, y }, { x: x + 20, y: y + 15 }, { x, y: y + 15 }] });
      gateways.push({ id: `gw-${c}-${r}`, zoneId: id, position: { x: x + 10, y: y + 7.5 } });
    }
  }
  return StoreScenarioSchema.parse({
    version: 2, name: `${shoppers} shoppers × ${columns * rows} gateways`, seed: 1,
    // Doors open for two minutes (arrivals stop at closing); the run goes on past it with everybody inside.
    store: { id: 'scale', name: 'Scale', timezone: 'UTC', openingHours: { open: '08:00', close: '08:02' } },
    floorPlan: { widthM: columns * 20, heightM: rows * 15 }, entrances: [{ x: 0, y: 7.5 }], zones, gateways,
    // `shoppers` arrivals in the two minutes; long stays, so that all of them are in the store together.
    population: { arrivalsPerHour: shoppers * 30, appShare: 1, platforms: { android: 1, iosForeground: 0, iosBackground: 0 }, optIn: { presence: 1, promotions: 0.7, personalisation: 0.5, analytics: 0.4 }, phonesWithoutAppPerShopper: 0 },
    movement: { walkingSpeedMps: { mean: 1.1 }, stopsPerVisit: [4, 6], dwellS: { medianS: 600, sigma: 0.3 } },
    simulation: { durationS },
  });
}

export async function runStoreDayBench(options: { shoppers: number; columns: number; rows: number; durationS: number; print: (line: string) => void }): Promise<StoreDayBenchResult> {
  const scenario = scaleScenario(options.shoppers, options.columns, options.rows, options.durationS);
  const steps: { wallMs: number; inStore: number }[] = [];
  const report = await runStoreDay({
    scenario, logger: pino({ level: 'silent' }),
    onStep: ({ wallMs, inStore }) => void steps.push({ wallMs, inStore }),
  });
  // The steady state: the seconds with everybody in (at least 95 % of the shoppers).
  const steady = steps.filter((s) => s.inStore >= options.shoppers * 0.95);
  const wall = steady.map((s) => s.wallMs).sort((a, b) => a - b);
  const totalMs = wall.reduce((a, b) => a + b, 0);
  const result: StoreDayBenchResult = {
    shoppers: options.shoppers, gateways: options.columns * options.rows, steadyS: steady.length,
    realTimeFactor: steady.length === 0 ? 0 : (steady.length * 1000) / totalMs,
    p50Ms: percentileOf(wall, 50) ?? Number.NaN, p99Ms: percentileOf(wall, 99) ?? Number.NaN, maxMs: wall.at(-1) ?? Number.NaN,
    reportsPerS: report.radio.received / report.scenario.simulatedS,
  };
  options.print(`${report.population.arrivals.toLocaleString('en')} shoppers arrived; ${result.steadyS} virtual seconds with ≥ 95 % of ${options.shoppers.toLocaleString('en')} in the store`);
  options.print(`wall time per virtual second in that window: p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms, max ${result.maxMs.toFixed(0)} ms; ${Math.round(result.reportsPerS).toLocaleString('en')} radio reports/s through noble and the gateways`);
  options.print(`real-time factor ${result.realTimeFactor.toFixed(2)}× (≥ 1 keeps up with real time on one core): ${result.realTimeFactor >= 1 ? 'met' : 'MISSED'}`);
  return result;
}
