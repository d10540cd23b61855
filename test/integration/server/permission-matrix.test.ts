import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSION_ROLES, permissionFor, roleHas } from '#server/auth/permissions.ts';
import { ROLES, type Role } from '#server/domain/principal.ts';
import { bearer, buildTestApp, createApiKey, expectStatus, putStore, type TestApp } from '#test/helpers/build-test-app.ts';

// SEC-2: the permission matrix walked end to end. Every /v1/admin route the app registers (read from its
// route table, so a new route without a permission fails here) is called by every role: a role the
// matrix allows gets past the guard (any answer but 401 or 403), any other gets a 403 naming its role
// and the permission it lacks.

let t: TestApp;
const keys = new Map<Role, string>();

beforeAll(async () => {
  t = await buildTestApp();
  expectStatus(await putStore(t, 'store-1'), 200);
  for (const role of ROLES) keys.set(role, (await createApiKey(t, role)).key);
});
afterAll(async () => t.close());

const SAMPLE_PARAMS: Record<string, string> = { storeId: 'store-1', gatewayId: 'gw-none', deviceId: 'pd_none', campaignId: 'cmp-none', principalId: 'pri_none', userId: 'usr_none' };

const urlOf = (pattern: string): string => pattern.replace(/:([A-Za-z]+)/g, (_, name: string) => {
  const value = SAMPLE_PARAMS[name];
  if (value === undefined) throw new Error(`no sample value for :${name} in ${pattern}: add one to SAMPLE_PARAMS`);
  return value;
});

describe('permission matrix (SEC-2)', () => {
  it('gives every /v1/admin route a permission', () => {
    const routes = t.app.adminRouteTable;
    expect(routes.length).toBeGreaterThan(15);
    expect(routes.filter((r) => permissionFor(r.method, r.url) === undefined)).toEqual([]);
  });

  it('lets each role through exactly the routes the matrix allows it', async () => {
    const outcomes: string[] = [];
    for (const route of t.app.adminRouteTable) {
      const permission = permissionFor(route.method, route.url)!;
      for (const role of ROLES) {
        const response = await t.app.inject({
          method: route.method as 'GET', url: urlOf(route.url), headers: bearer(keys.get(role)!),
          ...(['POST', 'PUT', 'PATCH'].includes(route.method) ? { payload: {} } : {}),
        });
        const label = `${role} ${route.method} ${route.url}`;
        if (roleHas(role, permission)) {
          expect([401, 403], `${label}: ${response.body}`).not.toContain(response.statusCode);
        } else {
          expect(response.statusCode, label).toBe(403);
          if (route.method !== 'HEAD') expect(response.json().error.message).toBe(`role ${role} lacks permission ${permission} for ${route.method} ${route.url}`);
        }
        outcomes.push(`${label} → ${response.statusCode === 403 ? 'refused' : 'allowed'}`);
      }
    }
    expect(outcomes.filter((o) => o.endsWith('allowed')).length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.endsWith('refused')).length).toBeGreaterThan(0);
  });

  it('keeps the auditor to reading stores, campaigns, privacy documents and the audit log, and the analyst to reading stores, campaigns, reports and the live view', () => {
    const granted = (role: Role) => Object.keys(PERMISSION_ROLES).filter((p) => roleHas(role, p as keyof typeof PERMISSION_ROLES)).sort();
    expect(granted('auditor')).toEqual(['audit.read', 'campaigns.read', 'privacy.read', 'stores.read']);
    expect(granted('analyst')).toEqual(['analytics.read', 'campaigns.read', 'live.read', 'privacy.read', 'stores.read']);
    expect(granted('marketer')).toEqual(['analytics.read', 'campaigns.approve', 'campaigns.read', 'campaigns.write', 'live.read', 'privacy.read', 'stores.read']);
    expect(granted('admin')).toEqual(Object.keys(PERMISSION_ROLES).sort());
  });

  it('covers the analytics reports by prefix, reading only', () => {
    expect(permissionFor('GET', '/v1/admin/analytics/campaigns/:campaignId/funnel')).toBe('analytics.read');
    expect(permissionFor('HEAD', '/v1/admin/analytics/stores')).toBe('analytics.read');
    expect(permissionFor('POST', '/v1/admin/analytics/stores')).toBeUndefined();
    expect(permissionFor('GET', '/v1/admin/something-new')).toBeUndefined();
  });

  it('audits a refused permission with the principal, its role and the route pattern', async () => {
    const analyst = await createApiKey(t, 'analyst', 'Nosy analyst');
    const response = await t.app.inject({ method: 'PUT', url: '/v1/admin/stores/store-1', headers: bearer(analyst.key), payload: {} });
    expect(response.statusCode).toBe(403);
    const entries = await t.deps.store.listAudit(1, 10_000);
    expect(entries.at(-1)).toMatchObject({
      actor: analyst.principalId, action: 'admin.forbidden', subject: '',
      details: { method: 'PUT', route: '/v1/admin/stores/:storeId', role: 'analyst', permission: 'stores.write' },
    });
  });
});

describe('API keys', () => {
  it('returns a key once, lists principals without it, and stops honouring it once revoked', async () => {
    const created = await createApiKey(t, 'auditor', 'External auditor');
    expect(created).toMatchObject({ principalId: expect.stringMatching(/^pri_[0-9a-f]{32}$/), role: 'auditor', key: expect.stringMatching(/^vk_/) });
    const listed = expectStatus<{ principals: Record<string, unknown>[] }>(await t.app.inject({ method: 'GET', url: '/v1/admin/api-keys', headers: bearer(t.adminToken) }), 200);
    expect(listed.principals).toContainEqual({ principalId: created.principalId, name: 'External auditor', role: 'auditor', createdAtMs: expect.any(Number), revokedAtMs: null });
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect(JSON.stringify(listed)).not.toMatch(/keyHash|key_hash/);

    expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/audit', headers: bearer(created.key) }), 200);
    expectStatus(await t.app.inject({ method: 'DELETE', url: `/v1/admin/api-keys/${created.principalId}`, headers: bearer(t.adminToken) }), 204);
    expectStatus(await t.app.inject({ method: 'DELETE', url: `/v1/admin/api-keys/${created.principalId}`, headers: bearer(t.adminToken) }), 404);
    expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/audit', headers: bearer(created.key) }), 401);
    const audit = (await t.deps.store.listAudit(1, 10_000)).filter((e) => e.subject === created.principalId);
    expect(audit.map((e) => [e.actor, e.action, e.details])).toEqual([['admin-token', 'principal.created', { role: 'auditor' }], ['admin-token', 'principal.revoked', {}]]);
    expect(JSON.stringify(audit)).not.toContain('External auditor');
  });

  it('refuses a key with an unknown role or no name, naming the field', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/admin/api-keys', headers: bearer(t.adminToken), payload: { name: '', role: 'device' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.fields).toEqual(['name', 'role']);
  });

  it('pages through the audit log for the auditor', async () => {
    const auditor = await createApiKey(t, 'auditor');
    const page = expectStatus<{ entries: { seq: number }[]; nextSeq: number | null }>(
      await t.app.inject({ method: 'GET', url: '/v1/admin/audit?fromSeq=2&limit=3', headers: bearer(auditor.key) }), 200);
    expect(page.entries.map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(page.nextSeq).toBe(5);
  });
});
