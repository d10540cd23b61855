import { runDecodeBench } from './decode-bench.ts';
import { runFloodBench } from './flood-bench.ts';
import { runGatewayBench, runPublishBench } from './gateway-bench.ts';
import { ENVIRONMENTS, runPresenceBench } from './presence-bench.ts';
import { runRadioBench } from './radio-bench.ts';
import { runResolverBench } from './resolver-bench.ts';

// `npm run bench`: every benchmark, side by side in one run (the machines are shared and noisy),
// with ratios against the reference figures in shared/reference/performance-notes.md.
// `--quick` is a short smoke run; `--only resolver` (or decode, gateway, flood, radio, presence; comma-separated) runs those sections.

const REFERENCE = {
  // "parse a 31-byte advertisement and decode an iBeacon (straightforward code)" — one core.
  decodeIBeaconPerSec: 3.0e6,
  // "one legacy-advertising scanner radio receives at most about 490 advertisements/s in a crowd".
  radioCeilingPerSec: 490,
};

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
