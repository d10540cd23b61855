import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.ts';
import { ADMIN_TOKEN_PRINCIPAL_ID, type Principal } from '../domain/principal.ts';
import { hashToken, tokenMatches } from '../identity.ts';
import type { AppDeps } from '../app.ts';
import { permissionFor, roleHas } from './permissions.ts';
import { CSRF_HEADER, csrfTokenMatches, SAFE_METHODS, sameOrigin, SESSION_COOKIE, sessionIdHash } from './console-session.ts';
import { DEFAULT_SESSION_POLICY, type ConsoleSessionRecord, type SessionPolicy, type UserRecord } from '../domain/console-user.ts';

// Authentication and authorisation of the operator API (SEC-2), for every /v1/admin route whichever
// plugin declares it: the bearer is the deployment's admin token (the bootstrap principal, role admin)
// or an API key (Store principals), or else a console user's session cookie (console-session.ts, with
// its CSRF check); the route's permission (permissions.ts) must be one of the role's.
// A failed authentication and a refused permission are both audited (ACC-1): the route pattern and
// the principal, never the token or anything from the URL.

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling an operator route; set before its handler runs. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Every /v1/admin route registered, by method and URL pattern: what the permission matrix must cover. */
    adminRouteTable: { method: string; url: string }[];
  }
}

export const ADMIN_PREFIX = '/v1/admin/';

async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<Principal> {
  const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
  if (match !== null) {
    const token = match[1]!;
    if (tokenMatches(token, deps.adminTokenHash)) return { id: ADMIN_TOKEN_PRINCIPAL_ID, role: 'admin' };
    const principal = await deps.store.findPrincipalByKeyHash(hashToken(token));
    if (principal !== undefined) return { id: principal.id, role: principal.role };
  } else {
    if (request.cookies[SESSION_COOKIE] !== undefined) {
      const { user } = await consoleSessionOf(deps, request);
      return { id: user.id, role: user.role };
    }
  }
  await deps.store.appendAudit({
    atMs: deps.now(), actor: 'admin', action: 'admin.login-failed', subject: '',
    details: { method: request.method, route: request.routeOptions.url ?? 'unknown', tokenSent: match !== null },
  });
  throw new ApiError('UNAUTHENTICATED', 'admin API: log in to the console (POST /v1/session), or send "Authorization: Bearer <admin token or API key>"');
}

/** A console session as a request presents it: its token, the stored session and its user. */
export type ConsoleSession = { token: string; session: ConsoleSessionRecord; user: UserRecord };

/** The session lifetimes in force: the deployment's, else DEFAULT_SESSION_POLICY. */
export function sessionPolicyOf(deps: Pick<AppDeps, 'consoleSessions'>): SessionPolicy {
  return {
    idleTimeoutMs: deps.consoleSessions?.idleTimeoutMs ?? DEFAULT_SESSION_POLICY.idleTimeoutMs,
    maxAgeMs: deps.consoleSessions?.maxAgeMs ?? DEFAULT_SESSION_POLICY.maxAgeMs,
  };
}

/**
 * The active console session named by the request's cookie, or a 401 that says why there is none. On a
 * request that changes something, the CSRF token and the Origin are checked too (a refusal is audited
 * and answered 403), for the operator routes and the session's own logout alike.
 */
export async function consoleSessionOf(deps: AppDeps, request: FastifyRequest): Promise<ConsoleSession> {
  const token = request.cookies[SESSION_COOKIE];
  if (token === undefined) throw new ApiError('UNAUTHENTICATED', 'not logged in: POST /v1/session with a username and password');
  const found = await deps.store.lookupSession(sessionIdHash(token), deps.now(), sessionPolicyOf(deps).idleTimeoutMs);
  if (found.status !== 'active') {
    throw new ApiError('UNAUTHENTICATED', found.status === 'expired' ? 'session expired; log in again' : 'not logged in: the session is unknown or has ended; log in again');
  }
  if (!SAFE_METHODS.has(request.method)) {
    const sent = request.headers[CSRF_HEADER];
    const refusal = !csrfTokenMatches(token, typeof sent === 'string' ? sent : undefined)
      ? "CSRF check failed: send the session's csrfToken (GET /v1/session) in the X-CSRF-Token header"
      : !sameOrigin(request.headers.origin, request.headers.host) ? 'CSRF check failed: the Origin header names another site' : undefined;
    if (refusal !== undefined) {
      await deps.store.appendAudit({
        atMs: deps.now(), actor: found.user.id, action: 'admin.csrf-refused', subject: '', details: { method: request.method, route: request.routeOptions.url ?? 'unknown' },
      });
      throw new ApiError('FORBIDDEN', refusal);
    }
  }
  return { token, session: found.session, user: found.user };
}

/** Adds the hook that authenticates and authorises every /v1/admin route; call before the routes are registered. */
export function guardAdminRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.decorateRequest('principal', null);
  const table: { method: string; url: string }[] = [];
  app.decorate('adminRouteTable', table);
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith(ADMIN_PREFIX)) return;
    for (const method of [route.method].flat()) table.push({ method, url: route.url });
  });
  app.addHook('preHandler', async (request) => {
    const url = request.routeOptions.url;
    if (url === undefined || !url.startsWith(ADMIN_PREFIX)) return;
    const principal = await authenticate(deps, request);
    const permission = permissionFor(request.method, url);
    if (permission === undefined || !roleHas(principal.role, permission)) {
      await deps.store.appendAudit({
        atMs: deps.now(), actor: principal.id, action: 'admin.forbidden', subject: '',
        details: { method: request.method, route: url, role: principal.role, permission: permission ?? null },
      });
      throw new ApiError('FORBIDDEN', permission === undefined
        ? `${request.method} ${url} has no permission in the matrix (server/auth/permissions.ts): refused to every role`
        : `role ${principal.role} lacks permission ${permission} for ${request.method} ${url}`);
    }
    request.principal = principal;
  });
}

/** The principal of an operator route's request (set by guardAdminRoutes). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new ApiError('UNAUTHENTICATED', 'admin API: no principal on this request');
  return request.principal;
}
