import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { runCli } from '../helpers/run-cli.ts';

// The programs as a user runs them: `npm start` (vicino demo), Ctrl-C, the JSON summary, the
// programs apart (server + simulate over MQTT and HTTP), the gateway on a machine without Bluetooth.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vicino demo', () => {
  it('prints one JSON summary line with promotions delivered and none to non-consenting shoppers, run after run on the same data', async () => {
    // `npm start` twice: the second run finds the first one's shoppers, beacons and campaign in the database.
    for (const round of [1, 2]) {
      const run = runCli(['demo', '--duration', '6s', '--json', '--port', '0', '--mqtt-port', '0', '--data-dir', join(dir, 'json')]);
      const { code } = await run.exited;
      expect(run.stderr(), `round ${round}`).not.toMatch(/Error|at .*\.ts:\d+/);
      expect(code, `round ${round}`).toBe(0);
      const lines = run.stdout().trim().split('\n');
      expect(lines).toHaveLength(1);
      const summary = JSON.parse(lines[0]!) as Record<string, unknown> & { latencyMs: { p50: number; p99: number } };
      expect(summary).toMatchObject({ promotionsToNonConsenting: 0 });
      for (const field of ['advertisements', 'presenceEvents', 'promotionsDelivered', 'consentingShoppers']) expect(summary[field], `round ${round}: ${field}`).toBeGreaterThan(0);
      expect(summary.latencyMs.p50).toBeGreaterThanOrEqual(0);
      expect(summary.latencyMs.p99).toBeGreaterThanOrEqual(summary.latencyMs.p50);
    }
  }, 80_000);

  it('shows promotions flowing, then shuts down cleanly on Ctrl-C: no open handle, database closed', async () => {
    const dataDir = join(dir, 'sigint');
    const run = runCli(['demo', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir]);
    await vi.waitFor(() => {
      if (!/promotion ".*" → an opted-in app/.test(run.stdout())) throw new Error(`no promotion yet:\n${run.stdout()}\n${run.stderr()}`);
    }, { timeout: 20_000, interval: 100 });
    expect(run.stdout()).toMatch(/Console\s+http:\/\/127\.0\.0\.1:\d+\/console/);
    run.child.kill('SIGINT');
    // The process must exit by itself: it never calls process.exit, so any open handle would keep it alive.
    const { code } = await Promise.race([run.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('demo did not exit within 15 s of SIGINT')), 15_000))]);
    expect(code).toBe(0);
    expect(run.stdout()).toMatch(/promotionsToNonConsenting\s+0/);
    // better-sqlite3 checkpoints and removes the WAL when the database is closed.
    expect(existsSync(join(dataDir, 'vicino.db-wal'))).toBe(false);
    const db = new Database(join(dataDir, 'vicino.db'), { readonly: true });
    expect((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check).toBe('ok');
    expect((db.prepare('SELECT COUNT(*) AS n FROM promotions').get() as { n: number }).n).toBeGreaterThan(0);
    db.close();
  }, 45_000);
});

describe('the programs apart, over MQTT and HTTP', () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0, logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await broker.close();
  });

  it('runs `vicino server` and `vicino simulate --scenario` as separate processes', async () => {
    const adminToken = randomBytes(24).toString('base64url');
    const env = { MQTT_URL: process.env.MQTT_URL ?? broker.url, ADMIN_TOKEN: adminToken, DATA_DIR: join(dir, 'apart'), PORT: '0', LOG_LEVEL: 'warn' };
    const server = runCli(['server'], { env });
    try {
      await vi.waitFor(() => {
        if (!/vicino server on http/.test(server.stdout())) throw new Error(`server not up:\n${server.stdout()}\n${server.stderr()}`);
      }, { timeout: 15_000, interval: 100 });
      const url = /vicino server on (http:\/\/[^ ]+)/.exec(server.stdout())![1]!;
      const scenarioPath = join(dir, 'scenario.json');
      const { aTestScenario } = await import('../helpers/scenarios.ts');
      await writeFile(scenarioPath, JSON.stringify(aTestScenario()));
      const sim = runCli(['simulate', '--scenario', scenarioPath, '--server', url, `--admin-token=${adminToken}`, '--duration', '5s', '--json'], { env });
      const { code } = await sim.exited;
      expect(sim.stderr()).not.toMatch(/at .*\.ts:\d+/);
      expect(code).toBe(0);
      const summary = JSON.parse(sim.stdout().trim()) as { promotionsDelivered: number; promotionsToNonConsenting: number };
      expect(summary.promotionsDelivered).toBeGreaterThan(0);
      expect(summary.promotionsToNonConsenting).toBe(0);
    } finally {
      server.child.kill('SIGTERM');
      expect((await server.exited).code).toBe(0);
    }
  }, 45_000);
});

describe('vicino gateway', () => {
  it('exits with a one-line explanation on a machine without Bluetooth, not a stack trace', async () => {
    const config = join(dir, 'gateway.json');
    await writeFile(config, JSON.stringify({ storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', secret: randomBytes(32).toString('base64url'), mqtt: { url: 'mqtt://127.0.0.1:1' } }));
    const run = runCli(['gateway', '--config', config]);
    const { code } = await run.exited;
    expect(code).toBe(3);
    const lines = run.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/BlueZ/);
    expect(lines[0]).toMatch(/CAP_NET_RAW/);
  }, 20_000);

  it('lists every problem in a bad config file at once', async () => {
    const config = join(dir, 'bad-gateway.json');
    await writeFile(config, JSON.stringify({ storeId: 'Store 1', zoneId: 'entrance', secret: 'short', mqtt: { url: 'http://x' } }));
    const run = runCli(['gateway', '--config', config]);
    expect((await run.exited).code).toBe(2);
    for (const field of ['storeId', 'gatewayId', 'secret', 'mqtt.url']) expect(run.stderr()).toContain(field);
  }, 20_000);
});

describe('operator tools', () => {
  it('`vicino eid` prints the published Eddystone-EID vector', async () => {
    const run = runCli(['eid', '--identity-key', '0102030405060708090a111213141516', '--k', '10', '--time', '2000']);
    expect((await run.exited).code).toBe(0);
    expect(run.stdout().trim()).toBe('4144413e45fefa58');
  }, 20_000);

  it('`vicino decode -` reads hex lines from stdin and prints one JSON object each', async () => {
    const run = runCli(['decode', '-'], { stdin: '02 01 06 03 03 AA FE 0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90\n0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000010002C5\n' });
    expect((await run.exited).code).toBe(0);
    const [eid, ibeacon] = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as { frames: unknown[] });
    expect(eid!.frames).toEqual([{ type: 'eddystone-eid', eid: 'a9b76a71c5f89290', txPowerDbm: -20 }]);
    expect(ibeacon!.frames).toEqual([{ type: 'ibeacon', uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 }]);
  }, 20_000);

  it('rejects an unknown option with the usage and exit code 2', async () => {
    const run = runCli(['demo', '--colour', 'blue']);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toMatch(/Unknown option '--colour'/);
    expect(run.stderr()).toMatch(/Usage:/);
  }, 20_000);
});
