import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { pino, type Logger } from 'pino';
import { deriveEventMacKey, PROTOCOL_VERSION, signPresenceEvent, type PresenceEvent, type Pseudonym } from '#gateway/protocol/index.ts';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { percentile } from '../store/simulated-store.ts';
import type { VirtualApp } from '../app/virtual-app.ts';
import { DEFAULT_MQTT_URL, startBenchStack, type BenchStack, type StackKind } from './e2e-stack.ts';
import { measureMqttCeiling, type CeilingResult } from './mqtt-ceiling.ts';
import { topTimings } from './timed-store.ts';

// `npm run bench:e2e`: the whole system at rising load, on each stack (e2e-stack.ts). Each step offers a
// rate of presence events: the bench brings rate/2 shoppers a second into a zone — one report into the
// real gateway pipeline (gateway.handle) makes the enter, which the gateway signs and publishes at
// QoS 1; silence makes the exit a second later — through the broker into the real server: MAC,
// freshness, replay, resolver (consenting shoppers only), presence consent, the zone arbiter, the enter
// campaign, the atomic check-and-record, WebSocket delivery; the app acknowledges. Per step:
//   published   events/s the gateways published (enter + exit), in the steady part of the step
//   ingested    events/s the server's ingest fully processed (every outcome counted by
//               vicino_presence_messages_total), same window
//   latency     advertisement (the report's receive time, as the radio handed it to the gateway) →
//               the app receiving the promotion, p50 / p99, for each enter that made one; and its
//               first part, advertisement → the server's decision (the promotion's issue time)
//   ingest ms   the server's own time per message (vicino_ingest_seconds, mean): handled one at a time
//   lost        events published but never processed, enters that made no promotion (after a drain)
// Steps rise until one is not sustained (ingested < 90 % of offered, or the backlog takes more than
// DRAIN_SUSTAINED_MS to clear). Beside it, the raw ceiling: one MQTT.js publisher → the same broker →
// one MQTT.js subscriber, the presence message's size, QoS 1 (mqtt-ceiling.ts).

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
   * The process's event-loop delay during the step, p99 ms: the server shares this process (and its one
   * event loop) with the bench's gateways and apps, so every await on the ingest path queues behind their work too.
   */
  loopDelayP99Ms: number;
  sustained: boolean;
  /** Visits the bench could not start for want of a free shopper (the generator, not Vicino, was short). */
  generatorShort: number;
};

export type E2eStackResult = {
  kind: StackKind;
  storeKind: 'sqlite' | 'postgres';
  brokerLabel: string;
  storeLabel: string;
  instances: number;
  ceiling: CeilingResult;
  steps: E2eStepResult[];
  /** The highest ingested rate of any step; a lower bound of Vicino's ceiling if every step was sustained. */
  bestIngestedPerSec: number;
  saturated: boolean;
};

export type E2eBenchOptions = {
  stacks: readonly StackKind[];
  ratesPerSec: readonly number[];
  stepMs: number;
  gateways?: number;
  /** Server instances on the mosquitto stack (shared subscription); 1 by default. */
  serverInstances?: number;
  /** The gateways' batching bound; the shipped default (100 ms) when unset. */
  gatewayMaxLatencyMs?: number;
  /** How long a step's backlog may take to clear before what is left counts as unprocessed; 15 s by default. */
  drainLimitMs?: number;
  /** Messages for each raw-ceiling run. */
  ceilingMessages: number;
  mqttUrl?: string;
  databaseUrl?: string;
  logger?: Logger;
  print?: (line: string) => void;
};

/** A shopper brought in at t makes its enter at t and its exit at about t + 1.1 s; it is brought in again after this. */
const SHOPPER_REUSE_MS = 1_600;
/** The first part of a step, until exits flow as steadily as enters, is left out of the rates. */
const WARMUP_MS = 1_500;
const DRAIN_SUSTAINED_MS = 3_000;
const DEFAULT_DRAIN_LIMIT_MS = 15_000;
/** Outcomes this bench's own events cannot have: status messages, and other stores' messages on a shared broker. */
const FOREIGN = new Set(['status', 'unknown-gateway', 'rejected-topic', 'rejected-schema', 'rejected-mismatch', 'forged']);

/** The size of a presence message as a gateway publishes it (signed JSON). */
export function presencePayloadBytes(): number {
  const event = signPresenceEvent(deriveEventMacKey(Buffer.alloc(32, 1), 'gw-z1'), {
    v: PROTOCOL_VERSION, eventId: randomUUID(), storeId: 'bench-0123abcd', gatewayId: 'gw-z1', zoneId: 'z1', keyId: 'k1', idKind: 'eddystone-eid',
    pseudonym: '0123456789abcdef0123456789abcdef' as Pseudonym, kind: 'enter', atS: 1_800_000_000, dwellS: 0, proximity: 'immediate', boot: randomUUID(), seq: 12_345,
  });
  return Buffer.byteLength(JSON.stringify(event));
}

/** How many shoppers the highest rate needs: rate/2 visits a second, each shopper busy for SHOPPER_REUSE_MS. */
export const shoppersFor = (maxRatePerSec: number): number => Math.ceil((maxRatePerSec / 2) * (SHOPPER_REUSE_MS / 1000) * 1.5);

const summarise = (values: number[]): LatencySummary | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50)!, p99: percentile(sorted, 99)!, max: sorted.at(-1)!, samples: sorted.length };
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runE2eBench(options: E2eBenchOptions): Promise<E2eStackResult[]> {
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const logger = options.logger ?? pino({ level: 'error' }, pino.destination(2));
  const payloadBytes = presencePayloadBytes();
  const results: E2eStackResult[] = [];
  for (const kind of options.stacks) {
    print(`stack: ${kind === 'embedded' ? 'embedded (as `npm start`)' : 'Mosquitto + PostgreSQL'}`);
    const unreachable = kind === 'mosquitto' ? await brokerUnreachable(options.mqttUrl ?? DEFAULT_MQTT_URL) : undefined;
    if (unreachable !== undefined) {
      print(`  skipped: no broker at ${new URL(options.mqttUrl ?? DEFAULT_MQTT_URL).host} (${unreachable}); set MQTT_URL to a Mosquitto`);
      continue;
    }
    const ceiling = await rawCeiling(kind, payloadBytes, options);
    print(`  raw ceiling, ${kind === 'embedded' ? 'aedes in this process' : `Mosquitto at ${new URL(options.mqttUrl ?? DEFAULT_MQTT_URL).host}`} → one MQTT.js subscriber, ${payloadBytes} B, QoS 1: ` +
      `${Math.round(ceiling.perSec).toLocaleString('en')} msg/s over ${ceiling.messages.toLocaleString('en')} messages, ${ceiling.lost} lost`);
    results.push(await runStack(kind, ceiling, options, logger, print));
  }
  return results;
}

/** Why the broker cannot be reached, or undefined if it can. */
async function brokerUnreachable(url: string): Promise<string | undefined> {
  try {
    const client = await mqtt.connectAsync(url, { clientId: `vicino-bench-probe-${randomUUID().slice(0, 8)}`, reconnectPeriod: 0, connectTimeout: 3_000 });
    await client.endAsync();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

async function rawCeiling(kind: StackKind, payloadBytes: number, options: E2eBenchOptions): Promise<CeilingResult> {
  if (kind === 'mosquitto') return measureMqttCeiling({ url: options.mqttUrl ?? DEFAULT_MQTT_URL, payloadBytes, messages: options.ceilingMessages });
  const broker = await startEmbeddedBroker({ port: 0, logger: pino({ level: 'silent' }) });
  try {
    return await measureMqttCeiling({ url: broker.url, payloadBytes, messages: options.ceilingMessages });
  } finally {
    await broker.close();
  }
}

async function runStack(kind: StackKind, ceiling: CeilingResult, options: E2eBenchOptions, logger: Logger, print: (line: string) => void): Promise<E2eStackResult> {
  // The step a published event or a promotion belongs to.
  let step = -1;
  const publishedBy: number[] = [];
  const entersBy: number[] = [];
  const enterOf = new Map<string, { step: number; causedByMs: number }>();
  const latencies: number[][] = [];
  const decisions: number[][] = [];
  const promotionsBy: number[] = [];
  const onPublished = (event: PresenceEvent, causedByMs: number): void => {
    if (step < 0) return;
    publishedBy[step] = (publishedBy[step] ?? 0) + 1;
    if (event.kind !== 'enter') return;
    entersBy[step] = (entersBy[step] ?? 0) + 1;
    enterOf.set(event.eventId, { step, causedByMs });
  };
  const stack = await startBenchStack({
    kind, shoppers: shoppersFor(options.ratesPerSec[0] ?? 250), gateways: options.gateways ?? 8, gatewayMaxLatencyMs: options.gatewayMaxLatencyMs,
    serverInstances: kind === 'mosquitto' ? options.serverInstances : undefined, logger, onPublished, mqttUrl: options.mqttUrl, databaseUrl: options.databaseUrl,
    print: (line) => print(`  ${line}`),
  });
  try {
    print(`  broker: ${stack.brokerLabel}; store: ${stack.storeLabel}; ${stack.instances > 1 ? `${stack.instances} server instances in a shared subscription; ` : ''}${stack.gateways.length} gateways, ${stack.apps.length} consenting shoppers, an enter campaign with loose caps`);
    const listen = (app: VirtualApp): void => app.onPromotion((promotion) => {
      const enter = enterOf.get(promotion.eventId);
      if (enter === undefined) return;
      enterOf.delete(promotion.eventId);
      promotionsBy[enter.step] = (promotionsBy[enter.step] ?? 0) + 1;
      (latencies[enter.step] ??= []).push(promotion.receivedAtMs - enter.causedByMs);
      (decisions[enter.step] ??= []).push(promotion.issuedAtMs - enter.causedByMs);
    });
    stack.apps.forEach(listen);
    const steps: E2eStepResult[] = [];
    const free = stack.apps.map((_, shopper) => ({ shopper, availableAtMs: 0 }));
    for (const offeredPerSec of options.ratesPerSec) {
      // More shoppers for a higher rate, registered between steps (outside any measured window).
      const from = stack.apps.length;
      for (const app of await stack.ensureShoppers(shoppersFor(offeredPerSec))) listen(app);
      for (let shopper = from; shopper < stack.apps.length; shopper++) free.push({ shopper, availableAtMs: 0 });
      step += 1;
      const result = await runStep(stack, step, offeredPerSec, options.stepMs, options.drainLimitMs ?? DEFAULT_DRAIN_LIMIT_MS, free, print);
      const enters = entersBy[step] ?? 0;
      const promotions = promotionsBy[step] ?? 0;
      const done: E2eStepResult = {
        ...result, published: publishedBy[step] ?? 0, enters, promotions, lostPromotions: enters - promotions,
        latencyMs: summarise(latencies[step] ?? []), decisionMs: summarise(decisions[step] ?? []),
      };
      done.lostEvents = done.published - result.processedInStep;
      steps.push(done);
      const l = done.latencyMs;
      print(`  → step ${offeredPerSec.toLocaleString('en')} ev/s: ingested ${Math.round(done.ingestedPerSec).toLocaleString('en')} ev/s, ${promotions.toLocaleString('en')} promotions, ` +
        `latency p50 ${l ? l.p50 : '–'} ms / p99 ${l ? l.p99 : '–'} ms, lost ${done.lostEvents} events / ${done.lostPromotions} promotions, drained in ${done.drainMs} ms: ${done.sustained ? 'sustained' : 'NOT sustained'}`);
      print(`    server time in the Store (${stack.storeKind === 'sqlite' ? 'synchronous' : 'round trip'}): ${done.storeMsPerEvent.toFixed(2)} ms per event; sync / settled mean: ${done.storeProfile.slice(0, 6).join('; ')}${
        done.foreign > 0 ? `; ${done.foreign} other stores' messages rejected meanwhile` : ''}`);
      if (!done.sustained) break;
    }
    const bestIngestedPerSec = Math.max(...steps.map((s) => s.ingestedPerSec));
    return {
      kind, storeKind: stack.storeKind, brokerLabel: stack.brokerLabel, storeLabel: stack.storeLabel, instances: stack.instances, ceiling, steps, bestIngestedPerSec,
      saturated: steps.some((s) => !s.sustained),
    };
  } finally {
    await stack.close();
  }
}

type StepCounts = Omit<E2eStepResult, 'published' | 'enters' | 'promotions' | 'lostPromotions' | 'latencyMs' | 'decisionMs'> & { processedInStep: number };

async function runStep(
  stack: BenchStack, step: number, offeredPerSec: number, stepMs: number, drainLimitMs: number, free: { shopper: number; availableAtMs: number }[], print: (line: string) => void,
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
  const published = (): number => stack.gateways.reduce((sum, g) => sum + g.gateway.stats().transitions, 0);

  stack.resetStoreTimings();
  const outcomesBefore = await outcomes();
  const processedBefore = processedOf(outcomesBefore);
  const publishedBefore = published();
  const timeBefore = await ingestTime();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const visitsPerSec = offeredPerSec / 2;
  const startedMs = Date.now();
  let issued = 0;
  let generatorShort = 0;
  let head = 0;
  const generator = setInterval(() => {
    const nowMs = Date.now();
    const due = Math.floor(((Math.min(nowMs, startedMs + stepMs) - startedMs) / 1000) * visitsPerSec);
    while (issued < due) {
      const next = free[head];
      if (next === undefined || next.availableAtMs > nowMs) {
        generatorShort += due - issued;
        issued = due;
        break;
      }
      head += 1;
      issued += 1;
      const app = stack.apps[next.shopper]!;
      // What the radio hands the gateway: the app's advertisement, heard strongly, with its receive time.
      stack.gatewayOf(next.shopper).gateway.handle({ data: app.tokens.advertisementAt(nowMs), rssiDbm: -55, receivedAtMs: nowMs });
      free.push({ shopper: next.shopper, availableAtMs: nowMs + SHOPPER_REUSE_MS });
    }
  }, 2);

  let warm: { processed: number; published: number; atMs: number } | undefined;
  let last = { processed: processedBefore, published: publishedBefore, atMs: startedMs };
  try {
    while (Date.now() < startedMs + stepMs) {
      await sleep(Math.min(1_000, startedMs + stepMs - Date.now()));
      const nowMs = Date.now();
      const processed = processedOf(await outcomes());
      const pub = published();
      if (warm === undefined && nowMs - startedMs >= WARMUP_MS) warm = { processed, published: pub, atMs: nowMs };
      const dt = Math.max(0.001, (nowMs - last.atMs) / 1000);
      print(`  [step ${step + 1} · ${offeredPerSec.toLocaleString('en')} ev/s offered · ${((nowMs - startedMs) / 1000).toFixed(0)} s] published ${Math.round((pub - last.published) / dt).toLocaleString('en')}/s, ` +
        `ingested ${Math.round((processed - last.processed) / dt).toLocaleString('en')}/s, backlog ${(pub - publishedBefore) - (processed - processedBefore)}`);
      last = { processed, published: pub, atMs: nowMs };
    }
  } finally {
    clearInterval(generator);
    // The shoppers brought in are queued again behind the rest; drop the consumed head.
    free.splice(0, head);
  }
  const endMs = Date.now();
  const endProcessed = processedOf(await outcomes());
  const endPublished = published();
  const from = warm ?? { processed: processedBefore, published: publishedBefore, atMs: startedMs };
  const windowS = Math.max(0.001, (endMs - from.atMs) / 1000);

  // Drain: the exits still to come (a second after the last visit), then whatever waits in the broker and the ingest.
  let drainMs = 0;
  for (;;) {
    const processed = processedOf(await outcomes());
    const present = stack.gateways.reduce((sum, g) => sum + g.gateway.stats().present, 0);
    drainMs = Date.now() - endMs;
    if ((present === 0 && processed - processedBefore >= published() - publishedBefore) || drainMs > drainLimitMs) break;
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
    sustained: ingestedPerSec >= 0.9 * offeredPerSec && drainBeyondExitsMs <= DRAIN_SUSTAINED_MS && generatorShort === 0,
    generatorShort,
  };
}
