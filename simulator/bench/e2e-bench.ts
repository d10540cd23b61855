import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { pino, type Logger } from 'pino';
import { deriveEventMacKey, PROTOCOL_VERSION, signPresenceEvent, type Pseudonym } from '#gateway/protocol/index.ts';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { percentileOf as percentile } from '../world/presence-scoring.ts';
import { DEFAULT_MQTT_URL, startBenchStack, type LoadPlacement, type StackKind } from './e2e-stack.ts';
import { measureMqttCeiling, type CeilingResult } from './mqtt-ceiling.ts';
import { describeMachineCpu } from './machine-cpu.ts';
import { DEFAULT_DRAIN_LIMIT_MS, runStep, SHOPPER_REUSE_MS, type E2eStepResult, type LatencySummary } from './e2e-step.ts';

// `npm run bench:e2e`: the whole system at rising load, on each stack (e2e-stack.ts). The server under
// test (with aedes, on the embedded stack) runs in this process; the load — gateways and apps — in a
// process of its own (e2e-load.ts), so the two do not share an event loop. Each step offers a
// rate of presence events: the load process brings rate/2 shoppers a second into a zone — one report into the
// real gateway pipeline (gateway.handle) makes the enter, which the gateway signs and publishes at
// QoS 1; silence makes the exit a second later — through the broker into the real server: MAC,
// freshness, replay, resolver (consenting shoppers only), presence consent, the zone arbiter, the enter
// campaign, the atomic check-and-record, WebSocket delivery; the app acknowledges. Per step:
//   published   events/s the gateways published (enter + exit), in the steady part of the step
//   ingested    events/s the server's ingest fully processed (every outcome counted by
//               vicino_presence_messages_total), same window
//   latency     advertisement (the report's receive time, as the radio handed it to the gateway) →
//               the app receiving the promotion, p50 / p99, for each enter that made one (both ends in
//               the load process); and its first part, advertisement → the server's decision (the
//               promotion's issue time, in the server process): Date.now() on both sides, one clock
//   loop delay  the server process's event-loop delay, p99; the load process's beside it
//   ingest ms   the server's own time per message (vicino_ingest_seconds, mean): handled one at a time
//   lost        events published but never processed, enters that made no promotion (after a drain)
// Steps rise until one is not sustained (ingested < 90 % of offered, or the backlog takes more than
// DRAIN_SUSTAINED_MS, e2e-step.ts, to clear). Beside it, the raw ceiling: one MQTT.js publisher → the same broker →
// one MQTT.js subscriber, the presence message's size, QoS 1 (mqtt-ceiling.ts).

export type { E2eStepResult, LatencySummary };

export type E2eStackResult = {
  kind: StackKind;
  storeKind: 'sqlite' | 'postgres';
  brokerLabel: string;
  storeLabel: string;
  instances: number;
  ceiling: CeilingResult;
  steps: E2eStepResult[];
  load: LoadPlacement;
  /** The load process's pid (the gateways and apps ran there); this process's own when the load ran inline. */
  loadPid: number;
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
  /** Presence connections per server instance on the mosquitto stack (MQTT_PRESENCE_CONNECTIONS); 1 by default. */
  presenceConnections?: number;
  /** The gateways' batching bound; the shipped default (DEFAULT_BATCH_MAX_LATENCY_MS, 5 ms) when unset. */
  gatewayMaxLatencyMs?: number;
  /** How long a step's backlog may take to clear before what is left counts as unprocessed; 15 s by default. */
  drainLimitMs?: number;
  /** Messages for each raw-ceiling run. */
  ceilingMessages: number;
  mqttUrl?: string;
  databaseUrl?: string;
  logger?: Logger;
  print?: (line: string) => void;
  /** Where the gateways and apps run: a load process of their own (the default), or inline, beside the server (as before). */
  load?: LoadPlacement;
  /** Aborting (Ctrl-C) ends the current step early; the stack is still cleaned up. */
  signal?: AbortSignal;
};

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


export async function runE2eBench(options: E2eBenchOptions): Promise<E2eStackResult[]> {
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const logger = options.logger ?? pino({ level: 'error' }, pino.destination(2));
  const payloadBytes = presencePayloadBytes();
  const results: E2eStackResult[] = [];
  for (const kind of options.stacks) {
    if (options.signal?.aborted) break;
    print(`stack: ${kind === 'embedded' ? 'embedded (as `npm start`)' : 'Mosquitto + PostgreSQL'}`);
    const unreachable = kind === 'mosquitto' ? await brokerUnreachable(options.mqttUrl ?? DEFAULT_MQTT_URL) : undefined;
    if (unreachable !== undefined) {
      print(`  skipped: no broker at ${new URL(options.mqttUrl ?? DEFAULT_MQTT_URL).host} (${unreachable}); set MQTT_URL to a Mosquitto`);
      continue;
    }
    const ceiling = await rawCeiling(kind, payloadBytes, options);
    print(`  raw ceiling, ${kind === 'embedded' ? 'aedes in this process' : `Mosquitto at ${new URL(options.mqttUrl ?? DEFAULT_MQTT_URL).host}`} → one MQTT.js subscriber, ${payloadBytes} B, QoS 1: ` +
      `${Math.round(ceiling.perSec).toLocaleString('en')} msg/s over ${ceiling.messages.toLocaleString('en')} messages, ${ceiling.lost} lost`);
    try {
      results.push(await runStack(kind, ceiling, options, logger, print));
    } catch (error) {
      // Interrupted while the stack was starting: it has cleaned up after itself.
      if (options.signal?.aborted) break;
      throw error;
    }
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
  const stack = await startBenchStack({
    kind, shoppers: shoppersFor(options.ratesPerSec[0] ?? 250), gateways: options.gateways ?? 8, gatewayMaxLatencyMs: options.gatewayMaxLatencyMs,
    serverInstances: kind === 'mosquitto' ? options.serverInstances : undefined,
    presenceConnections: kind === 'mosquitto' ? options.presenceConnections : undefined, signal: options.signal, logger, mqttUrl: options.mqttUrl, databaseUrl: options.databaseUrl,
    print: (line) => print(`  ${line}`), load: options.load,
  });
  try {
    print(`  broker: ${stack.brokerLabel}; store: ${stack.storeLabel}; ${stack.instances > 1 ? `${stack.instances} server instances in a shared subscription; ` : ''}${stack.presenceConnections > 1 ? `${stack.presenceConnections} presence connections per instance; ` : ''}${stack.gateways} gateways, ${stack.shoppers()} consenting shoppers, an enter campaign with loose caps`);
    print(options.load === 'inline'
      ? `  processes: the server${kind === 'embedded' ? ' and aedes' : ''}, the gateways and the apps all in this one (pid ${process.pid}), sharing its event loop (--e2e-load inline)`
      : `  processes: the server${kind === 'embedded' ? ' and aedes' : ''} in this one (pid ${process.pid}); the gateways and apps in the load process (pid ${stack.load.pid})`);
    const steps: E2eStepResult[] = [];
    for (const [step, offeredPerSec] of options.ratesPerSec.entries()) {
      if (options.signal?.aborted) break;
      // More shoppers for a higher rate, registered between steps (outside any measured window).
      await stack.ensureShoppers(shoppersFor(offeredPerSec));
      const result = await runStep(stack, step, offeredPerSec, options.stepMs, options.drainLimitMs ?? DEFAULT_DRAIN_LIMIT_MS, print, options.signal);
      // What the load process saw: events published, enters, and the promotions they made (the step an
      // event or promotion belongs to is the step of the visit that caused it).
      const load = await stack.load.stepReport(step);
      const done: E2eStepResult = {
        ...result, published: load.published, enters: load.enters, promotions: load.promotions, lostPromotions: load.enters - load.promotions,
        latencyMs: summarise(load.latenciesMs), decisionMs: summarise(load.decisionsMs), loadLoopDelayP99Ms: load.loopDelayP99Ms, loadCpuShare: load.cpuShare,
      };
      done.lostEvents = done.published - result.processedInStep;
      steps.push(done);
      const l = done.latencyMs;
      print(`  → step ${offeredPerSec.toLocaleString('en')} ev/s: ingested ${Math.round(done.ingestedPerSec).toLocaleString('en')} ev/s, ${done.promotions.toLocaleString('en')} promotions, ` +
        `latency p50 ${l ? l.p50 : '–'} ms / p99 ${l ? l.p99 : '–'} ms, lost ${done.lostEvents} events / ${done.lostPromotions} promotions, drained in ${done.drainMs} ms: ${done.sustained ? 'sustained' : 'NOT sustained'}`);
      print(`    server time in the Store (${stack.storeKind === 'sqlite' ? 'synchronous' : 'round trip'}): ${done.storeMsPerEvent.toFixed(2)} ms per event; sync / settled mean: ${done.storeProfile.slice(0, 6).join('; ')}${
        done.foreign > 0 ? `; ${done.foreign} other stores' messages rejected meanwhile` : ''}`);
      print(options.load === 'inline'
        ? `    event-loop delay p99 (server and load share it): ${done.loopDelayP99Ms.toFixed(1)} ms; CPU of this process: ${(100 * done.serverCpuShare).toFixed(0)} % of a core`
        : `    event-loop delay p99: server process ${done.loopDelayP99Ms.toFixed(1)} ms, load process ${done.loadLoopDelayP99Ms.toFixed(1)} ms; ` +
          `CPU: server process ${(100 * done.serverCpuShare).toFixed(0)} %, load process ${(100 * done.loadCpuShare).toFixed(0)} % of a core`);
      if (done.machineCpu !== undefined) print(`    ${describeMachineCpu(done.machineCpu)} (cores of CPU time during the step)`);
      if (!done.sustained) break;
    }
    const bestIngestedPerSec = Math.max(...steps.map((s) => s.ingestedPerSec));
    return {
      kind, storeKind: stack.storeKind, brokerLabel: stack.brokerLabel, storeLabel: stack.storeLabel, instances: stack.instances, ceiling, steps, load: options.load ?? 'process', loadPid: stack.load.pid, bestIngestedPerSec,
      saturated: steps.some((s) => !s.sustained),
    };
  } finally {
    await stack.close();
  }
}
