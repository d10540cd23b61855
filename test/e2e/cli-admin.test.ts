import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import { buildTestApp } from '#test/helpers/build-test-app.ts';
import { runCli } from '../helpers/run-cli.ts';

// `vicino admin create` as an operator runs it on a fresh machine: the first admin goes into the
// server's database, and the real login route accepts that user's password.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-admin-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], stdin?: string) {
  const run = runCli(['admin', ...args], stdin === undefined ? {} : { stdin });
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Logs in through POST /v1/session on the app over that database. */
async function login(dataDir: string, username: string, password: string) {
  const store = openSqliteStore(join(dataDir, 'vicino.db'));
  const t = await buildTestApp({ store });
  try {
    const response = await t.app.inject({ method: 'POST', url: '/v1/session', payload: { username, password } });
    return { status: response.statusCode, body: response.json<{ user?: { role: string } }>(), audit: (await store.listAudit(1, 100)).map((e) => `${e.actor} ${e.action}`) };
  } finally {
    await t.close();
    await store.close();
  }
}

describe('vicino admin create', () => {
  it('bootstraps an admin in a new database from a password on stdin, who can then log in', async () => {
    const dataDir = join(dir, 'fresh');
    const created = await cli(['create', '--username', 'Boss', '--password-stdin', '--data-dir', dataDir], 'a long first-admin passphrase\n');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^created admin "boss" \(usr_[0-9a-f]{32}\) in .*vicino\.db$/m);
    expect(created.stdout).not.toContain('passphrase');

    const session = await login(dataDir, 'boss', 'a long first-admin passphrase');
    expect(session.status).toBe(200);
    expect(session.body.user?.role).toBe('admin');
    expect(session.audit).toEqual(expect.arrayContaining(['cli user.created', expect.stringMatching(/^usr_[0-9a-f]{32} console\.login$/)]));

    const again = await cli(['create', '--username', 'boss', '--password-stdin', '--data-dir', dataDir], 'another long passphrase\n');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('vicino admin: username "boss" is taken; nothing was created\n');
  });

  it('generates a password when asked, prints it once, and that password logs in', async () => {
    const dataDir = join(dir, 'generated');
    const created = await cli(['create', '--username', 'mara', '--role', 'marketer', '--generate-password', '--data-dir', dataDir]);
    expect(created.code, created.stderr).toBe(0);
    const password = /^password: (\S+)$/m.exec(created.stdout)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect((await login(dataDir, 'mara', password!)).body.user?.role).toBe('marketer');
  });
});
