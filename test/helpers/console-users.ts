import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { hashPassword, TEST_SCRYPT_PARAMS } from '#server/auth/passwords.ts';
import type { Role } from '#server/domain/principal.ts';
import { newUserId } from '#server/auth/console-users.ts';
import type { Store } from '#server/store/store.ts';

// Console users for tests: created straight in the Store (as `vicino admin create` does) with cheap
// scrypt parameters, and logged in through the real POST /v1/session.

export type ConsoleUser = { id: string; username: string; role: Role; password: string };

export async function createConsoleUser(store: Store, user: { username: string; role: Role; password?: string }): Promise<ConsoleUser> {
  const password = user.password ?? `pw-${user.username}-correct-horse`;
  const id = newUserId();
  const created = await store.createUser({ id, username: user.username, role: user.role, passwordHash: await hashPassword(password, TEST_SCRYPT_PARAMS), createdAtMs: Date.now() });
  if (!created) throw new Error(`createConsoleUser: username ${user.username} is taken`);
  return { id, username: user.username, role: user.role, password };
}

/** A logged-in session for inject(): its cookie header and CSRF token. */
export type InjectSession = { cookie: string; csrfToken: string; headers: { cookie: string; 'x-csrf-token': string } };

export async function loginWithInject(app: FastifyInstance, user: { username: string; password: string }): Promise<InjectSession> {
  const response = await app.inject({ method: 'POST', url: '/v1/session', payload: { username: user.username, password: user.password } });
  expect(response.statusCode, response.body).toBe(200);
  const cookie = response.cookies.find((c) => c.name === 'vicino_session');
  if (cookie === undefined) throw new Error('login set no vicino_session cookie');
  const { csrfToken } = response.json<{ csrfToken: string }>();
  return { cookie: `vicino_session=${cookie.value}`, csrfToken, headers: { cookie: `vicino_session=${cookie.value}`, 'x-csrf-token': csrfToken } };
}
