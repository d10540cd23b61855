import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { renderFloorSvg } from '../world/floor-svg.ts';
import { renderReportTable } from '../world/report-table.ts';
import { runStoreDay, type StoreDayProgress } from '../world/store-day.ts';
import type { LiveServer } from '../world/store-day-live.ts';
import type { StoreDayReport } from '../world/store-report.ts';
import { parseStoreScenario, type StoreScenario } from '../world/store-scenario.ts';

// `vicino simulate` on a store scenario (version 2): a store day on the virtual clock, scored against
// ground truth. Prints progress on stderr, the table (or JSON) on stdout, and writes the report files.

export type SimulateDayOptions = {
  scenarioText: string;
  fileName: string;
  json: boolean;
  /** Where report.json, report.txt and floor.svg go (none: stdout only). */
  outDir: string | undefined;
  seed?: number;
  durationS?: number;
  toleranceS?: number;
  minVisitS?: number;
  /** Write each gateway's radio traffic as a btsnoop capture into this directory. */
  btsnoopDir?: string;
  /** false: run the gateways on their defaults instead of calibrating them from the floor plan. */
  calibrate?: boolean;
  /** Run at the pace of the wall clock (a demo) rather than as fast as possible. */
  realtime?: boolean;
  /** Run against this server and broker, in real time (store-day-live.ts). */
  live?: LiveServer;
  logger: Logger;
  write: (text: string) => void;
  progress: (text: string) => void;
};

export class ScenarioError extends Error {
  constructor(readonly problems: string[]) {
    super(`the scenario is not valid, so the run did not start:\n  ${problems.join('\n  ')}`);
  }
}

/** Whether a scenario file is in the store-scenario format (version 2) rather than the live demo's. */
export function isStoreScenario(text: string): boolean {
  try {
    return (JSON.parse(text) as { version?: unknown }).version === 2;
  } catch {
    return false;
  }
}

const thousands = new Intl.NumberFormat('en-GB');

export function formatProgress(p: StoreDayProgress): string {
  return `[${p.localTime}] ${(p.fraction * 100).toFixed(0).padStart(3)}% · ${thousands.format(p.inStore)} in store · ${thousands.format(p.arrivals)} arrived · `
    + `${thousands.format(p.advertisements)} advertisements · ${thousands.format(p.events)} presence events · ${p.speedup.toFixed(0)}× real time\n`;
}

export async function runSimulateDay(options: SimulateDayOptions): Promise<StoreDayReport> {
  const parsed = parseStoreScenario(options.scenarioText, options.fileName);
  if (!parsed.ok) throw new ScenarioError(parsed.problems);
  const scenario: StoreScenario = {
    ...parsed.scenario,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    simulation: { ...parsed.scenario.simulation, ...(options.durationS === undefined ? {} : { durationS: options.durationS }) },
  };
  const how = options.live !== undefined ? `in real time against ${options.live.serverUrl}` : options.realtime ? 'in real time' : 'on a virtual clock';
  options.progress(`vicino: simulating ${scenario.name} (seed ${scenario.seed}) ${how}\n`);
  const report = await runStoreDay({
    scenario, logger: options.logger, onProgress: (p) => options.progress(formatProgress(p)),
    ...(options.toleranceS === undefined ? {} : { toleranceS: options.toleranceS }),
    ...(options.minVisitS === undefined ? {} : { minVisitS: options.minVisitS }),
    ...(options.btsnoopDir === undefined ? {} : { btsnoopDir: options.btsnoopDir }),
    ...(options.calibrate === undefined ? {} : { calibrate: options.calibrate }),
    ...(options.realtime ? { realtime: true } : {}),
    ...(options.live === undefined ? {} : { live: options.live }),
  });
  const table = renderReportTable(report);
  const svg = renderFloorSvg({ ...scenario.floorPlan, entrances: scenario.entrances, zones: scenario.zones, gateways: scenario.gateways }, report.heat, { title: scenario.name });
  if (options.outDir !== undefined) {
    await mkdir(options.outDir, { recursive: true });
    await writeFile(join(options.outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(options.outDir, 'report.txt'), table);
    await writeFile(join(options.outDir, 'floor.svg'), svg);
    options.progress(`vicino: wrote report.json, report.txt and floor.svg to ${options.outDir}\n`);
  }
  options.write(options.json ? `${JSON.stringify(report)}\n` : table);
  return report;
}
