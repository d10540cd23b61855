import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf } from '../auth/admin-access.ts';
import { addConsoleUser } from '../auth/console-users.ts';
import { PasswordSchema, UsernameSchema, userView } from '../domain/console-user.ts';
import { RoleSchema } from '../domain/principal.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import type { AppDeps } from '../app.ts';

// Console user accounts (issue 8, SEC-2), an admin's task (principals.manage): create a user with one
// role, list them, disable one (which ends their sessions at once). Audited by user ID and role; the
// password never leaves the request, and only its scrypt hash is stored.

export const CreateUserBodySchema = z.object({ username: UsernameSchema, password: PasswordSchema, role: RoleSchema }).strict();
export const UserParamsSchema = z.object({ userId: z.string().regex(/^usr_[a-f0-9]{32}$/, 'must be a user ID such as "usr_…" (GET /v1/admin/users lists them)') });

export async function userRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;

  app.post('/v1/admin/users', async (request, reply) => {
    const body = parseOrThrow(CreateUserBodySchema, request.body);
    const user = await addConsoleUser(store, body, principalOf(request).id, now());
    if (user === undefined) throw new ApiError('CONFLICT', `username: "${body.username}" is taken`, ['username']);
    return reply.code(201).send(user);
  });

  app.get('/v1/admin/users', async () => ({ users: (await store.listUsers()).map(userView) }));

  app.delete('/v1/admin/users/:userId', async (request, reply) => {
    const { userId } = parseOrThrow(UserParamsSchema, request.params, 'INVALID_PARAMS');
    const actor = principalOf(request).id;
    if (userId === actor) throw new ApiError('CONFLICT', 'you cannot disable your own account: ask another admin');
    if (!(await store.disableUser(userId, now()))) throw new ApiError('NOT_FOUND', `no enabled user ${userId}`);
    await store.appendAudit({ atMs: now(), actor, action: 'user.disabled', subject: userId, details: {} });
    return reply.code(204).send();
  });
}
