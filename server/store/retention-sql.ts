import type { RetainedKind } from '../domain/retention.ts';

// The purge statements shared by the SQL adapters (Store.purgeBefore). Each deletes at most one batch:
// the rows past the cutoff are picked by primary key, LIMIT n, in a subquery, so a big purge is many
// short statements instead of one long lock. Portable SQL: the placeholders are filled per driver.

/** `where` is the condition of a row past the cutoff, written with {cutoff} for its placeholder. */
type PurgeTarget = { table: string; key: string; where: string; cutoff: (cutoffMs: number) => number };

const TARGETS: Record<RetainedKind, PurgeTarget> = {
  // The event's own time, whole seconds: at_s * 1000 < cutoffMs ⇔ at_s < ceil(cutoffMs / 1000) for integer at_s.
  'presence-events': { table: 'presence_events', key: 'event_id', where: 'at_s < {cutoff}', cutoff: (ms) => Math.ceil(ms / 1000) },
  // Only an idle state (nothing due: no claim, no challenger) whose latest recorded time is past the cutoff.
  'zone-states': { table: 'zone_states', key: '(store_id, shopper_id)', where: 'due_at_ms IS NULL AND last_seen_ms < {cutoff}', cutoff: (ms) => ms },
  // Delivery, open and redemption: one promotions row each, aged from its creation.
  'delivery-records': { table: 'promotions', key: 'id', where: 'created_at_ms < {cutoff}', cutoff: (ms) => ms },
  // The push webhook's queue: finished rows (sent, dead, dropped), aged from their last change. A queued row stays
  // until the worker finishes it — one whose promotion was purged is dropped ('not-found') and goes the next time.
  'webhook-deliveries': { table: 'webhook_deliveries', key: 'promotion_id', where: `status <> 'queued' AND updated_at_ms < {cutoff}`, cutoff: (ms) => ms },
  'event-sequences': { table: 'event_sequences', key: '(gateway_id, boot, seq)', where: 'at_ms < {cutoff}', cutoff: (ms) => ms },
  // A nonce claim is needed until the proof's time alone refuses it (its expires_at_ms).
  'proof-nonces': { table: 'proof_nonces', key: '(shopper_id, nonce)', where: 'expires_at_ms < {cutoff}', cutoff: (ms) => ms },
  // Visit history (profiling), aged from the shopper's last presence in the store.
  'visit-history': { table: 'store_visits', key: '(store_id, shopper_id)', where: 'last_seen_at_ms < {cutoff}', cutoff: (ms) => ms },
};

/** One batch's DELETE for a kind, with `$1`-style or `?` placeholders (cutoff, then limit), and its cutoff parameter. */
export function purgeBatchStatement(kind: RetainedKind, placeholders: 'numbered' | 'question', cutoffMs: number): { sql: string; cutoff: number } {
  const target = TARGETS[kind];
  const [cutoff, limit] = placeholders === 'numbered' ? ['$1', '$2'] : ['?', '?'];
  const columns = target.key.replace(/[()]/g, '');
  return {
    sql: `DELETE FROM ${target.table} WHERE ${target.key} IN (SELECT ${columns} FROM ${target.table} WHERE ${target.where.replace('{cutoff}', cutoff)} LIMIT ${limit})`,
    cutoff: target.cutoff(cutoffMs),
  };
}

/** Checks purgeBefore's arguments, naming the one at fault. */
export function checkPurgeArguments(kind: string, cutoffMs: number, batchLimit: number): void {
  if (!Object.hasOwn(TARGETS, kind)) throw new RangeError(`purgeBefore: unknown kind "${kind}"`);
  if (!Number.isSafeInteger(cutoffMs)) throw new RangeError(`purgeBefore: cutoffMs must be an integer (epoch ms), got ${cutoffMs}`);
  if (!(Number.isSafeInteger(batchLimit) && batchLimit >= 1)) throw new RangeError(`purgeBefore: batchLimit must be a positive integer, got ${batchLimit}`);
}
