import { createHash } from 'node:crypto';
import pg from 'pg';
import { canonicalJson, chainEntry, parseAuditDraft, type AuditDraft, type AuditRecord } from '../domain/audit-chain.ts';
import { CampaignStatusSchema, placedInStore } from '../domain/campaign.ts';
import { campaignSavedAudit, campaignTransitionAudit } from '../domain/campaign-lifecycle.ts';
import {
  insertVersionStatement, listCampaignsStatement, putCampaignStatement, saveCampaignStatement, toCampaignRecord, toCampaignVersion, toPrincipal, transitionStatement,
} from './campaign-sql.ts';
import { isGranted, type ConsentDraft, type ConsentRecord, type ConsentState, type Purpose } from '../domain/consent.ts';
import { erasureProof, revokedTokenHash, type ErasureCounts } from '../domain/erasure.ts';
import { ObjectedGrantError, refusedAfterObjection } from '../domain/objection.ts';
import { type ZoneState } from '../domain/zone-arbiter.ts';
import { zoneStateLastSeenMs } from '../domain/retention.ts';
import { nextVisit, type VisitActivity } from '../domain/visits.ts';
import {
  budgetCountsStatement, budgetExhausted, capCountsStatement, capRefusal, floorPlanColumn, hasBudgetLimit, hoursColumn, interestsColumn, STORE_COLUMNS, toStoreRecord, toVisitRecord, visitStateOf,
} from './decision-rows.ts';
import {
  campaignActivitySql, checkActivityBuckets, foldCampaignActivity, gatewayReportColumns, MARK_GATEWAY_REPORTED, toZoneEventCount, toZoneOccupancy, ZONE_EVENT_COUNTS, zoneOccupancySql,
} from './console-sql.ts';
import { SERIES_METRICS, type SeriesMetric } from '../domain/campaign-series.ts';
import { MIGRATIONS } from './migrations.ts';
import {
  DELETE_LAPSED_SESSIONS, DELETE_SESSION, DELETE_USER_SESSIONS, DISABLE_USER, FIND_SESSION, FIND_USER, INSERT_SESSION, INSERT_USER, LIST_USERS, LOGIN_FAILURE, LOGIN_SUCCESS,
  loginFailureParams, readSessionRow, toUser, TOUCH_SESSION,
} from './user-sql.ts';
import { CLEAR_CONSENT_STATE, conflictMessage, consentDriftStatement, lapseCandidateStatement, REBUILD_CONSENT_STATE, toArchivedText, toLapseCandidate } from './consent-sql.ts';
import { checkPurgeArguments, purgeBatchStatement } from './retention-sql.ts';
import { checkExpiryArguments, expireUndeliveredStatement, tallyExpired } from './expiry-sql.ts';
import { checkDeadLetterPage, checkReplayIds, REPLAY_SET, replayAudit, toWebhookDelivery, webhookOutcomeColumns } from './rows.ts';
import { conversionEntries, visitPresence } from './presence-step.ts';
import { createStatementBatcher } from './statement-batcher.ts';
import { consentJson, createPresenceBatches, zoneStateOf } from './postgres-presence-batch.ts';
import type { BatchObservation, Query } from './set-batches.ts';
import { BUDGET_LOCK, createPromotionBatches } from './postgres-promotion-batch.ts';
import {
  CAMPAIGN_GROUP_COUNTS, checkRollupArguments, conversionZonePattern, EARLIEST_EVENT_S, ENSURE_WATERMARK, exposedRow, LIST_DWELL, LIST_FOOTFALL, MARK_OPENED, numbered, PROMOTION_ANALYTICS_COLUMNS,
  promotionAnalyticsValues, RECORD_CONVERSIONS, LIST_STORE_ZONES, ROLLUP_DWELL, ROLLUP_FOOTFALL, rollupBuckets, rollupParams, rollupStart, SET_WATERMARK, toGroupCounts, toZoneCell, toZoneDwellCell, watermarkOf,
} from './analytics-sql.ts';
import { CLAIM_COUPON_CONDITION, claimedCoupon, refusedClaim, toPosDevice } from './redemption-rows.ts';
import {
  b64, bit, consentAuditDrafts, num, numOrNull, stateFromRows, toAuditRecord, toConsentRecord, toEpochKey, toErasureProof, toGateway, toGatewaySettings, toLinkedBeacon, toPresenceEvent,
  toPromotion, toResolvableShopper, toShopper, toStoreBeacon, toZone, polygonColumn, unb64, type ConsentAudit, type Row,
} from './rows.ts';
import {
  APP_TOKEN_HISTORY_LIMIT, type ConsentLapseWrite, type ObjectionResult, type PresenceStep, type PresenceStepResult, type PromotionDraft, type PromotionRecord, type RecordPromotionResult, type SequenceClaim,
  type ShopperData, type Store, type StoreCounts, type ZoneStateUpdate,
} from './store.ts';

// The PostgreSQL Store: a pg.Pool over the same portable schema as the embedded adapter, so
// several server instances can share one database. Every check-and-write runs in one READ
// COMMITTED transaction that first locks the shopper's row (FOR NO KEY UPDATE): sends to the same
// shopper, and a consent change racing them, serialise on that lock, and each statement after it
// sees everything the previous holder committed — so caps hold across instances (CON-4, CON-5).
// NO KEY UPDATE rather than UPDATE leaves the FOR KEY SHARE locks of foreign-key checks
// (presence events, consent records) free to proceed.


// Advisory-lock key for migrations, hashed in SQL (hashtext); it only has to be the same for every instance.
const MIGRATION_LOCK = 'vicino.migrations';
// Advisory-lock key that serialises audit appends across instances (held to the end of the transaction).
const AUDIT_LOCK = 'vicino.audit-log';
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const BUMP_CONFIG_VERSION = 'UPDATE config_version SET version = version + 1 WHERE id = 1';

/** PostgreSQL's numbered placeholder. */
const Q = (n: number): string => `$${n}`;
/** The zone arbiter's current zone in a zone_states row (its state column is JSON text). */
const POSTGRES_CURRENT_ZONE = "(z.state::jsonb #>> '{current,zoneId}')";

// Named prepared statements: PostgreSQL parses and plans each SQL text once per connection instead of at
// every query (a hot-path read took 97 µs unnamed, 59 µs named, on this machine). Only plain DML is named
// (DDL and transaction control are not), and only the first MAX_NAMED_STATEMENTS distinct texts — the
// Store's SQL is a fixed set, so the bound is never reached in practice.
const MAX_NAMED_STATEMENTS = 1_000;
const statementNames = new Map<string, string>();
function prepared(sql: string, params: readonly unknown[]): pg.QueryConfig {
  const values = params as unknown[];
  let name = statementNames.get(sql);
  if (name === undefined) {
    if (statementNames.size >= MAX_NAMED_STATEMENTS || !/^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(sql)) return { text: sql, values };
    name = `vicino_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values };
}
/**
 * A named statement prepared before a migration changed a table it reads (another instance upgraded the
 * schema): "cached plan must not change result type". The connection is then closed rather than reused, so
 * the next one prepares afresh; the caller's retry (the ingress retries) succeeds.
 */
const isStalePlan = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === '0A000';
/** The connection is gone: the server ended it (admin shutdown, crash, restart) or the socket broke. */
const isConnectionLost = (error: unknown): boolean => {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return ['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE'].includes(String(code))
    || /Connection terminated|terminating connection/i.test(String(message));
};


// Store.applyPresence's three statements (see applyPresence).
const LOCK_SHOPPER = 'SELECT erased_at_ms FROM shoppers WHERE id = $1 FOR NO KEY UPDATE';
/** $1–$5 the sequence claim (gateway, boot, seq, event ID, at ms), $6 the shopper. A row only when claimed here and the shopper is known. */
const CLAIM_THEN_LOCK_SHOPPER = `WITH claim AS (
    INSERT INTO event_sequences (gateway_id, boot, seq, event_id, at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gateway_id, boot, seq) DO NOTHING RETURNING 1)
  SELECT erased_at_ms FROM shoppers WHERE id = $6 AND EXISTS (SELECT 1 FROM claim) FOR NO KEY UPDATE`;
/** $1 the shopper, $2 the store: consent rows (JSON), the zone state and the visit row (JSON), the last two locked. */
const PRESENCE_STEP_READ = `SELECT
    ${consentJson('$1')} AS consent,
    (SELECT state FROM zone_states WHERE store_id = $2 AND shopper_id = $1 FOR UPDATE) AS zone,
    (SELECT json_build_object('visit_count', visit_count, 'visit_started_at_ms', visit_started_at_ms, 'last_seen_at_ms', last_seen_at_ms,
       'previous_visit_last_seen_ms', previous_visit_last_seen_ms) FROM store_visits WHERE store_id = $2 AND shopper_id = $1 FOR UPDATE) AS visit`;
/**
 * $1–$8 the presence record; $9 the zone write ('none', 'update' or 'insert'), $10–$12 its state, due and last
 * seen; $13 whether the visit row is written, $14–$17 its values; $18/$19 the conversion entries (times, LIKE
 * patterns). Each exposure converts at the first entry, in order, that matches it: what RECORD_CONVERSIONS run
 * once per entry, in order, does (analytics-sql.ts; the same conditions).
 */
/** The entries ($18 times, $19 patterns, in order) that convert exposure q: inside its window, attributing to the zone. */
const CONVERTING_ENTRIES = `unnest($18::bigint[], $19::text[]) WITH ORDINALITY AS e(at_ms, pattern, ord)
  WHERE q.conversion_until_ms >= e.at_ms AND q.created_at_ms <= e.at_ms AND q.conversion_zones LIKE e.pattern ESCAPE '\\'`;
const PRESENCE_STEP_WRITE = `WITH presence AS (
    INSERT INTO presence_events (event_id, shopper_id, store_id, zone_id, kind, at_s, dwell_s, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (event_id) DO NOTHING),
  zone_updated AS (
    UPDATE zone_states SET state = $10, version = version + 1, due_at_ms = $11, last_seen_ms = $12
    WHERE $9::text = 'update' AND store_id = $3 AND shopper_id = $2),
  zone_inserted AS (
    INSERT INTO zone_states (store_id, shopper_id, state, version, due_at_ms, last_seen_ms) SELECT $3, $2, $10::text, 1, $11::bigint, $12::bigint WHERE $9::text = 'insert'
    ON CONFLICT (store_id, shopper_id) DO NOTHING RETURNING 1),
  visited AS (
    INSERT INTO store_visits (store_id, shopper_id, visit_count, visit_started_at_ms, last_seen_at_ms, previous_visit_last_seen_ms)
    SELECT $3, $2, $14::integer, $15::bigint, $16::bigint, $17::bigint WHERE $13::boolean
    ON CONFLICT (store_id, shopper_id) DO UPDATE SET visit_count = excluded.visit_count, visit_started_at_ms = excluded.visit_started_at_ms,
      last_seen_at_ms = excluded.last_seen_at_ms, previous_visit_last_seen_ms = excluded.previous_visit_last_seen_ms),
  converted AS (
    UPDATE promotions q SET converted_at_ms = (SELECT e.at_ms FROM ${CONVERTING_ENTRIES} ORDER BY e.ord LIMIT 1)
    WHERE q.shopper_id = $2 AND q.store_id = $3 AND q.converted_at_ms IS NULL AND q.analytics = 1 AND ${exposedRow('q')}
      AND EXISTS (SELECT 1 FROM shoppers s WHERE s.id = q.shopper_id AND s.restricted = 0)
      AND EXISTS (SELECT 1 FROM ${CONVERTING_ENTRIES})
    RETURNING 1)
  SELECT (SELECT count(*) FROM zone_inserted) AS zone_inserted, (SELECT count(*) FROM converted) AS conversions`;

/**
 * Drops schemas (and everything in them) that openPostgresStore created with its `schema` option: what
 * a benchmark or a test suite does to leave the shared database as it found it. Schema names must be
 * identifiers the caller made (letters, digits, underscores); anything else is refused, not quoted.
 */
export async function dropPostgresSchemas(url: string, schemas: readonly string[]): Promise<void> {
  const bad = schemas.find((schema) => !/^[a-z_][a-z0-9_]{0,62}$/.test(schema));
  if (bad !== undefined) throw new RangeError(`schema: "${bad}" is not a plain lower-case identifier`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Connections a Store keeps at most. The hot path's set-based transactions and statement batches run side by side:
 * with 10 (pg's default) they waited for connections, and the end-to-end bench's 1,000 ev/s step gave p99 851–1,400
 * ms against 339–479 ms with 20 (docs/benchmarks.md). Each instance holds its own; PostgreSQL's default
 * max_connections is 100.
 */
export const DEFAULT_POOL_MAX = 20;

export type PostgresStoreOptions = {
  /** A schema of its own (created if missing): benches and test suites. */
  schema?: string;
  /** Connections kept at most (DATABASE_POOL_MAX); DEFAULT_POOL_MAX by default. */
  poolMax?: number;
  /** Each set-based transaction of the hot path: how many calls it took, and whether it fell back to one at a time (metrics.ts batchMetrics). */
  observeBatches?: (batch: BatchObservation) => void;
};

export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _`);
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    max: options.poolMax ?? DEFAULT_POOL_MAX,
    // A startup parameter, so every pooled connection resolves unqualified table names in the schema.
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // A pooled idle client whose connection dies (server restart, network) is discarded by the pool;
  // without a listener the 'error' event would crash the process. The next query reconnects or fails.
  pool.on('error', () => undefined);
  // A new connection is handed over from inside pg's parse loop, and the caller's listener is attached a
  // microtask later: an error in the same chunk (a backend terminated as it started) would find no
  // listener and crash the process. Each connection keeps this one from the start; the checkout's own
  // listener below still records the failure, and the query or transaction fails as it should.
  pool.on('connect', (client) => client.on('error', () => undefined));

  const query: Query = async (sql, params = [], retried = false) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A checked-out client whose connection dies emits 'error' (the pool listens only to idle ones): kept, not thrown.
    const onError = (error: Error): void => {
      broken = error;
    };
    client.on('error', onError);
    let retry = false;
    try {
      return await client.query<Row>(prepared(sql, params));
    } catch (error) {
      if (isStalePlan(error) || isConnectionLost(error)) broken = error as Error;
      // A pooled connection that died while idle (the server restarted, an admin terminated it) is found out on
      // use: a read is safely tried once more on a fresh one. A write is not: it may have committed.
      retry = !retried && isConnectionLost(error) && /^\s*SELECT\b/i.test(sql);
      if (!retry) throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
    return query(sql, params, true);
  };
  const rows = async (sql: string, ...params: unknown[]): Promise<Row[]> => (await query(sql, params)).rows;
  const row = async (sql: string, ...params: unknown[]): Promise<Row | undefined> => (await query(sql, params)).rows[0];
  const changes = async (sql: string, ...params: unknown[]): Promise<number> => (await query(sql, params)).rowCount ?? 0;

  async function transaction<T>(work: (q: Query) => Promise<T>, begin = 'BEGIN', retried = false): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    const onError = (error: Error): void => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query(begin);
    } catch (error) {
      // The connection died while idle in the pool: nothing of this transaction ran, so it starts again once on a fresh one.
      client.off('error', onError);
      client.release(error as Error);
      if (!retried && isConnectionLost(error)) return transaction(work, begin, true);
      throw error;
    }
    try {
      const result = await work((sql, params = []) => client.query<Row>(prepared(sql, params)));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (isStalePlan(error)) broken = error as Error;
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      // A client whose rollback failed, or whose connection died, is in an unknown state: destroy it rather than reuse it.
      client.off('error', onError);
      client.release(broken);
    }
  }

  // Every change to what the ingest keeps in memory raises the configuration's version in its own
  // transaction (Store.configVersion). The counter's row lock is taken last and held to the commit: config
  // writers take turns on it, and nothing else locks it.
  const configChange = <T>(write: (q: Query) => Promise<T>): Promise<T> =>
    transaction(async (q) => {
      const result = await write(q);
      await q(BUMP_CONFIG_VERSION);
      return result;
    });

  // A promotion delivered, an app's ack: set-based, one statement for the calls of one turn of the event loop
  // (statement-batcher.ts). The rows are locked in ID order first, so two instances' batches never deadlock.
  const deliveredMarks = createStatementBatcher<{ id: string; atMs: number }, void>(async (items) => {
    await query(`UPDATE promotions p SET delivered_at_ms = COALESCE(p.delivered_at_ms, v.at_ms)
                 FROM (SELECT q.id, m.at_ms FROM promotions q JOIN unnest($1::text[], $2::bigint[]) AS m(id, at_ms) ON q.id = m.id ORDER BY q.id FOR UPDATE OF q) v
                 WHERE p.id = v.id`, [items.map((i) => i.id), items.map((i) => i.atMs)]);
    return items.map(() => undefined);
  });
  const acks = createStatementBatcher<{ shopperId: string; id: string; atMs: number }, boolean>(async (items) => {
    const acked = await query(`UPDATE promotions p SET status = 'acked', acked_at_ms = COALESCE(p.acked_at_ms, v.at_ms)
                 FROM (SELECT q.id, a.at_ms FROM promotions q JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS a(id, shopper_id, at_ms)
                       ON q.id = a.id AND q.shopper_id = a.shopper_id WHERE q.status NOT IN ('cancelled', 'held-out') ORDER BY q.id FOR UPDATE OF q) v
                 WHERE p.id = v.id AND p.status NOT IN ('cancelled', 'held-out') RETURNING p.id, p.shopper_id`,
    [items.map((i) => i.id), items.map((i) => i.shopperId), items.map((i) => i.atMs)]);
    const done = new Set(acked.rows.map((r) => `${String(r.shopper_id)} ${String(r.id)}`));
    return items.map((i) => done.has(`${i.shopperId} ${i.id}`));
  });

  // Consent read outside a transaction — at send time by every delivery path, by the API — is read set-based too:
  // one statement for the shoppers asked about during one turn (a promotion each, in the hot path).
  const consentReads = createStatementBatcher<string, ConsentState>(async (shopperIds) => {
    const byShopper = new Map<string, Row[]>();
    for (const r of (await query('SELECT shopper_id, purpose, granted, text_version, at_ms FROM consent_state WHERE shopper_id = ANY($1::text[])', [[...new Set(shopperIds)]])).rows) {
      const list = byShopper.get(String(r.shopper_id));
      if (list === undefined) byShopper.set(String(r.shopper_id), [r]);
      else list.push(r);
    }
    return shopperIds.map((id) => stateFromRows(byShopper.get(id) ?? []));
  });

  // A shopper's pending promotions — what an app gets on connecting, and the resend sweep's read of every connected
  // app — set-based too: one statement for the shoppers asked about during one turn, each at its own time.
  const unackedReads = createStatementBatcher<{ shopperId: string; nowMs: number }, PromotionRecord[]>(async (asks) => {
    const found = asks.map((): PromotionRecord[] => []);
    const listed = await query(`SELECT a.i, p.* FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS a(shopper_id, now_ms, i)
      JOIN promotions p ON p.shopper_id = a.shopper_id AND p.status = 'pending' AND p.expires_at_ms > a.now_ms
      ORDER BY a.i, p.created_at_ms, p.id COLLATE "C"`, [asks.map((a) => a.shopperId), asks.map((a) => a.nowMs)]);
    for (const r of listed.rows) found[num(r.i) - 1]!.push(toPromotion(r));
    return found;
  });

  try {
    await migrate(transaction, schema);
  } catch (error) {
    await pool.end();
    throw error;
  }

  const listCampaignRecords: Store['listCampaignRecords'] = async (filter = {}) => {
    const statement = listCampaignsStatement(filter, Q, 'id COLLATE "C"');
    const records = (await query(statement.sql, statement.params)).rows.map(toCampaignRecord);
    const { storeId } = filter;
    return storeId === undefined ? records : records.filter((r) => placedInStore(r.campaign.placement, storeId));
  };

  const consentState = async (q: Query, shopperId: string): Promise<ConsentState> =>
    stateFromRows((await q('SELECT purpose, granted, text_version, at_ms FROM consent_state WHERE shopper_id = $1', [shopperId])).rows);

  // Four statements in the transaction: the shopper's lock; then, in one statement after it (so it sees what
  // committed while the lock was awaited: a redelivery's row, a withdrawal), whether the promotion exists, the
  // consent and the cap counts; the budget's, if any; the insert.
  const recordPromotionAlone = (draft: PromotionDraft): Promise<RecordPromotionResult> =>
    transaction(async (q) => {
      // The lock comes first: a concurrent redelivery of the same event waits here and then finds the row.
      const shopper = (await q('SELECT erased_at_ms, restricted, objected_at_ms FROM shoppers WHERE id = $1 FOR NO KEY UPDATE', [draft.shopperId])).rows[0];
      const caps = capCountsStatement('numbered', draft);
      const [read] = (await q(`WITH caps AS (${caps.sql})
        SELECT EXISTS (SELECT 1 FROM promotions WHERE id = $${caps.params.length + 1}) AS existing, ${consentJson(`$${caps.params.length + 2}`)} AS consent, caps.* FROM caps`,
      [...caps.params, draft.message.id, draft.shopperId])).rows;
      if (read?.existing === true) {
        const [existing] = (await q('SELECT * FROM promotions WHERE id = $1', [draft.message.id])).rows;
        if (existing) return { outcome: 'duplicate', promotion: toPromotion(existing) };
      }
      if (!shopper || shopper.erased_at_ms !== null) return { outcome: 'skipped', reason: 'erased' };
      // DSR-4, DSR-3: a restricted shopper is not processed; an objected one gets no marketing, whatever consent_state says.
      if (num(shopper.restricted) === 1) return { outcome: 'skipped', reason: 'restricted' };
      if (shopper.objected_at_ms !== null) return { outcome: 'skipped', reason: 'objected' };
      const state = stateFromRows((read?.consent ?? []) as Row[]);
      if (draft.requiredPurposes.some((purpose) => state[purpose as Purpose]?.granted !== true)) return { outcome: 'skipped', reason: 'no-consent' };
      const { createdAtMs: now, shopperId, campaignId } = draft;
      const refusal = capRefusal(draft.caps, read);
      if (refusal !== undefined) return { outcome: 'skipped', reason: refusal };
      if (hasBudgetLimit(draft.budget)) {
        // The campaign's budget lock, after the shopper's row lock (the order every sender takes them in):
        // budgeted sends of one campaign take turns, so the count below and the insert are one step and
        // instances together never exceed it. READ COMMITTED: the count sees the previous holder's row.
        await q('SELECT pg_advisory_xact_lock(hashtext($1))', [BUDGET_LOCK + campaignId]);
        const counts = budgetCountsStatement('numbered', campaignId, now);
        if (budgetExhausted(draft.budget, (await q(counts.sql, counts.params)).rows[0])) return { outcome: 'skipped', reason: 'budget' };
      }
      // Experiments and attribution (issue 6): a held-out row, its group, and whether it enters analytics (P3 now).
      const a = promotionAnalyticsValues(draft, state.analytics?.granted === true);
      const inserted = await q(
        `INSERT INTO promotions (id, campaign_id, shopper_id, event_id, store_id, zone_id, coupon_code, created_at_ms, expires_at_ms, delivered_at_ms, acked_at_ms, status, message, ${PROMOTION_ANALYTICS_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10, $11, $12, $13, $14, $15) RETURNING *`,
        [draft.message.id, campaignId, shopperId, draft.eventId, draft.storeId, draft.zoneId, draft.message.couponCode, now, draft.message.expiresAtMs,
          a.status, JSON.stringify(draft.message), a.variant, a.analytics, a.conversionZones, a.conversionUntilMs],
      );
      return { outcome: 'recorded', promotion: toPromotion(inserted.rows[0]!) };
    });

  // The sends decided during one turn are checked and recorded together, set-based (postgres-promotion-batch.ts);
  // a send alone, and each send of a round that failed, as above.
  const recordPromotion = createPromotionBatches(transaction, recordPromotionAlone, { observe: options.observeBatches });

  // Inside a transaction that holds the shopper's row lock (FOR NO KEY UPDATE, as recordPromotion and
  // eraseShopper take it first): an erasure racing this waits or is waited for, and two instances recording
  // one shopper's presence take turns on the row. live: the shopper is neither erased nor unknown.
  const visitIn = async (q: Query, storeId: string, shopperId: string, atMs: number, startsVisit: boolean, live: boolean): Promise<VisitActivity> => {
    const [row] = (await q('SELECT visit_count, visit_started_at_ms, last_seen_at_ms, previous_visit_last_seen_ms FROM store_visits WHERE store_id = $1 AND shopper_id = $2 FOR UPDATE', [storeId, shopperId])).rows;
    const previous = visitStateOf(row);
    const { state, activity } = nextVisit(previous, atMs, startsVisit);
    if (state === undefined || state === previous) return activity;
    // DSR-2: nothing is written for a shopper erased (or unknown).
    if (!live) return { visitNumber: 0, newVisit: false, pastVisits: 0, previousVisitLastSeenMs: null };
    await q(`INSERT INTO store_visits (store_id, shopper_id, visit_count, visit_started_at_ms, last_seen_at_ms, previous_visit_last_seen_ms) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (store_id, shopper_id) DO UPDATE SET visit_count = excluded.visit_count, visit_started_at_ms = excluded.visit_started_at_ms, last_seen_at_ms = excluded.last_seen_at_ms, previous_visit_last_seen_ms = excluded.previous_visit_last_seen_ms`,
    [storeId, shopperId, state.visitCount, state.visitStartedAtMs, state.lastSeenAtMs, state.previousVisitLastSeenMs]);
    return activity;
  };
  const recordVisitActivity = (storeId: string, shopperId: string, atMs: number, startsVisit: boolean): Promise<VisitActivity> =>
    transaction(async (q) => {
      const [shopper] = (await q('SELECT erased_at_ms FROM shoppers WHERE id = $1 FOR NO KEY UPDATE', [shopperId])).rows;
      return visitIn(q, storeId, shopperId, atMs, startsVisit, shopper !== undefined && shopper.erased_at_ms === null);
    });

  // ON CONFLICT waits for a concurrent insert of the same key to commit, so exactly one claim wins; a loser
  // then reads the winner's row in a new statement (READ COMMITTED sees it). If pruning removed that row in
  // between, the number is claimed afresh. Inside a transaction or on its own.
  const claimSequence = async (q: Query, gatewayId: string, boot: string, seq: number, eventId: string, atMs: number): Promise<SequenceClaim> => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const claimed = await q('INSERT INTO event_sequences (gateway_id, boot, seq, event_id, at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gateway_id, boot, seq) DO NOTHING',
        [gatewayId, boot, seq, eventId, atMs]);
      if (claimed.rowCount === 1) return 'new';
      const [holder] = (await q('SELECT event_id FROM event_sequences WHERE gateway_id = $1 AND boot = $2 AND seq = $3', [gatewayId, boot, seq])).rows;
      if (holder) return String(holder.event_id) === eventId ? 'redelivery' : 'replay';
    }
    throw new Error(`sequence ${seq} of gateway ${gatewayId} could not be claimed or read`);
  };

  // Inside a transaction. The row is locked (FOR UPDATE) before it is read, so a concurrent update of the
  // same shopper waits and then reads what this one committed. A first row has nothing to lock: two
  // instances may both try to insert it, and the loser (ON CONFLICT DO NOTHING, which waits for the
  // winner's commit) goes round again and — in a new statement, which READ COMMITTED lets see the
  // winner's row — locks it, so the second pass always finds one. live: the shopper is neither erased nor
  // unknown (DSR-2: nothing is written otherwise).
  const zoneStateIn = async <T>(
    q: Query, storeId: string, shopperId: string, update: (previous: ZoneState | undefined) => ZoneStateUpdate<T>, live: boolean,
  ): Promise<T> => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const [row] = (await q('SELECT state FROM zone_states WHERE store_id = $1 AND shopper_id = $2 FOR UPDATE', [storeId, shopperId])).rows;
      const previous = row === undefined ? undefined : zoneStateOf(row.state);
      const next = update(previous);
      if (next.state === undefined || next.state === previous || !live) return next.result;
      if (row !== undefined) {
        await q('UPDATE zone_states SET state = $1, version = version + 1, due_at_ms = $2, last_seen_ms = $3 WHERE store_id = $4 AND shopper_id = $5',
          [JSON.stringify(next.state), next.dueAtMs, zoneStateLastSeenMs(next.state), storeId, shopperId]);
        return next.result;
      }
      const inserted = await q('INSERT INTO zone_states (store_id, shopper_id, state, version, due_at_ms, last_seen_ms) VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (store_id, shopper_id) DO NOTHING',
        [storeId, shopperId, JSON.stringify(next.state), next.dueAtMs, zoneStateLastSeenMs(next.state)]);
      if (inserted.rowCount === 1) return next.result;
    }
    throw new Error('zone state could not be created or locked');
  };

  // Store.applyPresence: one transaction of three statements, where it was ten (each a round trip, and
  // PostgreSQL's CPU per statement is what limited the end-to-end bench: docs/benchmarks.md).
  //  1. The claim, then the shopper's row lock. The lock only follows a claim made here (EXISTS on the claim
  //     runs the insert, and waits out a concurrent redelivery's, before any row is locked), so the lock order
  //     stays claim → shopper. No row back: not claimed here, or the shopper is unknown — told apart in
  //     statements of their own (rare).
  //  2. After the lock, so under READ COMMITTED it sees a withdrawal or erasure that committed while the lock was
  //     awaited (a consent read joined to the locking statement would not): consent, and the zone state and
  //     visit rows, locked.
  //  3. Every write: presence, zone state, visit, conversions — data-modifying CTEs of one statement.
  // Every writer of a shopper's zone state holds the shopper's lock first, so the zone row cannot appear between
  // 2 and 3; if it ever did, the transaction fails and the event is redelivered.
  const applyPresenceAlone = (step: PresenceStep): Promise<PresenceStepResult> =>
    transaction(async (q) => {
      const { event } = step;
      let shopper: Row | undefined;
      if (step.sequence === undefined) {
        [shopper] = (await q(LOCK_SHOPPER, [event.shopperId])).rows;
      } else {
        const { gatewayId, boot, seq } = step.sequence;
        const claimedAndLocked = (await q(CLAIM_THEN_LOCK_SHOPPER, [gatewayId, boot, seq, event.eventId, event.atS * 1000, event.shopperId])).rows;
        if (claimedAndLocked.length === 1) {
          shopper = claimedAndLocked[0];
        } else {
          if ((await claimSequence(q, gatewayId, boot, seq, event.eventId, event.atS * 1000)) === 'replay') return { outcome: 'replay' };
          [shopper] = (await q(LOCK_SHOPPER, [event.shopperId])).rows;
        }
      }
      const [read] = (await q(PRESENCE_STEP_READ, [event.shopperId, event.storeId])).rows;
      const consent = step.consent(stateFromRows((read?.consent ?? []) as Row[]));
      const live = shopper !== undefined && shopper.erased_at_ms === null;
      if (!isGranted(consent, 'presence') || !live) return { outcome: 'no-presence', consent };

      const previousZone = read?.zone === null || read?.zone === undefined ? undefined : zoneStateOf(read.zone);
      const arbitrated = step.arbitrate(previousZone);
      const zoneWrite = arbitrated.state === undefined || arbitrated.state === previousZone ? 'none' : previousZone === undefined ? 'insert' : 'update';
      const { transitions } = arbitrated.result;
      const entries = conversionEntries(consent, transitions);
      const visitEvent = visitPresence({ zoneId: event.zoneId, atMs: event.atS * 1000 }, step.visits, consent, transitions);
      const previousVisit = visitStateOf((read?.visit ?? undefined) as Row | undefined);
      const visit = visitEvent === undefined ? undefined : nextVisit(previousVisit, visitEvent.atMs, visitEvent.startsVisit);
      const visitState = visit?.state !== undefined && visit.state !== previousVisit ? visit.state : undefined;

      const [written] = (await q(PRESENCE_STEP_WRITE, [
        event.eventId, event.shopperId, event.storeId, event.zoneId, event.kind, event.atS, event.dwellS, step.receivedAtMs,
        zoneWrite, arbitrated.state === undefined ? null : JSON.stringify(arbitrated.state), arbitrated.dueAtMs ?? null,
        arbitrated.state === undefined ? null : zoneStateLastSeenMs(arbitrated.state),
        visitState !== undefined, visitState?.visitCount ?? 0, visitState?.visitStartedAtMs ?? 0, visitState?.lastSeenAtMs ?? 0, visitState?.previousVisitLastSeenMs ?? null,
        entries.map((entry) => entry.atMs), entries.map((entry) => conversionZonePattern(entry.zoneId)),
      ])).rows;
      if (zoneWrite === 'insert' && num(written?.zone_inserted) !== 1) {
        throw new Error(`zone state of a shopper in store ${event.storeId} was created by a writer without the shopper's lock; the event is retried`);
      }
      return {
        outcome: 'applied', consent, transitions, current: arbitrated.result.current, conversions: num(written?.conversions),
        visit: visit === undefined ? null : visit.activity,
      };
    });
  // The steps handed in during one turn are applied together, set-based (postgres-presence-batch.ts); a step
  // alone, and each step of a batch that failed, as above.
  const applyPresence = createPresenceBatches(transaction, applyPresenceAlone, { observe: options.observeBatches });

  // Inside a transaction: the advisory lock is taken before the head is read and held until commit, so
  // appenders on every instance take turns and the chain stays unbroken (READ COMMITTED then sees the
  // previous holder's row). Nothing else takes this lock while holding it, so it cannot deadlock.
  const appendAuditLocked = async (q: Query, draft: AuditDraft): Promise<AuditRecord> => {
    await q('SELECT pg_advisory_xact_lock(hashtext($1))', [AUDIT_LOCK]);
    const [head] = (await q('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows;
    const record = chainEntry(head === undefined ? undefined : { seq: num(head.seq), hash: String(head.hash) }, draft);
    await q('INSERT INTO audit_log (seq, at_ms, actor, action, subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [record.seq, record.atMs, record.actor, record.action, record.subject, canonicalJson(record.details), record.prevHash, record.hash]);
    return record;
  };

  // Inside a transaction that holds the shopper's row lock: the record, the state it now sets, and (for a
  // withdrawal of presence or promotions) the cancellation of undelivered promotions (CON-4).
  const insertConsentLocked = async (q: Query, record: ConsentRecord): Promise<void> => {
    const seq = num((await q('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM consent_records WHERE shopper_id = $1', [record.shopperId])).rows[0]?.seq);
    await q(
      `INSERT INTO consent_records (id, shopper_id, purpose, granted, text_version, text_sha256, locale, server_time_ms, client_time_ms, channel, previous_granted, seq, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [record.id, record.shopperId, record.purpose, bit(record.granted), record.textVersion, record.textSha256, record.locale,
        record.serverTimeMs, record.clientTimeMs, record.channel, record.previousGranted === null ? null : bit(record.previousGranted), seq, record.reason ?? null],
    );
    await q(
      `INSERT INTO consent_state (shopper_id, purpose, granted, text_version, at_ms) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (shopper_id, purpose) DO UPDATE SET granted = excluded.granted, text_version = excluded.text_version, at_ms = excluded.at_ms`,
      [record.shopperId, record.purpose, bit(record.granted), record.textVersion, record.serverTimeMs],
    );
    if (!record.granted && (record.purpose === 'presence' || record.purpose === 'promotions')) {
      await q(`UPDATE promotions SET status = 'cancelled' WHERE shopper_id = $1 AND status = 'pending'`, [record.shopperId]);
    }
  };

  // Locked in one sorted pass, so two multi-shopper appends cannot deadlock.
  const lockShoppers = (q: Query, shopperIds: readonly string[]): Promise<unknown> =>
    q('SELECT id FROM shoppers WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR NO KEY UPDATE', [shopperIds]);

  const appendConsent = (drafts: readonly ConsentDraft[], audit: ConsentAudit = []): Promise<ConsentState> =>
    transaction((q) => appendConsentIn(q, drafts, audit));

  // Inside a transaction: locks the shoppers, appends the records (each with the previous state read
  // here, under that lock — CON-3, even when changes of one shopper race), updates the state, and
  // appends the audit drafts (given, or made from the records as stored).
  const appendConsentIn = async (q: Query, drafts: readonly ConsentDraft[], audit: ConsentAudit): Promise<ConsentState> => {
    const shopperIds = [...new Set(drafts.map((draft) => draft.shopperId))];
    await lockShoppers(q, shopperIds);
    const records: ConsentRecord[] = [];
    for (const draft of drafts) {
      if (refusedAfterObjection(draft) && (await q('SELECT objected_at_ms FROM shoppers WHERE id = $1', [draft.shopperId])).rows[0]?.objected_at_ms != null) {
        throw new ObjectedGrantError(draft.shopperId);
      }
      const before = (await q('SELECT granted FROM consent_state WHERE shopper_id = $1 AND purpose = $2', [draft.shopperId, draft.purpose])).rows[0];
      const record: ConsentRecord = { ...draft, previousGranted: before === undefined ? null : num(before.granted) === 1 };
      records.push(record);
      await insertConsentLocked(q, record);
    }
    for (const draft of consentAuditDrafts(audit, records)) await appendAuditLocked(q, draft);
    const [first] = shopperIds;
    return first === undefined ? {} : consentState(q, first);
  };

  // Under the shoppers' row locks, which every consent writer takes first: the expected state is read and
  // replaced with no other writer in between, so a racing instance finds it changed and appends nothing.
  const appendConsentLapses = (lapses: readonly ConsentLapseWrite[]): Promise<ConsentRecord[]> =>
    transaction(async (q) => {
      const checked = lapses.map((lapse) => ({ ...lapse, audit: parseAuditDraft(lapse.audit) }));
      await lockShoppers(q, [...new Set(checked.map((lapse) => lapse.record.shopperId))]);
      const appended: ConsentRecord[] = [];
      for (const { record, expected, audit } of checked) {
        const [row] = (await q('SELECT granted, text_version, at_ms FROM consent_state WHERE shopper_id = $1 AND purpose = $2', [record.shopperId, record.purpose])).rows;
        if (row === undefined || num(row.granted) !== 1 || String(row.text_version) !== expected.textVersion || num(row.at_ms) !== expected.atMs) continue;
        await insertConsentLocked(q, record);
        await appendAuditLocked(q, audit);
        appended.push(record);
      }
      return appended;
    });

  // DSR-1: REPEATABLE READ, so every statement reads the same snapshot — a consistent export.
  const readShopperData = (shopperId: string): Promise<ShopperData | undefined> =>
    transaction(async (q) => {
      const select = async (sql: string): Promise<Row[]> => (await q(sql, [shopperId])).rows;
      const [row] = await select('SELECT * FROM shoppers WHERE id = $1');
      if (row === undefined || row.erased_at_ms !== null) return undefined;
      return {
        shopper: toShopper(row),
        consentState: await consentState(q, shopperId),
        consentRecords: (await select('SELECT * FROM consent_records WHERE shopper_id = $1 ORDER BY seq')).map(toConsentRecord),
        presenceEvents: (await select('SELECT * FROM presence_events WHERE shopper_id = $1 ORDER BY at_s, event_id COLLATE "C"')).map(toPresenceEvent),
        zoneStates: (await select('SELECT store_id, shopper_id, state, due_at_ms FROM zone_states WHERE shopper_id = $1 ORDER BY store_id COLLATE "C"'))
          .map((r) => ({ storeId: String(r.store_id), shopperId: String(r.shopper_id), state: zoneStateOf(r.state), dueAtMs: numOrNull(r.due_at_ms) })),
        promotions: (await select('SELECT * FROM promotions WHERE shopper_id = $1 ORDER BY created_at_ms, id COLLATE "C"')).map(toPromotion),
        beacons: (await select('SELECT * FROM beacons WHERE shopper_id = $1 ORDER BY created_at_ms, id COLLATE "C"')).map(toLinkedBeacon),
        pushTarget: ((target) => (target === undefined ? null : { sealed: unb64(target.target_sealed), updatedAtMs: num(target.updated_at_ms) }))((await select('SELECT * FROM push_targets WHERE shopper_id = $1'))[0]),
        visits: (await select('SELECT * FROM store_visits WHERE shopper_id = $1 ORDER BY store_id COLLATE "C"')).map(toVisitRecord),
        audit: (await select('SELECT * FROM audit_log WHERE subject = $1 ORDER BY seq')).map(toAuditRecord),
      };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');

  const eraseShopper = (shopperId: string, atMs: number, audit: (counts: ErasureCounts) => AuditDraft): Promise<ErasureCounts | undefined> =>
    transaction(async (q) => {
      // The shopper's row lock first (as recordPromotion and appendConsent take it): a send racing the erasure waits, then finds them erased.
      const [row] = (await q('SELECT erased_at_ms FROM shoppers WHERE id = $1 FOR UPDATE', [shopperId])).rows;
      if (row === undefined || row.erased_at_ms !== null) return undefined;
      const records = (await q('SELECT * FROM consent_records WHERE shopper_id = $1 ORDER BY seq', [shopperId])).rows.map(toConsentRecord);
      const proof = erasureProof(shopperId, atMs, records, await consentState(q, shopperId));
      const remove = async (table: string): Promise<number> => (await q(`DELETE FROM ${table} WHERE shopper_id = $1`, [shopperId])).rowCount ?? 0;
      const counts: ErasureCounts = {
        beacons: await remove('beacons'),
        presenceEvents: await remove('presence_events'),
        zoneStates: await remove('zone_states'),
        visits: await remove('store_visits'),
        promotions: (await q('DELETE FROM webhook_deliveries WHERE promotion_id IN (SELECT id FROM promotions WHERE shopper_id = $1)', [shopperId]), await remove('promotions')),
        consentStates: await remove('consent_state'),
        consentRecords: await remove('consent_records'),
      };
      // The credential's traces: replaced credentials' hashes and used proof nonces.
      await remove('app_token_history');
      await remove('proof_nonces');
      await remove('push_targets');
      // ID-4: the sealed identity key goes (crypto-shredding) and the credential with it.
      await q(`UPDATE shoppers SET identity_key_sealed = NULL, token_hash = $1, first_name = NULL, locale = '', device_secret_digest = NULL, country = NULL, birth_year = NULL,
               loyalty_tier = NULL, interests = NULL, restricted = 0, restriction_changed_at_ms = NULL, erased_at_ms = $2 WHERE id = $3`, [revokedTokenHash(shopperId), atMs, shopperId]);
      await q('INSERT INTO erasure_proofs (shopper_id, erased_at_ms, consent_records, consent_ledger_sha256, final_state) VALUES ($1, $2, $3, $4, $5)',
        [shopperId, atMs, proof.consentRecords, proof.consentLedgerSha256, canonicalJson(proof.finalState)]);
      await appendAuditLocked(q, parseAuditDraft(audit(counts)));
      return counts;
    });

  const recordObjection = (shopperId: string, atMs: number, records: readonly ConsentDraft[], audit: ConsentAudit): Promise<ObjectionResult> =>
    transaction(async (q) => {
      const [row] = (await q('SELECT objected_at_ms, erased_at_ms, device_secret_digest FROM shoppers WHERE id = $1 FOR NO KEY UPDATE', [shopperId])).rows;
      if (row === undefined || row.erased_at_ms !== null) throw new Error(`no shopper ${shopperId} to record an objection for`);
      if (row.objected_at_ms !== null) return { outcome: 'already-objected', state: await consentState(q, shopperId) };
      const state = await appendConsentIn(q, records, audit);
      await q('UPDATE shoppers SET objected_at_ms = $1 WHERE id = $2', [atMs, shopperId]);
      // ON CONFLICT: a digest suppressed already (by an earlier account on the same device) stays suppressed.
      await q('INSERT INTO suppressions (shopper_id, device_secret_digest, objected_at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [shopperId, row.device_secret_digest, atMs]);
      return { outcome: 'objected', state };
    });

  const setRestriction = (shopperId: string, restricted: boolean, atMs: number, audit: AuditDraft): Promise<boolean> => {
    const draft = parseAuditDraft(audit);
    return transaction(async (q) => {
      const changed = (await q('UPDATE shoppers SET restricted = $1, restriction_changed_at_ms = $2 WHERE id = $3 AND restricted <> $1 AND erased_at_ms IS NULL',
        [bit(restricted), atMs, shopperId])).rowCount ?? 0;
      if (changed === 0) return false;
      if (restricted) await q(`UPDATE promotions SET status = 'cancelled' WHERE shopper_id = $1 AND status = 'pending'`, [shopperId]);
      await appendAuditLocked(q, draft);
      return true;
    });
  };

  let closing: Promise<void> | undefined;
  const store: Store = {
    kind: 'postgres',
    close() {
      closing ??= pool.end();
      return closing;
    },
    async putSettingIfAbsent(name, value) {
      await query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, b64(value)]);
      return unb64((await row('SELECT value FROM settings WHERE name = $1', name))!.value);
    },
    async getSetting(name) {
      const found = await row('SELECT value FROM settings WHERE name = $1', name);
      return found ? unb64(found.value) : undefined;
    },
    async upsertStore(s) {
      await configChange((q) => q(`INSERT INTO stores (id, name, timezone, opening_hours, quiet_hours, floor_plan) VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone, opening_hours = excluded.opening_hours, quiet_hours = excluded.quiet_hours, floor_plan = excluded.floor_plan`,
      [s.id, s.name, s.timezone, hoursColumn(s.openingHours), hoursColumn(s.quietHours), floorPlanColumn(s.floorPlan)]));
    },
    // Text is ordered COLLATE "C" (bytewise), as SQLite orders it, whatever the database's locale.
    async listStores() {
      return (await rows(`SELECT ${STORE_COLUMNS} FROM stores ORDER BY id COLLATE "C"`)).map(toStoreRecord);
    },
    async getStore(id) {
      const found = await row(`SELECT ${STORE_COLUMNS} FROM stores WHERE id = $1`, id);
      return found === undefined ? undefined : toStoreRecord(found);
    },
    async upsertZone(z) {
      await configChange((q) => q('INSERT INTO zones (store_id, id, name, sensitive, polygon) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store_id, id) DO UPDATE SET name = excluded.name, sensitive = excluded.sensitive, polygon = excluded.polygon',
        [z.storeId, z.id, z.name, bit(z.sensitive), polygonColumn(z.polygon)]));
    },
    async listZones(storeId) {
      return (await rows('SELECT store_id, id, name, sensitive, polygon FROM zones WHERE store_id = $1 ORDER BY id COLLATE "C"', storeId)).map(toZone);
    },
    async replaceStoreBeacons(storeId, beacons) {
      await transaction(async (q) => {
        await q('DELETE FROM store_beacons WHERE store_id = $1', [storeId]);
        for (const b of beacons) await q('INSERT INTO store_beacons (store_id, id, zone_id, uuid, major, minor) VALUES ($1, $2, $3, $4, $5, $6)', [storeId, b.id, b.zoneId, b.uuid, b.major, b.minor]);
      });
    },
    async listStoreBeacons(storeId) {
      const found = storeId === undefined
        ? await rows('SELECT * FROM store_beacons ORDER BY store_id COLLATE "C", id COLLATE "C"')
        : await rows('SELECT * FROM store_beacons WHERE store_id = $1 ORDER BY id COLLATE "C"', storeId);
      return found.map(toStoreBeacon);
    },
    async upsertGateway(g, rotateSecret = false) {
      const result = await configChange((q) => q(
        `INSERT INTO gateways (id, store_id, zone_id, secret_sealed) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET store_id = excluded.store_id, zone_id = excluded.zone_id${rotateSecret ? ', secret_sealed = excluded.secret_sealed' : ''} RETURNING *`,
        [g.id, g.storeId, g.zoneId, b64(g.secretSealed)],
      ));
      return toGateway(result.rows[0]!);
    },
    async getGateway(id) {
      const found = await row('SELECT * FROM gateways WHERE id = $1', id);
      return found ? toGateway(found) : undefined;
    },
    async listGateways(storeId) {
      const found = storeId === undefined ? await rows('SELECT * FROM gateways ORDER BY id COLLATE "C"') : await rows('SELECT * FROM gateways WHERE store_id = $1 ORDER BY id COLLATE "C"', storeId);
      return found.map(toGateway);
    },
    async markGatewaySeen(id, atMs, online, report) {
      const reported = gatewayReportColumns(report);
      if (reported === undefined) await query('UPDATE gateways SET last_seen_at_ms = $1, online = $2 WHERE id = $3', [atMs, bit(online), id]);
      else await query(numbered(MARK_GATEWAY_REPORTED), [atMs, bit(online), reported.version, reported.counts, atMs, id]);
    },
    async setGatewaySettings(settings) {
      await query(
        `INSERT INTO gateway_settings (gateway_id, presence, updated_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (gateway_id) DO UPDATE SET presence = excluded.presence, updated_at_ms = excluded.updated_at_ms`,
        [settings.gatewayId, JSON.stringify(settings.presence), settings.updatedAtMs],
      );
    },
    async getGatewaySettings(gatewayId) {
      const found = await row('SELECT * FROM gateway_settings WHERE gateway_id = $1', gatewayId);
      return found ? toGatewaySettings(found) : undefined;
    },
    async insertEpochKey(k) {
      await query('INSERT INTO epoch_keys (key_id, store_id, key_sealed, not_before_s, not_after_s) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO NOTHING',
        [k.keyId, k.storeId, b64(k.keySealed), k.notBeforeS, k.notAfterS]);
    },
    async listEpochKeys(storeId) {
      const base = 'SELECT * FROM epoch_keys WHERE key_sealed IS NOT NULL';
      const order = 'ORDER BY not_before_s, key_id COLLATE "C"';
      const found = storeId === undefined ? await rows(`${base} ${order}`) : await rows(`${base} AND store_id = $1 ${order}`, storeId);
      return found.map(toEpochKey);
    },
    async destroyEpochKeys(endedBeforeS) {
      return changes('UPDATE epoch_keys SET key_sealed = NULL, destroyed_at_s = $1 WHERE key_sealed IS NOT NULL AND not_after_s < $1', endedBeforeS);
    },
    async createShopper(s) {
      // DSR-3: objected from the start if the device secret's digest is suppressed — read in the insert itself.
      const inserted = await query(
        `INSERT INTO shoppers (id, token_hash, identity_key_sealed, rotation_exponent, locale, first_name, created_at_ms, erased_at_ms, device_secret_digest, objected_at_ms, token_issued_at_ms, country, birth_year, loyalty_tier, interests)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT CAST($7 AS BIGINT) FROM suppressions WHERE device_secret_digest = $9), $10, $11, $12, $13, $14) RETURNING *`,
        [s.id, s.tokenHash, s.identityKeySealed ? b64(s.identityKeySealed) : null, s.rotationExponent, s.locale, s.firstName, s.createdAtMs, s.erasedAtMs, s.deviceSecretDigest ?? null,
          s.tokenIssuedAtMs ?? s.createdAtMs, s.country ?? null, s.birthYear ?? null, s.loyaltyTier ?? null, interestsColumn(s.interests ?? [])],
      );
      return toShopper(inserted.rows[0]!);
    },
    async findShopperByTokenHash(tokenHash) {
      const found = await row('SELECT * FROM shoppers WHERE token_hash = $1', tokenHash);
      return found ? toShopper(found) : undefined;
    },
    async rotateAppToken(rotation, audit) {
      const draft = audit === undefined ? undefined : parseAuditDraft(audit);
      return transaction(async (q) => {
        // The UPDATE locks the row; a concurrent rotation waits, then re-checks the WHERE against the
        // committed row (READ COMMITTED), finds the old hash gone and changes nothing: exactly one wins.
        const swapped = await q('UPDATE shoppers SET token_hash = $1, token_issued_at_ms = $2, token_refused_at_ms = NULL WHERE id = $3 AND token_hash = $4 AND erased_at_ms IS NULL',
          [rotation.tokenHash, rotation.atMs, rotation.shopperId, rotation.previousTokenHash]);
        if ((swapped.rowCount ?? 0) === 0) return 'conflict';
        await q('INSERT INTO app_token_history (token_hash, shopper_id, replaced_at_ms, refused_at_ms) VALUES ($1, $2, $3, NULL) ON CONFLICT (token_hash) DO NOTHING',
          [rotation.previousTokenHash, rotation.shopperId, rotation.atMs]);
        await q(`DELETE FROM app_token_history WHERE shopper_id = $1 AND token_hash NOT IN
                 (SELECT token_hash FROM app_token_history WHERE shopper_id = $1 ORDER BY replaced_at_ms DESC, token_hash COLLATE "C" LIMIT $2)`,
        [rotation.shopperId, APP_TOKEN_HISTORY_LIMIT]);
        if (draft !== undefined) await appendAuditLocked(q, draft);
        return 'rotated';
      });
    },
    async findReplacedAppToken(tokenHash) {
      const found = await row('SELECT shopper_id, replaced_at_ms FROM app_token_history WHERE token_hash = $1', tokenHash);
      return found ? { shopperId: String(found.shopper_id), replacedAtMs: num(found.replaced_at_ms) } : undefined;
    },
    async auditCredentialRefusalOnce(refusal, audit, atMs) {
      const draft = parseAuditDraft(audit);
      return transaction(async (q) => {
        // A conditional update: of two concurrent first refusals, the second waits for the row and then finds it marked.
        const first = refusal.reason === 'expired'
          ? await q('UPDATE shoppers SET token_refused_at_ms = $1 WHERE id = $2 AND token_hash = $3 AND token_refused_at_ms IS NULL', [atMs, refusal.shopperId, refusal.tokenHash])
          : await q('UPDATE app_token_history SET refused_at_ms = $1 WHERE token_hash = $2 AND refused_at_ms IS NULL', [atMs, refusal.tokenHash]);
        if ((first.rowCount ?? 0) === 0) return false;
        await appendAuditLocked(q, draft);
        return true;
      });
    },
    async claimProofNonce(shopperId, nonce, expiresAtMs) {
      // ON CONFLICT waits for a concurrent insert of the same key to commit: exactly one claim is 'new'.
      const claimed = await changes('INSERT INTO proof_nonces (shopper_id, nonce, expires_at_ms) VALUES ($1, $2, $3) ON CONFLICT (shopper_id, nonce) DO NOTHING', shopperId, nonce, expiresAtMs);
      return claimed === 1 ? 'new' : 'replay';
    },
    async getShopper(id) {
      const found = await row('SELECT * FROM shoppers WHERE id = $1', id);
      return found ? toShopper(found) : undefined;
    },
    async listResolvableShoppers() {
      return (await rows(
        `SELECT s.id, s.identity_key_sealed, s.rotation_exponent FROM shoppers s JOIN consent_state c ON c.shopper_id = s.id
         WHERE c.purpose = 'presence' AND c.granted = 1 AND s.erased_at_ms IS NULL AND s.restricted = 0 AND s.identity_key_sealed IS NOT NULL ORDER BY s.id COLLATE "C"`,
      )).map(toResolvableShopper);
    },
    async listShopperChangesSince(sinceMs) {
      return (await rows(
        `SELECT id FROM (SELECT shopper_id AS id FROM consent_state WHERE purpose = 'presence' AND at_ms >= $1
         UNION SELECT id FROM shoppers WHERE erased_at_ms >= $1
         UNION SELECT id FROM shoppers WHERE restriction_changed_at_ms >= $1) AS changed ORDER BY id COLLATE "C"`,
        sinceMs,
      )).map((r) => String(r.id));
    },
    async addBeacon(b) {
      const added = await changes(
        `INSERT INTO beacons (id, shopper_id, kind, identifier_sealed, identifier_digest, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (identifier_digest) DO NOTHING`,
        b.id, b.shopperId, b.kind, b64(b.identifierSealed), b.identifierDigest, b.createdAtMs,
      );
      return added === 1 ? 'added' : 'conflict';
    },
    async listBeacons(shopperId) {
      return (await rows('SELECT * FROM beacons WHERE shopper_id = $1 ORDER BY created_at_ms, id COLLATE "C"', shopperId)).map(toLinkedBeacon);
    },
    async removeBeacon(shopperId, id) {
      return (await changes('DELETE FROM beacons WHERE id = $1 AND shopper_id = $2', id, shopperId)) === 1;
    },
    async listResolvableBeacons(shopperId) {
      return (await rows(
        `SELECT b.* FROM beacons b JOIN shoppers s ON s.id = b.shopper_id JOIN consent_state c ON c.shopper_id = s.id
         WHERE c.purpose = 'presence' AND c.granted = 1 AND s.erased_at_ms IS NULL AND s.restricted = 0 ${shopperId === undefined ? '' : 'AND b.shopper_id = $1'} ORDER BY b.id COLLATE "C"`,
        ...(shopperId === undefined ? [] : [shopperId]),
      )).map(toLinkedBeacon);
    },
    appendConsent,
    getConsentState: (shopperId) => consentReads.run(shopperId),
    appendConsentLapses,
    async listConsentLapseCandidates(lapseQuery) {
      const { sql, params } = lapseCandidateStatement(lapseQuery, 'numbered');
      return (await rows(sql, ...params)).map(toLapseCandidate);
    },
    async rebuildConsentState() {
      return transaction(async (q) => {
        // Consent writers (ROW EXCLUSIVE) wait until the rebuild commits; readers go on and see the old state until then.
        await q('LOCK TABLE consent_records, consent_state IN SHARE ROW EXCLUSIVE MODE');
        await q(CLEAR_CONSENT_STATE);
        return (await q(REBUILD_CONSENT_STATE)).rowCount ?? 0;
      });
    },
    async findConsentStateDrift(limit) {
      return (await rows(consentDriftStatement('numbered'), limit)).map((r) => ({ shopperId: String(r.shopper_id), purpose: r.purpose as Purpose }));
    },
    async archiveConsentTexts(texts, atMs) {
      return transaction(async (q) => {
        let added = 0;
        for (const text of texts) {
          const [same] = (await q('SELECT sha256 FROM consent_texts WHERE purpose = $1 AND version = $2 AND locale = $3', [text.purpose, text.version, text.locale])).rows;
          if (same !== undefined && String(same.sha256) !== text.sha256) throw new Error(conflictMessage(text, String(same.sha256)));
          const inserted = await q('INSERT INTO consent_texts (sha256, purpose, version, locale, text, archived_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
            [text.sha256, text.purpose, text.version, text.locale, text.text, atMs]);
          added += inserted.rowCount ?? 0;
        }
        return added;
      });
    },
    async getConsentText(sha256) {
      const found = await row('SELECT * FROM consent_texts WHERE sha256 = $1', sha256);
      return found ? toArchivedText(found) : undefined;
    },
    async setShopperAgeFacts(shopperId, facts) {
      await query('UPDATE shoppers SET country = $1, birth_year = $2 WHERE id = $3', [facts.country, facts.birthYear, shopperId]);
    },
    async setShopperAttributes(shopperId, attributes) {
      await query('UPDATE shoppers SET loyalty_tier = $1, interests = $2 WHERE id = $3 AND erased_at_ms IS NULL', [attributes.loyaltyTier, interestsColumn(attributes.interests), shopperId]);
    },
    recordVisitActivity,
    async listConsentRecords(shopperId) {
      return (await rows('SELECT * FROM consent_records WHERE shopper_id = $1 ORDER BY seq', shopperId)).map(toConsentRecord);
    },
    async putCampaign(campaign, atMs) {
      const statement = putCampaignStatement(campaign, atMs, Q);
      await configChange((q) => q(statement.sql, statement.params));
    },
    async listCampaigns(storeId) {
      return (await listCampaignRecords({ storeId })).map((r) => r.campaign);
    },
    async getCampaign(id) {
      const found = await row('SELECT * FROM campaigns WHERE id = $1', id);
      return found === undefined ? undefined : toCampaignRecord(found);
    },
    listCampaignRecords,
    async listCampaignVersions(id) {
      return (await rows('SELECT * FROM campaign_versions WHERE campaign_id = $1 ORDER BY version', id)).map(toCampaignVersion);
    },
    saveCampaignDefinition: (save) =>
      transaction(async (q) => {
        // Under READ COMMITTED the UPDATE waits for a concurrent writer of the row and re-checks its
        // condition on the committed row, and the INSERT … ON CONFLICT DO NOTHING for a concurrent insert: one wins.
        const write = saveCampaignStatement(save, Q);
        if (((await q(write.sql, write.params)).rowCount ?? 0) !== 1) return false;
        const version = insertVersionStatement(save, Q);
        await q(version.sql, version.params);
        await q(BUMP_CONFIG_VERSION);
        await appendAuditLocked(q, parseAuditDraft(campaignSavedAudit(save)));
        return true;
      }),
    transitionCampaign: (transition) =>
      transaction(async (q) => {
        // The row's lock from here to commit: the status read is the one the UPDATE changes.
        const [before] = (await q('SELECT status FROM campaigns WHERE id = $1 FOR UPDATE', [transition.id])).rows;
        if (before === undefined) return undefined;
        const statement = transitionStatement(transition, Q);
        const updated = (await q(statement.sql, statement.params)).rows[0];
        if (updated === undefined) return undefined;
        await q(BUMP_CONFIG_VERSION);
        const record = toCampaignRecord(updated);
        await appendAuditLocked(q, parseAuditDraft(campaignTransitionAudit(transition, CampaignStatusSchema.parse(before.status), record)));
        return record;
      }),
    async createPrincipal(principal) {
      await query('INSERT INTO principals (id, name, role, key_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5)', [principal.id, principal.name, principal.role, principal.keyHash, principal.createdAtMs]);
    },
    async listPrincipals() {
      return (await rows('SELECT * FROM principals ORDER BY created_at_ms, id COLLATE "C"')).map(toPrincipal);
    },
    async findPrincipalByKeyHash(keyHash) {
      const found = await row('SELECT * FROM principals WHERE key_hash = $1 AND revoked_at_ms IS NULL', keyHash);
      return found === undefined ? undefined : toPrincipal(found);
    },
    async revokePrincipal(id, atMs) {
      return (await changes('UPDATE principals SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL', atMs, id)) === 1;
    },
    async createUser(user) {
      return (await changes(numbered(INSERT_USER), user.id, user.username, user.role, user.passwordHash, user.createdAtMs)) === 1;
    },
    async listUsers() {
      return (await rows(`${LIST_USERS} COLLATE "C"`)).map(toUser);
    },
    async findUserByUsername(username) {
      const found = await row(numbered(FIND_USER), username);
      return found === undefined ? undefined : toUser(found);
    },
    async disableUser(id, atMs) {
      return transaction(async (q) => {
        if (((await q(numbered(DISABLE_USER), [atMs, id])).rowCount ?? 0) !== 1) return false;
        await q(numbered(DELETE_USER_SESSIONS), [id]);
        return true;
      });
    },
    async recordLoginFailure(userId, atMs, policy) {
      const found = await row(numbered(LOGIN_FAILURE), ...loginFailureParams(userId, atMs, policy));
      if (found === undefined) throw new Error(`recordLoginFailure: no user ${userId}`);
      return { failedLogins: Number(found.failed_logins), lockedUntilMs: found.locked_until_ms === null ? null : Number(found.locked_until_ms) };
    },
    async recordLoginSuccess(userId) {
      await query(numbered(LOGIN_SUCCESS), [userId]);
    },
    async createSession(session, idleTimeoutMs) {
      await transaction(async (q) => {
        await q(numbered(DELETE_LAPSED_SESSIONS), [session.createdAtMs, session.createdAtMs - idleTimeoutMs]);
        await q(numbered(INSERT_SESSION), [session.idHash, session.userId, session.createdAtMs, session.createdAtMs, session.expiresAtMs]);
      });
    },
    async lookupSession(idHash, nowMs, idleTimeoutMs) {
      const { lookup, touch, remove } = readSessionRow(await row(numbered(FIND_SESSION), idHash), nowMs, idleTimeoutMs);
      if (remove) await query(numbered(DELETE_SESSION), [idHash]);
      if (touch) await query(numbered(TOUCH_SESSION), [nowMs, idHash, nowMs]);
      return lookup;
    },
    async deleteSession(idHash) {
      return (await changes(numbered(DELETE_SESSION), idHash)) === 1;
    },
    async acceptSequence(gatewayId, boot, seq, eventId, atMs) {
      return claimSequence(query, gatewayId, boot, seq, eventId, atMs);
    },
    applyPresence,
    async configVersion() {
      return num((await row('SELECT version FROM config_version WHERE id = 1'))!.version);
    },
    async pruneSequences(beforeMs) {
      return changes('DELETE FROM event_sequences WHERE at_ms < $1', beforeMs);
    },
    async purgeBefore(kind, cutoffMs, batchLimit) {
      checkPurgeArguments(kind, cutoffMs, batchLimit);
      const { sql, cutoff } = purgeBatchStatement(kind, 'numbered', cutoffMs);
      let deleted = 0;
      let batches = 0;
      for (;;) {
        // Each batch autocommits: its row locks are released before the next one is taken.
        const changed = await changes(sql, cutoff, batchLimit);
        batches += 1;
        deleted += changed;
        if (changed < batchLimit) return { deleted, batches };
      }
    },
    async recordPresence(e, receivedAtMs) {
      // DSR-2: an event resolved just before its shopper's erasure committed is not written after it. FOR KEY
      // SHARE waits for an erasure holding the shopper's row, then re-checks erased_at_ms on the committed row.
      const inserted = await changes(
        `INSERT INTO presence_events (event_id, shopper_id, store_id, zone_id, kind, at_s, dwell_s, received_at_ms)
         SELECT $1::text, id, $3::text, $4::text, $5::text, $6::bigint, $7::integer, $8::bigint FROM shoppers WHERE id = $2 AND erased_at_ms IS NULL FOR KEY SHARE
         ON CONFLICT (event_id) DO NOTHING`,
        e.eventId, e.shopperId, e.storeId, e.zoneId, e.kind, e.atS, e.dwellS, receivedAtMs,
      );
      if (inserted === 1) return 'new';
      return (await row('SELECT 1 AS found FROM presence_events WHERE event_id = $1', e.eventId)) === undefined ? 'erased' : 'duplicate';
    },
    recordPromotion,
    async appendAudit(draft) {
      const checked = parseAuditDraft(draft);
      return transaction((q) => appendAuditLocked(q, checked));
    },
    async listAudit(fromSeq, limit) {
      return (await rows('SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2', fromSeq, limit)).map(toAuditRecord);
    },
    updateZoneState: (storeId, shopperId, update) =>
      transaction(async (q) => {
        // DSR-2: the shopper's row first (the order eraseShopper locks in): an erasure under way is waited
        // for, and nothing is written for a shopper erased meanwhile.
        const live = (await q('SELECT 1 AS found FROM shoppers WHERE id = $1 AND erased_at_ms IS NULL FOR KEY SHARE', [shopperId])).rows.length > 0;
        return zoneStateIn(q, storeId, shopperId, update, live);
      }),
    async getZoneState(storeId, shopperId) {
      const found = await row('SELECT state FROM zone_states WHERE store_id = $1 AND shopper_id = $2', storeId, shopperId);
      return found === undefined ? undefined : zoneStateOf(found.state);
    },
    async listZoneStatesDue(nowMs, limit) {
      return (await rows('SELECT store_id, shopper_id FROM zone_states WHERE due_at_ms <= $1 ORDER BY due_at_ms LIMIT $2', nowMs, limit))
        .map((r) => ({ storeId: String(r.store_id), shopperId: String(r.shopper_id) }));
    },
    async getPromotion(id) {
      const [row] = await rows('SELECT * FROM promotions WHERE id = $1', id);
      return row ? toPromotion(row) : undefined;
    },
    listUnackedPromotions: (shopperId, nowMs) => unackedReads.run({ shopperId, nowMs }),
    async markPromotionDelivered(id, atMs) {
      await deliveredMarks.run({ id, atMs });
    },
    async ackPromotion(shopperId, id, atMs) {
      return acks.run({ shopperId, id, atMs });
    },
    async markPromotionOpened(shopperId, id, atMs) {
      return (await changes(numbered(MARK_OPENED), atMs, atMs, id, shopperId)) === 1;
    },
    async recordConversions(e) {
      return changes(numbered(RECORD_CONVERSIONS), e.atMs, e.shopperId, e.atMs, e.atMs, e.storeId, conversionZonePattern(e.zoneId));
    },
    async campaignGroupCounts(campaignId) {
      return (await rows(numbered(CAMPAIGN_GROUP_COUNTS), campaignId)).map(toGroupCounts);
    },
    async rollupZoneAnalytics(bucketMs, untilMs, minShoppers) {
      checkRollupArguments(bucketMs, untilMs, minShoppers);
      // The watermark row is locked (FOR UPDATE) before it is read: a second instance waits, then reads the
      // advanced watermark and finds nothing left; the cells' ON CONFLICT DO NOTHING is the second guard.
      return transaction(async (q) => {
        await q(numbered(ENSURE_WATERMARK), [bucketMs]);
        const watermark = num((await q('SELECT rolled_until_ms FROM analytics_rollups WHERE bucket_ms = $1 FOR UPDATE', [bucketMs])).rows[0]!.rolled_until_ms);
        const earliest = (await q(EARLIEST_EVENT_S)).rows[0]?.at_s;
        const fromMs = rollupStart(watermark, earliest === null || earliest === undefined ? null : num(earliest), untilMs);
        if (fromMs >= untilMs) {
          // Nothing to roll up: a first pass with no events held starts the watermark here.
          await q(numbered(SET_WATERMARK), [fromMs, bucketMs, fromMs]);
          return { bucketMs, fromMs, rolledUntilMs: Math.max(watermark, fromMs), footfallCells: 0, dwellCells: 0 };
        }
        let footfallCells = 0;
        let dwellCells = 0;
        for (const bucket of rollupBuckets((await q(LIST_STORE_ZONES)).rows, bucketMs, fromMs, untilMs)) {
          const params = rollupParams(bucketMs, bucket, minShoppers);
          footfallCells += (await q(numbered(ROLLUP_FOOTFALL), params)).rowCount ?? 0;
          dwellCells += (await q(numbered(ROLLUP_DWELL), params)).rowCount ?? 0;
        }
        await q(numbered(SET_WATERMARK), [untilMs, bucketMs, untilMs]);
        return { bucketMs, fromMs, rolledUntilMs: untilMs, footfallCells, dwellCells };
      });
    },
    async zoneRollupWatermark(bucketMs) {
      return watermarkOf(await row('SELECT rolled_until_ms FROM analytics_rollups WHERE bucket_ms = $1', bucketMs));
    },
    async listZoneFootfall(storeId, bucketMs, fromMs, toMs) {
      return (await rows(numbered(LIST_FOOTFALL), storeId, bucketMs, fromMs, toMs)).map(toZoneCell);
    },
    async listZoneDwell(storeId, bucketMs, fromMs, toMs) {
      return (await rows(numbered(LIST_DWELL), storeId, bucketMs, fromMs, toMs)).map(toZoneDwellCell);
    },
    async campaignActivity(campaignId, buckets) {
      checkActivityBuckets(buckets);
      if (buckets.length === 0) return [];
      const fromMs = buckets[0]!.startMs;
      const toMs = buckets.at(-1)!.endMs;
      // REPEATABLE READ: the three metrics from one snapshot.
      const read = await transaction(async (q) => {
        const byMetric: Partial<Record<SeriesMetric, Row[]>> = {};
        for (const metric of SERIES_METRICS) byMetric[metric] = (await q(numbered(campaignActivitySql(metric)), [campaignId, fromMs, toMs])).rows;
        return byMetric as Record<SeriesMetric, Row[]>;
      }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      return foldCampaignActivity(buckets, read);
    },
    async zoneOccupancy(storeId, seenSinceMs) {
      return (await rows(numbered(zoneOccupancySql(POSTGRES_CURRENT_ZONE)), storeId, seenSinceMs)).map(toZoneOccupancy);
    },
    async zoneEventCounts(storeId, fromMs, toMs) {
      return (await rows(numbered(ZONE_EVENT_COUNTS), storeId, fromMs, toMs)).map(toZoneEventCount);
    },
    async expireUndelivered(nowMs, limit) {
      checkExpiryArguments(nowMs, limit);
      // SKIP LOCKED: a sweep on another instance takes other rows instead of waiting; the outer WHERE re-checks each row.
      return tallyExpired(await rows(expireUndeliveredStatement(['$1', '$2'], ' FOR UPDATE SKIP LOCKED'), nowMs, limit));
    },
    async putPushTarget(shopperId, targetSealed, atMs) {
      return (await changes(`INSERT INTO push_targets (shopper_id, target_sealed, updated_at_ms) SELECT id, $1, $2 FROM shoppers WHERE id = $3 AND erased_at_ms IS NULL
                  ON CONFLICT (shopper_id) DO UPDATE SET target_sealed = excluded.target_sealed, updated_at_ms = excluded.updated_at_ms`, b64(targetSealed), atMs, shopperId)) === 1;
    },
    async deletePushTarget(shopperId) {
      return (await changes('DELETE FROM push_targets WHERE shopper_id = $1', shopperId)) === 1;
    },
    async getPushTargetSealed(shopperId) {
      const found = await row('SELECT target_sealed FROM push_targets WHERE shopper_id = $1', shopperId);
      return found ? unb64(found.target_sealed) : undefined;
    },
    async enqueueWebhookDelivery(promotionId, atMs) {
      return (await changes(`INSERT INTO webhook_deliveries (promotion_id, next_attempt_at_ms, status, updated_at_ms) VALUES ($1, $2, 'queued', $2) ON CONFLICT (promotion_id) DO NOTHING`, promotionId, atMs)) === 1;
    },
    async claimWebhookDeliveries(nowMs, leaseMs, limit) {
      // One statement: FOR UPDATE SKIP LOCKED makes racing claimers take disjoint rows, and the outer WHERE
      // repeats the condition, so a row whose lease another claim has just set is not taken again. The batch
      // is a MATERIALIZED CTE, run once: a LIMIT inside `IN (subquery)` may be re-evaluated and take more rows.
      const due = `status = 'queued' AND next_attempt_at_ms <= $2 AND (claimed_until_ms IS NULL OR claimed_until_ms <= $2)`;
      const claimed = await rows(
        `WITH batch AS MATERIALIZED (SELECT promotion_id FROM webhook_deliveries WHERE ${due} ORDER BY next_attempt_at_ms, promotion_id COLLATE "C" LIMIT $3 FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries SET claimed_until_ms = $1, attempts = attempts + 1, updated_at_ms = $2
         WHERE promotion_id IN (SELECT promotion_id FROM batch) AND ${due}
         RETURNING *`,
        nowMs + leaseMs, nowMs, limit,
      );
      return claimed.map(toWebhookDelivery).sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || (a.promotionId < b.promotionId ? -1 : 1));
    },
    async finishWebhookAttempt(promotionId, attempt, outcome) {
      const c = webhookOutcomeColumns(outcome);
      return (await changes(
        `UPDATE webhook_deliveries SET status = $1, next_attempt_at_ms = COALESCE($2, next_attempt_at_ms), last_error = $3, claimed_until_ms = NULL, updated_at_ms = $4
         WHERE promotion_id = $5 AND attempts = $6 AND status = 'queued'`,
        c.status, c.nextAttemptAtMs, c.lastError, c.atMs, promotionId, attempt,
      )) === 1;
    },
    async getWebhookDelivery(promotionId) {
      const found = await row('SELECT * FROM webhook_deliveries WHERE promotion_id = $1', promotionId);
      return found ? toWebhookDelivery(found) : undefined;
    },
    async listDeadWebhookDeliveries(limit, afterPromotionId) {
      checkDeadLetterPage(limit);
      // COLLATE "C": the same byte order as SQLite's, so pages follow one another on either store.
      return (await rows(`SELECT * FROM webhook_deliveries WHERE status = 'dead' AND promotion_id COLLATE "C" > $1 ORDER BY promotion_id COLLATE "C" LIMIT $2`, afterPromotionId ?? '', limit)).map(toWebhookDelivery);
    },
    async replayDeadWebhookDeliveries(promotionIds, nowMs, actor) {
      checkReplayIds(promotionIds);
      return transaction(async (q) => {
        const requeued = (await q(`UPDATE webhook_deliveries SET ${numbered(REPLAY_SET)} WHERE status = 'dead' AND promotion_id = ANY($3::text[]) RETURNING promotion_id`, [nowMs, nowMs, [...promotionIds]]))
          .rows.map((r) => String(r.promotion_id)).sort();
        if (requeued.length > 0) await appendAuditLocked(q, parseAuditDraft(replayAudit(actor, nowMs, promotionIds.length, requeued.length)));
        return requeued;
      });
    },
    async createPosDevice(d) {
      await query('INSERT INTO pos_devices (id, store_id, name, token_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5)', [d.id, d.storeId, d.name, d.tokenHash, d.createdAtMs]);
    },
    async listPosDevices(storeId) {
      return (await rows('SELECT * FROM pos_devices WHERE store_id = $1 ORDER BY created_at_ms, id COLLATE "C"', storeId)).map(toPosDevice);
    },
    async findPosDeviceByTokenHash(tokenHash) {
      const found = await row('SELECT * FROM pos_devices WHERE token_hash = $1 AND revoked_at_ms IS NULL', tokenHash);
      return found ? toPosDevice(found) : undefined;
    },
    async revokePosDevice(storeId, deviceId, atMs) {
      return (await changes('UPDATE pos_devices SET revoked_at_ms = $1 WHERE id = $2 AND store_id = $3 AND revoked_at_ms IS NULL', atMs, deviceId, storeId)) === 1;
    },
    async redeemCoupon(request) {
      // One UPDATE is the claim: under READ COMMITTED a claim racing another waits for the row lock and
      // re-checks the condition on the committed row, so of any number of instances exactly one claims it.
      for (;;) {
        const claimed = await row(
          `UPDATE promotions SET redeemed_at_ms = $1, redeemed_by_device_id = $2, redemption_request_id = $3
           WHERE coupon_code = $4 AND store_id = $5 AND ${CLAIM_COUPON_CONDITION} $1 RETURNING *`,
          request.atMs, request.deviceId, request.requestId, request.couponCode, request.storeId,
        );
        if (claimed !== undefined) return claimedCoupon(claimed);
        const refused = refusedClaim(await row('SELECT * FROM promotions WHERE coupon_code = $1 AND store_id = $2', request.couponCode, request.storeId), request);
        // undefined: the promotion was committed between the claim and the read — claim it again.
        if (refused !== undefined) return refused;
      }
    },
    async counts(): Promise<StoreCounts> {
      const r = (await row(`SELECT
        (SELECT COUNT(*) FROM shoppers) AS shoppers,
        (SELECT COUNT(*) FROM consent_records) AS consent_records,
        (SELECT COUNT(*) FROM presence_events) AS presence_events,
        (SELECT COUNT(*) FROM promotions WHERE status NOT IN ('cancelled', 'held-out')) AS promotions,
        (SELECT COUNT(*) FROM promotions WHERE status = 'held-out') AS exposures_held_out,
        (SELECT COUNT(*) FROM promotions WHERE status = 'acked') AS promotions_acked,
        (SELECT COUNT(*) FROM epoch_keys WHERE key_sealed IS NOT NULL) AS epoch_keys`))!;
      return {
        shoppers: num(r.shoppers),
        consentRecords: num(r.consent_records),
        presenceEvents: num(r.presence_events),
        promotions: num(r.promotions),
        exposuresHeldOut: num(r.exposures_held_out),
        promotionsAcked: num(r.promotions_acked),
        epochKeys: num(r.epoch_keys),
      };
    },
    readShopperData,
    eraseShopper,
    async getErasureProof(shopperId) {
      const found = await row('SELECT * FROM erasure_proofs WHERE shopper_id = $1', shopperId);
      return found === undefined ? undefined : toErasureProof(found);
    },
    recordObjection,
    async isSuppressed(deviceSecretDigest) {
      return (await row('SELECT 1 AS found FROM suppressions WHERE device_secret_digest = $1', deviceSecretDigest)) !== undefined;
    },
    setRestriction,
  };
  return store;
}

/** Applies pending MIGRATIONS in one transaction, under an advisory lock so instances starting together take turns. */
async function migrate(transaction: <T>(work: (q: Query) => Promise<T>) => Promise<T>, schema: string | undefined): Promise<void> {
  await transaction(async (q) => {
    await q('SELECT pg_advisory_xact_lock(hashtext($1))', [MIGRATION_LOCK]);
    // Inside the lock: concurrent CREATE … IF NOT EXISTS can still collide on the catalog's unique index.
    if (schema !== undefined) await q(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await q('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)');
    const applied = new Set((await q('SELECT version FROM schema_migrations')).rows.map((r) => num(r.version)));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements) await q(statement);
      await q('INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
    }
  });
}

