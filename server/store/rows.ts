import { parseAuditDraft, type AuditDetails, type AuditDraft, type AuditRecord } from '../domain/audit-chain.ts';
import { LoyaltyTierSchema } from '../domain/campaign.ts';
import type { ConsentRecord, ConsentState, LapseReason, Purpose } from '../domain/consent.ts';
import type { PromotionMessage } from '../domain/promotion.ts';
import type { ErasureProof } from '../domain/erasure.ts';
import { ZonePolygonSchema, type ZonePolygon } from '../domain/floor-plan.ts';
import type { GatewayCounts } from '../domain/gateway-report.ts';
import type { EpochKeyRecord, PresenceEventRecord, GatewayRecord, ZoneRecord, GatewaySettingsRecord, LinkedBeaconKind, StoreBeaconRecord, LinkedBeaconRecord, PromotionRecord, ResolvableShopperRecord, ShopperRecord, WebhookAttemptOutcome, WebhookDeliveryRecord, WebhookDeliveryStatus } from './store.ts';

// Row mapping shared by every SQL adapter. The schema is the portable subset (migrations.ts):
// binary values as base64 TEXT, booleans as INTEGER 0/1, times as epoch ms/s in BIGINT — which
// node-postgres returns as strings, so every number goes through num().

export type Row = Record<string, unknown>;

export const b64 = (value: Buffer): string => value.toString('base64');
export const unb64 = (value: unknown): Buffer => Buffer.from(String(value), 'base64');
export const num = (value: unknown): number => Number(value);
export const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
export const bit = (value: boolean): 0 | 1 => (value ? 1 : 0);

export function toPromotion(row: Row): PromotionRecord {
  return {
    id: String(row.id),
    campaignId: String(row.campaign_id),
    shopperId: String(row.shopper_id),
    eventId: String(row.event_id),
    storeId: String(row.store_id),
    zoneId: String(row.zone_id),
    createdAtMs: num(row.created_at_ms),
    deliveredAtMs: numOrNull(row.delivered_at_ms),
    ackedAtMs: numOrNull(row.acked_at_ms),
    redeemedAtMs: numOrNull(row.redeemed_at_ms),
    status: row.status as PromotionRecord['status'],
    message: JSON.parse(String(row.message)) as PromotionMessage,
    variant: row.variant === null || row.variant === undefined ? null : String(row.variant),
    openedAtMs: numOrNull(row.opened_at_ms),
    convertedAtMs: numOrNull(row.converted_at_ms),
  };
}

export function toShopper(row: Row): ShopperRecord {
  return {
    id: String(row.id),
    tokenHash: String(row.token_hash),
    // Rows from before migration 12 have none: their credential counts from registration.
    tokenIssuedAtMs: numOrNull(row.token_issued_at_ms) ?? num(row.created_at_ms),
    identityKeySealed: row.identity_key_sealed === null ? null : unb64(row.identity_key_sealed),
    rotationExponent: num(row.rotation_exponent),
    locale: String(row.locale),
    firstName: row.first_name === null ? null : String(row.first_name),
    createdAtMs: num(row.created_at_ms),
    erasedAtMs: numOrNull(row.erased_at_ms),
    restricted: num(row.restricted) === 1,
    objectedAtMs: numOrNull(row.objected_at_ms),
    deviceSecretDigest: row.device_secret_digest === null || row.device_secret_digest === undefined ? null : String(row.device_secret_digest),
    country: row.country === null || row.country === undefined ? null : String(row.country),
    birthYear: numOrNull(row.birth_year),
    loyaltyTier: row.loyalty_tier === null || row.loyalty_tier === undefined ? null : LoyaltyTierSchema.parse(row.loyalty_tier),
    interests: row.interests === null || row.interests === undefined ? [] : (JSON.parse(String(row.interests)) as string[]),
  };
}

export const toPresenceEvent = (row: Row): PresenceEventRecord => ({
  eventId: String(row.event_id),
  shopperId: String(row.shopper_id),
  storeId: String(row.store_id),
  zoneId: String(row.zone_id),
  kind: row.kind as PresenceEventRecord['kind'],
  atS: num(row.at_s),
  dwellS: num(row.dwell_s),
  receivedAtMs: num(row.received_at_ms),
});

export const toErasureProof = (row: Row): ErasureProof => ({
  shopperId: String(row.shopper_id),
  erasedAtMs: num(row.erased_at_ms),
  consentRecords: num(row.consent_records),
  consentLedgerSha256: String(row.consent_ledger_sha256),
  finalState: JSON.parse(String(row.final_state)) as ErasureProof['finalState'],
});

export const toResolvableShopper = (row: Row): ResolvableShopperRecord => ({
  id: String(row.id),
  identityKeySealed: unb64(row.identity_key_sealed),
  rotationExponent: num(row.rotation_exponent),
});

export function toConsentRecord(row: Row): ConsentRecord {
  return {
    id: String(row.id),
    shopperId: String(row.shopper_id),
    purpose: row.purpose as Purpose,
    granted: num(row.granted) === 1,
    textVersion: String(row.text_version),
    textSha256: String(row.text_sha256),
    locale: String(row.locale),
    serverTimeMs: num(row.server_time_ms),
    clientTimeMs: numOrNull(row.client_time_ms),
    channel: row.channel as ConsentRecord['channel'],
    previousGranted: row.previous_granted === null ? null : num(row.previous_granted) === 1,
    reason: row.reason === null || row.reason === undefined ? null : (row.reason as LapseReason),
  };
}

export const toGateway = (row: Row): GatewayRecord => {
  const gateway: GatewayRecord = {
    id: String(row.id),
    storeId: String(row.store_id),
    zoneId: String(row.zone_id),
    secretSealed: unb64(row.secret_sealed),
    lastSeenAtMs: numOrNull(row.last_seen_at_ms),
    online: num(row.online) === 1,
  };
  const reportedAtMs = numOrNull(row.reported_at_ms);
  if (reportedAtMs === null) return gateway;
  return {
    ...gateway,
    report: {
      version: row.version === null || row.version === undefined ? null : String(row.version),
      counts: row.status_counts === null || row.status_counts === undefined ? null : (JSON.parse(String(row.status_counts)) as GatewayCounts),
      atMs: reportedAtMs,
    },
  };
};

/** A zones row: the outline is a JSON array of [x, y], NULL for none. */
export const toZone = (row: Row): ZoneRecord => ({
  storeId: String(row.store_id), id: String(row.id), name: String(row.name), sensitive: num(row.sensitive) === 1,
  ...(row.polygon === null || row.polygon === undefined ? {} : { polygon: ZonePolygonSchema.parse(JSON.parse(String(row.polygon))) }),
});

/** A zone's outline as stored: JSON, or NULL for none. */
export const polygonColumn = (polygon: ZonePolygon | undefined): string | null => (polygon === undefined ? null : JSON.stringify(polygon));

export const toGatewaySettings = (row: Row): GatewaySettingsRecord => ({
  gatewayId: String(row.gateway_id),
  presence: JSON.parse(String(row.presence)) as GatewaySettingsRecord['presence'],
  updatedAtMs: num(row.updated_at_ms),
});

export const toEpochKey = (row: Row): EpochKeyRecord => ({
  keyId: String(row.key_id),
  storeId: String(row.store_id),
  keySealed: unb64(row.key_sealed),
  notBeforeS: num(row.not_before_s),
  notAfterS: num(row.not_after_s),
});

export const toStoreBeacon = (row: Row): StoreBeaconRecord => ({
  storeId: String(row.store_id),
  id: String(row.id),
  zoneId: String(row.zone_id),
  uuid: String(row.uuid),
  major: num(row.major),
  minor: num(row.minor),
});

export const toLinkedBeacon = (row: Row): LinkedBeaconRecord => ({
  id: String(row.id),
  shopperId: String(row.shopper_id),
  kind: row.kind as LinkedBeaconKind,
  identifierSealed: unb64(row.identifier_sealed),
  identifierDigest: String(row.identifier_digest),
  createdAtMs: num(row.created_at_ms),
});

/** Folds consent_state rows (purpose, granted, text_version, at_ms) into a ConsentState. */
export function stateFromRows(rows: readonly Row[]): ConsentState {
  const state: ConsentState = {};
  for (const row of rows) state[row.purpose as Purpose] = { granted: num(row.granted) === 1, textVersion: String(row.text_version), atMs: num(row.at_ms) };
  return state;
}

/** An audit_log row as stored. A details column that is not JSON still yields a record (whose hash then fails). */
export function toAuditRecord(row: Row): AuditRecord {
  let details: AuditDetails;
  try {
    details = JSON.parse(String(row.details)) as AuditDetails;
  } catch {
    details = { unparseable: String(row.details) };
  }
  return {
    seq: num(row.seq), atMs: num(row.at_ms), actor: String(row.actor), action: String(row.action), subject: String(row.subject),
    details, prevHash: String(row.prev_hash), hash: String(row.hash),
  };
}

/** What Store.appendConsent takes as audit: drafts, or a function of the records as stored (with previousGranted filled in). */
export type ConsentAudit = readonly AuditDraft[] | ((records: readonly ConsentRecord[]) => readonly AuditDraft[]);

/** The audit drafts for appended consent records, validated: called inside the appending transaction. */
export function consentAuditDrafts(audit: ConsentAudit, records: readonly ConsentRecord[]): AuditDraft[] {
  return (typeof audit === 'function' ? audit(records) : audit).map(parseAuditDraft);
}

export function toWebhookDelivery(row: Row): WebhookDeliveryRecord {
  return {
    promotionId: String(row.promotion_id),
    attempts: num(row.attempts),
    attemptsBeforeReplay: num(row.attempts_before_replay ?? 0),
    replays: num(row.replays ?? 0),
    nextAttemptAtMs: num(row.next_attempt_at_ms),
    claimedUntilMs: numOrNull(row.claimed_until_ms),
    status: String(row.status) as WebhookDeliveryStatus,
    lastError: row.last_error === null || row.last_error === undefined ? null : String(row.last_error),
    updatedAtMs: num(row.updated_at_ms),
  };
}

/** The SET clause values of Store.finishWebhookAttempt, shared by the SQL adapters. */
export function webhookOutcomeColumns(outcome: WebhookAttemptOutcome): { status: string; nextAttemptAtMs: number | null; lastError: string | null; atMs: number } {
  return {
    status: outcome.status,
    nextAttemptAtMs: outcome.status === 'queued' ? outcome.nextAttemptAtMs : null,
    lastError: outcome.status === 'sent' ? null : outcome.error.slice(0, 200),
    atMs: outcome.atMs,
  };
}

/**
 * The SET clause of Store.replayDeadWebhookDeliveries (parameters: nextAttemptAtMs, updatedAtMs): queued again, due
 * now, unclaimed, with a fresh set of tries (attempts itself goes on counting claims); the last error stays for the record.
 */
export const REPLAY_SET = `status = 'queued', next_attempt_at_ms = ?, claimed_until_ms = NULL, attempts_before_replay = attempts, replays = replays + 1, updated_at_ms = ?`;

/** Most dead letters one page lists, and one replay takes. */
export const DEAD_LETTER_PAGE_MAX = 500;

export function checkDeadLetterPage(limit: number): void {
  if (!(Number.isSafeInteger(limit) && limit >= 1 && limit <= DEAD_LETTER_PAGE_MAX)) throw new RangeError(`listDeadWebhookDeliveries: limit must be an integer from 1 to ${DEAD_LETTER_PAGE_MAX}, got ${limit}`);
}

export function checkReplayIds(promotionIds: readonly string[]): void {
  if (promotionIds.length < 1 || promotionIds.length > DEAD_LETTER_PAGE_MAX) throw new RangeError(`replayDeadWebhookDeliveries: promotionIds must hold 1 to ${DEAD_LETTER_PAGE_MAX} IDs, got ${promotionIds.length}`);
}

/** The audit entry of a replay that requeued rows. */
export const replayAudit = (actor: string, atMs: number, requested: number, requeued: number): AuditDraft =>
  ({ atMs, actor, action: 'webhook.replayed', subject: 'webhook-dead-letters', details: { requested, requeued } });
