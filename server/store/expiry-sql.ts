import type { Row } from './rows.ts';
import type { ExpiredUndelivered } from './store.ts';

// Store.expireUndelivered, shared by both adapters. A promotion is dropped when it expired while still
// pending and was never written to the app; the outer WHERE repeats the condition, so a row another
// instance claimed (or an app acknowledged) between the inner SELECT and the UPDATE is not claimed
// twice. PostgreSQL adds FOR UPDATE SKIP LOCKED to the inner SELECT: concurrent sweeps take disjoint rows.

const UNDELIVERED_EXPIRED = `status = 'pending' AND delivered_at_ms IS NULL AND expires_at_ms <=`;

/**
 * The claim, with placeholders for (nowMs, limit). `lock` is appended to the SELECT that picks the batch;
 * that SELECT is a MATERIALIZED CTE, run once, so the UPDATE takes at most `limit` rows (a LIMIT in an
 * `id IN (subquery)` may be re-evaluated by the planner and claim more).
 */
export function expireUndeliveredStatement(placeholders: readonly [string, string], lock = ''): string {
  const [nowMs, limit] = placeholders;
  return `WITH batch AS MATERIALIZED (SELECT id FROM promotions WHERE ${UNDELIVERED_EXPIRED} ${nowMs} ORDER BY expires_at_ms LIMIT ${limit}${lock})
    UPDATE promotions SET status = 'expired'
    WHERE id IN (SELECT id FROM batch) AND ${UNDELIVERED_EXPIRED} ${nowMs}
    RETURNING campaign_id`;
}

export function checkExpiryArguments(nowMs: number, limit: number): void {
  if (!Number.isSafeInteger(nowMs)) throw new RangeError(`expireUndelivered: nowMs must be an integer, got ${nowMs}`);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`expireUndelivered: limit must be a positive integer, got ${limit}`);
}

/** Tallies the claimed rows (each RETURNING campaign_id) by campaign. */
export function tallyExpired(rows: readonly Row[]): ExpiredUndelivered {
  const byCampaign: Record<string, number> = {};
  for (const row of rows) {
    const campaignId = String(row.campaign_id);
    byCampaign[campaignId] = (byCampaign[campaignId] ?? 0) + 1;
  }
  return { expired: rows.length, byCampaign };
}
