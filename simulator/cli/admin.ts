import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { storeLocation } from '#server/config.ts';
import { addConsoleUser } from '#server/auth/console-users.ts';
import { PasswordSchema, UsernameSchema } from '#server/domain/console-user.ts';
import { RoleSchema, ROLES } from '#server/domain/principal.ts';
import { openStore } from '#server/main.ts';

// `vicino admin create`: bootstraps a console user — the first admin, before anyone can log in to create
// others — straight in the server's database (DATABASE_URL, else DATA_DIR/vicino.db, created if need be).
// The password comes from stdin (--password-stdin), is typed twice at a terminal prompt, or is generated
// (--generate-password) and printed once. Audited as done by "cli".

export const ADMIN_USAGE = `vicino admin create --username NAME [--role ${ROLES.join('|')}] [--password-stdin | --generate-password] [--data-dir DIR]
                   create a console user (role admin by default) in the server's database
                   (DATABASE_URL, else DATA_DIR/vicino.db); the password is read from stdin, typed
                   twice at the prompt, or generated and printed once
`;

export type AdminCommandIo = {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
};

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line at a terminal without echoing it. */
function promptHidden(io: AdminCommandIo, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    io.stderr.write(question);
    io.stdin.setRawMode?.(true);
    io.stdin.resume();
    let typed = '';
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          done();
          resolve(typed);
          return;
        }
        if (char === '\u0003') {
          done();
          reject(new Error('cancelled'));
          return;
        }
        typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
      }
    };
    const done = (): void => {
      io.stdin.off('data', onData);
      io.stdin.setRawMode?.(false);
      io.stdin.pause();
      io.stderr.write('\n');
    };
    io.stdin.on('data', onData);
  });
}

/** Runs `vicino admin …`; returns the exit code. */
export async function runAdminCommand(args: string[], env: Record<string, string | undefined>, io: AdminCommandIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`vicino admin: ${message}\n\n${ADMIN_USAGE}`);
    return 2;
  };
  const [sub, ...rest] = args;
  if (sub !== 'create') return usage(sub === undefined ? 'name a subcommand' : `unknown subcommand "${sub}"`);
  let values: { username?: string; role?: string; 'password-stdin'?: boolean; 'generate-password'?: boolean; 'data-dir'?: string };
  try {
    ({ values } = parseArgs({
      args: rest, strict: true, allowPositionals: false,
      options: { username: { type: 'string' }, role: { type: 'string' }, 'password-stdin': { type: 'boolean' }, 'generate-password': { type: 'boolean' }, 'data-dir': { type: 'string' } },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.username === undefined) return usage('--username is required');
  const username = UsernameSchema.safeParse(values.username);
  if (!username.success) return usage(`--username ${username.error.issues[0]!.message}`);
  const role = RoleSchema.safeParse(values.role ?? 'admin');
  if (!role.success) return usage(`--role must be one of ${ROLES.join(', ')}, got "${values.role}"`);
  if (values['password-stdin'] === true && values['generate-password'] === true) return usage('give --password-stdin or --generate-password, not both');

  let password: string;
  if (values['generate-password'] === true) password = randomBytes(18).toString('base64url');
  else if (values['password-stdin'] === true) password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
  else if (io.stdin.isTTY === true) {
    password = await promptHidden(io, `Password for ${username.data}: `);
    if ((await promptHidden(io, 'Again: ')) !== password) {
      io.stderr.write('vicino admin: the two passwords differ; nothing was created\n');
      return 1;
    }
  } else return usage('no terminal to ask for the password: pipe it with --password-stdin, or use --generate-password');
  const checked = PasswordSchema.safeParse(password);
  if (!checked.success) {
    io.stderr.write(`vicino admin: the password ${checked.error.issues[0]!.message}; nothing was created\n`);
    return 1;
  }

  const location = { DATABASE_URL: env.DATABASE_URL, DATA_DIR: values['data-dir'] ?? env.DATA_DIR ?? './data' };
  const where = storeLocation(location);
  const store = await openStore(location);
  try {
    const user = await addConsoleUser(store, { username: username.data, role: role.data, password }, 'cli', Date.now());
    if (user === undefined) {
      io.stderr.write(`vicino admin: username "${username.data}" is taken; nothing was created\n`);
      return 1;
    }
    const database = where.kind === 'sqlite' ? where.path : 'PostgreSQL (DATABASE_URL)';
    io.stdout.write(`created ${user.role} "${user.username}" (${user.id}) in ${database}\n`);
    if (values['generate-password'] === true) io.stdout.write(`password: ${password}\n(shown once: store it in your password manager)\n`);
    io.stdout.write('log in at <server URL>/console\n');
    return 0;
  } finally {
    await store.close();
  }
}
