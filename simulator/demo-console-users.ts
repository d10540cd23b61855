import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { addConsoleUser } from '#server/auth/console-users.ts';
import type { Role } from '#server/domain/principal.ts';
import { loadOrCreateSecretFile } from '#server/secret-files.ts';
import type { Store } from '#server/store/store.ts';

// The demo's console logins: one user per role, so that a developer can try the maker–checker flow
// (a marketer writes, the other approves) and the permission matrix at once. Their passwords are made
// once per data directory and kept beside the other demo secrets, 0600. A real deployment uses
// `vicino admin create` instead.

export const DEMO_CONSOLE_USERS: readonly { username: string; role: Role }[] = [
  { username: 'admin', role: 'admin' },
  { username: 'marketer', role: 'marketer' },
  { username: 'checker', role: 'marketer' },
  { username: 'analyst', role: 'analyst' },
  { username: 'auditor', role: 'auditor' },
];

export type DemoLogin = { username: string; role: Role; password: string; passwordFile: string; usable: boolean };

/** Creates the demo users that do not exist yet; usable is false for one that exists with another password. */
export async function ensureDemoConsoleUsers(store: Store, dataDir: string): Promise<DemoLogin[]> {
  const logins: DemoLogin[] = [];
  for (const { username, role } of DEMO_CONSOLE_USERS) {
    const passwordFile = join(dataDir, `console-${username}.password`);
    const { value: password, created } = await loadOrCreateSecretFile(passwordFile, () => randomBytes(12).toString('base64url'));
    const existing = await store.findUserByUsername(username);
    let usable = true;
    if (existing === undefined) {
      await addConsoleUser(store, { username, role, password }, 'demo', Date.now());
    } else {
      // The file is the password it was made with, unless the file is new (deleted since) or the user was disabled.
      usable = !created && existing.disabledAtMs === null;
    }
    logins.push({ username, role, password, passwordFile, usable });
  }
  return logins;
}
