import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { definitionOf, type Campaign } from '#server/domain/campaign.ts';
import {
  bearer, buildTestApp, campaignAction, campaignTeam, createApiKey, expectStatus, putCampaign, putDraftCampaign, putStore, type ApiKey, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { aCampaign } from '#test/helpers/builders.ts';

// Campaigns through their lifecycle over the real HTTP app (issue 6 item 1, SEC-2, ACC-1): drafts and
// versions, submit, maker–checker approval, reject, pause, resume, end; refusals by role, by status and
// by stale version; checks against the stores' configuration; an audit entry for every change.

let t: TestApp;
let maker: ApiKey;
let checker: ApiKey;

beforeEach(async () => {
  t = await buildTestApp();
  expectStatus(await putStore(t, 'store-1', [{ id: 'entrance' }, { id: 'bakery' }, { id: 'pharmacy', sensitive: true }]), 200);
  ({ maker, checker } = await campaignTeam(t));
});
afterEach(async () => t.close());

type CampaignView = Campaign & { lifecycle: Record<string, unknown> };
const get = async (id: string, key = maker.key) => expectStatus<CampaignView>(await t.app.inject({ method: 'GET', url: `/v1/admin/campaigns/${id}`, headers: bearer(key) }), 200);
const campaignAudit = async (id: string) => (await t.deps.store.listAudit(1, 10_000)).filter((e) => e.subject === id).map((e) => ({ actor: e.actor, action: e.action, details: e.details }));
const coffee = (overrides: Parameters<typeof aCampaign>[0] = {}) => aCampaign({ id: 'coffee', storeId: 'store-1', zoneIds: ['entrance'], ...overrides });

describe('saving definitions', () => {
  it('creates a draft at version 1, then saves each edit as the next version, keeping every version', async () => {
    const created = expectStatus<CampaignView>(await putDraftCampaign(t, coffee()), 201);
    expect(created).toMatchObject({ id: 'coffee', status: 'draft', version: 1, lifecycle: { authoredBy: maker.principalId, submittedBy: null, approvedBy: null, definitionSha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const edited = expectStatus<CampaignView>(await putDraftCampaign(t, coffee({ name: 'Coffee, second take' }), checker.key), 200);
    expect(edited).toMatchObject({ status: 'draft', version: 2, name: 'Coffee, second take', lifecycle: { authoredBy: checker.principalId } });
    const { versions } = expectStatus<{ versions: { version: number; authoredBy: string; definition: { name: string } }[] }>(
      await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns/coffee/versions', headers: bearer(maker.key) }), 200);
    expect(versions.map((v) => [v.version, v.authoredBy, v.definition.name])).toEqual([[1, maker.principalId, 'Coffee corner'], [2, checker.principalId, 'Coffee, second take']]);
    // A draft is not sent: the decision path sees it, with its status.
    expect(await t.deps.store.listCampaigns('store-1')).toEqual([expect.objectContaining({ id: 'coffee', status: 'draft', version: 2 })]);
  });

  it('refuses a stale If-Match or expectedVersion with a 409, and accepts the current one', async () => {
    expectStatus(await putDraftCampaign(t, coffee()), 201);
    const { id: _id, status: _status, version: _version, ...definition } = coffee();
    const stale = await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/coffee', headers: { ...bearer(maker.key), 'if-match': '"7"' }, payload: definition });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.message).toContain('is at version 1, not 7');
    const inBody = await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/coffee', headers: bearer(maker.key), payload: { ...definition, expectedVersion: 3 } });
    expect(inBody.statusCode).toBe(409);
    expectStatus(await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/coffee', headers: { ...bearer(maker.key), 'if-match': '1' }, payload: definition }), 200);
    const createOnly = await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/coffee?expectedVersion=0', headers: bearer(maker.key), payload: definition });
    expect(createOnly.json().error.message).toContain('already exists');
  });

  it('refuses an invalid definition with 400, naming each wrong field, and a status in the body', async () => {
    const { id: _id, status: _status, version: _version, ...valid } = coffee();
    const response = await t.app.inject({
      method: 'PUT', url: '/v1/admin/campaigns/coffee', headers: bearer(maker.key),
      payload: { ...valid, status: 'active', trigger: { kind: 'dwell' }, caps: { ...valid.caps, minGapS: -1 }, message: { ...valid.message, title: 'Hi {{email}}' } },
    });
    expect(response.statusCode).toBe(400);
    const { error } = response.json();
    expect(error.code).toBe('INVALID_BODY');
    expect(error.fields).toEqual(expect.arrayContaining(['status', 'trigger.minDwellS', 'caps.minGapS', 'message.title']));
    expect(error.message).toContain('unknown placeholder {{email}}');
    expect(expectStatus(await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/Not%20An%20Id', headers: bearer(maker.key), payload: valid }), 400))
      .toMatchObject({ error: { code: 'INVALID_PARAMS', fields: ['campaignId'] } });
    expect(await t.deps.store.listCampaigns()).toEqual([]);
  });

  it('refuses a placement in a sensitive zone, a past schedule and a sensitive conversion zone, each named', async () => {
    const sensitive = await putDraftCampaign(t, coffee({ zoneIds: ['pharmacy'] }));
    expect(sensitive.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['placement.zoneIds'], message: expect.stringContaining('pharmacy is marked sensitive') } });
    const past = await putDraftCampaign(t, coffee({ schedule: { until: '2001-01-01T00:00' } }));
    expect(past.json()).toMatchObject({ error: { fields: ['schedule.until'], message: expect.stringContaining('in the past') } });
    const attribution = await putDraftCampaign(t, coffee({ attribution: { conversionZoneIds: ['pharmacy'], windowS: 3600 } }));
    expect(attribution.json()).toMatchObject({ error: { fields: ['attribution.conversionZoneIds'] } });
    const store = await putDraftCampaign(t, aCampaign({ id: 'wide', placement: { level: 'stores', storeIds: ['store-1', 'store-404'] } }));
    expect(store.json()).toMatchObject({ error: { fields: ['placement.storeIds'], message: 'placement.storeIds: unknown store store-404' } });
  });
});

describe('approval (maker–checker)', () => {
  it('goes live only when another principal approves it, and records who did what', async () => {
    expectStatus(await putDraftCampaign(t, coffee()), 201);
    expect(expectStatus<CampaignView>(await campaignAction(t, 'coffee', 'submit', maker.key), 200)).toMatchObject({ status: 'pending', lifecycle: { submittedBy: maker.principalId } });

    const own = await campaignAction(t, 'coffee', 'approve', maker.key);
    expect(own.statusCode).toBe(403);
    expect(own.json().error.message).toContain(`principal ${maker.principalId} wrote version 1 of campaign coffee and cannot approve it`);
    expect(await t.deps.store.listCampaigns()).toEqual([expect.objectContaining({ status: 'pending' })]);

    const approved = expectStatus<CampaignView>(await campaignAction(t, 'coffee', 'approve', checker.key), 200);
    expect(approved).toMatchObject({ status: 'active', version: 1, lifecycle: { authoredBy: maker.principalId, submittedBy: maker.principalId, approvedBy: checker.principalId } });
    expect(await t.deps.store.listCampaigns('store-1')).toEqual([{ ...coffee(), status: 'active', version: 1 }]);
    expect(await campaignAudit('coffee')).toEqual([
      { actor: maker.principalId, action: 'campaign.saved', details: expect.objectContaining({ from: null, to: 'draft', version: 1 }) },
      { actor: maker.principalId, action: 'campaign.submitted', details: expect.objectContaining({ from: 'draft', to: 'pending', version: 1 }) },
      {
        actor: checker.principalId, action: 'campaign.approved',
        details: { from: 'pending', to: 'active', version: 1, definitionSha256: approved.lifecycle.definitionSha256, authoredBy: maker.principalId, submittedBy: maker.principalId, approvedBy: checker.principalId },
      },
    ]);
  });

  it('refuses approval by whoever submitted the version, even if someone else wrote it', async () => {
    const third = await createApiKey(t, 'marketer', 'Third');
    expectStatus(await putDraftCampaign(t, coffee()), 201);
    expectStatus(await campaignAction(t, 'coffee', 'submit', checker.key), 200);
    expect((await campaignAction(t, 'coffee', 'approve', checker.key)).json().error.message).toContain('submitted campaign coffee and cannot approve it');
    expectStatus(await campaignAction(t, 'coffee', 'approve', third.key), 200);
  });

  it('lets the admin token approve a marketer\'s campaign, as a principal of its own', async () => {
    expectStatus(await putDraftCampaign(t, coffee()), 201);
    expectStatus(await campaignAction(t, 'coffee', 'submit', maker.key), 200);
    expect(expectStatus<CampaignView>(await campaignAction(t, 'coffee', 'approve', t.adminToken), 200).lifecycle).toMatchObject({ approvedBy: 'admin-token' });
  });

  it('sends a rejected campaign back to draft with the reason audited', async () => {
    expectStatus(await putDraftCampaign(t, coffee()), 201);
    expectStatus(await campaignAction(t, 'coffee', 'submit', maker.key), 200);
    expect((await campaignAction(t, 'coffee', 'reject', checker.key, {})).json().error.fields).toEqual(['reason']);
    expect(expectStatus<CampaignView>(await campaignAction(t, 'coffee', 'reject', checker.key, { reason: 'Wrong discount' }), 200))
      .toMatchObject({ status: 'draft', lifecycle: { submittedBy: null } });
    expect((await campaignAudit('coffee')).at(-1)).toEqual({ actor: checker.principalId, action: 'campaign.rejected', details: expect.objectContaining({ from: 'pending', to: 'draft', reason: 'Wrong discount' }) });
  });

  it('re-runs the checks on submit: a zone made sensitive since the draft was saved is refused', async () => {
    expectStatus(await putDraftCampaign(t, coffee({ zoneIds: ['bakery'] })), 201);
    expectStatus(await putStore(t, 'store-1', [{ id: 'entrance' }, { id: 'bakery', sensitive: true }]), 200);
    const submitted = await campaignAction(t, 'coffee', 'submit', maker.key);
    expect(submitted.json()).toMatchObject({ error: { code: 'INVALID_BODY', fields: ['placement.zoneIds'], message: expect.stringContaining('bakery is marked sensitive') } });
    expect((await get('coffee')).status).toBe('draft');
  });
});

describe('live campaigns', () => {
  it('must be paused before an edit, which then needs approval again; resume runs the approved version', async () => {
    expectStatus(await putCampaign(t, coffee()), 200);
    const edit = await putDraftCampaign(t, coffee({ name: 'Changed live' }));
    expect(edit.statusCode).toBe(409);
    expect(edit.json().error.message).toContain('is active: pause it before editing it');

    expectStatus(await campaignAction(t, 'coffee', 'pause', maker.key), 200);
    expect(await t.deps.store.listCampaigns('store-1')).toEqual([expect.objectContaining({ status: 'paused' })]);
    expect(expectStatus<CampaignView>(await campaignAction(t, 'coffee', 'resume', maker.key), 200)).toMatchObject({ status: 'active', version: 1, lifecycle: { approvedBy: checker.principalId } });

    expectStatus(await campaignAction(t, 'coffee', 'pause', maker.key), 200);
    expect(expectStatus<CampaignView>(await putDraftCampaign(t, coffee({ name: 'Changed' })), 200)).toMatchObject({ status: 'draft', version: 2, lifecycle: { approvedBy: null } });
    expect((await campaignAction(t, 'coffee', 'resume', maker.key)).json().error.message).toContain('it is draft, and resume applies to a campaign that is paused');
  });

  it('ends from any status but ended, and an ended campaign cannot be edited or moved', async () => {
    expectStatus(await putCampaign(t, coffee()), 200);
    expect(expectStatus<CampaignView>(await campaignAction(t, 'coffee', 'end', maker.key), 200).status).toBe('ended');
    expect((await campaignAction(t, 'coffee', 'end', maker.key)).statusCode).toBe(409);
    expect((await putDraftCampaign(t, coffee())).json().error.message).toContain('has ended');
    expect((await campaignAction(t, 'coffee', 'resume', maker.key)).statusCode).toBe(409);
  });

  it('refuses a transition at a stale version', async () => {
    expectStatus(await putDraftCampaign(t, coffee()), 201);
    const stale = await campaignAction(t, 'coffee', 'submit', maker.key, { expectedVersion: 2 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.message).toContain('is at version 1, not 2');
  });

  it('answers 404 for an action on a campaign that does not exist', async () => {
    expect((await campaignAction(t, 'nothing', 'submit', maker.key)).json()).toMatchObject({ error: { code: 'NOT_FOUND', message: 'no campaign nothing' } });
  });

  it('lets two approvals racing end with exactly one approved campaign and one audit entry', async () => {
    const third = await createApiKey(t, 'marketer', 'Third');
    expectStatus(await putDraftCampaign(t, coffee()), 201);
    expectStatus(await campaignAction(t, 'coffee', 'submit', maker.key), 200);
    const [a, b] = await Promise.all([campaignAction(t, 'coffee', 'approve', checker.key), campaignAction(t, 'coffee', 'approve', third.key)]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    expect((await campaignAudit('coffee')).filter((e) => e.action === 'campaign.approved')).toHaveLength(1);
  });
});

describe('reading campaigns and roles', () => {
  it('lists campaigns with their metadata, by status and store, for every role', async () => {
    expectStatus(await putCampaign(t, coffee()), 200);
    expectStatus(await putDraftCampaign(t, coffee({ id: 'bread', zoneIds: ['bakery'] })), 201);
    for (const role of ['analyst', 'auditor'] as const) {
      const key = (await createApiKey(t, role)).key;
      const all = expectStatus<{ campaigns: CampaignView[] }>(await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns', headers: bearer(key) }), 200);
      expect(all.campaigns.map((c) => [c.id, c.status])).toEqual([['bread', 'draft'], ['coffee', 'active']]);
      const drafts = expectStatus<{ campaigns: CampaignView[] }>(await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns?status=draft&storeId=store-1', headers: bearer(key) }), 200);
      expect(drafts.campaigns.map((c) => c.id)).toEqual(['bread']);
      expect((await get('coffee', key)).lifecycle).toMatchObject({ approvedBy: checker.principalId, approvedAtMs: expect.any(Number), createdAtMs: expect.any(Number) });
      // Read only.
      const edit = await putDraftCampaign(t, coffee({ id: 'bread' }), key);
      expect(edit.statusCode).toBe(403);
      expect(edit.json().error.message).toBe(`role ${role} lacks permission campaigns.write for PUT /v1/admin/campaigns/:campaignId`);
      expect((await campaignAction(t, 'bread', 'submit', key)).statusCode).toBe(403);
    }
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns?status=live', headers: bearer(maker.key) })).json().error.fields).toEqual(['status']);
  });

  it('keeps the decision path\'s view: an approved campaign is listed for its store as the definition approved', async () => {
    const campaign = coffee({ priority: 7 });
    expectStatus(await putCampaign(t, campaign), 200);
    const [listed] = await t.deps.store.listCampaigns('store-1');
    expect(definitionOf(listed!)).toEqual(definitionOf(campaign));
  });
});
