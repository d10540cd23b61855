import { createRequire } from 'node:module';
import { pino } from 'pino';
import { createGateway } from '#gateway/gateway.ts';
import { PROTOCOL_VERSION, wrapEpochKey } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import { createNobleScanner, type NobleLike } from '#gateway/scanner/noble-scanner.ts';
import { createSimulatedBindings } from '../noble-bindings.ts';
import { encodeEddystoneEid } from '../radio/encoders.ts';
import { randomAddress } from '../radio/virtual-radio.ts';
import { createRng } from '../rng.ts';

// Memory under a flood: every report from a new address with a new token (a BLE spam device, or
// phones rotating their addresses), through real noble and the real gateway. noble alone keeps
// every address forever (noble/noble#636); the gateway bounds noble's maps, its tracker and its cache.

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings') as (bindings: unknown) => NobleLike;

export type FloodBenchResult = {
  reports: number;
  bounded: { heapMb: number; noblePeripherals: number; tracked: number };
  unbounded: { heapMb: number; noblePeripherals: number };
};

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const heapMb = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1_048_576;
};

async function flood(reports: number, bound: boolean): Promise<{ heapMb: number; noblePeripherals: number; tracked: number }> {
  const rng = createRng(99);
  const bindings = createSimulatedBindings();
  const noble = withBindings(bindings);
  const now = { ms: 1_800_000_000_000 };
  const secret = rng.bytes(32);
  const publisher = createMemoryPublisher();
  let tracked = 0;
  if (bound) {
    const gateway = createGateway({
      scanner: createNobleScanner({ noble, now: () => now.ms }), publisher, logger: pino({ level: 'silent' }), now: () => now.ms,
      settings: { storeId: 'bench', gatewayId: 'gw', zoneId: 'z', secret },
    });
    gateway.applyConfig({
      v: PROTOCOL_VERSION, storeId: 'bench', gatewayId: 'gw', zoneId: 'z', issuedAtS: 0, registeredBeacons: [],
      epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(secret, 'gw', 'k1', rng.bytes(32)), notBeforeS: 0, notAfterS: 4_000_000_000 }],
    });
    await gateway.start();
    for (let i = 0; i < reports; i += 1) {
      now.ms += 1;
      bindings.report({ address: randomAddress(rng, 'resolvable'), addressType: 'random', eir: encodeEddystoneEid({ eid: rng.bytes(8), txPowerDbm: -20 }), rssi: -60 });
      publisher.events.length = 0;
    }
    tracked = gateway.stats().tracked;
    const result = { heapMb: heapMb(), noblePeripherals: Object.keys(noble._peripherals ?? {}).length, tracked };
    await gateway.stop();
    return result;
  }
  // noble on its own, as most gateways use it: a discover listener and nothing that forgets.
  noble.on('discover', () => undefined);
  await new Promise<void>((resolve) => noble.once('stateChange', () => resolve()));
  await noble.startScanningAsync([], true);
  for (let i = 0; i < reports; i += 1) {
    bindings.report({ address: randomAddress(rng, 'resolvable'), addressType: 'random', eir: encodeEddystoneEid({ eid: rng.bytes(8), txPowerDbm: -20 }), rssi: -60 });
  }
  const result = { heapMb: heapMb(), noblePeripherals: Object.keys(noble._peripherals ?? {}).length, tracked };
  await noble.stopScanningAsync();
  return result;
}

export async function runFloodBench(options: { reports?: number; print?: (line: string) => void } = {}): Promise<FloodBenchResult> {
  const reports = options.reports ?? 200_000;
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  if ((globalThis as { gc?: unknown }).gc === undefined) print('(run node with --expose-gc for exact heap figures; these include garbage)');
  const base = heapMb();
  const bounded = await flood(reports, true);
  const afterBounded = heapMb();
  const unbounded = await flood(reports, false);
  const result: FloodBenchResult = {
    reports,
    bounded: { heapMb: bounded.heapMb - base, noblePeripherals: bounded.noblePeripherals, tracked: bounded.tracked },
    unbounded: { heapMb: unbounded.heapMb - afterBounded, noblePeripherals: unbounded.noblePeripherals },
  };
  print(`${reports.toLocaleString('en')} reports, each from a new address with a new token:`);
  print(`   Vicino gateway on noble: heap +${result.bounded.heapMb.toFixed(1)} MB, noble peripherals ${result.bounded.noblePeripherals.toLocaleString('en')}, tracked pseudonyms ${result.bounded.tracked.toLocaleString('en')} (bounds 5,000 / 10,000)`);
  print(`   noble alone:             heap +${result.unbounded.heapMb.toFixed(1)} MB, noble peripherals ${result.unbounded.noblePeripherals.toLocaleString('en')}`);
  print(`   heap ratio unbounded / bounded: ${(result.unbounded.heapMb / Math.max(0.1, result.bounded.heapMb)).toFixed(1)}×`);
  return result;
}
