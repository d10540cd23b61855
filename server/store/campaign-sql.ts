import { CampaignDefinitionSchema, CampaignSchema, campaignStoreKey, definitionOf, type Campaign } from '../domain/campaign.ts';
import { TRANSITIONS, type CampaignRecord, type CampaignVersionRecord } from '../domain/campaign-lifecycle.ts';
import { RoleSchema, type PrincipalRecord } from '../domain/principal.ts';
import { num, numOrNull, type Row } from './rows.ts';
import type { CampaignDefinitionSave, CampaignTransition } from './store.ts';

// The campaign lifecycle's statements and rows, shared by both adapters. Placeholders are numbered by
// the adapter (`?` for SQLite, `$n` for PostgreSQL); each parameter appears once, in order.

export type Placeholder = (n: number) => string;

export type Statement = { sql: string; params: unknown[] };

const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/** A campaigns row: the definition JSON, with its status and version from their columns (which are authoritative). */
export function toCampaignRecord(row: Row): CampaignRecord {
  const stored = JSON.parse(String(row.definition)) as Record<string, unknown>;
  const campaign = CampaignSchema.parse({ ...stored, id: String(row.id), status: String(row.status), version: num(row.version) }) as Campaign;
  return {
    campaign,
    createdAtMs: num(row.created_at_ms),
    updatedAtMs: num(row.updated_at_ms),
    authoredBy: strOrNull(row.authored_by),
    authoredAtMs: numOrNull(row.authored_at_ms),
    submittedBy: strOrNull(row.submitted_by),
    submittedAtMs: numOrNull(row.submitted_at_ms),
    approvedBy: strOrNull(row.approved_by),
    approvedAtMs: numOrNull(row.approved_at_ms),
    statusChangedBy: strOrNull(row.status_changed_by),
    statusChangedAtMs: numOrNull(row.status_changed_at_ms),
  };
}

export function toCampaignVersion(row: Row): CampaignVersionRecord {
  return {
    campaignId: String(row.campaign_id), version: num(row.version), definition: CampaignDefinitionSchema.parse(JSON.parse(String(row.definition))),
    definitionSha256: String(row.definition_sha256), authoredBy: strOrNull(row.authored_by), authoredAtMs: num(row.authored_at_ms),
  };
}

export function toPrincipal(row: Row): PrincipalRecord {
  return {
    id: String(row.id), name: String(row.name), role: RoleSchema.parse(row.role), keyHash: String(row.key_hash),
    createdAtMs: num(row.created_at_ms), revokedAtMs: numOrNull(row.revoked_at_ms),
  };
}

/** Store.putCampaign: an upsert of the campaign as given. */
export function putCampaignStatement(campaign: Campaign, atMs: number, p: Placeholder): Statement {
  return {
    sql: `INSERT INTO campaigns (id, store_id, status, version, definition, created_at_ms, updated_at_ms) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)})
      ON CONFLICT (id) DO UPDATE SET store_id = excluded.store_id, status = excluded.status, version = excluded.version, definition = excluded.definition, updated_at_ms = excluded.updated_at_ms`,
    params: [campaign.id, campaignStoreKey(campaign.placement), campaign.status, campaign.version, JSON.stringify(campaign), atMs, atMs],
  };
}

/** Store.saveCampaignDefinition's write of the campaign: an insert that does nothing if it exists, or a compare-and-swap on (status, version). */
export function saveCampaignStatement(save: CampaignDefinitionSave, p: Placeholder): Statement {
  const { campaign, actor, atMs } = save;
  const json = JSON.stringify(campaign);
  const storeKey = campaignStoreKey(campaign.placement);
  if (save.expected === null) {
    return {
      sql: `INSERT INTO campaigns (id, store_id, status, version, definition, created_at_ms, updated_at_ms, authored_by, authored_at_ms, status_changed_by, status_changed_at_ms)
        VALUES (${[...Array(11).keys()].map((i) => p(i + 1)).join(', ')}) ON CONFLICT (id) DO NOTHING`,
      params: [campaign.id, storeKey, campaign.status, campaign.version, json, atMs, atMs, actor, atMs, actor, atMs],
    };
  }
  return {
    sql: `UPDATE campaigns SET store_id = ${p(1)}, status = ${p(2)}, version = ${p(3)}, definition = ${p(4)}, updated_at_ms = ${p(5)}, authored_by = ${p(6)}, authored_at_ms = ${p(7)},
        status_changed_by = ${p(8)}, status_changed_at_ms = ${p(9)}, submitted_by = NULL, submitted_at_ms = NULL, approved_by = NULL, approved_at_ms = NULL
      WHERE id = ${p(10)} AND status = ${p(11)} AND version = ${p(12)}`,
    params: [storeKey, campaign.status, campaign.version, json, atMs, actor, atMs, actor, atMs, campaign.id, save.expected.status, save.expected.version],
  };
}

export function insertVersionStatement(save: CampaignDefinitionSave, p: Placeholder): Statement {
  const { campaign } = save;
  return {
    sql: `INSERT INTO campaign_versions (campaign_id, version, definition, definition_sha256, authored_by, authored_at_ms) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`,
    params: [campaign.id, campaign.version, JSON.stringify(definitionOf(campaign)), save.definitionSha256, save.actor, save.atMs],
  };
}

/**
 * Store.transitionCampaign as one conditional UPDATE … RETURNING: from the action's statuses only, at
 * the expected version if given; an approval also only by a principal who neither wrote nor submitted
 * the current version (maker–checker), checked in the same statement as the write.
 */
export function transitionStatement(transition: CampaignTransition, p: Placeholder): Statement {
  const { action, actor, atMs } = transition;
  const rule = TRANSITIONS[action];
  const params: unknown[] = [rule.to, actor, atMs, atMs];
  const next = (value: unknown): string => {
    params.push(value);
    return p(params.length);
  };
  const sets = [`status = ${p(1)}`, `status_changed_by = ${p(2)}`, `status_changed_at_ms = ${p(3)}`, `updated_at_ms = ${p(4)}`];
  if (action === 'submit') sets.push(`submitted_by = ${next(actor)}`, `submitted_at_ms = ${next(atMs)}`, 'approved_by = NULL', 'approved_at_ms = NULL');
  if (action === 'approve') sets.push(`approved_by = ${next(actor)}`, `approved_at_ms = ${next(atMs)}`);
  if (action === 'reject') sets.push('submitted_by = NULL', 'submitted_at_ms = NULL');
  const where = [`id = ${next(transition.id)}`, `status IN (${rule.from.map((s) => `'${s}'`).join(', ')})`];
  if (transition.expectedVersion !== undefined) where.push(`version = ${next(transition.expectedVersion)}`);
  if (action === 'approve') where.push(`COALESCE(authored_by, '') <> ${next(actor)}`, `COALESCE(submitted_by, '') <> ${next(actor)}`);
  return { sql: `UPDATE campaigns SET ${sets.join(', ')} WHERE ${where.join(' AND ')} RETURNING *`, params };
}

/** Store.listCampaignRecords' query; the caller still filters by placement (a '*' row may not be placed in the store). */
export function listCampaignsStatement(filter: { status?: string; storeId?: string }, p: Placeholder, order: string): Statement {
  const params: unknown[] = [];
  const where: string[] = [];
  if (filter.status !== undefined) {
    params.push(filter.status);
    where.push(`status = ${p(params.length)}`);
  }
  if (filter.storeId !== undefined) {
    params.push(filter.storeId);
    where.push(`store_id IN (${p(params.length)}, '*')`);
  }
  return { sql: `SELECT * FROM campaigns${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}`, params };
}
