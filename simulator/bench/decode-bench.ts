// Micro-benchmark of the gateway's hot path: decoding one advertising packet. A gateway in a busy
// store sees thousands of packets a second, so decodeAdvertisement must stay far above that.
// Importing this file does nothing; call runDecodeBench (the `vicino bench` command does).

import { performance } from 'node:perf_hooks';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import { encodeEddystoneEid, encodeIBeacon } from '#simulator/radio/encoders.ts';

export type DecodeBenchOptions = {
  /** Decodes per round, per case. Default 2,000,000. */
  iterations?: number;
  /** Timed rounds per case. Default 7. */
  rounds?: number;
  /** Untimed decodes before the first round, so the JIT has settled. Default 200,000. */
  warmupIterations?: number;
  /** Where progress lines go. Default: standard output. */
  print?: (line: string) => void;
};

export type DecodeBenchResult = {
  name: string;
  packetBytes: number;
  iterations: number;
  /** Median of the per-round rates. */
  opsPerSec: number;
  p5OpsPerSec: number;
  p95OpsPerSec: number;
  /** Each round's rate, in run order. */
  roundOpsPerSec: number[];
};

type BenchCase = { name: string; packet: Uint8Array; expectFrame: string };

function benchCases(): BenchCase[] {
  const iBeacon = encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 });
  return [
    // The controller reports all 31 bytes of legacy advertising data: the 30-byte iBeacon plus zero padding.
    { name: 'ibeacon (31 B)', packet: Uint8Array.of(...iBeacon, 0x00), expectFrame: 'ibeacon' },
    // eid-vectors.md: `02 01 06 03 03 AA FE 0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90`.
    { name: 'eddystone-eid (21 B)', packet: encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 }), expectFrame: 'eddystone-eid' },
  ];
}

/** Percentile of ascending `sorted`, linearly interpolated between ranks (so p50 is the usual median). */
function percentile(sorted: readonly number[], p: number): number {
  const position = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(position);
  const below = sorted[lower] ?? Number.NaN;
  const above = sorted[lower + 1] ?? below;
  return below + (above - below) * (position - lower);
}

/** Decodes `packet` `iterations` times; returns a count the caller checks, so the work cannot be elided. */
function decodeMany(packet: Uint8Array, iterations: number): number {
  let frames = 0;
  for (let i = 0; i < iterations; i++) frames += decodeAdvertisement(packet).frames.length;
  return frames;
}

const formatRate = (opsPerSec: number): string => `${Math.round(opsPerSec).toLocaleString('en-US')} ops/s`;

export async function runDecodeBench(opts: DecodeBenchOptions = {}): Promise<DecodeBenchResult[]> {
  const { iterations = 2_000_000, rounds = 7, warmupIterations = 200_000 } = opts;
  const print = opts.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${rounds}`);

  const results: DecodeBenchResult[] = [];
  for (const { name, packet, expectFrame } of benchCases()) {
    const decoded = decodeAdvertisement(packet);
    if (decoded.frames[0]?.type !== expectFrame || decoded.errors.length > 0) {
      throw new Error(`${name}: the bench packet does not decode to one ${expectFrame} frame`);
    }
    decodeMany(packet, warmupIterations);

    const roundOpsPerSec: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const start = performance.now();
      const frames = decodeMany(packet, iterations);
      const elapsedMs = performance.now() - start;
      if (frames !== iterations) throw new Error(`${name}: decoded ${frames} frames in ${iterations} decodes`);
      const opsPerSec = (iterations * 1000) / elapsedMs;
      roundOpsPerSec.push(opsPerSec);
      print(`${name}  round ${round}/${rounds}: ${formatRate(opsPerSec)}`);
      // Yield between rounds so a caller's timers and signals are not starved.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    const sorted = [...roundOpsPerSec].sort((a, b) => a - b);
    const result: DecodeBenchResult = {
      name,
      packetBytes: packet.length,
      iterations,
      opsPerSec: percentile(sorted, 50),
      p5OpsPerSec: percentile(sorted, 5),
      p95OpsPerSec: percentile(sorted, 95),
      roundOpsPerSec,
    };
    print(`${name}  median ${formatRate(result.opsPerSec)} (p5 ${formatRate(result.p5OpsPerSec)}, p95 ${formatRate(result.p95OpsPerSec)})`);
    results.push(result);
  }
  return results;
}
