import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAMPAIGN_STATUSES, type Campaign, type CampaignStatus } from '#server/domain/campaign.ts';
import { checkTransition, definitionSha256, LIFECYCLE_ACTIONS, planEdit, TRANSITIONS, type CampaignRecord } from '#server/domain/campaign-lifecycle.ts';
import { aCampaign } from '#test/helpers/builders.ts';

const aRecord = (status: CampaignStatus, overrides: Partial<CampaignRecord> = {}, version = 3): CampaignRecord => ({
  campaign: aCampaign({ id: 'coffee', status, version }), createdAtMs: 1, updatedAtMs: 2, authoredBy: 'maker', authoredAtMs: 2,
  submittedBy: status === 'draft' ? null : 'maker', submittedAtMs: null, approvedBy: null, approvedAtMs: null, statusChangedBy: 'maker', statusChangedAtMs: 2,
  ...overrides,
});

describe('campaign edits', () => {
  it('creates a new campaign at version 1, unless a version was expected', () => {
    expect(planEdit('coffee', undefined)).toEqual({ version: 1 });
    expect(planEdit('coffee', undefined, 0)).toEqual({ version: 1 });
    expect(planEdit('coffee', undefined, 2)).toMatchObject({ code: 'CONFLICT', reason: expect.stringContaining('does not exist') });
  });

  it('saves the next version of a draft or a paused campaign', () => {
    expect(planEdit('coffee', aRecord('draft'))).toEqual({ version: 4 });
    expect(planEdit('coffee', aRecord('paused'), 3)).toEqual({ version: 4 });
  });

  it('refuses to edit an active, pending or ended campaign, saying what to do instead', () => {
    expect(planEdit('coffee', aRecord('active'))).toEqual({ code: 'CONFLICT', reason: expect.stringContaining('pause it before editing it') });
    expect(planEdit('coffee', aRecord('pending'))).toEqual({ code: 'CONFLICT', reason: expect.stringContaining('reject it') });
    expect(planEdit('coffee', aRecord('ended'))).toEqual({ code: 'CONFLICT', reason: expect.stringContaining('has ended') });
  });

  it('refuses a stale expected version, and a create-only save of an existing campaign', () => {
    expect(planEdit('coffee', aRecord('draft'), 2)).toEqual({ code: 'CONFLICT', reason: expect.stringContaining('is at version 3, not 2') });
    expect(planEdit('coffee', aRecord('draft'), 0)).toEqual({ code: 'CONFLICT', reason: expect.stringContaining('already exists') });
  });
});

describe('campaign transitions', () => {
  it('allows each action only from its statuses, and names them when it refuses', () => {
    for (const action of LIFECYCLE_ACTIONS) {
      for (const status of CAMPAIGN_STATUSES) {
        const refusal = checkTransition(action, aRecord(status), 'checker');
        const allowed = (TRANSITIONS[action].from as readonly CampaignStatus[]).includes(status);
        expect(refusal === undefined, `${action} from ${status}`).toBe(allowed);
        if (!allowed) expect(refusal).toEqual({ code: 'CONFLICT', reason: expect.stringContaining(`it is ${status}`) });
      }
    }
  });

  it('goes draft → pending → active ⇄ paused → ended; reject goes back to draft', () => {
    expect(Object.fromEntries(LIFECYCLE_ACTIONS.map((a) => [a, TRANSITIONS[a].to]))).toEqual({
      submit: 'pending', approve: 'active', reject: 'draft', pause: 'paused', resume: 'active', end: 'ended',
    });
  });

  it('refuses an approval by the author of the version or by its submitter (maker–checker)', () => {
    expect(checkTransition('approve', aRecord('pending'), 'maker')).toEqual({ code: 'FORBIDDEN', reason: expect.stringContaining('wrote version 3 of campaign coffee and cannot approve it') });
    expect(checkTransition('approve', aRecord('pending', { authoredBy: 'writer', submittedBy: 'submitter' }), 'submitter'))
      .toEqual({ code: 'FORBIDDEN', reason: expect.stringContaining('submitted campaign coffee and cannot approve it') });
    expect(checkTransition('approve', aRecord('pending', { authoredBy: 'writer', submittedBy: 'submitter' }), 'checker')).toBeUndefined();
    // Anyone else may do the rest, the author included.
    expect(checkTransition('reject', aRecord('pending'), 'maker')).toBeUndefined();
  });

  it('refuses a transition at a stale version', () => {
    expect(checkTransition('approve', aRecord('pending'), 'checker', 2)).toEqual({ code: 'CONFLICT', reason: expect.stringContaining('is at version 3, not 2') });
  });

  it('never lets one principal both write and approve a version, whatever the sequence of actions', () => {
    const principals = ['a', 'b', 'c'];
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...LIFECYCLE_ACTIONS, 'edit' as const), fc.constantFrom(...principals)), { maxLength: 30 }), (steps) => {
      let record: CampaignRecord | undefined;
      for (const [action, actor] of steps) {
        if (action === 'edit') {
          const plan = planEdit('coffee', record);
          if ('code' in plan) continue;
          record = { ...aRecord('draft', { authoredBy: actor, submittedBy: null, approvedBy: null }, plan.version) };
          continue;
        }
        if (record === undefined || checkTransition(action, record, actor) !== undefined) continue;
        const campaign: Campaign = { ...record.campaign, status: TRANSITIONS[action].to };
        record = {
          ...record, campaign,
          ...(action === 'submit' ? { submittedBy: actor, approvedBy: null } : {}),
          ...(action === 'reject' ? { submittedBy: null } : {}),
          ...(action === 'approve' ? { approvedBy: actor } : {}),
        };
        if (action === 'approve') expect([record.authoredBy, record.submittedBy]).not.toContain(actor);
      }
    }));
  });
});

describe('definition hashes', () => {
  it('hashes the definition only: not the ID, status or version, and not the key order', () => {
    const campaign = aCampaign({ id: 'coffee' });
    const reordered = Object.fromEntries(Object.entries(campaign).reverse()) as Campaign;
    expect(definitionSha256(campaign)).toMatch(/^[0-9a-f]{64}$/);
    expect(definitionSha256({ ...reordered, id: 'tea', status: 'paused', version: 9 })).toBe(definitionSha256(campaign));
    expect(definitionSha256({ ...campaign, name: 'Tea' })).not.toBe(definitionSha256(campaign));
  });
});
