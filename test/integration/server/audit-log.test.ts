import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain, type AuditRecord } from '#server/domain/audit-chain.ts';
import { aCampaign } from '#test/helpers/builders.ts';
import { bearer, buildTestApp, campaignTeam, expectStatus, givenStoreWithGateway, grant, provisionGateway, putCampaign, registerShopper, type TestApp } from '#test/helpers/build-test-app.ts';

// ACC-1 through the real HTTP app: consent changes, store, gateway and campaign changes, and failed
// admin authentications each leave one chained audit entry — with IDs and settings, never a secret.

let t: TestApp;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(async () => {
  await t.close();
});

const auditLog = (): Promise<AuditRecord[]> => t.deps.store.listAudit(1, 1_000);

describe('audit log', () => {
  it('records one entry per consent answer, in the same transaction, actor shopper', async () => {
    const shopper = await registerShopper(t.app, { firstName: 'Giulia' });
    await grant(t.app, shopper.token, { presence: true, promotions: true });
    await grant(t.app, shopper.token, { promotions: false });
    const entries = await auditLog();
    expect(entries.map((e) => [e.actor, e.action, e.subject, e.details.purpose, e.details.granted, e.details.previousGranted])).toEqual([
      ['shopper', 'consent.changed', shopper.shopperId, 'presence', true, null],
      ['shopper', 'consent.changed', shopper.shopperId, 'promotions', true, null],
      ['shopper', 'consent.changed', shopper.shopperId, 'promotions', false, true],
    ]);
    expect(entries[0]!.details.textVersion).toEqual(expect.any(String));
    const text = JSON.stringify(entries);
    expect(text).not.toContain('Giulia');
    expect(text).not.toContain(shopper.token);
    expect(verifyAuditChain(entries)).toMatchObject({ ok: true, count: 3 });
  });

  it('records store, gateway, secret rotation, settings and campaign changes, without the gateway secret', async () => {
    const config = await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
    expectStatus(await provisionGateway(t, 'store-1', { id: 'gw-1', zoneId: 'entrance', rotateSecret: true }), 201);
    const presence = { enterRssiDbm: -70, exitRssiDbm: -80 };
    expectStatus(await t.app.inject({ method: 'PUT', url: '/v1/admin/stores/store-1/gateways/gw-1/settings', headers: bearer(t.adminToken), payload: { presence } }), 200);
    const campaign = aCampaign({ status: 'draft' });
    expectStatus(await putCampaign(t, campaign), 201);
    expectStatus(await putCampaign(t, { ...campaign, status: 'active' }), 200);
    const { maker, checker } = await campaignTeam(t);

    const entries = await auditLog();
    expect(entries.map((e) => [e.actor, e.action, e.subject])).toEqual([
      ['admin-token', 'store.changed', 'store-1'],
      ['admin-token', 'gateway.provisioned', 'gw-1'],
      ['admin-token', 'gateway.secret-rotated', 'gw-1'],
      ['admin-token', 'gateway.settings-changed', 'gw-1'],
      ['admin-token', 'principal.created', maker.principalId],
      ['admin-token', 'principal.created', checker.principalId],
      [maker.principalId, 'campaign.saved', campaign.id],
      [maker.principalId, 'campaign.saved', campaign.id],
      [maker.principalId, 'campaign.submitted', campaign.id],
      [checker.principalId, 'campaign.approved', campaign.id],
    ]);
    expect(entries[0]!.details).toMatchObject({ timezone: 'Europe/Rome', zoneIds: ['entrance'], beaconIds: [] });
    expect(entries[3]!.details).toEqual({ storeId: 'store-1', presence });
    expect(entries[4]!.details).toEqual({ role: 'marketer' });
    expect(entries[6]!.details).toMatchObject({ from: null, to: 'draft', version: 1, definitionSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(entries[7]!.details).toMatchObject({ from: 'draft', to: 'draft', version: 2 });
    expect(entries[8]!.details).toMatchObject({ from: 'draft', to: 'pending', version: 2 });
    expect(entries[9]!.details).toEqual({
      from: 'pending', to: 'active', version: 2, definitionSha256: entries[7]!.details.definitionSha256,
      authoredBy: maker.principalId, submittedBy: maker.principalId, approvedBy: checker.principalId,
    });
    expect(JSON.stringify(entries)).not.toContain(config.secret);
    expect(verifyAuditChain(entries)).toMatchObject({ ok: true, count: 10 });
  });

  it('records a failed admin authentication with the route pattern only, and refuses the request', async () => {
    const wrong = 'not-the-admin-token-at-all';
    const response = await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/secret-campaign', headers: bearer(wrong), payload: {} });
    expectStatus(response, 401);
    expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/gateways' }), 401);
    const entries = await auditLog();
    expect(entries.map((e) => ({ actor: e.actor, action: e.action, details: e.details }))).toEqual([
      { actor: 'admin', action: 'admin.login-failed', details: { method: 'PUT', route: '/v1/admin/campaigns/:campaignId', tokenSent: true } },
      { actor: 'admin', action: 'admin.login-failed', details: { method: 'GET', route: '/v1/admin/gateways', tokenSent: false } },
    ]);
    expect(JSON.stringify(entries)).not.toContain(wrong);
    expect(JSON.stringify(entries)).not.toContain('secret-campaign');
    // A successful admin request is not an authentication event of its own.
    expectStatus(await t.app.inject({ method: 'GET', url: '/v1/admin/gateways', headers: bearer(t.adminToken) }), 200);
    expect(await auditLog()).toHaveLength(2);
  });
});
