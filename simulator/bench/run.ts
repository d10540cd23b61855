import { cpus, loadavg } from 'node:os';
import { DEFAULT_BATCH_MAX_LATENCY_MS } from '#gateway/publisher/publisher.ts';
import { runDecodeBench } from './decode-bench.ts';
import { runE2eBench, type E2eStackResult } from './e2e-bench.ts';
import { runFloodBench } from './flood-bench.ts';
import { runGatewayBench, runPublishBench } from './gateway-bench.ts';
import { ENVIRONMENTS, runPresenceBench } from './presence-bench.ts';
import { runRadioBench } from './radio-bench.ts';
import { startOwnMosquitto } from './own-mosquitto.ts';
import { runResolverBench } from './resolver-bench.ts';
import { runStoreDayBench } from './store-day-bench.ts';

// `npm run bench`: every benchmark, side by side in one run (the machines are shared and noisy),
// with ratios against the reference figures in shared/reference/performance-notes.md.
// `--quick` is a short smoke run; `--only resolver` (or decode, gateway, flood, radio, presence, store, e2e; comma-separated) runs those sections.
// `npm run bench:e2e` is `--only e2e`: the whole system at rising load on the embedded stack and on Mosquitto + PostgreSQL.

const REFERENCE = {
  // "parse a 31-byte advertisement and decode an iBeacon (straightforward code)" — one core.
  decodeIBeaconPerSec: 3.0e6,
  // "one legacy-advertising scanner radio receives at most about 490 advertisements/s in a crowd".
  radioCeilingPerSec: 490,
};

// The targets of issue 6 item 6 for the whole system.
const E2E_TARGETS = { p99Ms: 50, atRatePerSec: 1_000, ceilingShare: 0.5 };

export async function runBenchmarks(args: string[]): Promise<number> {
  const quick = args.includes('--quick');
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : undefined;
  const runs = (section: string): boolean => only === undefined || only.has(section);
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  print(`vicino bench${args.length > 0 ? ` ${args.join(' ')}` : ''} — Node ${process.version}, ${process.arch}; medians with p5/p95 over rounds`);

  if (runs('decode')) await decodeSection(quick, print);
  if (runs('gateway')) await gatewaySection(quick, print);
  if (runs('flood')) {
    print('\n3. Memory under a flood (BLE spam, rotating addresses): real noble + the real gateway');
    await runFloodBench({ reports: quick ? 30_000 : 200_000, print: (l) => print(`   ${l}`) });
  }
  if (runs('radio')) radioSection(quick, print);
  if (runs('resolver')) {
    const shoppers = quick ? [10_000, 100_000] : [100_000, 1_000_000];
    print(`\n5. The resolver at scale (server/domain/resolver-index.ts): ${shoppers.map((n) => n.toLocaleString('en')).join(' and ')} consenting shoppers, K = 10; compact index vs the Map it replaced`);
    await runResolverBench({ shoppers, baselineUpTo: quick ? 10_000 : undefined, print: (l) => print(`   ${l}`) });
  }
  if (runs('presence')) presenceSection(quick, args, print);
  if (runs('store')) {
    const shape = quick ? { shoppers: 200, columns: 4, rows: 2, durationS: 240 } : { shoppers: 1_000, columns: 5, rows: 4, durationS: 600 };
    print(`\n6b. A store day at scale (simulator/world/store-day.ts), one core: ${shape.shoppers.toLocaleString('en')} shoppers × ${shape.columns * shape.rows} gateways, every app advertising at 4 Hz, ${shape.durationS} s of virtual time`);
    await runStoreDayBench({ ...shape, print: (l) => print(`   ${l}`) });
  }
  if (runs('e2e')) await e2eSection(quick, args, print);
  return 0;
}

async function decodeSection(quick: boolean, print: (line: string) => void): Promise<void> {
  print('\n1. BLE decode (gateway/ble/decode.ts) vs node-beacon-scanner 0.2.2 on the same frames, one core');
  const { mix } = await runDecodeBench({ iterations: quick ? 100_000 : 500_000, rounds: quick ? 3 : 5, print: (l) => print(`   ${l}`) });
  print(`   ratio on the mix: ${(mix.vicinoPerSec / mix.nobleNbsPerSec).toFixed(1)}× noble's parser + node-beacon-scanner (bytes in, as a gateway runs it; target ≥ 5×), ` +
    `${(mix.vicinoPerSec / mix.nbsAlonePerSec).toFixed(1)}× node-beacon-scanner's parser alone on a pre-parsed advertisement`);
  print(`   ratio vs the straightforward reference decode (3.0 M/s, performance-notes.md): ${(mix.vicinoPerSec / REFERENCE.decodeIBeaconPerSec).toFixed(2)}×`);
}

async function gatewaySection(quick: boolean, print: (line: string) => void): Promise<void> {
  print('\n2. Gateway hot path, one core: decode → filter → pseudonymise → presence through gateway.handle, a 340-device crowd');
  const [cached, uncached] = runGatewayBench({ advertisements: quick ? 60_000 : 300_000, rounds: quick ? 3 : 5, print: (l) => print(`   ${l}`) });
  if (cached && uncached) {
    print(`   target ≥ 300,000 adv/s per core: ${cached.opsPerSec >= 300_000 ? 'met' : 'MISSED'} (${(cached.opsPerSec / 300_000).toFixed(2)}× the target); pseudonym cache speed-up ${(cached.opsPerSec / uncached.opsPerSec).toFixed(2)}×`);
    print(`   share of one core at one radio's ceiling (490 adv/s): ${((REFERENCE.radioCeilingPerSec / cached.opsPerSec) * 100).toFixed(3)}%`);
  }
  print('\n2b. Publish path: sign → serialise → MQTT QoS 1 into aedes in this process (gateway/publisher/mqtt-publisher.ts)');
  await runPublishBench({ events: quick ? 5_000 : 20_000, print: (l) => print(`   ${l}`) });
}

function radioSection(quick: boolean, print: (line: string) => void): void {
  const radioShape = quick ? { advertisers: 200, receivers: 5, virtualSeconds: 5 } : { advertisers: 1_000, receivers: 20, virtualSeconds: 10 };
  print(`\n4. Virtual radio (simulator/radio), ${radioShape.advertisers.toLocaleString('en')} advertisers × ${radioShape.receivers} gateways, ${radioShape.virtualSeconds} s of virtual time`);
  const radio = runRadioBench(radioShape);
  print(`   ${radio.emitted.toLocaleString('en')} advertising events, ${radio.delivered.toLocaleString('en')} reports delivered in ${radio.wallMs.toFixed(0)} ms wall`);
  print(`   ${Math.round(radio.reportsPerSecond).toLocaleString('en')} reports/s; real-time factor ${radio.realTimeFactor.toFixed(1)}× (≥ 1 means it keeps up with real time on one core)`);
}

/** `--presence-away-ms N` runs the comparison with another away timeout. */
function presenceSection(quick: boolean, args: string[], print: (line: string) => void): void {
  const awayAt = args.indexOf('--presence-away-ms');
  const awayTimeoutMs = awayAt >= 0 ? Number(args[awayAt + 1]) : undefined;
  if (awayTimeoutMs !== undefined && !(Number.isInteger(awayTimeoutMs) && awayTimeoutMs >= 1_000)) throw new RangeError('--presence-away-ms needs an integer ≥ 1000');
  print('\n6. Presence estimators (gateway/presence/rssi-estimators.ts): seeded simulator tracks through the real tracker, each estimator on the same packets');
  for (const { name, environment } of ENVIRONMENTS) {
    print(`   radio: ${name}`);
    runPresenceBench({
      seeds: quick ? 10 : 60, intervalsMs: [1_000, 200], environment, presence: awayTimeoutMs === undefined ? {} : { awayTimeoutMs },
      costSamples: quick ? 50_000 : 200_000, detail: true, print: (l) => print(`   ${l}`),
    });
  }
}

/**
 * The whole system (simulator/bench/e2e-bench.ts); MQTT_URL and DATABASE_URL choose the second stack's broker and database.
 * `--e2e-batch-ms N` runs the gateways with another batching bound (5 ms as shipped); `--e2e-stacks embedded` runs one stack;
 * `--e2e-load inline` runs the gateways and apps in the bench's process beside the server (as the bench did first), instead of a load process;
 * `--e2e-instances N` runs N server instances in a shared subscription on the Mosquitto stack; `--e2e-connections N` gives each
 * N presence connections in it (MQTT_PRESENCE_CONNECTIONS; 1 by default here, so runs stay comparable with earlier ones).
 * `--e2e-mosquitto own` starts a Mosquitto of the bench's own with the shipped config's latency and queue settings
 * (own-mosquitto.ts); `--e2e-mosquitto url` uses MQTT_URL (127.0.0.1:1883 without it). Unset: MQTT_URL if set, else own.
 */
async function e2eSection(quick: boolean, args: string[], print: (line: string) => void): Promise<void> {
  const batchAt = args.indexOf('--e2e-batch-ms');
  const gatewayMaxLatencyMs = batchAt >= 0 ? Number(args[batchAt + 1]) : undefined;
  if (gatewayMaxLatencyMs !== undefined && !(Number.isInteger(gatewayMaxLatencyMs) && gatewayMaxLatencyMs >= 0)) throw new RangeError('--e2e-batch-ms needs an integer ≥ 0');
  const instancesAt = args.indexOf('--e2e-instances');
  const serverInstances = instancesAt >= 0 ? Number(args[instancesAt + 1]) : undefined;
  if (serverInstances !== undefined && !(Number.isInteger(serverInstances) && serverInstances >= 1)) throw new RangeError('--e2e-instances needs an integer ≥ 1');
  const connectionsAt = args.indexOf('--e2e-connections');
  const presenceConnections = connectionsAt >= 0 ? Number(args[connectionsAt + 1]) : undefined;
  if (presenceConnections !== undefined && !(Number.isInteger(presenceConnections) && presenceConnections >= 1)) throw new RangeError('--e2e-connections needs an integer ≥ 1');
  const stacksAt = args.indexOf('--e2e-stacks');
  const stacks = stacksAt >= 0 ? (args[stacksAt + 1] ?? '').split(',') : ['embedded', 'mosquitto'];
  if (!stacks.every((s) => s === 'embedded' || s === 'mosquitto')) throw new RangeError('--e2e-stacks takes embedded, mosquitto or both (comma-separated)');
  const loadAt = args.indexOf('--e2e-load');
  const loadPlacement = loadAt >= 0 ? args[loadAt + 1] : 'process';
  if (loadPlacement !== 'process' && loadPlacement !== 'inline') throw new RangeError('--e2e-load takes process (the gateways and apps in a process of their own) or inline (beside the server)');
  const brokerAt = args.indexOf('--e2e-mosquitto');
  const brokerChoice = brokerAt >= 0 ? args[brokerAt + 1] : process.env.MQTT_URL === undefined ? 'own' : 'url';
  if (brokerChoice !== 'own' && brokerChoice !== 'url') throw new RangeError('--e2e-mosquitto takes own (a Mosquitto with the shipped settings, started here) or url (MQTT_URL)');
  const ratesPerSec = quick ? [100, 500] : [100, 250, 500, 1_000, 2_000, 4_000];
  const stepMs = quick ? 3_000 : 8_000;
  print(`\n7. End to end at rising load: report → real gateway → MQTT QoS 1 → server (ingest, resolver, consent, arbiter, campaign) → WebSocket → app ack; steps of ${
    ratesPerSec.map((r) => r.toLocaleString('en')).join(', ')} presence events/s, ${stepMs / 1000} s each, until one is not sustained; gateway batching ${gatewayMaxLatencyMs ?? DEFAULT_BATCH_MAX_LATENCY_MS} ms`);
  const load = (): string => loadavg().map((n) => n.toFixed(2)).join(' / ');
  print(`   machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}; load average (1 / 5 / 15 min) at the start ${load()}`);
  // Ctrl-C ends the current step and cleans up (temp dirs, the PostgreSQL schema, retained topics); a second one kills.
  const interrupt = new AbortController();
  const onInterrupt = (): void => {
    print('   interrupted: stopping and cleaning up (Ctrl-C again to kill)');
    interrupt.abort();
  };
  process.once('SIGINT', onInterrupt);
  const ownBroker = brokerChoice === 'own' && stacks.includes('mosquitto') ? await startOwnMosquitto() : undefined;
  if (ownBroker !== undefined) print(`   Mosquitto: the bench's own at ${new URL(ownBroker.url).host}, with the shipped settings ${ownBroker.settings.join(', ')}`);
  else if (stacks.includes('mosquitto')) print(`   Mosquitto: MQTT_URL (${new URL(process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883').host}), as that broker is configured`);
  const results = await runE2eBench({
    stacks: stacks as ('embedded' | 'mosquitto')[], ratesPerSec, stepMs, drainLimitMs: quick ? 5_000 : undefined, gatewayMaxLatencyMs, serverInstances, presenceConnections, load: loadPlacement, ceilingMessages: quick ? 20_000 : 100_000,
    mqttUrl: ownBroker?.url ?? process.env.MQTT_URL, databaseUrl: process.env.DATABASE_URL, print: (l) => print(`   ${l}`), signal: interrupt.signal,
  }).finally(async () => {
    process.off('SIGINT', onInterrupt);
    await ownBroker?.close();
  });
  print(`   load average at the end ${load()}`);
  for (const r of results) printE2eTable(r, print);
  print('   targets (issue 6 item 6):');
  for (const r of results) {
    const at = r.steps.find((s) => s.offeredPerSec === E2E_TARGETS.atRatePerSec);
    const p99 = at?.latencyMs?.p99;
    const share = r.bestIngestedPerSec / r.ceiling.perSec;
    const label = `${r.kind} (${r.storeKind})`;
    print(`   ${label}: p99 < ${E2E_TARGETS.p99Ms} ms at ${E2E_TARGETS.atRatePerSec.toLocaleString('en')} ev/s: ${
      p99 === undefined ? 'not measured (no such step, or no promotion in it)' : `${p99 < E2E_TARGETS.p99Ms && at!.sustained ? 'met' : 'MISSED'} (p99 ${p99} ms${at!.sustained ? '' : ', step not sustained'})`}`);
    print(`   ${label}: ingest ≥ ${E2E_TARGETS.ceilingShare * 100} % of the raw broker ceiling: ${share >= E2E_TARGETS.ceilingShare ? 'met' : 'MISSED'} (${
      r.saturated ? '' : '≥ '}${Math.round(r.bestIngestedPerSec).toLocaleString('en')} ev/s = ${r.saturated ? '' : '≥ '}${(share * 100).toFixed(1)} % of ${Math.round(r.ceiling.perSec).toLocaleString('en')} msg/s${
      r.saturated ? '' : '; the steps never saturated it'})`);
  }
}

function printE2eTable(r: E2eStackResult, print: (line: string) => void): void {
  const ms = (n: number | undefined): string => (n === undefined ? '–' : String(Math.round(n)));
  const rate = (n: number): string => Math.round(n).toLocaleString('en');
  print(`\n   ${r.kind}: ${r.brokerLabel}; ${r.storeLabel}${r.instances > 1 ? `; ${r.instances} server instances` : ''}`);
  print(r.load === 'inline'
    ? '   the gateways and apps ran in the bench\'s process beside the server (--e2e-load inline): the server loop delay includes their work, and the load column is the same loop'
    : `   the server${r.kind === 'embedded' ? ' and aedes' : ''} ran alone in the bench's process, the gateways and apps in a load process of their own: the server's loop delay is its own`);
  print('   | offered ev/s | published ev/s | ingested ev/s | ingest ms/msg (mean) | Store ms/event | server loop delay p99 ms | load loop delay p99 ms | promotions | adv → app p50 / p99 ms | adv → decision p50 / p99 ms | events unprocessed | promotions missing | other outcomes | sustained |');
  print('   |---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of r.steps) {
    const other = Object.entries(s.otherOutcomes).map(([k, n]) => `${k} ${n}`).join(', ') || '–';
    print(`   | ${rate(s.offeredPerSec)} | ${rate(s.publishedPerSec)} | ${rate(s.ingestedPerSec)} | ${s.ingestMeanMs.toFixed(2)} | ${s.storeMsPerEvent.toFixed(2)} | ${s.loopDelayP99Ms.toFixed(1)} | ${s.loadLoopDelayP99Ms.toFixed(1)} | ${s.promotions.toLocaleString('en')} | ${ms(s.latencyMs?.p50)} / ${ms(s.latencyMs?.p99)} | ${
      ms(s.decisionMs?.p50)} / ${ms(s.decisionMs?.p99)} | ${s.lostEvents} | ${s.lostPromotions} | ${other} | ${s.sustained ? 'yes' : `no (drain ${s.drainMs} ms${s.generatorShort > 0 ? `, generator short ${s.generatorShort}` : ''})`} |`);
  }
  print(`   raw ceiling ${rate(r.ceiling.perSec)} msg/s (${r.ceiling.lost} lost); Vicino's best ingested rate ${rate(r.bestIngestedPerSec)} ev/s = ${(100 * r.bestIngestedPerSec / r.ceiling.perSec).toFixed(1)} % of it`);
}
