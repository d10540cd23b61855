import { randomUUID, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createGateway } from '#gateway/gateway.ts';
import { deriveEventMacKey, PROTOCOL_VERSION, pseudonymise, signPresenceEvent, wrapEpochKey, type Pseudonym } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import type { RawAdvertisement, Scanner } from '#gateway/scanner/scanner.ts';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { createAppIdentity } from '../app/app-identity.ts';
import { encodeAppleContinuity, encodeExposureNotification, encodeIBeacon } from '../radio/encoders.ts';
import { createRng } from '../rng.ts';

// The gateway's two hot paths (`npm run bench:gateway`, sections 2 and 3), on one core:
// - every advertisement: decode → filter (drop foreign frames) → pseudonymise (HMAC under the epoch
//   key, cached) → presence, through the real `gateway.handle`, with the cost of each call;
// - every presence edge: sign (HMAC) → serialise (JSON) → MQTT QoS 1 publish, through the real MQTT
//   publisher into an aedes broker in this process, counted when the broker has acknowledged it.
// The crowd is a store's: 200 app tokens, 100 phones without the app, 10 registered beacons and 10
// foreign ones, 20 Exposure Notification phones, each heard again and again.

export type GatewayBenchResult = {
  name: string;
  advertisements: number;
  roundOpsPerSec: number[];
  opsPerSec: number;
  p5OpsPerSec: number;
  p95OpsPerSec: number;
  /** Cost of one `handle` call, ns, over every call of one extra round timed call by call (timer cost subtracted). */
  p50Ns: number;
  p99Ns: number;
};

export type PublishBenchResult = {
  events: number;
  /** Sign + serialise only (no network): events/s. */
  signSerialisePerSec: number;
  /** Sign + serialise + QoS 1 publish, until the broker has acknowledged every one: events/s. */
  publishedPerSec: number;
};

const idle: Scanner = { start: async () => undefined, stop: async () => undefined, stats: () => ({ reports: 0, trackedAddresses: 0 }) };

function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

/** The cost of reading the clock twice, ns (median of many), subtracted from per-call timings. */
function timerOverheadNs(): number {
  const samples = new Float64Array(100_000);
  for (let i = 0; i < samples.length; i++) {
    const start = process.hrtime.bigint();
    samples[i] = Number(process.hrtime.bigint() - start);
  }
  return quantile(samples.sort(), 0.5);
}

export function runGatewayBench(options: { advertisements?: number; rounds?: number; print?: (line: string) => void } = {}): GatewayBenchResult[] {
  const n = options.advertisements ?? 300_000;
  const rounds = options.rounds ?? 5;
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const rng = createRng(7);
  const secret = rng.bytes(32);
  const epochKey = rng.bytes(32);
  const resolverPublic = createAppIdentity().publicKeyHex;
  const tokens = Array.from({ length: 200 }, () => createAppIdentity().bind(resolverPublic, 10));
  const t0 = 1_800_000_000_000;
  const uuid = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';
  const beacon = (minor: number): Buffer => encodeIBeacon({ uuid, major: 1, minor, measuredPowerDbm: -59 });
  // The gateway's identifier of an iBeacon: UUID ‖ major BE ‖ minor BE (gateway.ts identifierOf).
  const beaconIdentifier = (minor: number): Buffer => Buffer.concat([Buffer.from(uuid.replaceAll('-', ''), 'hex'), Buffer.from([0, 1, minor >> 8, minor & 0xff])]);
  const registeredBeacons = Array.from({ length: 10 }, (_, minor) => pseudonymise(epochKey, 'ibeacon', beaconIdentifier(minor)) as Pseudonym);
  const crowd: Buffer[] = [
    ...tokens.map((t) => t.advertisementAt(t0)),
    ...Array.from({ length: 100 }, () => encodeAppleContinuity({ subtype: 0x10, payload: rng.bytes(5) })),
    ...Array.from({ length: 20 }, (_, minor) => beacon(minor)),
    ...Array.from({ length: 20 }, () => encodeExposureNotification({ rpi: rng.bytes(16), metadata: rng.bytes(4) })),
  ];
  const ads: RawAdvertisement[] = Array.from({ length: n }, (_, i) => ({ data: crowd[i % crowd.length]!, rssiDbm: -60 - (i % 25), receivedAtMs: t0 + Math.floor(i / 10) }));
  const overheadNs = timerOverheadNs();
  print(`reading the clock twice costs ${overheadNs} ns (median); it is subtracted from each per-call timing`);

  const results: GatewayBenchResult[] = [];
  for (const cacheEntries of [20_000, 0]) {
    const name = cacheEntries > 0 ? 'decode → filter → pseudonymise → presence (pseudonym cache on)' : 'same, cache off (an HMAC for every kept frame)';
    const rates: number[] = [];
    const costs = new Float64Array(n);
    for (let round = 0; round < rounds + 2; round += 1) {
      const gateway = createGateway({
        scanner: idle, publisher: createMemoryPublisher(), logger: pino({ level: 'silent' }), now: () => t0,
        settings: { storeId: 'bench', gatewayId: 'gw', zoneId: 'z', secret, pseudonymCacheEntries: cacheEntries },
      });
      gateway.applyConfig({
        v: PROTOCOL_VERSION, storeId: 'bench', gatewayId: 'gw', zoneId: 'z', issuedAtS: 0, registeredBeacons,
        epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(secret, 'gw', 'k1', epochKey), notBeforeS: 0, notAfterS: 4_000_000_000 }],
      });
      if (round === rounds + 1) {
        // The last round times each call on its own, for the distribution of the cost per advertisement.
        for (let i = 0; i < n; i++) {
          const start = process.hrtime.bigint();
          gateway.handle(ads[i]!);
          costs[i] = Number(process.hrtime.bigint() - start) - overheadNs;
        }
        break;
      }
      const start = process.hrtime.bigint();
      for (const ad of ads) gateway.handle(ad);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (round > 0) rates.push(n / seconds); // round 0 warms the JIT
      const dropped = gateway.stats().dropped;
      if (round === 0 && (dropped['not-a-beacon'] === 0 || dropped['unregistered-beacon'] === 0)) throw new Error('the bench crowd must exercise the filter');
    }
    costs.sort();
    const sorted = [...rates].sort((a, b) => a - b);
    const result: GatewayBenchResult = {
      name, advertisements: n, roundOpsPerSec: rates, opsPerSec: quantile(sorted, 0.5), p5OpsPerSec: quantile(sorted, 0.05), p95OpsPerSec: quantile(sorted, 0.95),
      p50Ns: Math.max(0, quantile(costs, 0.5)), p99Ns: Math.max(0, quantile(costs, 0.99)),
    };
    print(`${name}: median ${Math.round(result.opsPerSec).toLocaleString('en')} adv/s (p5 ${Math.round(result.p5OpsPerSec).toLocaleString('en')}, p95 ${
      Math.round(result.p95OpsPerSec).toLocaleString('en')}) over ${rounds} rounds of ${n.toLocaleString('en')}; per advertisement p50 ${(result.p50Ns / 1000).toFixed(2)} µs, p99 ${(result.p99Ns / 1000).toFixed(2)} µs`);
    results.push(result);
  }
  return results;
}

/** Sign + serialise + MQTT QoS 1 publish of `events` presence events into an aedes broker in this process. */
export async function runPublishBench(options: { events?: number; print?: (line: string) => void } = {}): Promise<PublishBenchResult> {
  const events = options.events ?? 20_000;
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const macKey = deriveEventMacKey(Buffer.alloc(32, 1), 'gw-bench');
  const boot = randomUUID();
  const pseudonym = '0123456789abcdef0123456789abcdef' as Pseudonym;
  const event = (seq: number) => signPresenceEvent(macKey, {
    v: PROTOCOL_VERSION, eventId: randomUUID(), storeId: 'store-bench', gatewayId: 'gw-bench', zoneId: 'entrance', keyId: 'k1', idKind: 'eddystone-eid',
    pseudonym, kind: seq % 3 === 0 ? 'exit' : seq % 3 === 1 ? 'enter' : 'dwell', atS: 1_800_000_000 + seq, dwellS: seq % 600, proximity: 'near', boot, seq,
  });

  let bytes = 0;
  const serialiseStart = process.hrtime.bigint();
  for (let seq = 1; seq <= events; seq++) bytes += JSON.stringify(event(seq)).length;
  const signSerialisePerSec = events / (Number(process.hrtime.bigint() - serialiseStart) / 1e9);

  const logger = pino({ level: 'silent' });
  const broker = await startEmbeddedBroker({ port: 0, logger });
  const publisher = createMqttPublisher({ messageKey: randomBytes(32), url: broker.url, storeId: 'store-bench', gatewayId: 'gw-bench', logger, now: Date.now });
  try {
    await publisher.start();
    const connectedBy = Date.now() + 10_000;
    while (!publisher.stats().connected) {
      if (Date.now() > connectedBy) throw new Error('the bench publisher did not connect to the in-process broker');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const start = process.hrtime.bigint();
    for (let seq = 1; seq <= events; seq++) publisher.publish(event(seq));
    while (publisher.stats().published < events) await new Promise((resolve) => setImmediate(resolve));
    const publishedPerSec = events / (Number(process.hrtime.bigint() - start) / 1e9);
    print(`sign + serialise (HMAC-SHA-256 + JSON, ${Math.round(bytes / events)} B/event): ${Math.round(signSerialisePerSec).toLocaleString('en')} events/s`);
    print(`sign + serialise + MQTT QoS 1 publish into aedes (same process), all ${events.toLocaleString('en')} acknowledged: ${Math.round(publishedPerSec).toLocaleString('en')} events/s`);
    return { events, signSerialisePerSec, publishedPerSec };
  } finally {
    await publisher.stop();
    await broker.close();
  }
}
