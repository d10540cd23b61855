import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FloodResult } from '#simulator/bench/flood-bench.ts';
import { floodAddress } from '#simulator/bench/flood-bench.ts';

// 1,000,000 distinct addresses — a BLE spam device (Apple Continuity spam), phones with MAC
// randomisation carrying the app, and a spammer imitating tokens — through the real noble Noble class
// and gap.js on the simulator's HCI, the gateway's scanner tap, and the real gateway pipeline
// (simulator/bench/flood-bench.ts). The heap is measured after full GCs, which needs --expose-gc: the
// flood runs in a child node process started with it, on one core.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BENCH = fileURLToPath(new URL('../../../simulator/bench/flood-bench.ts', import.meta.url));

function runFloodChild(reports: number, checkpoints: number[]): Promise<FloodResult> {
  const script = `const { runFlood } = await import(${JSON.stringify(BENCH)});
const result = await runFlood({ reports: ${reports}, checkpoints: ${JSON.stringify(checkpoints)} });
process.stdout.write(JSON.stringify(result));`;
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`flood child exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as FloodResult);
    });
  });
}

describe('gateway under a flood of 1,000,000 distinct addresses', () => {
  it('keeps the heap after 1M within 10% of the heap after 100k, and under 64 MB', async () => {
    const result = await runFloodChild(1_000_000, [100_000, 1_000_000]);
    expect(result.exactHeap).toBe(true);
    const [at100k, at1M] = result.checkpoints;
    expect(at100k!.reports).toBe(100_000);
    expect(at1M!.reports).toBe(1_000_000);
    expect(Math.abs(at1M!.heapMb - at100k!.heapMb) / at100k!.heapMb).toBeLessThanOrEqual(0.10);
    expect(at1M!.heapMb).toBeLessThan(64);

    // Every report went through noble to the gateway, and every per-address structure stayed in bounds.
    expect(at1M!.scanner.reports).toBe(1_000_000);
    expect(at1M!.gateway.advertisements).toBe(1_000_000);
    expect(at1M!.gateway.dropped['not-a-beacon']).toBe(750_000); // the Continuity spam
    expect(at1M!.scanner.trackedAddresses).toBeLessThanOrEqual(5_000);
    expect(at1M!.scanner.nobleCacheEntries).toBeLessThanOrEqual(5_000 * 10);
    expect(at1M!.scanner.prunedAddresses).toBeGreaterThanOrEqual(1_000_000 - 5_000);
    expect(at1M!.gateway.tracked).toBeLessThanOrEqual(10_000);
    console.info(`flood: 1M reports in ${(result.cpuMs / 1000).toFixed(1)} s CPU (${(result.wallMs / 1000).toFixed(1)} s wall); heap ${at100k!.heapMb.toFixed(1)} MB at 100k, ${at1M!.heapMb.toFixed(1)} MB at 1M`);
  }, 180_000);

  it('uses a new address for every report', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i += 1) seen.add(floodAddress(i * 5 + 3));
    expect(seen.size).toBe(200_000);
    expect(floodAddress(7)).toMatch(/^[4-7][0-9a-f](:[0-9a-f]{2}){5}$/); // a resolvable private address
  });
});
