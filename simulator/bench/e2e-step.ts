import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpuShareSince, SHOPPER_REUSE_MS } from './e2e-load-protocol.ts';
import { cpuBetween, sampleCpu, type MachineCpu } from './machine-cpu.ts';
import type { BenchStack } from './e2e-stack.ts';
import { topTimings } from './timed-store.ts';

// One step of the end-to-end bench (e2e-bench.ts): have the load process offer a rate of presence
// events for a while, with a progress line a second, then drain, and count what the server processed,
// what it did with it, where its Store time went, and how late the server's event loop ran meanwhile.
// The server's figures are read here, in its own process; the gateways' (published, present) are asked
// of the load process.

export { SHOPPER_REUSE_MS };

export type LatencySummary = { p50: number; p99: number; max: number; samples: number };

export type E2eStepResult = {
  offeredPerSec: number;
  publishedPerSec: number;
  ingestedPerSec: number;
  /** Events the gateways published in this step (until the drain ended). */
  published: number;
  /** Of those, events the server had not processed by the end of the drain (drainLimitMs): lost, or a backlog still queued. */
  lostEvents: number;
  enters: number;
  promotions: number;
  lostPromotions: number;
  /** Advertisement → app. */
  latencyMs: LatencySummary | undefined;
  /** Advertisement → the server's decision (the promotion's issue time). */
  decisionMs: LatencySummary | undefined;
  /** Mean server time per presence message (vicino_ingest_seconds), ms. */
  ingestMeanMs: number;
  /** Server time in the Store per processed message, ms, and the methods that took most of it (timed-store.ts). */
  storeMsPerEvent: number;
  storeProfile: string[];
  /** Outcomes of the step's messages other than 'sent' and 'no-campaign' (the exits). */
  otherOutcomes: Record<string, number>;
  /** Messages of other stores on a shared broker that the server received and rejected meanwhile (not counted as ingested). */
  foreign: number;
  drainMs: number;
  /**
   * The server process's event-loop delay during the step (and its drain), p99 ms. The server (and, on the
   * embedded stack, aedes, as `npm start` runs it) has this process to itself: the gateways and apps are in the load process.
   */
  loopDelayP99Ms: number;
  /** The load process's event-loop delay over the same time, p99 ms: high, and the generator, not the server, may be what lags. */
  loadLoopDelayP99Ms: number;
  /**
   * CPU time (user + system) of the server process and of the load process over the step and its drain, as
   * shares of one core. On a 2-vCPU VM the two compete (besides anything else running): when both vCPUs are
   * busy each may run slower, which shows in the server's Store and ingest times.
   */
  serverCpuShare: number;
  loadCpuShare: number;
  /**
   * The whole machine over the step (without its drain): how busy its cores were and which commands
   * (node, postgres, mosquitto, …) used them; undefined where /proc cannot be read.
   */
  machineCpu?: MachineCpu | undefined;
  sustained: boolean;
  /** Visits the bench could not start for want of a free shopper (the generator, not Vicino, was short). */
  generatorShort: number;
};

/** The first part of a step, until exits flow as steadily as enters, is left out of the rates. */
const WARMUP_MS = 1_500;
/**
 * A steady window needs about a second left in the step; a progress tick comes a little late (the timer,
 * the metrics read, the load process's answer), so "about" allows this much. Without it a 3 s step's tick at
 * 2 s never qualified, and the whole step, ramp included, was the window.
 */
const TICK_SLACK_MS = 100;
const DRAIN_SUSTAINED_MS = 3_000;
export const DEFAULT_DRAIN_LIMIT_MS = 15_000;
/** Outcomes this bench's own events cannot have: status messages, and other stores' messages on a shared broker. */
const FOREIGN = new Set(['status', 'unknown-gateway', 'rejected-topic', 'rejected-schema', 'rejected-mismatch', 'forged']);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type StepCounts = Omit<E2eStepResult, 'published' | 'enters' | 'promotions' | 'lostPromotions' | 'latencyMs' | 'decisionMs' | 'loadLoopDelayP99Ms' | 'loadCpuShare'> & { processedInStep: number };

export async function runStep(
  stack: BenchStack, step: number, offeredPerSec: number, stepMs: number, drainLimitMs: number, print: (line: string) => void, signal?: AbortSignal,
): Promise<StepCounts> {
  const metrics = stack.server.metrics;
  const outcomes = async (): Promise<Map<string, number>> => new Map((await metrics.presence.get()).values.map((v) => [String(v.labels.outcome), v.value]));
  // On a shared broker the server also hears other stores' traffic (other runs, other tests): it rejects
  // those before any Store write but the resolver's, and they are not this bench's events.
  const processedOf = (m: Map<string, number>): number => [...m].reduce((sum, [outcome, n]) => (FOREIGN.has(outcome) ? sum : sum + n), 0);
  const foreignOf = (m: Map<string, number>): number => [...m].reduce((sum, [outcome, n]) => (FOREIGN.has(outcome) && outcome !== 'status' ? sum + n : sum), 0);
  const ingestTime = async (): Promise<{ sum: number; count: number }> => {
    const values = (await metrics.ingestSeconds.get()).values;
    return { sum: values.find((v) => v.metricName === 'vicino_ingest_seconds_sum')?.value ?? 0, count: values.find((v) => v.metricName === 'vicino_ingest_seconds_count')?.value ?? 0 };
  };
  const published = async (): Promise<number> => (await stack.load.stats()).published;

  stack.resetStoreTimings();
  const outcomesBefore = await outcomes();
  const processedBefore = processedOf(outcomesBefore);
  const publishedBefore = await published();
  const timeBefore = await ingestTime();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpuFrom = { usage: process.cpuUsage(), atMs: performance.now() };
  const machineFrom = sampleCpu();
  // Date.now() here and in the load process: the same machine clock (e2e-load-protocol.ts).
  const startedMs = await stack.load.startStep(step, offeredPerSec, stepMs);
  let generatorShort = 0;

  let warm: { processed: number; published: number; atMs: number } | undefined;
  let last = { processed: processedBefore, published: publishedBefore, atMs: startedMs };
  try {
    while (Date.now() < startedMs + stepMs && signal?.aborted !== true) {
      // Ticks at whole seconds from the start (lateness does not add up), and at the step's end.
      const elapsedMs = Date.now() - startedMs;
      await sleep(Math.min(1_000 * (Math.floor(elapsedMs / 1_000) + 1), stepMs) - elapsedMs);
      const nowMs = Date.now();
      const processed = processedOf(await outcomes());
      const pub = await published();
      // The steady window needs a second at least; on a short step or a late timer the whole step is the window.
      if (warm === undefined && nowMs - startedMs >= WARMUP_MS && startedMs + stepMs - nowMs >= 1_000 - TICK_SLACK_MS) warm = { processed, published: pub, atMs: nowMs };
      const dt = Math.max(0.001, (nowMs - last.atMs) / 1000);
      print(`  [step ${step + 1} · ${offeredPerSec.toLocaleString('en')} ev/s offered · ${((nowMs - startedMs) / 1000).toFixed(0)} s] published ${Math.round((pub - last.published) / dt).toLocaleString('en')}/s, ` +
        `ingested ${Math.round((processed - last.processed) / dt).toLocaleString('en')}/s, backlog ${(pub - publishedBefore) - (processed - processedBefore)}`);
      last = { processed, published: pub, atMs: nowMs };
    }
  } finally {
    generatorShort = await stack.load.endStep();
  }
  const endMs = Date.now();
  const machineTo = sampleCpu();
  const endProcessed = processedOf(await outcomes());
  const endPublished = await published();
  const from = warm ?? { processed: processedBefore, published: publishedBefore, atMs: startedMs };
  const windowS = Math.max(0.001, (endMs - from.atMs) / 1000);

  // Drain: the exits still to come (a second after the last visit), then whatever waits in the broker and the ingest.
  let drainMs = 0;
  for (;;) {
    const processed = processedOf(await outcomes());
    const { present, published: pub } = await stack.load.stats();
    drainMs = Date.now() - endMs;
    if ((present === 0 && processed - processedBefore >= pub - publishedBefore) || drainMs > drainLimitMs || signal?.aborted === true) break;
    await sleep(20);
  }
  // Promotions decided last are still on their way to the apps.
  await sleep(300);
  loopDelay.disable();
  const outcomesAfter = await outcomes();
  const timeAfter = await ingestTime();
  const otherOutcomes: Record<string, number> = {};
  for (const [outcome, n] of outcomesAfter) {
    const delta = n - (outcomesBefore.get(outcome) ?? 0);
    if (delta > 0 && outcome !== 'sent' && outcome !== 'no-campaign' && !FOREIGN.has(outcome)) otherOutcomes[outcome] = delta;
  }
  const ingestedPerSec = (endProcessed - from.processed) / windowS;
  const processedInStep = processedOf(outcomesAfter) - processedBefore;
  // SQLite's cost is the synchronous part (better-sqlite3 blocks); PostgreSQL's is the round trip.
  const clock = stack.storeKind === 'sqlite' ? 'syncMs' : 'settledMs';
  const storeMs = [...stack.storeTimings.values()].reduce((sum, t) => sum + t[clock], 0);
  // The exits the last second of visits leaves are not backlog: they are due up to SHOPPER_REUSE_MS later.
  const drainBeyondExitsMs = Math.max(0, drainMs - SHOPPER_REUSE_MS);
  return {
    offeredPerSec,
    publishedPerSec: (endPublished - from.published) / windowS,
    ingestedPerSec,
    processedInStep,
    storeMsPerEvent: storeMs / Math.max(1, processedInStep),
    storeProfile: topTimings(stack.storeTimings, clock),
    lostEvents: 0,
    ingestMeanMs: timeAfter.count > timeBefore.count ? ((timeAfter.sum - timeBefore.sum) / (timeAfter.count - timeBefore.count)) * 1000 : Number.NaN,
    otherOutcomes,
    foreign: foreignOf(outcomesAfter) - foreignOf(outcomesBefore),
    drainMs,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    serverCpuShare: cpuShareSince(cpuFrom),
    machineCpu: machineFrom !== undefined && machineTo !== undefined ? cpuBetween(machineFrom, machineTo) : undefined,
    sustained: ingestedPerSec >= 0.9 * offeredPerSec && drainBeyondExitsMs <= DRAIN_SUSTAINED_MS && generatorShort === 0,
    generatorShort,
  };
}
