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
export const newAdminToken = (): string => randomBytes(24).toString('base64url');
