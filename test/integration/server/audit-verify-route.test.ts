import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { bearer, buildTestApp, createApiKey, expectStatus, givenStoreWithGateway, grant, registerShopper, type TestApp } from '#test/helpers/build-test-app.ts';

// GET /v1/admin/audit/verify (issue 8): the console's "verify the audit log" runs the walk `vicino audit
// verify` runs (server/verify-audit-log.ts) on the server's own database, and names the first bad entry
// of a chain someone tampered with underneath the server.

let dir: string;
let store: Store;
let t: TestApp;
let path: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vicino-audit-route-'));
  path = join(dir, 'vicino.db');
  store = openSqliteStore(path);
  t = await buildTestApp({ store });
  await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
  const shopper = await registerShopper(t.app);
  await grant(t.app, shopper.token, { presence: true, promotions: true });
});
afterAll(async () => {
  await t.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

type Verification = { ok: boolean; entries: number; head?: string; firstBadSeq?: number; fault?: string; reason?: string; checkedAtMs: number };
const verify = async (token = t.adminToken): Promise<Verification> =>
  expectStatus<Verification>(await t.app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: bearer(token) }), 200);

/** Changes the database underneath the server, as someone with access to its file could. */
const tamper = (sql: string): void => {
  const db = new Database(path);
  try {
    expect(db.prepare(sql).run().changes).toBe(1);
  } finally {
    db.close();
  }
};

describe('GET /v1/admin/audit/verify', () => {
  it('passes the intact chain: how many entries, the head\'s hash, when it was checked', async () => {
    const entries = await store.listAudit(1, 100_000);
    expect(entries.length).toBe(4);
    expect(await verify((await createApiKey(t, 'auditor')).key)).toEqual({ ok: true, entries: entries.length + 1, head: expect.stringMatching(/^[0-9a-f]{64}$/), checkedAtMs: t.deps.now() });
    // Creating that auditor's key was itself audited: the head is the newest entry's hash.
    const newest = (await store.listAudit(1, 100_000)).at(-1)!;
    expect((await verify()).head).toBe(newest.hash);
  });

  it('names an altered entry, and how many entries before it are intact', async () => {
    tamper(`UPDATE audit_log SET details = '{"purpose":"analytics","granted":true}' WHERE seq = 4`);
    expect(await verify()).toEqual({
      ok: false, entries: 3, firstBadSeq: 4, fault: 'altered', reason: 'entry 4: altered (hash does not match its content)', checkedAtMs: t.deps.now(),
    });
  });

  it('names the first entry of a gap when one was deleted before the altered one', async () => {
    tamper('DELETE FROM audit_log WHERE seq = 2');
    expect(await verify()).toMatchObject({ ok: false, entries: 1, firstBadSeq: 2, fault: 'missing', reason: 'entry 2: missing (sequence jumps from 1 to 3)' });
  });

  it('is for the admin and the auditor only', async () => {
    for (const role of ['marketer', 'analyst'] as const) {
      const response = await t.app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: bearer((await createApiKey(t, role)).key) });
      expect(response.statusCode).toBe(403);
    }
  });
});
