import { describe, expect, it } from 'vitest';
import { runDecodeBench } from '#simulator/bench/decode-bench.ts';
import { runGatewayBench } from '#simulator/bench/gateway-bench.ts';

// The benchmark code itself (not speed): it runs both decoders on the same frames and sees what each makes of them.

describe('runDecodeBench', () => {
  it('times Vicino and node-beacon-scanner on every frame, and reports what node-beacon-scanner recognised', async () => {
    const lines: string[] = [];
    const { rows, mix } = await runDecodeBench({ iterations: 2_000, rounds: 1, print: (line) => lines.push(line) });
    expect(rows.map((r) => [r.name, r.nbsSaw])).toEqual([
      ['ibeacon', 'iBeacon'],
      ['altbeacon', 'nothing'], // node-beacon-scanner has no AltBeacon parser
      ['eddystone-uid', 'eddystoneUid'],
      ['eddystone-url', 'eddystoneUrl'],
      ['eddystone-tlm', 'eddystoneTlm'],
      ['eddystone-eid', 'eddystoneEid'],
      ['apple-continuity', 'nothing'],
    ]);
    for (const r of [...rows, mix]) for (const perSec of [r.vicinoPerSec, r.nobleNbsPerSec, r.nbsAlonePerSec]) expect(perSec).toBeGreaterThan(0);
    expect(lines).toHaveLength(rows.length + 2); // a header, a line per frame, the mix
  });
});

describe('runGatewayBench', () => {
  it('drives gateway.handle with and without the pseudonym cache and reports the cost per advertisement', () => {
    const results = runGatewayBench({ advertisements: 3_000, rounds: 1, print: () => undefined });
    expect(results.map((r) => r.name)).toEqual([expect.stringContaining('cache on'), expect.stringContaining('cache off')]);
    for (const r of results) {
      expect(r.opsPerSec).toBeGreaterThan(0);
      expect(r.p99Ns).toBeGreaterThanOrEqual(r.p50Ns);
    }
  });
});
