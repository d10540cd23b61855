import { pino } from 'pino';
import { createGateway } from '#gateway/gateway.ts';
import { PROTOCOL_VERSION, wrapEpochKey } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import type { RawAdvertisement, Scanner } from '#gateway/scanner/scanner.ts';
import { createAppIdentity } from '../app/app-identity.ts';
import { encodeAppleContinuity, encodeIBeacon } from '../radio/encoders.ts';
import { createRng } from '../rng.ts';

// The gateway's hot path as the scanner drives it: decode → filter → pseudonymise (cached) →
// presence. A crowd of 200 app tokens and 100 foreign phones, each heard repeatedly, as in a store.

export type GatewayBenchResult = { name: string; advertisements: number; roundOpsPerSec: number[]; opsPerSec: number; p5OpsPerSec: number; p95OpsPerSec: number };

const idle: Scanner = { start: async () => undefined, stop: async () => undefined, stats: () => ({ reports: 0, trackedAddresses: 0 }) };

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

export function runGatewayBench(options: { advertisements?: number; rounds?: number; print?: (line: string) => void } = {}): GatewayBenchResult[] {
  const n = options.advertisements ?? 300_000;
  const rounds = options.rounds ?? 5;
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const rng = createRng(7);
  const secret = rng.bytes(32);
  const resolverPublic = createAppIdentity().publicKeyHex;
  const tokens = Array.from({ length: 200 }, () => createAppIdentity().bind(resolverPublic, 10));
  const t0 = 1_800_000_000_000;
  const crowd: Buffer[] = [
    ...tokens.map((t) => t.advertisementAt(t0)),
    ...Array.from({ length: 100 }, () => encodeAppleContinuity({ subtype: 0x10, payload: rng.bytes(5) })),
    ...Array.from({ length: 20 }, (_, i) => encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: i, measuredPowerDbm: -59 })),
  ];
  const ads: RawAdvertisement[] = Array.from({ length: n }, (_, i) => ({ data: crowd[i % crowd.length]!, rssiDbm: -60 - (i % 25), receivedAtMs: t0 + Math.floor(i / 10) }));

  const results: GatewayBenchResult[] = [];
  for (const cacheEntries of [20_000, 0]) {
    const name = cacheEntries > 0 ? 'gateway pipeline (pseudonym cache on)' : 'gateway pipeline (cache off: HMAC every packet)';
    const rates: number[] = [];
    for (let round = 0; round < rounds + 1; round += 1) {
      const publisher = createMemoryPublisher();
      const gateway = createGateway({
        scanner: idle, publisher, logger: pino({ level: 'silent' }), now: () => t0,
        settings: { storeId: 'bench', gatewayId: 'gw', zoneId: 'z', secret, pseudonymCacheEntries: cacheEntries },
      });
      gateway.applyConfig({
        v: PROTOCOL_VERSION, storeId: 'bench', gatewayId: 'gw', zoneId: 'z', issuedAtS: 0, registeredBeacons: [],
        epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(secret, 'gw', 'k1', rng.bytes(32)), notBeforeS: 0, notAfterS: 4_000_000_000 }],
      });
      const start = process.hrtime.bigint();
      for (const ad of ads) gateway.handle(ad);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (round > 0) rates.push(n / seconds); // round 0 warms the JIT
    }
    const sorted = [...rates].sort((a, b) => a - b);
    const result = { name, advertisements: n, roundOpsPerSec: rates, opsPerSec: quantile(sorted, 0.5), p5OpsPerSec: quantile(sorted, 0.05), p95OpsPerSec: quantile(sorted, 0.95) };
    print(`${name}: median ${Math.round(result.opsPerSec).toLocaleString('en')} adv/s (p5 ${Math.round(result.p5OpsPerSec).toLocaleString('en')}, p95 ${Math.round(result.p95OpsPerSec).toLocaleString('en')}) over ${rounds} rounds of ${n.toLocaleString('en')}`);
    results.push(result);
  }
  return results;
}
