import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

// Secrets kept beside the embedded database, for single-box installs: created on first start with
// mode 0600. A deployment with a secret manager sets VICINO_MASTER_KEY / ADMIN_TOKEN instead.

export async function loadOrCreateSecretFile(path: string, create: () => string): Promise<{ value: string; created: boolean }> {
  try {
    return { value: (await readFile(path, 'utf8')).trim(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(path), { recursive: true });
  const value = create();
  try {
    await writeFile(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { value: (await readFile(path, 'utf8')).trim(), created: false };
    throw error;
  }
  await chmod(path, 0o600);
  return { value, created: true };
}

export const newMasterKey = (): string => randomBytes(32).toString('hex');
/**
 * A new admin token: 192 random bits, base64url — never starting with '-', which a command line would read as an
 * option (`vicino gateway provision --admin-token -x…` is refused as ambiguous); such a draw is made again.
 */
export function newAdminToken(): string {
  for (;;) {
    const token = randomBytes(24).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
}
