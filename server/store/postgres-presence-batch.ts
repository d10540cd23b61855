import { isGranted } from '../domain/consent.ts';
import { ZoneStateSchema, type ZoneState } from '../domain/zone-arbiter.ts';
import { zoneStateLastSeenMs } from '../domain/retention.ts';
import { nextVisit } from '../domain/visits.ts';
import { conversionZonePattern, exposedRow } from './analytics-sql.ts';
import { visitStateOf } from './decision-rows.ts';
import { conversionEntries, visitPresence } from './presence-step.ts';
import { num, stateFromRows, type Row } from './rows.ts';
import type { PresenceStep, PresenceStepResult } from './store.ts';
import { createSetBatches, type BatchObservation, type Query } from './set-batches.ts';

// Store.applyPresence on PostgreSQL, set-based: the steps handed in during one turn of the event loop — one
// per presence message the ingress has in flight, from every shopper at once — are applied in ONE transaction
// of four statements over arrays, where each step alone is a transaction of three (five round trips with
// BEGIN and COMMIT). PostgreSQL's cost is per statement far more than per row (docs/benchmarks.md: about
// 0.2 ms of its CPU per hot statement, and the client's sends), so a batch of n steps costs about what one
// did. What each step decides — its consent, the zone arbiter, the visit — is the single path's, in the same
// order, on the same rows (presence-step.ts); only the round trips are shared.
//
//  1. The sequence claims, inserted in (gateway, boot, seq) order so that two instances' batches never wait on
//     each other's claims crosswise; the numbers not claimed here are told apart (a redelivery of the same event
//     goes on, another event under the number is a replay and stops) by a read that runs only when there are any.
//  2. The shoppers' row locks, in ID order (as every set-based locker here takes them), before anything is read:
//     under READ COMMITTED the reads that follow see a withdrawal or erasure that committed while a lock was awaited.
//  3. Each step's consent, zone state and visit row, the last two locked.
//  4. Every write — presence, zone states, visits, conversions — as data-modifying CTEs of one statement.
//
// A shopper appears at most once per transaction (the arbiter must see their events one after another): a
// second step of the same shopper waits for the next transaction of the batch. A batch that fails for any
// reason — a deadlock, a lost race on a zone row, a step's own callback throwing — is rolled back whole, and
// each of its steps is then applied alone through the single path, so one bad step fails alone and the rest
// lose nothing (set-batches.ts).


/** A shopper's consent_state rows as a JSON array (NULL for none), for stateFromRows; param: the shopper's placeholder or column. */
export const consentJson = (param: string): string =>
  `(SELECT json_agg(json_build_object('purpose', purpose, 'granted', granted, 'text_version', text_version, 'at_ms', at_ms)) FROM consent_state WHERE shopper_id = ${param})`;

/** A zone_states.state column, parsed. */
export const zoneStateOf = (json: unknown): ZoneState => ZoneStateSchema.parse(JSON.parse(String(json)));

/** Steps applied in one transaction at most; the rest of a turn's go in the next. */
export const PRESENCE_BATCH_MAX = 256;

const CLAIM_BATCH = `WITH claimed AS (
    INSERT INTO event_sequences (gateway_id, boot, seq, event_id, at_ms)
    SELECT s.gateway_id, s.boot, s.seq, s.event_id, s.at_ms FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) AS s(gateway_id, boot, seq, event_id, at_ms)
    ORDER BY s.gateway_id, s.boot, s.seq
    ON CONFLICT (gateway_id, boot, seq) DO NOTHING RETURNING event_id)
  SELECT event_id FROM claimed`;
/** The holders of numbers not claimed here: $1–$3 (gateway, boot, seq); a row per number still held. */
const SEQUENCE_HOLDERS = `SELECT h.gateway_id, h.boot, h.seq, h.event_id
  FROM unnest($1::text[], $2::text[], $3::bigint[]) AS s(gateway_id, boot, seq) JOIN event_sequences h USING (gateway_id, boot, seq)`;
const LOCK_SHOPPERS = 'SELECT id, erased_at_ms FROM shoppers WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE';
/** $1 shoppers, $2 stores (one pair per step): consent (JSON), the zone state and the visit row (JSON), the last two locked. */
const READ_BATCH = `SELECT p.i,
    ${consentJson('p.shopper_id')} AS consent,
    (SELECT state FROM zone_states z WHERE z.store_id = p.store_id AND z.shopper_id = p.shopper_id FOR UPDATE) AS zone,
    (SELECT json_build_object('visit_count', visit_count, 'visit_started_at_ms', visit_started_at_ms, 'last_seen_at_ms', last_seen_at_ms,
       'previous_visit_last_seen_ms', previous_visit_last_seen_ms) FROM store_visits v WHERE v.store_id = p.store_id AND v.shopper_id = p.shopper_id FOR UPDATE) AS visit
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(shopper_id, store_id, i)`;
/**
 * $1–$8 the presence rows; $9–$13 zone states updated, $14–$18 inserted (store, shopper, state, due, last seen);
 * $19–$24 the visit rows; $25–$28 the conversion entries (shopper, store, at ms, LIKE pattern), each step's in
 * its order. Each exposure converts at its first matching entry, as the single path's statement does.
 */
const WRITE_BATCH = `WITH presence AS (
    INSERT INTO presence_events (event_id, shopper_id, store_id, zone_id, kind, at_s, dwell_s, received_at_ms)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::integer[], $8::bigint[])
    ON CONFLICT (event_id) DO NOTHING),
  zone_updated AS (
    UPDATE zone_states z SET state = u.state, version = z.version + 1, due_at_ms = u.due_at_ms, last_seen_ms = u.last_seen_ms
    FROM unnest($9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[]) AS u(store_id, shopper_id, state, due_at_ms, last_seen_ms)
    WHERE z.store_id = u.store_id AND z.shopper_id = u.shopper_id),
  zone_inserted AS (
    INSERT INTO zone_states (store_id, shopper_id, state, version, due_at_ms, last_seen_ms)
    SELECT n.store_id, n.shopper_id, n.state, 1, n.due_at_ms, n.last_seen_ms
    FROM unnest($14::text[], $15::text[], $16::text[], $17::bigint[], $18::bigint[]) AS n(store_id, shopper_id, state, due_at_ms, last_seen_ms)
    ON CONFLICT (store_id, shopper_id) DO NOTHING RETURNING 1),
  visited AS (
    INSERT INTO store_visits (store_id, shopper_id, visit_count, visit_started_at_ms, last_seen_at_ms, previous_visit_last_seen_ms)
    SELECT * FROM unnest($19::text[], $20::text[], $21::integer[], $22::bigint[], $23::bigint[], $24::bigint[])
    ON CONFLICT (store_id, shopper_id) DO UPDATE SET visit_count = excluded.visit_count, visit_started_at_ms = excluded.visit_started_at_ms,
      last_seen_at_ms = excluded.last_seen_at_ms, previous_visit_last_seen_ms = excluded.previous_visit_last_seen_ms),
  converted AS (
    UPDATE promotions q SET converted_at_ms = c.at_ms
    FROM (SELECT DISTINCT ON (x.id) x.id, e.at_ms
          FROM unnest($25::text[], $26::text[], $27::bigint[], $28::text[]) WITH ORDINALITY AS e(shopper_id, store_id, at_ms, pattern, ord)
          JOIN promotions x ON x.shopper_id = e.shopper_id AND x.store_id = e.store_id
            AND x.conversion_until_ms >= e.at_ms AND x.created_at_ms <= e.at_ms AND x.conversion_zones LIKE e.pattern ESCAPE '\\'
          WHERE x.converted_at_ms IS NULL AND x.analytics = 1 AND ${exposedRow('x')}
            AND EXISTS (SELECT 1 FROM shoppers s WHERE s.id = x.shopper_id AND s.restricted = 0)
          ORDER BY x.id, e.ord) c
    WHERE q.id = c.id
    RETURNING q.shopper_id)
  SELECT (SELECT count(*) FROM zone_inserted) AS zone_inserted,
    (SELECT json_object_agg(shopper_id, n) FROM (SELECT shopper_id, count(*) AS n FROM converted GROUP BY shopper_id) k) AS conversions`;


const sequenceKey = (gatewayId: unknown, boot: unknown, seq: unknown): string => `${String(gatewayId)}\u0000${String(boot)}\u0000${String(seq)}`;

/** Applies steps of distinct shoppers in one transaction; one result per step, in order. Throws if any part fails (nothing then holds). */
async function applyRound(q: Query, steps: readonly PresenceStep[]): Promise<PresenceStepResult[]> {
  const results: (PresenceStepResult | undefined)[] = steps.map(() => undefined);

  // 1. Claims.
  const claiming = steps.flatMap((step, i) => (step.sequence === undefined ? [] : [{ i, ...step.sequence, eventId: step.event.eventId, atMs: step.event.atS * 1000 }]));
  if (claiming.length > 0) {
    const claimed = new Set((await q(CLAIM_BATCH, [
      claiming.map((c) => c.gatewayId), claiming.map((c) => c.boot), claiming.map((c) => c.seq), claiming.map((c) => c.eventId), claiming.map((c) => c.atMs),
    ])).rows.map((r) => String(r.event_id)));
    // A round holds each shopper once, so each event ID once: what was not claimed under its ID, another row holds.
    const taken = claiming.filter((c) => !claimed.has(c.eventId));
    if (taken.length > 0) {
      const holders = new Map((await q(SEQUENCE_HOLDERS, [taken.map((c) => c.gatewayId), taken.map((c) => c.boot), taken.map((c) => c.seq)]))
        .rows.map((r) => [sequenceKey(r.gateway_id, r.boot, r.seq), String(r.event_id)]));
      for (const c of taken) {
        const holder = holders.get(sequenceKey(c.gatewayId, c.boot, c.seq));
        // Pruned between the insert and the read: the single path claims it afresh.
        if (holder === undefined) throw new Error('a sequence claim vanished while the batch read it; its steps are applied one by one');
        // The same event, claimed before (a redelivery), goes on; another event under the number — claimed earlier, or by a
        // step of this very round — is a replay.
        if (holder !== c.eventId) results[c.i] = { outcome: 'replay' };
      }
    }
  }

  // 2. Locks, then 3. reads, for the steps not stopped as replays.
  const live = steps.map((_, i) => i).filter((i) => results[i] === undefined);
  if (live.length === 0) return results as PresenceStepResult[];
  const shoppers = new Map((await q(LOCK_SHOPPERS, [live.map((i) => steps[i]!.event.shopperId)])).rows.map((r) => [String(r.id), r.erased_at_ms === null]));
  const reads = new Map((await q(READ_BATCH, [live.map((i) => steps[i]!.event.shopperId), live.map((i) => steps[i]!.event.storeId)])).rows.map((r) => [num(r.i), r]));

  const presence = { eventId: [] as string[], shopperId: [] as string[], storeId: [] as string[], zoneId: [] as string[], kind: [] as string[], atS: [] as number[], dwellS: [] as number[], receivedAtMs: [] as number[] };
  type ZoneRows = { storeId: string[]; shopperId: string[]; state: string[]; dueAtMs: (number | null)[]; lastSeenMs: (number | null)[] };
  const zoneRows = (): ZoneRows => ({ storeId: [], shopperId: [], state: [], dueAtMs: [], lastSeenMs: [] });
  const updated = zoneRows();
  const inserted = zoneRows();
  const visits = { storeId: [] as string[], shopperId: [] as string[], count: [] as number[], startedAtMs: [] as number[], lastSeenAtMs: [] as number[], previousMs: [] as (number | null)[] };
  const entries = { shopperId: [] as string[], storeId: [] as string[], atMs: [] as number[], pattern: [] as string[] };
  const appliedAt: number[] = [];

  live.forEach((i, k) => {
    const step = steps[i]!;
    const { event } = step;
    const read = reads.get(k + 1);
    const consent = step.consent(stateFromRows((read?.consent ?? []) as Row[]));
    if (!isGranted(consent, 'presence') || shoppers.get(event.shopperId) !== true) {
      results[i] = { outcome: 'no-presence', consent };
      return;
    }
    const previousZone = read?.zone === null || read?.zone === undefined ? undefined : zoneStateOf(read.zone);
    const arbitrated = step.arbitrate(previousZone);
    const { transitions } = arbitrated.result;
    const previousVisit = visitStateOf((read?.visit ?? undefined) as Row | undefined);
    const visitEvent = visitPresence({ zoneId: event.zoneId, atMs: event.atS * 1000 }, step.visits, consent, transitions);
    const visit = visitEvent === undefined ? undefined : nextVisit(previousVisit, visitEvent.atMs, visitEvent.startsVisit);

    presence.eventId.push(event.eventId); presence.shopperId.push(event.shopperId); presence.storeId.push(event.storeId); presence.zoneId.push(event.zoneId);
    presence.kind.push(event.kind); presence.atS.push(event.atS); presence.dwellS.push(event.dwellS); presence.receivedAtMs.push(step.receivedAtMs);
    if (arbitrated.state !== undefined && arbitrated.state !== previousZone) {
      const rows = previousZone === undefined ? inserted : updated;
      rows.storeId.push(event.storeId); rows.shopperId.push(event.shopperId); rows.state.push(JSON.stringify(arbitrated.state));
      rows.dueAtMs.push(arbitrated.dueAtMs ?? null); rows.lastSeenMs.push(zoneStateLastSeenMs(arbitrated.state));
    }
    if (visit?.state !== undefined && visit.state !== previousVisit) {
      visits.storeId.push(event.storeId); visits.shopperId.push(event.shopperId); visits.count.push(visit.state.visitCount);
      visits.startedAtMs.push(visit.state.visitStartedAtMs); visits.lastSeenAtMs.push(visit.state.lastSeenAtMs); visits.previousMs.push(visit.state.previousVisitLastSeenMs);
    }
    for (const entry of conversionEntries(consent, transitions)) {
      entries.shopperId.push(event.shopperId); entries.storeId.push(event.storeId); entries.atMs.push(entry.atMs); entries.pattern.push(conversionZonePattern(entry.zoneId));
    }
    results[i] = { outcome: 'applied', consent, transitions, current: arbitrated.result.current, conversions: 0, visit: visit === undefined ? null : visit.activity };
    appliedAt.push(i);
  });
  if (appliedAt.length === 0) return results as PresenceStepResult[];

  // 4. Writes.
  const [written] = (await q(WRITE_BATCH, [
    presence.eventId, presence.shopperId, presence.storeId, presence.zoneId, presence.kind, presence.atS, presence.dwellS, presence.receivedAtMs,
    updated.storeId, updated.shopperId, updated.state, updated.dueAtMs, updated.lastSeenMs,
    inserted.storeId, inserted.shopperId, inserted.state, inserted.dueAtMs, inserted.lastSeenMs,
    visits.storeId, visits.shopperId, visits.count, visits.startedAtMs, visits.lastSeenAtMs, visits.previousMs,
    entries.shopperId, entries.storeId, entries.atMs, entries.pattern,
  ])).rows;
  // Every writer of a shopper's zone state holds the shopper's lock first, so no zone row can appear between 3 and 4;
  // if one ever did, the batch fails and its steps go one by one.
  if (num(written?.zone_inserted) !== inserted.storeId.length) throw new Error('a zone state was created by a writer without the shopper\'s lock; the batch\'s steps are applied one by one');
  const conversions = (written?.conversions ?? {}) as Record<string, unknown>;
  for (const i of appliedAt) {
    const result = results[i]!;
    if (result.outcome === 'applied') result.conversions = num(conversions[steps[i]!.event.shopperId] ?? 0);
  }
  return results as PresenceStepResult[];
}

/**
 * Store.applyPresence for the PostgreSQL adapter: steps of one turn applied together, a shopper once per round
 * (set-batches.ts); a step alone, and each step of a batch that failed, through `single`, the one-step transaction.
 */
export function createPresenceBatches(
  transaction: <T>(work: (q: Query) => Promise<T>) => Promise<T>,
  single: (step: PresenceStep) => Promise<PresenceStepResult>,
  options: { maxBatch?: number; observe?: (batch: BatchObservation) => void } = {},
): (step: PresenceStep) => Promise<PresenceStepResult> {
  return createSetBatches({
    kind: 'presence', keyOf: (step) => step.event.shopperId, transaction, runRound: applyRound, single,
    maxBatch: options.maxBatch ?? PRESENCE_BATCH_MAX, observe: options.observe,
  });
}
