import { createHash } from 'node:crypto';
import { canonicalJson } from '#gateway/protocol/index.ts';
import type { AuditDraft } from './audit-chain.ts';
import { definitionOf, type Campaign, type CampaignDefinition, type CampaignStatus } from './campaign.ts';

// A campaign's lifecycle (issue 6 item 1), as pure rules: draft → pending (submitted) → active ⇄ paused
// → ended, with maker–checker approval (SEC-2, ACC-1): the principal who approves a version is neither
// the one who wrote it nor the one who submitted it. The Store applies a transition as one conditional
// UPDATE on the status (and version) read here, so two instances acting at once cannot both win.

export type LifecycleAction = 'submit' | 'approve' | 'reject' | 'pause' | 'resume' | 'end';
export const LIFECYCLE_ACTIONS = ['submit', 'approve', 'reject', 'pause', 'resume', 'end'] as const satisfies readonly LifecycleAction[];

export const TRANSITIONS = {
  submit: { from: ['draft'], to: 'pending' },
  approve: { from: ['pending'], to: 'active' },
  reject: { from: ['pending'], to: 'draft' },
  pause: { from: ['active'], to: 'paused' },
  // The same approved version runs again: an edit of a paused campaign sends it back to draft instead.
  resume: { from: ['paused'], to: 'active' },
  end: { from: ['draft', 'pending', 'active', 'paused'], to: 'ended' },
} as const satisfies Record<LifecycleAction, { from: readonly CampaignStatus[]; to: CampaignStatus }>;

/** A campaign as stored, with who did what to it and when (principal IDs; null before it happened). */
export type CampaignRecord = {
  campaign: Campaign;
  createdAtMs: number;
  updatedAtMs: number;
  /** Who saved the current version (null for a campaign installed directly through Store.putCampaign). */
  authoredBy: string | null;
  authoredAtMs: number | null;
  submittedBy: string | null;
  submittedAtMs: number | null;
  approvedBy: string | null;
  approvedAtMs: number | null;
  statusChangedBy: string | null;
  statusChangedAtMs: number | null;
};

/** One saved definition of a campaign; immutable. */
export type CampaignVersionRecord = {
  campaignId: string;
  version: number;
  definition: CampaignDefinition;
  definitionSha256: string;
  authoredBy: string | null;
  authoredAtMs: number;
};

export type LifecycleRefusal = { code: 'CONFLICT' | 'FORBIDDEN'; reason: string };

/** SHA-256 (hex) of a definition's canonical JSON: what the audit log cites for the version approved. */
export function definitionSha256(definition: Parameters<typeof definitionOf>[0]): string {
  return createHash('sha256').update(canonicalJson(definitionOf(definition))).digest('hex');
}

const staleVersion = (id: string, current: number, expected: number): LifecycleRefusal => ({
  code: 'CONFLICT', reason: `campaign ${id} is at version ${current}, not ${expected}: reload it and apply the change again`,
});

/**
 * Whether a definition may be saved over `current` (undefined: a new campaign), and as which version.
 * expectedVersion (If-Match) is optional; 0 means "create only".
 */
export function planEdit(id: string, current: Pick<CampaignRecord, 'campaign'> | undefined, expectedVersion?: number): { version: number } | LifecycleRefusal {
  if (current === undefined) {
    if (expectedVersion !== undefined && expectedVersion !== 0) return { code: 'CONFLICT', reason: `campaign ${id} does not exist, so it is not at version ${expectedVersion}` };
    return { version: 1 };
  }
  const { status, version } = current.campaign;
  if (expectedVersion !== undefined && expectedVersion !== version) {
    return expectedVersion === 0 ? { code: 'CONFLICT', reason: `campaign ${id} already exists (version ${version})` } : staleVersion(id, version, expectedVersion);
  }
  switch (status) {
    case 'draft':
    case 'paused':
      return { version: version + 1 };
    case 'active':
      return { code: 'CONFLICT', reason: `campaign ${id} is active: pause it before editing it (the edit then needs approval again)` };
    case 'pending':
      return { code: 'CONFLICT', reason: `campaign ${id} is pending approval: reject it (back to draft) before editing it` };
    case 'ended':
      return { code: 'CONFLICT', reason: `campaign ${id} has ended and cannot be edited: create a new campaign` };
  }
}

/** Whether `actor` may apply `action` to the campaign as read; undefined when they may. */
export function checkTransition(action: LifecycleAction, current: CampaignRecord, actor: string, expectedVersion?: number): LifecycleRefusal | undefined {
  const { id, status, version } = current.campaign;
  if (expectedVersion !== undefined && expectedVersion !== version) return staleVersion(id, version, expectedVersion);
  const rule = TRANSITIONS[action];
  if (!(rule.from as readonly CampaignStatus[]).includes(status)) {
    return { code: 'CONFLICT', reason: `cannot ${action} campaign ${id}: it is ${status}, and ${action} applies to a campaign that is ${rule.from.join(' or ')}` };
  }
  if (action === 'approve') {
    // Maker–checker: a second pair of eyes on exactly this version.
    if (current.authoredBy === actor) return { code: 'FORBIDDEN', reason: `principal ${actor} wrote version ${version} of campaign ${id} and cannot approve it: another principal must approve` };
    if (current.submittedBy === actor) return { code: 'FORBIDDEN', reason: `principal ${actor} submitted campaign ${id} and cannot approve it: another principal must approve` };
  }
  return undefined;
}

/** The audit action of each lifecycle action: campaign.submitted, campaign.approved… */
const PAST = { submit: 'submitted', approve: 'approved', reject: 'rejected', pause: 'paused', resume: 'resumed', end: 'ended' } as const satisfies Record<LifecycleAction, string>;

/**
 * The audit entry (ACC-1) of a saved definition. The Store appends it in the transaction that saves the
 * version, so a change is never committed without its entry, nor an entry without its change.
 */
export function campaignSavedAudit(save: { campaign: Campaign; definitionSha256: string; expected: { status: CampaignStatus } | null; actor: string; atMs: number }): AuditDraft {
  const { campaign } = save;
  return {
    atMs: save.atMs, actor: save.actor, action: 'campaign.saved', subject: campaign.id,
    details: { from: save.expected?.status ?? null, to: campaign.status, version: campaign.version, definitionSha256: save.definitionSha256, placement: campaign.placement },
  };
}

/**
 * The audit entry of a lifecycle action that applied: `from` is the status the Store found under its lock
 * (not the one the caller read, which may have changed meanwhile); an approval names who wrote, submitted
 * and approved the version (maker–checker), a rejection its reason. Appended in the same transaction.
 */
export function campaignTransitionAudit(transition: { action: LifecycleAction; actor: string; atMs: number; reason?: string | undefined }, from: CampaignStatus, updated: CampaignRecord): AuditDraft {
  const { action, actor, atMs } = transition;
  const { campaign } = updated;
  return {
    atMs, actor, action: `campaign.${PAST[action]}`, subject: campaign.id,
    details: {
      from, to: campaign.status, version: campaign.version, definitionSha256: definitionSha256(campaign),
      ...(action === 'approve' ? { authoredBy: updated.authoredBy, submittedBy: updated.submittedBy, approvedBy: actor } : {}),
      ...(transition.reason === undefined ? {} : { reason: transition.reason }),
    },
  };
}
