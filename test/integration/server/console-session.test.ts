import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SESSION_POLICY, LOGIN_LOCKOUT } from '#server/domain/console-user.ts';
import { bearer, buildTestApp, expectStatus, type TestApp } from '#test/helpers/build-test-app.ts';
import { createConsoleUser, loginWithInject, type ConsoleUser } from '#test/helpers/console-users.ts';

// Console login (issue 8, SEC-2): sessions in storage behind an HttpOnly, SameSite=Strict, Secure
// cookie; the CSRF token on every change; idle and absolute expiry; lockout; users managed by an admin.

describe('console sessions', () => {
  let t: TestApp;
  let marketer: ConsoleUser;

  beforeEach(async () => {
    t = await buildTestApp();
    marketer = await createConsoleUser(t.deps.store, { username: 'maria', role: 'marketer' });
  });
  afterEach(async () => t.close());

  const login = (username: string, password: string) => t.app.inject({ method: 'POST', url: '/v1/session', payload: { username, password } });

  it('logs in with a secure, HttpOnly, SameSite=Strict cookie and returns the role, its permissions and a CSRF token', async () => {
    const response = await login('Maria', marketer.password);
    const body = expectStatus<{ user: { id: string; username: string; role: string }; permissions: string[]; csrfToken: string; expiresAtMs: number; idleTimeoutMs: number }>(response, 200);
    expect(body.user).toEqual({ id: marketer.id, username: 'maria', role: 'marketer' });
    expect(body.permissions).toContain('campaigns.write');
    expect(body.permissions).not.toContain('principals.manage');
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.expiresAtMs).toBe(t.clock.now() + DEFAULT_SESSION_POLICY.maxAgeMs);
    const cookie = response.cookies.find((c) => c.name === 'vicino_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: true, path: '/' });
    // Storage keeps the token's hash, never the token.
    expect(JSON.stringify(await t.deps.store.listAudit(1, 1_000))).not.toContain(cookie!.value);
    expect((await t.deps.store.listAudit(1, 1_000)).map((e) => e.action)).toContain('console.login');
  });

  it('lets the session call the role\'s routes, and refuses a change without the CSRF token or from another origin', async () => {
    const session = await loginWithInject(t.app, marketer);
    expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns', headers: { cookie: session.cookie } }), 200);

    const payload = { name: 'x', role: 'analyst' };
    const forbidden = await t.app.inject({ method: 'GET', url: '/v1/admin/api-keys', headers: { cookie: session.cookie } });
    expect(expectStatus<{ error: { message: string } }>(forbidden, 403).error.message).toBe('role marketer lacks permission principals.manage for GET /v1/admin/api-keys');

    const noCsrf = await t.app.inject({ method: 'POST', url: '/v1/admin/campaigns/c1/submit', headers: { cookie: session.cookie }, payload });
    expect(expectStatus<{ error: { message: string } }>(noCsrf, 403).error.message).toMatch(/CSRF check failed: send the session's csrfToken .* X-CSRF-Token/);
    const wrongCsrf = await t.app.inject({ method: 'POST', url: '/v1/admin/campaigns/c1/submit', headers: { cookie: session.cookie, 'x-csrf-token': 'A'.repeat(43) }, payload });
    expect(wrongCsrf.statusCode).toBe(403);
    const otherSite = await t.app.inject({
      method: 'POST', url: '/v1/admin/campaigns/c1/submit', headers: { ...session.headers, origin: 'https://evil.example', host: 'console.example' }, payload,
    });
    expect(expectStatus<{ error: { message: string } }>(otherSite, 403).error.message).toBe('CSRF check failed: the Origin header names another site');
    // With the token, the request reaches the route (no such campaign).
    expect((await t.app.inject({ method: 'POST', url: '/v1/admin/campaigns/c1/submit', headers: session.headers, payload: {} })).statusCode).toBe(404);
    expect((await t.deps.store.listAudit(1, 1_000)).filter((e) => e.action === 'admin.csrf-refused')).toHaveLength(3);
  });

  it('expires a session idle past its timeout and one past its age, with a message that says so', async () => {
    const session = await loginWithInject(t.app, marketer);
    t.clock.advance(DEFAULT_SESSION_POLICY.idleTimeoutMs - 1_000);
    expectStatus(await t.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: session.cookie } }), 200);
    t.clock.advance(DEFAULT_SESSION_POLICY.idleTimeoutMs);
    const idle = await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns', headers: { cookie: session.cookie } });
    expect(expectStatus<{ error: { code: string; message: string } }>(idle, 401).error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'session expired; log in again' });

    const again = await loginWithInject(t.app, marketer);
    for (let elapsed = 0; elapsed < DEFAULT_SESSION_POLICY.maxAgeMs; elapsed += DEFAULT_SESSION_POLICY.idleTimeoutMs / 2) {
      t.clock.advance(DEFAULT_SESSION_POLICY.idleTimeoutMs / 2);
      await t.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: again.cookie } });
    }
    expect(expectStatus<{ error: { message: string } }>(await t.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: again.cookie } }), 401).error.message).toMatch(/^(session expired|not logged in)/);
  });

  it('logs out with the CSRF token, after which the cookie opens nothing', async () => {
    const session = await loginWithInject(t.app, marketer);
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie: session.cookie } })).statusCode).toBe(403);
    const out = await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: session.headers });
    expect(out.statusCode).toBe(204);
    expect(out.cookies.find((c) => c.name === 'vicino_session')?.value).toBe('');
    const after = await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns', headers: { cookie: session.cookie } });
    expect(expectStatus<{ error: { message: string } }>(after, 401).error.message).toMatch(/^not logged in/);
  });

  it('answers an unknown user, a wrong password and a locked account alike, and locks after repeated failures', async () => {
    const unknown = await login('nobody', 'whatever-password');
    const wrong = await login('maria', 'not-the-password');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toEqual(wrong.json());
    for (let i = 1; i < LOGIN_LOCKOUT.maxFailures; i += 1) expect((await login('maria', 'not-the-password')).statusCode).toBe(401);
    // Locked now: even the right password is refused, with the same message.
    const locked = await login('maria', marketer.password);
    expect(locked.statusCode).toBe(401);
    expect(locked.json()).toEqual(wrong.json());
    t.clock.advance(LOGIN_LOCKOUT.lockMs);
    expectStatus(await login('maria', marketer.password), 200);
    const reasons = (await t.deps.store.listAudit(1, 1_000)).filter((e) => e.action === 'console.login-failed').map((e) => e.details.reason);
    expect(reasons).toEqual(['unknown-user', ...Array(LOGIN_LOCKOUT.maxFailures - 1).fill('wrong-password'), 'wrong-password-locked', 'locked']);
    // Nothing typed is logged: neither the password nor the unknown name.
    expect(t.logs.text()).not.toContain('not-the-password');
    expect(JSON.stringify(await t.deps.store.listAudit(1, 1_000))).not.toContain('nobody');
  });

  it('lets an admin create users (validated, unique) and disable one, which ends their sessions', async () => {
    const admin = bearer(t.adminToken);
    const bad = await t.app.inject({ method: 'POST', url: '/v1/admin/users', headers: admin, payload: { username: 'x', password: 'short', role: 'boss' } });
    const issues = expectStatus<{ error: { issues: { field: string; message: string }[] } }>(bad, 400).error.issues;
    expect(issues.map((i) => i.field).sort()).toEqual(['password', 'role', 'username']);
    expect(issues.find((i) => i.field === 'password')?.message).toBe('must be at least 12 characters');

    const created = expectStatus<{ id: string; username: string }>(
      await t.app.inject({ method: 'POST', url: '/v1/admin/users', headers: admin, payload: { username: 'Ana.Lyst@shop.example', password: 'a long enough passphrase', role: 'analyst' } }), 201);
    expect(created.username).toBe('ana.lyst@shop.example');
    const taken = await t.app.inject({ method: 'POST', url: '/v1/admin/users', headers: admin, payload: { username: 'ana.lyst@shop.example', password: 'another passphrase!', role: 'admin' } });
    expect(expectStatus<{ error: { fields: string[] } }>(taken, 409).error.fields).toEqual(['username']);

    const listed = expectStatus<{ users: Record<string, unknown>[] }>(await t.app.inject({ method: 'GET', url: '/v1/admin/users', headers: admin }), 200).users;
    expect(listed.map((u) => u.username).sort()).toEqual(['ana.lyst@shop.example', 'maria']);
    expect(JSON.stringify(listed)).not.toMatch(/scrypt|passwordHash/);

    const session = await loginWithInject(t.app, marketer);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/admin/users/${marketer.id}`, headers: admin })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: session.cookie } })).statusCode).toBe(401);
    expect((await login('maria', marketer.password)).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/admin/users/${marketer.id}`, headers: admin })).statusCode).toBe(404);
  });

  it('refuses an admin disabling their own account', async () => {
    const admin = await createConsoleUser(t.deps.store, { username: 'root-admin', role: 'admin' });
    const session = await loginWithInject(t.app, admin);
    const response = await t.app.inject({ method: 'DELETE', url: `/v1/admin/users/${admin.id}`, headers: session.headers });
    expect(expectStatus<{ error: { message: string } }>(response, 409).error.message).toBe('you cannot disable your own account: ask another admin');
  });
});
