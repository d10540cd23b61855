import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBtsnoop } from '#gateway/ble/btsnoop.ts';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import { identifierOf } from '#gateway/gateway.ts';
import type { StoreDayReport } from '#simulator/world/store-report.ts';
import { runCli } from '../helpers/run-cli.ts';

// `vicino simulate` on a store scenario as a developer runs it: a boutique's morning on the virtual
// clock, twice with the same seed, and a scenario with mistakes in it.

const BOUTIQUE = fileURLToPath(new URL('../../simulator/scenarios/boutique.json', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-simulate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const simulate = async (out: string): Promise<{ code: number | null; report: StoreDayReport; stderr: string }> => {
  const run = runCli(['simulate', '--scenario', BOUTIQUE, '--duration', '2h', '--out', out, '--json']);
  const { code } = await run.exited;
  return { code, report: JSON.parse(run.stdout()) as StoreDayReport, stderr: run.stderr() };
};

describe('vicino simulate (store scenario, virtual clock)', () => {
  it('runs two hours of the boutique in seconds, reports against ground truth, and writes the report files', async () => {
    const { code, report, stderr } = await simulate(join(dir, 'first'));
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('on a virtual clock');
    expect(report.scenario).toMatchObject({ storeId: 'boutique-rome', seed: 7, startLocal: '10:00', simulatedS: 7_200 });
    expect(report.run.speedup).toBeGreaterThan(10);
    expect(report.population.arrivals).toBeGreaterThan(20);
    expect(report.gateways.events).toBeGreaterThan(0);
    expect(report.presence.zoneAccuracy).toBeGreaterThan(0.5);
    expect(report.calibration.map((c) => c.gatewayId).sort()).toEqual(['gw-accessories', 'gw-entrance', 'gw-womenswear']);
    expect((await readdir(join(dir, 'first'))).sort()).toEqual(['floor.svg', 'report.json', 'report.txt']);
    const saved = JSON.parse(await readFile(join(dir, 'first', 'report.json'), 'utf8')) as StoreDayReport;
    expect(saved.presence).toEqual(report.presence);
    const svg = await readFile(join(dir, 'first', 'floor.svg'), 'utf8');
    expect(svg).toContain('No individual tracks');
    expect(svg).not.toMatch(/<(polyline|path)\b/);
    expect(await readFile(join(dir, 'first', 'report.txt'), 'utf8')).toContain('zone accuracy');
  }, 60_000);

  it('gives the same figures for the same seed', async () => {
    const [a, b] = [await simulate(join(dir, 'a')), await simulate(join(dir, 'b'))];
    const { run: _runA, ...first } = a.report;
    const { run: _runB, ...second } = b.report;
    expect(second).toEqual(first);
  }, 60_000);

  it('writes each gateway\'s radio traffic as a btsnoop capture holding every report that gateway heard', async () => {
    const captures = join(dir, 'captures');
    const run = runCli(['simulate', '--scenario', BOUTIQUE, '--duration', '10m', '--btsnoop', captures, '--json']);
    const { code } = await run.exited;
    expect(code, run.stderr()).toBe(0);
    const report = JSON.parse(run.stdout()) as StoreDayReport;
    expect((await readdir(captures)).sort()).toEqual(['gw-accessories.btsnoop', 'gw-entrance.btsnoop', 'gw-womenswear.btsnoop']);
    for (const [gatewayId, heard] of Object.entries(report.radio.byGateway)) {
      const capture = parseBtsnoop(await readFile(join(captures, `${gatewayId}.btsnoop`)));
      expect(capture.errors).toEqual([]);
      expect(capture.reports).toHaveLength(heard);
    }
  }, 60_000);

  it('lets no raw identifier the radio carried into the report, the SVG or the logs, in any encoding', async () => {
    const [captures, out] = [join(dir, 'privacy-captures'), join(dir, 'privacy-out')];
    const run = runCli(['simulate', '--scenario', BOUTIQUE, '--duration', '30m', '--btsnoop', captures, '--out', out, '--json'], { env: { LOG_LEVEL: 'debug' } });
    const { code } = await run.exited;
    expect(code, run.stderr()).toBe(0);
    // Ground truth: every address and identifier on the air, read back from what the gateways' controllers reported.
    const secrets = new Set<string>();
    for (const file of await readdir(captures)) {
      for (const report of parseBtsnoop(await readFile(join(captures, file))).reports) {
        secrets.add(report.address.replaceAll(':', ''));
        for (const frame of decodeAdvertisement(report.data).frames) {
          const id = identifierOf(frame);
          if (id !== undefined) secrets.add(id.bytes.toString('hex'));
          if (frame.type === 'ibeacon') secrets.add(frame.uuid.replaceAll('-', ''));
          if (frame.type === 'eddystone-eid') secrets.add(frame.eid);
        }
      }
    }
    expect(secrets.size).toBeGreaterThan(10);
    const outputs = [run.stdout(), run.stderr(), ...(await Promise.all(['report.json', 'report.txt', 'floor.svg'].map((f) => readFile(join(out, f), 'utf8'))))].join('\n');
    const haystack = { hex: outputs.toLowerCase().replace(/[^0-9a-f]/g, ''), text: outputs };
    for (const secret of secrets) {
      const bytes = Buffer.from(secret, 'hex');
      expect(haystack.hex.includes(secret), secret).toBe(false);
      expect(haystack.text.includes(bytes.toString('base64').replace(/=+$/, '')), `${secret} (base64)`).toBe(false);
      expect(haystack.text.includes(bytes.toString('base64url').replace(/=+$/, '')), `${secret} (base64url)`).toBe(false);
    }
  }, 60_000);

  it('refuses a scenario with overlapping zones, a gateway off the floor and a negative rate, naming each field, and starts nothing', async () => {
    const scenario = JSON.parse(await readFile(BOUTIQUE, 'utf8')) as { zones: { polygon: { x: number; y: number }[] }[]; gateways: { position: { x: number } }[]; population: { arrivalsPerHour: number } };
    scenario.zones[1]!.polygon = scenario.zones[0]!.polygon.map((p) => ({ ...p }));
    scenario.gateways[0]!.position.x = 99;
    scenario.population.arrivalsPerHour = -5;
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(scenario));
    const out = join(dir, 'bad-out');
    const run = runCli(['simulate', '--scenario', file, '--out', out]);
    const { code } = await run.exited;
    expect(code).toBe(2);
    expect(run.stderr()).toContain('the run did not start');
    expect(run.stderr()).toMatch(/zones\.1\.polygon: overlaps zone "[a-z-]+" \(zones\.0\)/);
    expect(run.stderr()).toMatch(/gateways\.0\.position: \(99, [\d.]+\) is outside the 14 × 9 m floor plan/);
    expect(run.stderr()).toContain('population.arrivalsPerHour: must not be negative (got -5)');
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  }, 30_000);
});
