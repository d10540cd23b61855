import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordOfProcessing } from '#server/domain/transparency.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import { aCampaign, START_MS } from '#test/helpers/builders.ts';
import { runCli } from '../helpers/run-cli.ts';

// `vicino ropa` as a controller runs it, on a SQLite database holding a store, its zones and a campaign
// (written through the Store API), with the server's environment: the record follows both.

let dir: string;
let dataDir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-ropa-'));
  dataDir = join(dir, 'data');
  const store = openSqliteStore(join(dataDir, 'vicino.db'));
  try {
    await store.upsertStore({ id: 'shop-1', name: 'Shop | One', timezone: 'Europe/Rome' });
    await store.upsertZone({ storeId: 'shop-1', id: 'entrance', name: 'Entrance', sensitive: false });
    await store.upsertZone({ storeId: 'shop-1', id: 'pharmacy', name: 'Pharmacy', sensitive: true });
    await store.putCampaign(aCampaign({ id: 'bread-20', storeId: 'shop-1', zoneIds: ['entrance'], name: 'Fresh bread' }), START_MS);
  } finally {
    await store.close();
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function ropa(args: string[], env: Record<string, string> = {}) {
  const run = runCli(['ropa', '--data-dir', dataDir, ...args], { env: { CONTROLLER_NAME: 'Example Retail S.p.A.', CONTROLLER_CONTACT: 'privacy@example.com', ...env } });
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

describe('vicino ropa', () => {
  it('prints the record as JSON with the store\'s zones, its campaign and the configured windows; changing a window changes it', async () => {
    const first = await ropa(['--format', 'json'], { RETENTION_PRESENCE_H: '12', RETENTION_DELIVERY_DAYS: '365' });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const record = JSON.parse(first.stdout) as RecordOfProcessing;
    expect(record.controller).toEqual({ name: 'Example Retail S.p.A.', contact: 'privacy@example.com', configured: true });
    expect(record.stores).toEqual([{
      id: 'shop-1', name: 'Shop | One', timezone: 'Europe/Rome', zoneIds: ['entrance', 'pharmacy'], sensitiveZoneIds: ['pharmacy'],
      campaigns: [{ id: 'bread-20', name: 'Fresh bread', status: 'active', zoneIds: ['entrance'] }],
    }]);
    const retention = Object.fromEntries(record.dataCategories.map((c) => [c.id, c.retentionMs]));
    expect(retention.presence).toBe(12 * 3_600_000);
    expect(retention['promotion-deliveries']).toBe(365 * 86_400_000);
    expect(record.purposes.map((p) => `${p.code} ${p.purpose}`)).toEqual(['P1 presence', 'P2 personalisation', 'P3 analytics', 'P4 promotions']);
    // Stable key order: the keys of every object are sorted.
    expect(Object.keys(record)).toEqual([...Object.keys(record)].sort());

    const second = await ropa(['--format', 'json'], { RETENTION_PRESENCE_H: '6', RETENTION_DELIVERY_DAYS: '365' });
    expect(second.code).toBe(0);
    expect(second.stdout).not.toBe(first.stdout);
    expect((JSON.parse(second.stdout) as RecordOfProcessing).dataCategories.find((c) => c.id === 'presence')?.retentionMs).toBe(6 * 3_600_000);
    expect(second.stdout.replace(/6 hours|21600000/g, 'X')).toBe(first.stdout.replace(/12 hours|43200000/g, 'X'));
  });

  it('prints the record as Markdown with the art. 30 headings and the store\'s zones', async () => {
    const { code, stdout, stderr } = await ropa(['--format', 'markdown']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const heading of ['# Record of processing activities', '## Controller', '## Purposes and legal basis', '## Data subjects',
      '## Categories of personal data and retention', '## Recipients', '## Transfers to third countries', '## Security measures', '## Stores']) {
      expect(stdout).toContain(`\n${heading}\n`.replace(/^\n# /, '# '));
    }
    expect(stdout).toContain('### Shop \\| One (`shop-1`, Europe/Rome)');
    expect(stdout).toContain('- Zones: `entrance`, `pharmacy`');
    expect(stdout).toContain('24 hours, then deleted');
    expect(stdout).not.toContain('Not ready for use');
  });

  it('marks an unconfigured controller verbatim, and refuses a bad format, a bad contact and a missing database', async () => {
    const nowhere = join(dir, 'nothing-here');
    const unset = runCli(['ropa', '--data-dir', dataDir, '--format', 'markdown'], { env: { CONTROLLER_NAME: undefined, CONTROLLER_CONTACT: undefined } });
    const missing = runCli(['ropa', '--data-dir', nowhere]);
    const [unsetExit, badFormat, badContact, missingExit] = await Promise.all([unset.exited, ropa(['--format', 'yaml']), ropa([], { CONTROLLER_CONTACT: 'call us' }), missing.exited]);
    expect(unsetExit.code).toBe(0);
    expect(unset.stdout()).toContain('- Name: (not configured: set CONTROLLER_NAME)');
    expect(unset.stdout()).toContain('**Not ready for use: set CONTROLLER_NAME and CONTROLLER_CONTACT.**');
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('--format must be json or markdown, got "yaml"');
    expect(badContact.code).toBe(2);
    expect(badContact.stderr).toContain('CONTROLLER_CONTACT: CONTROLLER_CONTACT must be an email address or an http(s):// URL');
    expect(missingExit.code).toBe(1);
    expect(missing.stderr()).toContain(`no database at ${join(nowhere, 'vicino.db')}`);
  });
});
