import { randomUUID } from 'node:crypto';
import type { Role } from '../domain/principal.ts';
import type { Store } from '../store/store.ts';
import { hashPassword } from './passwords.ts';

// Adding a console user, as the Users page (POST /v1/admin/users), `vicino admin create` and the demo do
// it: a new ID, only the password's scrypt hash stored, and the audit entry naming who added them.

export const newUserId = (): string => `usr_${randomUUID().replaceAll('-', '')}`;

export type AddedUser = { id: string; username: string; role: Role; createdAtMs: number };

/** Adds the user (username already normalised) and audits it as `actor`; undefined, and nothing written, if the username is taken. */
export async function addConsoleUser(store: Store, user: { username: string; role: Role; password: string }, actor: string, atMs: number): Promise<AddedUser | undefined> {
  const added = { id: newUserId(), username: user.username, role: user.role, createdAtMs: atMs };
  if (!(await store.createUser({ ...added, passwordHash: await hashPassword(user.password) }))) return undefined;
  await store.appendAudit({ atMs, actor, action: 'user.created', subject: added.id, details: { role: added.role } });
  return added;
}
