import { createRequire } from 'node:module';
import { pino } from 'pino';
import { createGateway, type GatewayStats } from '#gateway/gateway.ts';
import { PROTOCOL_VERSION, wrapEpochKey } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import { createNobleScanner, type NobleLike, type NobleScannerStats } from '#gateway/scanner/noble-scanner.ts';
import { createSimulatedBindings } from '../noble-bindings.ts';
import { encodeAppleContinuity, encodeEddystoneEid } from '../radio/encoders.ts';
import { createRng } from '../rng.ts';

// Memory under a flood: every report from an address never heard before, through real noble (its
// Noble class, its gap.js) on the simulated HCI, and the real gateway pipeline behind the scanner.
// The senders, in turn, every report from a new address:
//   - a BLE spam device (a Flipper Zero's "Apple Continuity spam"): Nearby Action and Proximity Pairing
//     frames, three reports in four — the gateway drops them as not-a-beacon right after decoding;
//   - phones with MAC randomisation carrying the app: 2,000 tokens (Eddystone-EID frames), one in eight;
//   - a spammer imitating tokens: Eddystone-EID frames with a token never seen before, one in eight —
//     the worst case for the gateway's own per-token state (pseudonym cache, presence tracker).
// noble alone keeps every address forever (noble/noble#636); the gateway bounds noble's maps, its
// tracker and its pseudonym cache, so the heap after 1M addresses is the heap after 100k.

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings') as (bindings: unknown) => NobleLike;

export type FloodCheckpoint = {
  reports: number;
  /** heapUsed after full GCs, MB. */
  heapMb: number;
  /** Wall time of the flood so far, without the time spent measuring. */
  elapsedMs: number;
  scanner: NobleScannerStats;
  gateway: GatewayStats;
};

export type FloodResult = {
  checkpoints: FloodCheckpoint[];
  wallMs: number;
  /** CPU time (user + system) of the flood, without the measuring: on a shared machine, the honest figure. */
  cpuMs: number;
  /** Reports per second of CPU time, on one core. */
  reportsPerCpuSecond: number;
  exactHeap: boolean;
};

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The i-th address of the flood, all distinct for i < 2^32: the last four bytes are i scrambled by an
 * odd multiplier (a bijection on 32 bits), and the top two bits of the first byte are 0b01, a resolvable
 * private address, as phones and spam tools use (Core Spec Vol 6 Part B §1.3.2.2).
 */
export function floodAddress(i: number): string {
  const low = Math.imul(i, 0x9e3779b1) >>> 0;
  return `${HEX[0x40 | (i & 0x3f)]}:${HEX[(i >>> 6) & 0xff]}:${HEX[low >>> 24]}:${HEX[(low >>> 16) & 0xff]}:${HEX[(low >>> 8) & 0xff]}:${HEX[low & 0xff]}`;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
export const heapAfterGcMb = (): number => {
  for (let i = 0; i < 3; i += 1) gc();
  return process.memoryUsage().heapUsed / 1_048_576;
};

// Continuity types a spam tool cycles through: Nearby Action (0x0f) and Proximity Pairing (0x07).
const SPAM_TYPES = [0x0f, 0x07] as const;
const APP_TOKENS = 2_000;

/** Drives `reports` distinct addresses through noble and the gateway, measuring the heap at each checkpoint. */
export async function runFlood(options: { reports: number; checkpoints: readonly number[]; seed?: number }): Promise<FloodResult> {
  const rng = createRng(options.seed ?? 99);
  const bindings = createSimulatedBindings();
  const noble = withBindings(bindings);
  const clock = { ms: 1_800_000_000_000 };
  const secret = rng.bytes(32);
  const publisher = createMemoryPublisher();
  const scanner = createNobleScanner({ noble, now: () => clock.ms });
  const gateway = createGateway({
    scanner, publisher, logger: pino({ level: 'silent' }), now: () => clock.ms,
    settings: { storeId: 'bench', gatewayId: 'gw', zoneId: 'z', secret },
  });
  gateway.applyConfig({
    v: PROTOCOL_VERSION, storeId: 'bench', gatewayId: 'gw', zoneId: 'z', issuedAtS: 0, registeredBeacons: [],
    epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(secret, 'gw', 'k1', rng.bytes(32)), notBeforeS: 0, notAfterS: 4_000_000_000 }],
  });
  await gateway.start();

  const checkpoints: FloodCheckpoint[] = [];
  const pending = [...options.checkpoints].sort((a, b) => a - b);
  // The frames come from the simulator's encoders once; the flood then stamps a token into a copy of
  // the EID frame for each report that carries one.
  const eidFrame = encodeEddystoneEid({ eid: Buffer.alloc(8), txPowerDbm: -20 });
  const eidAt = eidFrame.length - 8; // the EID is the frame's last 8 bytes
  const spamFrames = Array.from({ length: 64 }, (_, k) => encodeAppleContinuity({ subtype: SPAM_TYPES[k & 1]!, payload: rng.bytes(10) }));
  const appTokens = Array.from({ length: APP_TOKENS }, () => rng.bytes(8));
  const tokenBytes = rng.bytes(1 << 16);
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let measuring = 0;
  let measuringCpu = 0;
  for (let i = 0; i < options.reports; i += 1) {
    clock.ms += 1;
    let eir: Buffer;
    if ((i & 3) !== 0) {
      eir = spamFrames[i & 63]!;
    } else {
      eir = Buffer.allocUnsafe(eidFrame.length);
      eidFrame.copy(eir);
      if ((i & 4) === 0) {
        appTokens[(i >> 3) % APP_TOKENS]!.copy(eir, eidAt);
      } else {
        // A token never seen before: the report number, then random bytes.
        eir.writeUInt32BE(i, eidAt);
        tokenBytes.copy(eir, eidAt + 4, (i * 4) & 0xfffc, ((i * 4) & 0xfffc) + 4);
      }
    }
    bindings.report({ address: floodAddress(i), addressType: 'random', eir, rssi: -40 - (i % 50) });
    if (publisher.events.length > 0) publisher.events.length = 0;
    if (i + 1 === pending[0]) {
      pending.shift();
      const t = performance.now();
      const cpu = process.cpuUsage();
      checkpoints.push({ reports: i + 1, heapMb: heapAfterGcMb(), elapsedMs: t - started - measuring, scanner: scanner.stats(), gateway: gateway.stats() });
      measuring += performance.now() - t;
      const spent = process.cpuUsage(cpu);
      measuringCpu += (spent.user + spent.system) / 1000;
    }
  }
  const wallMs = performance.now() - started - measuring;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuMs = (cpu.user + cpu.system) / 1000 - measuringCpu;
  await gateway.stop();
  return { checkpoints, wallMs, cpuMs, reportsPerCpuSecond: options.reports / (cpuMs / 1000), exactHeap: typeof (globalThis as { gc?: unknown }).gc === 'function' };
}

/** noble on its own, as most gateways use it: a discover listener and nothing that forgets. */
async function floodNobleAlone(reports: number): Promise<{ heapMb: number; peripherals: number }> {
  const bindings = createSimulatedBindings();
  const noble = withBindings(bindings);
  noble.on('discover', () => undefined);
  await new Promise<void>((resolve) => noble.once('stateChange', () => resolve()));
  await noble.startScanningAsync([], true);
  const eid = Buffer.alloc(8, 1);
  for (let i = 0; i < reports; i += 1) {
    bindings.report({ address: floodAddress(i), addressType: 'random', eir: encodeEddystoneEid({ eid, txPowerDbm: -20 }), rssi: -60 });
  }
  const result = { heapMb: heapAfterGcMb(), peripherals: Object.keys(noble._peripherals ?? {}).length };
  await noble.stopScanningAsync();
  return result;
}

export async function runFloodBench(options: { reports?: number; nobleAloneReports?: number; print?: (line: string) => void } = {}): Promise<FloodResult> {
  const reports = options.reports ?? 1_000_000;
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const exact = typeof (globalThis as { gc?: unknown }).gc === 'function';
  if (!exact) print('(run node with --expose-gc for exact heap figures; these include garbage)');
  const base = heapAfterGcMb();
  const checkpoints = [Math.round(reports / 10), reports];
  const result = await runFlood({ reports, checkpoints });
  print(`${reports.toLocaleString('en')} reports, each from a new address (Apple Continuity spam; MAC-randomising phones with the app; EID spam with new tokens): ${Math.round(result.reportsPerCpuSecond).toLocaleString('en')} reports per CPU second (${(result.cpuMs / 1000).toFixed(1)} s CPU, ${(result.wallMs / 1000).toFixed(1)} s wall)`);
  for (const c of result.checkpoints) {
    print(`   after ${c.reports.toLocaleString('en').padStart(9)}: heap ${c.heapMb.toFixed(1)} MB (process baseline ${base.toFixed(1)} MB); noble map entries ${c.scanner.nobleCacheEntries.toLocaleString('en')} for ${c.scanner.trackedAddresses.toLocaleString('en')} addresses (bound 5,000), pseudonyms tracked ${c.gateway.tracked.toLocaleString('en')} (bound 10,000)`);
  }
  const [first, last] = [result.checkpoints[0]!, result.checkpoints.at(-1)!];
  print(`   heap at ${last.reports.toLocaleString('en')} / heap at ${first.reports.toLocaleString('en')}: ${(last.heapMb / first.heapMb).toFixed(3)}`);
  const aloneReports = options.nobleAloneReports ?? Math.min(reports, 200_000);
  const alone = await floodNobleAlone(aloneReports);
  print(`   noble alone, ${aloneReports.toLocaleString('en')} reports: heap ${alone.heapMb.toFixed(1)} MB, noble peripherals ${alone.peripherals.toLocaleString('en')} (never forgotten)`);
  return result;
}
