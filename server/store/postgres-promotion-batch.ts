import type { Purpose } from '../domain/consent.ts';
import { PROMOTION_ANALYTICS_COLUMNS, promotionAnalyticsValues } from './analytics-sql.ts';
import { budgetExhausted, capRefusal, capWindows, hasBudgetLimit } from './decision-rows.ts';
import { consentJson } from './postgres-presence-batch.ts';
import { createSetBatches, type BatchObservation, type Query } from './set-batches.ts';
import { num, stateFromRows, toPromotion, type Row } from './rows.ts';
import type { PromotionDraft, RecordPromotionResult } from './store.ts';

// Store.recordPromotion on PostgreSQL, set-based: the sends decided during one turn of the event loop — one per
// presence event that triggered a campaign — are checked and recorded in ONE transaction, where each alone is a
// transaction of four statements and a budget lock. Every check is the single path's, in its order, on the same
// rows (decision-rows.ts: capRefusal, budgetExhausted), so the atomic check-and-record holds as it did:
//
//  1. The shoppers' row locks, in ID order (FOR NO KEY UPDATE, as every sender takes them): sends to one shopper,
//     and a consent change or erasure racing them, take turns.
//  2. The budget locks of the round's budgeted campaigns, one statement each in campaign order, after the shopper
//     locks — the order the single path takes them in — so budgeted sends of a campaign take turns across instances.
//  3. After every lock, so under READ COMMITTED it sees what committed while they were awaited: per send, whether
//     it exists (a redelivery), the shopper's consent, the four cap counts and its campaign's two budget counts.
//  4. The checks, send by send; a campaign's budget counts also take in the round's earlier sends of it.
//  5. One INSERT of every send that passed.
//
// A shopper appears at most once per round (their caps must see their previous send). A round that fails — a
// coupon code that collides, a deadlock — is rolled back whole and its sends go one by one through the single path.

/** Sends recorded in one transaction at most; the rest of a turn's go in the next. */
export const PROMOTION_BATCH_MAX = 256;

/** The advisory-lock key prefix of a campaign's budget (hashtext of prefix + campaign ID): the single path's and the batch's. */
export const BUDGET_LOCK = 'vicino.campaign-budget:';

const LOCK_SENDERS = 'SELECT id, erased_at_ms, restricted, objected_at_ms FROM shoppers WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE';

/**
 * Per send ($1 shopper, $2 campaign, $3 promotion ID, $4 now, $5–$10 the cap windows' bounds (decision-rows.ts
 * capWindows, as capCountsStatement counts over them), $11 whether its campaign has a budget): existing, consent, the cap counts, the budget counts.
 */
const READ_SENDS = `SELECT d.i,
    EXISTS (SELECT 1 FROM promotions WHERE id = d.promotion_id) AS existing,
    ${consentJson('d.shopper_id')} AS consent,
    c.in_period, c.near_this, c.daily, c.near_any, b.delivered, b.redeemable
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::boolean[])
    WITH ORDINALITY AS d(shopper_id, campaign_id, promotion_id, now_ms, period_from, gap_from, gap_to, day_from, cooldown_from, cooldown_to, budgeted, i)
  CROSS JOIN LATERAL (SELECT
      count(*) FILTER (WHERE campaign_id = d.campaign_id AND created_at_ms > d.period_from) AS in_period,
      count(*) FILTER (WHERE campaign_id = d.campaign_id AND created_at_ms > d.gap_from AND created_at_ms < d.gap_to) AS near_this,
      count(*) FILTER (WHERE created_at_ms > d.day_from) AS daily,
      count(*) FILTER (WHERE created_at_ms > d.cooldown_from AND created_at_ms < d.cooldown_to) AS near_any
    FROM promotions WHERE shopper_id = d.shopper_id AND status <> 'cancelled'
      AND created_at_ms > LEAST(d.period_from, d.gap_from, d.day_from, d.cooldown_from)) c
  LEFT JOIN LATERAL (SELECT
      count(*) FILTER (WHERE status NOT IN ('cancelled', 'held-out')) AS delivered,
      count(*) FILTER (WHERE redeemed_at_ms IS NOT NULL OR (status NOT IN ('cancelled', 'expired', 'held-out') AND expires_at_ms > d.now_ms)) AS redeemable
    FROM promotions WHERE campaign_id = d.campaign_id AND d.budgeted) b ON true`;

const INSERT_SENDS = `INSERT INTO promotions (id, campaign_id, shopper_id, event_id, store_id, zone_id, coupon_code, created_at_ms, expires_at_ms, delivered_at_ms, acked_at_ms, status, message, ${PROMOTION_ANALYTICS_COLUMNS})
  SELECT p.id, p.campaign_id, p.shopper_id, p.event_id, p.store_id, p.zone_id, p.coupon_code, p.created_at_ms, p.expires_at_ms, NULL, NULL, p.status, p.message, p.variant, p.analytics, p.conversion_zones, p.conversion_until_ms
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::integer[], $14::text[], $15::bigint[])
    AS p(id, campaign_id, shopper_id, event_id, store_id, zone_id, coupon_code, created_at_ms, expires_at_ms, status, message, variant, analytics, conversion_zones, conversion_until_ms)
  RETURNING *`;

/** Checks and records the sends of distinct shoppers in one transaction; one result per send, in order. Throws if any part fails. */
async function recordRound(q: Query, drafts: readonly PromotionDraft[]): Promise<RecordPromotionResult[]> {
  const results: (RecordPromotionResult | undefined)[] = drafts.map(() => undefined);
  const shoppers = new Map((await q(LOCK_SENDERS, [drafts.map((d) => d.shopperId)])).rows.map((r) => [String(r.id), r]));
  const budgeted = [...new Set(drafts.filter((d) => hasBudgetLimit(d.budget)).map((d) => d.campaignId))].sort();
  for (const campaignId of budgeted) await q('SELECT pg_advisory_xact_lock(hashtext($1))', [BUDGET_LOCK + campaignId]);
  const windows = drafts.map(capWindows);
  const reads = new Map((await q(READ_SENDS, [
    drafts.map((d) => d.shopperId), drafts.map((d) => d.campaignId), drafts.map((d) => d.message.id), drafts.map((d) => d.createdAtMs),
    windows.map((w) => w.period), windows.map((w) => w.gap[0]), windows.map((w) => w.gap[1]), windows.map((w) => w.day),
    windows.map((w) => w.cooldown[0]), windows.map((w) => w.cooldown[1]), drafts.map((d) => hasBudgetLimit(d.budget)),
  ])).rows.map((r) => [num(r.i), r]));

  const existingIds = drafts.filter((_, i) => reads.get(i + 1)?.existing === true).map((d) => d.message.id);
  const existing = existingIds.length === 0 ? new Map<string, Row>() : new Map((await q('SELECT * FROM promotions WHERE id = ANY($1::text[])', [existingIds])).rows.map((r) => [String(r.id), r]));
  /** This round's sends recorded so far, per budgeted campaign (their expiries): they count toward the budget of the ones after them. */
  const recordedHere = new Map<string, number[]>();
  const inserting: { i: number; draft: PromotionDraft; values: ReturnType<typeof promotionAnalyticsValues> }[] = [];

  drafts.forEach((draft, i) => {
    const read = reads.get(i + 1);
    const found = existing.get(draft.message.id);
    if (read?.existing === true && found !== undefined) {
      results[i] = { outcome: 'duplicate', promotion: toPromotion(found) };
      return;
    }
    const shopper = shoppers.get(draft.shopperId);
    if (shopper === undefined || shopper.erased_at_ms !== null) return void (results[i] = { outcome: 'skipped', reason: 'erased' });
    // DSR-4, DSR-3: a restricted shopper is not processed; an objected one gets no marketing, whatever consent_state says.
    if (num(shopper.restricted) === 1) return void (results[i] = { outcome: 'skipped', reason: 'restricted' });
    if (shopper.objected_at_ms !== null) return void (results[i] = { outcome: 'skipped', reason: 'objected' });
    const state = stateFromRows((read?.consent ?? []) as Row[]);
    if (draft.requiredPurposes.some((purpose) => state[purpose as Purpose]?.granted !== true)) return void (results[i] = { outcome: 'skipped', reason: 'no-consent' });
    const refusal = capRefusal(draft.caps, read);
    if (refusal !== undefined) return void (results[i] = { outcome: 'skipped', reason: refusal });
    if (hasBudgetLimit(draft.budget)) {
      const earlier = recordedHere.get(draft.campaignId) ?? [];
      const counts = {
        delivered: num(read?.delivered ?? 0) + earlier.length,
        redeemable: num(read?.redeemable ?? 0) + earlier.filter((expiresAtMs) => expiresAtMs > draft.createdAtMs).length,
      };
      if (budgetExhausted(draft.budget, counts)) return void (results[i] = { outcome: 'skipped', reason: 'budget' });
    }
    const values = promotionAnalyticsValues(draft, state.analytics?.granted === true);
    // A held-out row never counts toward a budget.
    if (hasBudgetLimit(draft.budget) && values.status !== 'held-out') {
      const expiries = recordedHere.get(draft.campaignId);
      if (expiries === undefined) recordedHere.set(draft.campaignId, [draft.message.expiresAtMs]);
      else expiries.push(draft.message.expiresAtMs);
    }
    inserting.push({ i, draft, values });
  });
  if (inserting.length === 0) return results as RecordPromotionResult[];

  const column = <T>(pick: (entry: (typeof inserting)[number]) => T): T[] => inserting.map(pick);
  const inserted = new Map((await q(INSERT_SENDS, [
    column((e) => e.draft.message.id), column((e) => e.draft.campaignId), column((e) => e.draft.shopperId), column((e) => e.draft.eventId),
    column((e) => e.draft.storeId), column((e) => e.draft.zoneId), column((e) => e.draft.message.couponCode), column((e) => e.draft.createdAtMs),
    column((e) => e.draft.message.expiresAtMs), column((e) => e.values.status), column((e) => JSON.stringify(e.draft.message)), column((e) => e.values.variant),
    column((e) => e.values.analytics), column((e) => e.values.conversionZones), column((e) => e.values.conversionUntilMs),
  ])).rows.map((r) => [String(r.id), r]));
  for (const { i, draft } of inserting) {
    const row = inserted.get(draft.message.id);
    if (row === undefined) throw new Error('a recorded promotion did not come back from its insert; the round\'s sends are recorded one by one');
    results[i] = { outcome: 'recorded', promotion: toPromotion(row) };
  }
  return results as RecordPromotionResult[];
}

/**
 * Store.recordPromotion for the PostgreSQL adapter: sends of one turn recorded together, a shopper once per round
 * (set-batches.ts); a send alone, and each send of a round that failed, through `single`, unchanged.
 */
export function createPromotionBatches(
  transaction: <T>(work: (q: Query) => Promise<T>) => Promise<T>,
  single: (draft: PromotionDraft) => Promise<RecordPromotionResult>,
  options: { maxBatch?: number; observe?: (batch: BatchObservation) => void } = {},
): (draft: PromotionDraft) => Promise<RecordPromotionResult> {
  return createSetBatches({
    kind: 'send', keyOf: (draft) => draft.shopperId, transaction, runRound: recordRound, single,
    maxBatch: options.maxBatch ?? PROMOTION_BATCH_MAX, observe: options.observe,
  });
}
