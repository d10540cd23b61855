import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { PERMISSION_ROLES, roleHas, type Permission } from '../auth/permissions.ts';
import { consoleSessionOf, sessionPolicyOf } from '../auth/admin-access.ts';
import { csrfTokenFor, newSessionToken, sameOrigin, SESSION_COOKIE } from '../auth/console-session.ts';
import { decoyHash, verifyPassword } from '../auth/passwords.ts';
import { LOGIN_LOCKOUT, UsernameSchema, type UserRecord } from '../domain/console-user.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import type { AppDeps } from '../app.ts';

// Console login (issue 8): POST /v1/session logs in with a username and password and sets the session
// cookie; GET /v1/session says who is logged in, with the role's permissions (the console hides what
// the user cannot do) and the CSRF token; DELETE /v1/session logs out. Each login, failed login and
// logout is audited (ACC-1) by user ID; a failed login for an unknown name records no name.

export const LoginBodySchema = z.object({ username: z.string().max(256), password: z.string().max(1024) }).strict();

/** One message for an unknown user, a wrong password and a locked account: no username enumeration (OWASP ASVS 2.2). */
const LOGIN_REFUSED = `username or password is wrong (after ${LOGIN_LOCKOUT.maxFailures} failed logins an account is locked for ${LOGIN_LOCKOUT.lockMs / 60_000} minutes)`;

export type SessionBody = {
  user: { id: string; username: string; role: UserRecord['role'] };
  permissions: Permission[];
  csrfToken: string;
  expiresAtMs: number;
  idleTimeoutMs: number;
};

export function permissionsOf(role: UserRecord['role']): Permission[] {
  return (Object.keys(PERMISSION_ROLES) as Permission[]).filter((permission) => roleHas(role, permission));
}

export async function sessionRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;
  const policy = sessionPolicyOf(deps);
  const secure = deps.consoleSessions?.secureCookie ?? true;

  const body = (user: UserRecord, token: string, expiresAtMs: number): SessionBody => ({
    user: { id: user.id, username: user.username, role: user.role }, permissions: permissionsOf(user.role), csrfToken: csrfTokenFor(token), expiresAtMs, idleTimeoutMs: policy.idleTimeoutMs,
  });
  const clearCookie = (reply: FastifyReply) => reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure });

  app.post('/v1/session', async (request, reply) => {
    const login = parseOrThrow(LoginBodySchema, request.body);
    if (!sameOrigin(request.headers.origin, request.headers.host)) throw new ApiError('FORBIDDEN', 'login refused: the Origin header names another site');
    const username = UsernameSchema.safeParse(login.username);
    const user = username.success ? await store.findUserByUsername(username.data) : undefined;
    const atMs = now();
    // Always one scrypt, so an unknown name answers as slowly as a wrong password.
    const passwordOk = await verifyPassword(login.password, user?.passwordHash ?? (await decoyHash()));
    const locked = user?.lockedUntilMs !== null && user?.lockedUntilMs !== undefined && user.lockedUntilMs > atMs;
    if (user === undefined || user.disabledAtMs !== null || locked || !passwordOk) {
      let reason = user === undefined ? 'unknown-user' : user.disabledAtMs !== null ? 'disabled' : locked ? 'locked' : 'wrong-password';
      if (reason === 'wrong-password') {
        const counted = await store.recordLoginFailure(user!.id, atMs, LOGIN_LOCKOUT);
        if (counted.lockedUntilMs !== null) reason = 'wrong-password-locked';
      }
      await store.appendAudit({ atMs, actor: user?.id ?? 'anonymous', action: 'console.login-failed', subject: user?.id ?? '', details: { reason } });
      request.log.info({ reason }, 'console login refused');
      clearCookie(reply);
      throw new ApiError('UNAUTHENTICATED', LOGIN_REFUSED);
    }
    await store.recordLoginSuccess(user.id);
    const { token, idHash } = newSessionToken();
    const expiresAtMs = atMs + policy.maxAgeMs;
    await store.createSession({ idHash, userId: user.id, createdAtMs: atMs, expiresAtMs }, policy.idleTimeoutMs);
    await store.appendAudit({ atMs, actor: user.id, action: 'console.login', subject: user.id, details: { role: user.role } });
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', secure, maxAge: Math.floor(policy.maxAgeMs / 1000) });
    return body(user, token, expiresAtMs);
  });

  app.get('/v1/session', async (request) => {
    const { token, session, user } = await consoleSessionOf(deps, request);
    return body(user, token, session.expiresAtMs);
  });

  app.delete('/v1/session', async (request, reply) => {
    const found = await consoleSessionOf(deps, request);
    await store.deleteSession(found.session.idHash);
    await store.appendAudit({ atMs: now(), actor: found.user.id, action: 'console.logout', subject: found.user.id, details: {} });
    clearCookie(reply);
    return reply.code(204).send();
  });
}
