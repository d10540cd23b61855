import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import { aCampaign } from '#test/helpers/builders.ts';
import { bearer, buildTestApp, expectStatus, givenStoreWithGateway, grant, putCampaign, registerShopper } from '#test/helpers/build-test-app.ts';
import { openTestStore } from '../helpers/open-test-store.ts';
import { runCli } from '../helpers/run-cli.ts';

// `vicino audit verify` as an auditor runs it, on a database the real server app wrote: intact → exit 0;
// a row altered and another deleted → the altered one is named first; a deleted row alone → the gap.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-audit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A data directory whose database holds the audit entries of real admin and shopper requests. */
async function auditedDataDir(name: string): Promise<{ dataDir: string; path: string; count: number }> {
  const dataDir = join(dir, name);
  const path = join(dataDir, 'vicino.db');
  const store = openSqliteStore(path);
  const t = await buildTestApp({ store });
  try {
    await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
    expectStatus(await putCampaign(t, aCampaign()), 200);
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true, promotions: true, analytics: false });
    expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/gateways', headers: bearer('wrong-token') }), 401);
    const count = (await store.listAudit(1, 1_000)).length;
    return { dataDir, path, count };
  } finally {
    await t.close();
    await store.close();
  }
}

async function verify(dataDir: string, extra: string[] = []) {
  const run = runCli(['audit', 'verify', '--data-dir', dataDir, ...extra]);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const tamper = (path: string, sql: string): void => {
  const db = new Database(path);
  try {
    expect(db.prepare(sql).run().changes).toBe(1);
  } finally {
    db.close();
  }
};

describe('vicino audit verify', () => {
  it('passes an intact chain, then names the altered entry first when one row is altered and a later one deleted', async () => {
    const { dataDir, path, count } = await auditedDataDir('altered');
    // The store, its gateway, two marketers' API keys, the campaign saved, submitted and approved, three
    // consent answers (entries 8–10) and the failed login.
    expect(count).toBe(11);
    const intact = await verify(dataDir, ['--page-size', '3']);
    expect(intact.stderr).toBe('');
    expect(intact.stdout).toMatch(new RegExp(`^audit chain OK: ${count} entries, head [0-9a-f]{64}\\n$`));
    expect(intact.code).toBe(0);

    tamper(path, `UPDATE audit_log SET details = '{"purpose":"analytics","granted":true}' WHERE seq = 9`);
    tamper(path, 'DELETE FROM audit_log WHERE seq = 10');
    const broken = await verify(dataDir, ['--page-size', '3']);
    expect(broken.stdout).toBe('audit chain BROKEN: entry 9: altered (hash does not match its content); 8 entries before it are intact\n');
    expect(broken.code).toBe(1);
  });

  it('names the gap a deleted row leaves', async () => {
    const { dataDir, path } = await auditedDataDir('deleted');
    tamper(path, 'DELETE FROM audit_log WHERE seq = 3');
    const broken = await verify(dataDir);
    expect(broken.stdout).toBe('audit chain BROKEN: entry 3: missing (sequence jumps from 2 to 4); 2 entries before it are intact\n');
    expect(broken.code).toBe(1);
  });

  it('refuses to run on a database that is not there, and on a bad option', async () => {
    const missing = await verify(join(dir, 'nowhere'));
    expect(missing.stderr).toMatch(/no database at .*nowhere/);
    expect(missing.code).toBe(1);
    const bad = await verify(dir, ['--page-size', 'lots']);
    expect(bad.stderr).toMatch(/--page-size must be a whole number/);
    expect(bad.code).toBe(2);
  });
});

describe.runIf(process.env.DATABASE_URL)('vicino audit verify on PostgreSQL', () => {
  it('verifies the chain in DATABASE_URL and names an altered entry', async () => {
    const t = await openTestStore('postgres');
    try {
      for (let i = 0; i < 5; i += 1) await t.store.appendAudit({ atMs: 1_000 + i, actor: 'system', action: 'retention.purged', subject: 'presence_events', details: { count: i } });
      // The test store lives in a schema of its own; the server's URL reaches it through search_path.
      const schema = String((await t.rows('SELECT current_schema() AS s'))[0]!.s);
      const url = `${process.env.DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const run = async () => {
        const cli = runCli(['audit', 'verify'], { env: { DATABASE_URL: url } });
        const { code } = await cli.exited;
        return { code, stdout: cli.stdout() };
      };
      const intact = await run();
      expect(intact.stdout).toMatch(/^audit chain OK: 5 entries, head [0-9a-f]{64}\n$/);
      expect(intact.code).toBe(0);
      await t.rows(`UPDATE audit_log SET at_ms = 9 WHERE seq = 2`);
      const broken = await run();
      expect(broken.stdout).toBe('audit chain BROKEN: entry 2: altered (hash does not match its content); 1 entry before it is intact\n');
      expect(broken.code).toBe(1);
    } finally {
      await t.close();
    }
  });
});
