import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdminCommand } from '#simulator/cli/admin.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';

// `vicino admin create`'s refusals, run in-process (test/e2e/cli-admin.test.ts runs the real command for
// the users it creates): each names what is wrong, exits 2 for usage and 1 for a refused password, and
// creates nothing.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-admin-cmd-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], stdin = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
  // Not a terminal: a pipe, as in a script.
  const code = await runAdminCommand(args, {}, { stdin: Readable.from([stdin]), stdout, stderr });
  return { code, stdout: out, stderr: err };
}

describe('vicino admin create refuses bad input', () => {
  const dataDir = () => join(dir, 'refused');
  const cases: [string, () => string[], string, number, RegExp][] = [
    ['no username', () => ['create', '--data-dir', dataDir()], '', 2, /--username is required/],
    ['a short username', () => ['create', '--username', 'x', '--password-stdin', '--data-dir', dataDir()], 'a long enough password', 2, /--username must be 3–64 letters/],
    ['an unknown role', () => ['create', '--username', 'eve', '--role', 'owner', '--password-stdin', '--data-dir', dataDir()], 'a long enough password', 2,
      /--role must be one of admin, marketer, analyst, auditor, got "owner"/],
    ['both password sources', () => ['create', '--username', 'eve', '--password-stdin', '--generate-password', '--data-dir', dataDir()], '', 2, /not both/],
    ['a short password', () => ['create', '--username', 'eve', '--password-stdin', '--data-dir', dataDir()], 'short\n', 1, /the password must be at least 12 characters; nothing was created/],
    ['no password source and no terminal', () => ['create', '--username', 'eve', '--data-dir', dataDir()], '', 2,
      /no terminal to ask for the password: pipe it with --password-stdin, or use --generate-password/],
    ['an unknown flag', () => ['create', '--username', 'eve', '--admin', '--data-dir', dataDir()], '', 2, /Unknown option '--admin'/],
    ['an unknown subcommand', () => ['remove', '--username', 'eve'], '', 2, /unknown subcommand "remove"/],
  ];

  it.each(cases)('%s', async (_name, args, stdin, code, message) => {
    const result = await run(args(), stdin);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    // Every refusal comes before the database is opened: none of them creates one.
    expect(existsSync(join(dataDir(), 'vicino.db'))).toBe(false);
  });

  it('creates nothing when the name is taken, and says so', async () => {
    const taken = join(dir, 'taken');
    expect((await run(['create', '--username', 'ada', '--password-stdin', '--data-dir', taken], 'a long enough password\n')).code).toBe(0);
    const again = await run(['create', '--username', 'ADA', '--role', 'auditor', '--password-stdin', '--data-dir', taken], 'another long password\n');
    expect(again).toEqual({ code: 1, stdout: '', stderr: 'vicino admin: username "ada" is taken; nothing was created\n' });
    const store = openSqliteStore(join(taken, 'vicino.db'));
    try {
      expect((await store.listUsers()).map((u) => `${u.username} ${u.role}`)).toEqual(['ada admin']);
    } finally {
      await store.close();
    }
  });
});
