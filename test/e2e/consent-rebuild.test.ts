import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import { buildTestApp, grant, registerShopper } from '#test/helpers/build-test-app.ts';
import { runCli } from '../helpers/run-cli.ts';

// `vicino consent rebuild` as an operator runs it (CON-3), on a database the real app wrote: the state
// matches the ledger; a state row altered behind the server's back is named by --verify, which writes
// nothing, and a rebuild restores it from the ledger.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-consent-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function consentDataDir(): Promise<{ dataDir: string; path: string; shopperId: string }> {
  const dataDir = join(dir, 'data');
  const path = join(dataDir, 'vicino.db');
  const store = openSqliteStore(path);
  const t = await buildTestApp({ store });
  try {
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true, promotions: true, analytics: false });
    await grant(t.app, shopper.token, { promotions: false });
    return { dataDir, path, shopperId: shopper.shopperId };
  } finally {
    await t.close();
    await store.close();
  }
}

async function consent(args: string[]) {
  const run = runCli(['consent', ...args]);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const promotionsGranted = (path: string): number => {
  const db = new Database(path, { readonly: true });
  try {
    return Number((db.prepare(`SELECT granted FROM consent_state WHERE purpose = 'promotions'`).get() as { granted: number }).granted);
  } finally {
    db.close();
  }
};

describe('vicino consent rebuild', () => {
  it('verifies, names a tampered state row without touching it, and rebuilds it from the ledger', async () => {
    const { dataDir, path, shopperId } = await consentDataDir();
    expect(await consent(['rebuild', '--verify', '--data-dir', dataDir])).toMatchObject({ code: 0, stdout: 'consent state matches the ledger\n' });

    const db = new Database(path);
    expect(db.prepare(`UPDATE consent_state SET granted = 1 WHERE purpose = 'promotions'`).run().changes).toBe(1);
    db.close();
    const verified = await consent(['rebuild', '--verify', '--data-dir', dataDir]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain(`1 (shopper, purpose) pair (run without --verify to rebuild):\n  ${shopperId} promotions\n`);
    expect(promotionsGranted(path)).toBe(1);

    const rebuilt = await consent(['rebuild', '--data-dir', dataDir]);
    expect(rebuilt).toMatchObject({ code: 0, stdout: 'consent state rebuilt from the ledger: 3 rows\nconsent state matches the ledger\n' });
    expect(promotionsGranted(path)).toBe(0);
    const store = openSqliteStore(path);
    try {
      expect((await store.listAudit(1, 1_000)).at(-1)).toMatchObject({ actor: 'operator', action: 'consent.rebuilt', details: { rows: 3 } });
    } finally {
      await store.close();
    }
  });

  it('refuses a missing database and unknown arguments', async () => {
    expect(await consent(['rebuild', '--data-dir', join(dir, 'nowhere')])).toMatchObject({ code: 1 });
    const unknown = await consent(['rebuild', '--force']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--force');
    expect((await consent(['replay'])).stderr).toContain('unknown subcommand "replay"');
  });
});
