import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalJson, chainEntry, parseAuditDraft, type AuditDraft, type AuditRecord } from '../domain/audit-chain.ts';
import { CampaignStatusSchema, placedInStore, type Campaign, type CampaignStatus } from '../domain/campaign.ts';
import { campaignSavedAudit, campaignTransitionAudit, type CampaignRecord } from '../domain/campaign-lifecycle.ts';
import {
  insertVersionStatement, listCampaignsStatement, putCampaignStatement, saveCampaignStatement, toCampaignRecord, toCampaignVersion, toPrincipal, transitionStatement,
} from './campaign-sql.ts';
import { isGranted, type ConsentDraft, type ConsentRecord, type ConsentState, type Purpose } from '../domain/consent.ts';
import { erasureProof, revokedTokenHash, type ErasureCounts } from '../domain/erasure.ts';
import { ObjectedGrantError, refusedAfterObjection } from '../domain/objection.ts';
import { ZoneStateSchema, type ZoneState } from '../domain/zone-arbiter.ts';
import { zoneStateLastSeenMs } from '../domain/retention.ts';
import { nextVisit, type VisitActivity } from '../domain/visits.ts';
import type { ResolvedPresence } from '../domain/decision.ts';
import {
  budgetCountsStatement, budgetExhausted, capCountsStatement, capRefusal, floorPlanColumn, hasBudgetLimit, hoursColumn, interestsColumn, STORE_COLUMNS, toStoreRecord, toVisitRecord, visitStateOf,
} from './decision-rows.ts';
import {
  campaignActivitySql, checkActivityBuckets, foldCampaignActivity, gatewayReportColumns, MARK_GATEWAY_REPORTED, toZoneEventCount, toZoneOccupancy, ZONE_EVENT_COUNTS, zoneOccupancySql,
} from './console-sql.ts';
import { SERIES_METRICS, type SeriesMetric } from '../domain/campaign-series.ts';
import { MIGRATIONS } from './migrations.ts';
import type { ConsoleSessionRecord } from '../domain/console-user.ts';
import {
  DELETE_LAPSED_SESSIONS, DELETE_SESSION, DELETE_USER_SESSIONS, DISABLE_USER, FIND_SESSION, FIND_USER, INSERT_SESSION, INSERT_USER, LIST_USERS, LOGIN_FAILURE, LOGIN_SUCCESS,
  loginFailureParams, readSessionRow, toUser, TOUCH_SESSION,
} from './user-sql.ts';
import { CLEAR_CONSENT_STATE, conflictMessage, consentDriftStatement, lapseCandidateStatement, REBUILD_CONSENT_STATE, toArchivedText, toLapseCandidate } from './consent-sql.ts';
import { checkPurgeArguments, purgeBatchStatement } from './retention-sql.ts';
import { checkExpiryArguments, expireUndeliveredStatement, tallyExpired } from './expiry-sql.ts';
import { checkDeadLetterPage, checkReplayIds, REPLAY_SET, replayAudit, toWebhookDelivery, webhookOutcomeColumns } from './rows.ts';
import {
  CAMPAIGN_GROUP_COUNTS, checkRollupArguments, conversionZonePattern, EARLIEST_EVENT_S, ENSURE_WATERMARK, LIST_DWELL, LIST_FOOTFALL, MARK_OPENED, PROMOTION_ANALYTICS_COLUMNS,
  promotionAnalyticsValues, RECORD_CONVERSIONS, LIST_STORE_ZONES, ROLLUP_DWELL, ROLLUP_FOOTFALL, rollupBuckets, rollupParams, rollupStart, SET_WATERMARK, toGroupCounts, toZoneCell, toZoneDwellCell, watermarkOf,
} from './analytics-sql.ts';
import { CLAIM_COUPON_CONDITION, claimedCoupon, refusedClaim, toPosDevice } from './redemption-rows.ts';
import {
  b64, consentAuditDrafts, num, numOrNull, stateFromRows, toAuditRecord, toConsentRecord, toEpochKey, toErasureProof, toGateway, toGatewaySettings, toLinkedBeacon, toPresenceEvent, toPromotion,
  toShopper, toStoreBeacon, unb64, polygonColumn, toZone, type ConsentAudit, type Row,
} from './rows.ts';
import {
  APP_TOKEN_HISTORY_LIMIT, type AppTokenRotation, type CampaignDefinitionSave, type CampaignTransition, type ConsentLapseWrite, type CouponRedemptionRequest, type CredentialRefusal,
  type GatewayRecord, type ObjectionResult, type PresenceStep, type PresenceStepResult, type RedemptionResult, type SequenceClaim, type ShopperData, type Store, type StoreCounts,
  type StoreRecord, type ZoneRecord, type ZoneStateUpdate,
} from './store.ts';
import { conversionEntries, visitPresence } from './presence-step.ts';
import { createGroupCommit, type CommitObserver } from './group-commit.ts';
import { startCheckpointer } from './checkpointer.ts';
import type { ConsentText } from '../domain/consent-texts.ts';

// The embedded Store: one SQLite file through better-sqlite3, in WAL mode. Writes that must be
// atomic run as BEGIN IMMEDIATE transactions, which serialise writers across processes too.

/** Compiled statements kept per connection (the Store uses about a hundred distinct SQL texts). */
const MAX_CACHED_STATEMENTS = 500;
/** SQLite's positional placeholder (campaign-sql.ts numbers its parameters in order). */
const Q = (): string => '?';
/** The zone arbiter's current zone in a zone_states row (its state column is JSON). */
const SQLITE_CURRENT_ZONE = "json_extract(z.state, '$.current.zoneId')";

export type SqliteStoreOptions = {
  /** Told of every group commit (the hot path's writes, batched per turn of the event loop): for benchmarks and metrics. */
  observeCommits?: CommitObserver;
  /** WAL checkpoints in a worker thread, off the event loop (checkpointer.ts); on by default for a file. */
  backgroundCheckpoints?: boolean;
  /** Told when the checkpoint worker failed and SQLite's automatic checkpoint took over again. */
  onCheckpointFailure?: (error: Error) => void;
};

export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  const checkpointer = path !== ':memory:' && options.backgroundCheckpoints !== false
    ? startCheckpointer({ path, setAutoCheckpoint: (pages) => void db.pragma(`wal_autocheckpoint = ${pages}`), onFailure: options.onCheckpointFailure })
    : undefined;

  // Each SQL text is compiled once and its statement reused: prepare() parses and plans the SQL every
  // time, and was the largest single cost of the presence ingest (docs/benchmarks.md, end to end). The
  // texts are a fixed set (no variable-length lists); the cache is bounded all the same.
  const statements = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      if (statements.size < MAX_CACHED_STATEMENTS) statements.set(sql, statement);
    }
    return statement;
  };
  const all = (sql: string, ...params: unknown[]): Row[] => prepared(sql).all(...params) as Row[];
  const get = (sql: string, ...params: unknown[]): Row | undefined => prepared(sql).get(...params) as Row | undefined;
  const run = (sql: string, ...params: unknown[]): number => prepared(sql).run(...params).changes;
  const consentState = (shopperId: string): ConsentState => stateFromRows(all('SELECT purpose, granted, text_version, at_ms FROM consent_state WHERE shopper_id = ?', shopperId));

  // Run inside a BEGIN IMMEDIATE transaction: the write lock is held from the head read to the insert,
  // so appenders in other connections or processes wait their turn and the chain stays unbroken.
  const appendAuditLocked = (draft: AuditDraft): AuditRecord => {
    const head = get('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    const record = chainEntry(head === undefined ? undefined : { seq: num(head.seq), hash: String(head.hash) }, draft);
    run('INSERT INTO audit_log (seq, at_ms, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      record.seq, record.atMs, record.actor, record.action, record.subject, canonicalJson(record.details), record.prevHash, record.hash);
    return record;
  };
  const appendAudit = db.transaction(appendAuditLocked);

  const listCampaignRecords = (filter: { status?: CampaignStatus; storeId?: string } = {}): CampaignRecord[] => {
    const statement = listCampaignsStatement(filter, Q, 'id');
    const records = all(statement.sql, ...statement.params).map(toCampaignRecord);
    const { storeId } = filter;
    return storeId === undefined ? records : records.filter((r) => placedInStore(r.campaign.placement, storeId));
  };

  // The hot path's writes — a presence event's step, a promotion's record, its delivery, ack and open — go
  // through group commit: one transaction per turn of the event loop, each write in its own savepoint.
  const writes = createGroupCommit(db.transaction((work: () => void) => work()).immediate, { observe: options.observeCommits });

  // Every change to what the ingest keeps in memory raises the configuration's version in its own transaction (Store.configVersion).
  const bumpConfigVersion = (): void => {
    run('UPDATE config_version SET version = version + 1 WHERE id = 1');
  };
  const configChange = <A extends unknown[], R>(write: (...args: A) => R): ((...args: A) => R) => {
    const transaction = db.transaction((...args: A): R => {
      const result = write(...args);
      bumpConfigVersion();
      return result;
    });
    return (...args: A) => transaction.immediate(...args);
  };

  // The campaign, only if still as read, and its new version row: both or neither (Store.saveCampaignDefinition).
  const disableUser = db.transaction((id: string, atMs: number): boolean => {
    if (run(DISABLE_USER, atMs, id) !== 1) return false;
    run(DELETE_USER_SESSIONS, id);
    return true;
  });
  const createSession = db.transaction((session: Omit<ConsoleSessionRecord, 'lastSeenAtMs'>, idleTimeoutMs: number): void => {
    run(DELETE_LAPSED_SESSIONS, session.createdAtMs, session.createdAtMs - idleTimeoutMs);
    run(INSERT_SESSION, session.idHash, session.userId, session.createdAtMs, session.createdAtMs, session.expiresAtMs);
  });
  const saveCampaignDefinition = db.transaction((save: CampaignDefinitionSave): boolean => {
    const write = saveCampaignStatement(save, Q);
    if (run(write.sql, ...write.params) !== 1) return false;
    const version = insertVersionStatement(save, Q);
    run(version.sql, ...version.params);
    bumpConfigVersion();
    appendAuditLocked(parseAuditDraft(campaignSavedAudit(save)));
    return true;
  });
  // One conditional UPDATE; the version moves only when it applied.
  const transitionCampaign = db.transaction((transition: CampaignTransition): CampaignRecord | undefined => {
    // BEGIN IMMEDIATE holds the write lock: the status read here is the one the UPDATE changes.
    const before = get('SELECT status FROM campaigns WHERE id = ?', transition.id);
    const statement = transitionStatement(transition, Q);
    const updated = before === undefined ? undefined : get(statement.sql, ...statement.params);
    if (before === undefined || updated === undefined) return undefined;
    bumpConfigVersion();
    const record = toCampaignRecord(updated);
    appendAuditLocked(parseAuditDraft(campaignTransitionAudit(transition, CampaignStatusSchema.parse(before.status), record)));
    return record;
  });
  const upsertStore = configChange((s: StoreRecord): void => {
    run(`INSERT INTO stores (id, name, timezone, opening_hours, quiet_hours, floor_plan) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone, opening_hours = excluded.opening_hours, quiet_hours = excluded.quiet_hours, floor_plan = excluded.floor_plan`,
    s.id, s.name, s.timezone, hoursColumn(s.openingHours), hoursColumn(s.quietHours), floorPlanColumn(s.floorPlan));
  });
  const upsertZone = configChange((z: ZoneRecord): void => {
    run('INSERT INTO zones (store_id, id, name, sensitive, polygon) VALUES (?, ?, ?, ?, ?) ON CONFLICT (store_id, id) DO UPDATE SET name = excluded.name, sensitive = excluded.sensitive, polygon = excluded.polygon',
      z.storeId, z.id, z.name, z.sensitive ? 1 : 0, polygonColumn(z.polygon));
  });
  const upsertGateway = configChange((g: Omit<GatewayRecord, 'lastSeenAtMs' | 'online'>, rotateSecret: boolean): GatewayRecord => {
    run(
      `INSERT INTO gateways (id, store_id, zone_id, secret_sealed) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET store_id = excluded.store_id, zone_id = excluded.zone_id${rotateSecret ? ', secret_sealed = excluded.secret_sealed' : ''}`,
      g.id, g.storeId, g.zoneId, b64(g.secretSealed),
    );
    return toGateway(get('SELECT * FROM gateways WHERE id = ?', g.id)!);
  });
  const putCampaign = configChange((campaign: Campaign, atMs: number): void => {
    const statement = putCampaignStatement(campaign, atMs, Q);
    run(statement.sql, ...statement.params);
  });

  // Inside a transaction: the record, the state it now sets, and (for a withdrawal of presence or
  // promotions) the cancellation of the shopper's undelivered promotions (CON-4).
  const insertConsentLocked = (record: ConsentRecord): void => {
    const seq = num(get('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM consent_records WHERE shopper_id = ?', record.shopperId)!.seq);
    run(
      `INSERT INTO consent_records (id, shopper_id, purpose, granted, text_version, text_sha256, locale, server_time_ms, client_time_ms, channel, previous_granted, seq, reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      record.id, record.shopperId, record.purpose, record.granted ? 1 : 0, record.textVersion, record.textSha256, record.locale,
      record.serverTimeMs, record.clientTimeMs, record.channel, record.previousGranted === null ? null : record.previousGranted ? 1 : 0, seq, record.reason ?? null,
    );
    run(
      `INSERT INTO consent_state (shopper_id, purpose, granted, text_version, at_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (shopper_id, purpose) DO UPDATE SET granted = excluded.granted, text_version = excluded.text_version, at_ms = excluded.at_ms`,
      record.shopperId, record.purpose, record.granted ? 1 : 0, record.textVersion, record.serverTimeMs,
    );
    if (!record.granted && (record.purpose === 'presence' || record.purpose === 'promotions')) {
      run(`UPDATE promotions SET status = 'cancelled' WHERE shopper_id = ? AND status = 'pending'`, record.shopperId);
    }
  };

  const appendConsent = db.transaction((drafts: readonly ConsentDraft[], audit: ConsentAudit): ConsentState => {
    const shoppers = new Set<string>();
    const records: ConsentRecord[] = [];
    for (const draft of drafts) {
      if (refusedAfterObjection(draft) && get('SELECT objected_at_ms FROM shoppers WHERE id = ?', draft.shopperId)?.objected_at_ms != null) {
        throw new ObjectedGrantError(draft.shopperId);
      }
      // The state before this record, read inside the (IMMEDIATE) transaction: racing changes of one shopper chain correctly.
      const before = get('SELECT granted FROM consent_state WHERE shopper_id = ? AND purpose = ?', draft.shopperId, draft.purpose);
      const record: ConsentRecord = { ...draft, previousGranted: before === undefined ? null : num(before.granted) === 1 };
      records.push(record);
      insertConsentLocked(record);
      shoppers.add(record.shopperId);
    }
    for (const draft of consentAuditDrafts(audit, records)) appendAuditLocked(draft);
    const [first] = shoppers;
    return first === undefined ? {} : consentState(first);
  });

  // BEGIN IMMEDIATE: the check of the expected state and the write are one step for every writer.
  const appendConsentLapses = db.transaction((lapses: readonly ConsentLapseWrite[]): ConsentRecord[] => {
    const appended: ConsentRecord[] = [];
    for (const { record, expected, audit } of lapses) {
      const row = get('SELECT granted, text_version, at_ms FROM consent_state WHERE shopper_id = ? AND purpose = ?', record.shopperId, record.purpose);
      if (row === undefined || num(row.granted) !== 1 || String(row.text_version) !== expected.textVersion || num(row.at_ms) !== expected.atMs) continue;
      insertConsentLocked(record);
      appendAuditLocked(audit);
      appended.push(record);
    }
    return appended;
  });

  const archiveConsentTexts = db.transaction((texts: readonly ConsentText[], atMs: number): number => {
    let added = 0;
    for (const text of texts) {
      const same = get('SELECT sha256 FROM consent_texts WHERE purpose = ? AND version = ? AND locale = ?', text.purpose, text.version, text.locale);
      if (same !== undefined && String(same.sha256) !== text.sha256) throw new Error(conflictMessage(text, String(same.sha256)));
      added += run('INSERT INTO consent_texts (sha256, purpose, version, locale, text, archived_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING',
        text.sha256, text.purpose, text.version, text.locale, text.text, atMs);
    }
    return added;
  });

  const rebuildConsentState = db.transaction((): number => {
    run(CLEAR_CONSENT_STATE);
    return run(REBUILD_CONSENT_STATE);
  });

  // BEGIN IMMEDIATE: the claim and, if it claimed nothing, the read that says why, under one write lock.
  const redeemCoupon = db.transaction((request: CouponRedemptionRequest): RedemptionResult => {
    const claimed = get(
      `UPDATE promotions SET redeemed_at_ms = ?, redeemed_by_device_id = ?, redemption_request_id = ?
       WHERE coupon_code = ? AND store_id = ? AND ${CLAIM_COUPON_CONDITION} ? RETURNING *`,
      request.atMs, request.deviceId, request.requestId, request.couponCode, request.storeId, request.atMs,
    );
    if (claimed !== undefined) return claimedCoupon(claimed);
    const refused = refusedClaim(get('SELECT * FROM promotions WHERE coupon_code = ? AND store_id = ?', request.couponCode, request.storeId), request);
    if (refused === undefined) throw new Error('redeemCoupon: a claimable coupon was not claimed');
    return refused;
  });

  const recordPromotion = db.transaction((draft: Parameters<Store['recordPromotion']>[0]) => {
    const existing = get('SELECT * FROM promotions WHERE id = ?', draft.message.id);
    if (existing) return { outcome: 'duplicate' as const, promotion: toPromotion(existing) };
    const shopper = get('SELECT erased_at_ms, restricted, objected_at_ms FROM shoppers WHERE id = ?', draft.shopperId);
    if (!shopper || shopper.erased_at_ms !== null) return { outcome: 'skipped' as const, reason: 'erased' as const };
    // DSR-4, DSR-3: a restricted shopper is not processed; an objected one gets no marketing, whatever consent_state says.
    if (num(shopper.restricted) === 1) return { outcome: 'skipped' as const, reason: 'restricted' as const };
    if (shopper.objected_at_ms !== null) return { outcome: 'skipped' as const, reason: 'objected' as const };
    const state = consentState(draft.shopperId);
    if (draft.requiredPurposes.some((purpose) => state[purpose as Purpose]?.granted !== true)) return { outcome: 'skipped' as const, reason: 'no-consent' as const };
    const now = draft.createdAtMs;
    const caps = capCountsStatement('question', draft);
    const refusal = capRefusal(draft.caps, get(caps.sql, ...caps.params));
    if (refusal !== undefined) return { outcome: 'skipped' as const, reason: refusal };
    // The budget: BEGIN IMMEDIATE serialises every writer, so the count and the insert are one step.
    const budgetCounts = budgetCountsStatement('question', draft.campaignId, now);
    if (hasBudgetLimit(draft.budget) && budgetExhausted(draft.budget, get(budgetCounts.sql, ...budgetCounts.params))) {
      return { outcome: 'skipped' as const, reason: 'budget' as const };
    }
    // Experiments and attribution (issue 6): a held-out row, its group, and whether it enters analytics (P3 now).
    const a = promotionAnalyticsValues(draft, state.analytics?.granted === true);
    run(
      `INSERT INTO promotions (id, campaign_id, shopper_id, event_id, store_id, zone_id, coupon_code, created_at_ms, expires_at_ms, delivered_at_ms, acked_at_ms, status, message, ${PROMOTION_ANALYTICS_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?)`,
      draft.message.id, draft.campaignId, draft.shopperId, draft.eventId, draft.storeId, draft.zoneId, draft.message.couponCode,
      now, draft.message.expiresAtMs, a.status, JSON.stringify(draft.message), a.variant, a.analytics, a.conversionZones, a.conversionUntilMs,
    );
    return { outcome: 'recorded' as const, promotion: toPromotion(get('SELECT * FROM promotions WHERE id = ?', draft.message.id)!) };
  });

  // BEGIN IMMEDIATE: the watermark read, the cells and the watermark's advance under one write lock, so
  // instances rolling up at once take turns and the second finds the buckets done.
  const rollupZoneAnalytics = db.transaction((bucketMs: number, untilMs: number, minShoppers: number) => {
    run(ENSURE_WATERMARK, bucketMs);
    const watermark = num(get('SELECT rolled_until_ms FROM analytics_rollups WHERE bucket_ms = ?', bucketMs)!.rolled_until_ms);
    const earliest = get(EARLIEST_EVENT_S)?.at_s;
    const fromMs = rollupStart(watermark, earliest === null || earliest === undefined ? null : num(earliest), untilMs);
    if (fromMs >= untilMs) {
      // Nothing to roll up: a first pass with no events held starts the watermark here.
      run(SET_WATERMARK, fromMs, bucketMs, fromMs);
      return { bucketMs, fromMs, rolledUntilMs: Math.max(watermark, fromMs), footfallCells: 0, dwellCells: 0 };
    }
    let footfallCells = 0;
    let dwellCells = 0;
    for (const bucket of rollupBuckets(all(LIST_STORE_ZONES), bucketMs, fromMs, untilMs)) {
      const params = rollupParams(bucketMs, bucket, minShoppers);
      footfallCells += run(ROLLUP_FOOTFALL, ...params);
      dwellCells += run(ROLLUP_DWELL, ...params);
    }
    run(SET_WATERMARK, untilMs, bucketMs, untilMs);
    return { bucketMs, fromMs, rolledUntilMs: untilMs, footfallCells, dwellCells };
  });

  // Inside a BEGIN IMMEDIATE transaction: the read of the visit row and its update are one step for every writer.
  const visitLocked = (storeId: string, shopperId: string, atMs: number, startsVisit: boolean): VisitActivity => {
    const previous = visitStateOf(get('SELECT visit_count, visit_started_at_ms, last_seen_at_ms, previous_visit_last_seen_ms FROM store_visits WHERE store_id = ? AND shopper_id = ?', storeId, shopperId));
    const { state, activity } = nextVisit(previous, atMs, startsVisit);
    if (state === undefined || state === previous) return activity;
    // DSR-2: nothing is written for a shopper erased (or unknown).
    if (get('SELECT 1 AS found FROM shoppers WHERE id = ? AND erased_at_ms IS NULL', shopperId) === undefined) return { visitNumber: 0, newVisit: false, pastVisits: 0, previousVisitLastSeenMs: null };
    run(`INSERT INTO store_visits (store_id, shopper_id, visit_count, visit_started_at_ms, last_seen_at_ms, previous_visit_last_seen_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (store_id, shopper_id) DO UPDATE SET visit_count = excluded.visit_count, visit_started_at_ms = excluded.visit_started_at_ms, last_seen_at_ms = excluded.last_seen_at_ms, previous_visit_last_seen_ms = excluded.previous_visit_last_seen_ms`,
    storeId, shopperId, state.visitCount, state.visitStartedAtMs, state.lastSeenAtMs, state.previousVisitLastSeenMs);
    return activity;
  };
  const recordVisitActivity = db.transaction(visitLocked);

  const claimSequence = (gatewayId: string, boot: string, seq: number, eventId: string, atMs: number): SequenceClaim => {
    const claimed = run('INSERT INTO event_sequences (gateway_id, boot, seq, event_id, at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway_id, boot, seq) DO NOTHING',
      gatewayId, boot, seq, eventId, atMs);
    if (claimed === 1) return 'new';
    return String(get('SELECT event_id FROM event_sequences WHERE gateway_id = ? AND boot = ? AND seq = ?', gatewayId, boot, seq)!.event_id) === eventId ? 'redelivery' : 'replay';
  };
  const acceptSequence = db.transaction(claimSequence);

  // DSR-2: an event resolved just before its shopper's erasure committed is not written after it.
  const insertPresence = (e: ResolvedPresence, receivedAtMs: number): 'new' | 'duplicate' | 'erased' => {
    const changes = run(
      `INSERT INTO presence_events (event_id, shopper_id, store_id, zone_id, kind, at_s, dwell_s, received_at_ms)
       SELECT ?, id, ?, ?, ?, ?, ?, ? FROM shoppers WHERE id = ? AND erased_at_ms IS NULL ON CONFLICT (event_id) DO NOTHING`,
      e.eventId, e.storeId, e.zoneId, e.kind, e.atS, e.dwellS, receivedAtMs, e.shopperId,
    );
    if (changes === 1) return 'new';
    return get('SELECT 1 AS found FROM presence_events WHERE event_id = ?', e.eventId) === undefined ? 'erased' : 'duplicate';
  };

  // Inside a BEGIN IMMEDIATE transaction, which took the write lock before the read: the read-modify-write
  // is serialised with every other writer, in this process or another, so no retry is needed.
  const zoneStateLocked = <T>(storeId: string, shopperId: string, update: (previous: ZoneState | undefined) => ZoneStateUpdate<T>): T => {
    const row = get('SELECT state, version FROM zone_states WHERE store_id = ? AND shopper_id = ?', storeId, shopperId);
    const previous = row === undefined ? undefined : zoneStateOf(row.state);
    const next = update(previous);
    if (next.state === undefined || next.state === previous) return next.result;
    // DSR-2: nothing is written for a shopper erased meanwhile (their rows went with the erasure).
    if (get('SELECT 1 AS found FROM shoppers WHERE id = ? AND erased_at_ms IS NULL', shopperId) === undefined) return next.result;
    if (row === undefined) {
      run('INSERT INTO zone_states (store_id, shopper_id, state, version, due_at_ms, last_seen_ms) VALUES (?, ?, ?, 1, ?, ?)',
        storeId, shopperId, JSON.stringify(next.state), next.dueAtMs, zoneStateLastSeenMs(next.state));
    } else {
      run('UPDATE zone_states SET state = ?, version = version + 1, due_at_ms = ?, last_seen_ms = ? WHERE store_id = ? AND shopper_id = ?',
        JSON.stringify(next.state), next.dueAtMs, zoneStateLastSeenMs(next.state), storeId, shopperId);
    }
    return next.result;
  };

  // Store.applyPresence: the ingest's writes for one event, as one BEGIN IMMEDIATE transaction.
  const applyPresence = db.transaction((step: PresenceStep): PresenceStepResult => {
    const { event } = step;
    if (step.sequence !== undefined && claimSequence(step.sequence.gatewayId, step.sequence.boot, step.sequence.seq, event.eventId, event.atS * 1000) === 'replay') {
      return { outcome: 'replay' };
    }
    const consent = step.consent(consentState(event.shopperId));
    if (!isGranted(consent, 'presence') || insertPresence(event, step.receivedAtMs) === 'erased') return { outcome: 'no-presence', consent };
    const arbitrated = zoneStateLocked(event.storeId, event.shopperId, step.arbitrate);
    let conversions = 0;
    for (const entry of conversionEntries(consent, arbitrated.transitions)) {
      conversions += run(RECORD_CONVERSIONS, entry.atMs, event.shopperId, entry.atMs, entry.atMs, event.storeId, conversionZonePattern(entry.zoneId));
    }
    const visit = visitPresence({ zoneId: event.zoneId, atMs: event.atS * 1000 }, step.visits, consent, arbitrated.transitions);
    return {
      outcome: 'applied', consent, transitions: arbitrated.transitions, current: arbitrated.current, conversions,
      visit: visit === undefined ? null : visitLocked(event.storeId, event.shopperId, visit.atMs, visit.startsVisit),
    };
  });


  const rotateAppToken = db.transaction((rotation: AppTokenRotation, audit: AuditDraft | undefined): 'rotated' | 'conflict' => {
    const swapped = run('UPDATE shoppers SET token_hash = ?, token_issued_at_ms = ?, token_refused_at_ms = NULL WHERE id = ? AND token_hash = ? AND erased_at_ms IS NULL',
      rotation.tokenHash, rotation.atMs, rotation.shopperId, rotation.previousTokenHash);
    if (swapped === 0) return 'conflict';
    run('INSERT INTO app_token_history (token_hash, shopper_id, replaced_at_ms, refused_at_ms) VALUES (?, ?, ?, NULL) ON CONFLICT (token_hash) DO NOTHING',
      rotation.previousTokenHash, rotation.shopperId, rotation.atMs);
    run(`DELETE FROM app_token_history WHERE shopper_id = ? AND token_hash NOT IN
         (SELECT token_hash FROM app_token_history WHERE shopper_id = ? ORDER BY replaced_at_ms DESC, token_hash LIMIT ?)`,
    rotation.shopperId, rotation.shopperId, APP_TOKEN_HISTORY_LIMIT);
    if (audit !== undefined) appendAuditLocked(audit);
    return 'rotated';
  });

  const auditCredentialRefusalOnce = db.transaction((refusal: CredentialRefusal, audit: AuditDraft, atMs: number): boolean => {
    const first = refusal.reason === 'expired'
      ? run('UPDATE shoppers SET token_refused_at_ms = ? WHERE id = ? AND token_hash = ? AND token_refused_at_ms IS NULL', atMs, refusal.shopperId, refusal.tokenHash)
      : run('UPDATE app_token_history SET refused_at_ms = ? WHERE token_hash = ? AND refused_at_ms IS NULL', atMs, refusal.tokenHash);
    if (first === 0) return false;
    appendAuditLocked(audit);
    return true;
  });

  const replaceStoreBeacons = db.transaction((storeId: string, beacons: Parameters<Store['replaceStoreBeacons']>[1]) => {
    run('DELETE FROM store_beacons WHERE store_id = ?', storeId);
    for (const b of beacons) run('INSERT INTO store_beacons (store_id, id, zone_id, uuid, major, minor) VALUES (?, ?, ?, ?, ?, ?)', storeId, b.id, b.zoneId, b.uuid, b.major, b.minor);
  });

  // DSR-1: one deferred transaction is one read snapshot (WAL), so the export is consistent.
  const readShopperData = db.transaction((shopperId: string): ShopperData | undefined => {
    const row = get('SELECT * FROM shoppers WHERE id = ?', shopperId);
    if (row === undefined || row.erased_at_ms !== null) return undefined;
    return {
      shopper: toShopper(row),
      consentState: consentState(shopperId),
      consentRecords: all('SELECT * FROM consent_records WHERE shopper_id = ? ORDER BY seq', shopperId).map(toConsentRecord),
      presenceEvents: all('SELECT * FROM presence_events WHERE shopper_id = ? ORDER BY at_s, event_id', shopperId).map(toPresenceEvent),
      zoneStates: all('SELECT store_id, shopper_id, state, due_at_ms FROM zone_states WHERE shopper_id = ? ORDER BY store_id', shopperId)
        .map((r) => ({ storeId: String(r.store_id), shopperId: String(r.shopper_id), state: zoneStateOf(r.state), dueAtMs: numOrNull(r.due_at_ms) })),
      promotions: all('SELECT * FROM promotions WHERE shopper_id = ? ORDER BY created_at_ms, id', shopperId).map(toPromotion),
      beacons: all('SELECT * FROM beacons WHERE shopper_id = ? ORDER BY created_at_ms, id', shopperId).map(toLinkedBeacon),
      pushTarget: ((target) => (target === undefined ? null : { sealed: unb64(target.target_sealed), updatedAtMs: num(target.updated_at_ms) }))(get('SELECT * FROM push_targets WHERE shopper_id = ?', shopperId)),
      visits: all('SELECT * FROM store_visits WHERE shopper_id = ? ORDER BY store_id', shopperId).map(toVisitRecord),
      audit: all('SELECT * FROM audit_log WHERE subject = ? ORDER BY seq', shopperId).map(toAuditRecord),
    };
  });

  const eraseShopper = db.transaction((shopperId: string, atMs: number, audit: (counts: ErasureCounts) => AuditDraft): ErasureCounts | undefined => {
    const row = get('SELECT erased_at_ms FROM shoppers WHERE id = ?', shopperId);
    if (row === undefined || row.erased_at_ms !== null) return undefined;
    const proof = erasureProof(shopperId, atMs, all('SELECT * FROM consent_records WHERE shopper_id = ? ORDER BY seq', shopperId).map(toConsentRecord), consentState(shopperId));
    const counts: ErasureCounts = {
      beacons: run('DELETE FROM beacons WHERE shopper_id = ?', shopperId),
      presenceEvents: run('DELETE FROM presence_events WHERE shopper_id = ?', shopperId),
      zoneStates: run('DELETE FROM zone_states WHERE shopper_id = ?', shopperId),
      visits: run('DELETE FROM store_visits WHERE shopper_id = ?', shopperId),
      promotions: (run('DELETE FROM webhook_deliveries WHERE promotion_id IN (SELECT id FROM promotions WHERE shopper_id = ?)', shopperId), run('DELETE FROM promotions WHERE shopper_id = ?', shopperId)),
      consentStates: run('DELETE FROM consent_state WHERE shopper_id = ?', shopperId),
      consentRecords: run('DELETE FROM consent_records WHERE shopper_id = ?', shopperId),
    };
    // The credential's traces: replaced credentials' hashes and used proof nonces.
    run('DELETE FROM app_token_history WHERE shopper_id = ?', shopperId);
    run('DELETE FROM proof_nonces WHERE shopper_id = ?', shopperId);
    run('DELETE FROM push_targets WHERE shopper_id = ?', shopperId);
    // ID-4: the sealed identity key goes (crypto-shredding) and the credential with it.
    run(`UPDATE shoppers SET identity_key_sealed = NULL, token_hash = ?, first_name = NULL, locale = '', device_secret_digest = NULL, country = NULL, birth_year = NULL,
         loyalty_tier = NULL, interests = NULL, restricted = 0, restriction_changed_at_ms = NULL, erased_at_ms = ? WHERE id = ?`, revokedTokenHash(shopperId), atMs, shopperId);
    run('INSERT INTO erasure_proofs (shopper_id, erased_at_ms, consent_records, consent_ledger_sha256, final_state) VALUES (?, ?, ?, ?, ?)',
      shopperId, atMs, proof.consentRecords, proof.consentLedgerSha256, canonicalJson(proof.finalState));
    appendAuditLocked(parseAuditDraft(audit(counts)));
    return counts;
  });

  const recordObjection = db.transaction((shopperId: string, atMs: number, records: readonly ConsentDraft[], audit: ConsentAudit): ObjectionResult => {
    const row = get('SELECT objected_at_ms, erased_at_ms, device_secret_digest FROM shoppers WHERE id = ?', shopperId);
    if (row === undefined || row.erased_at_ms !== null) throw new Error(`no shopper ${shopperId} to record an objection for`);
    if (row.objected_at_ms !== null) return { outcome: 'already-objected', state: consentState(shopperId) };
    const state = appendConsent(records, audit);
    run('UPDATE shoppers SET objected_at_ms = ? WHERE id = ?', atMs, shopperId);
    // ON CONFLICT: a digest suppressed already (by an earlier account on the same device) stays suppressed.
    run('INSERT INTO suppressions (shopper_id, device_secret_digest, objected_at_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', shopperId, row.device_secret_digest, atMs);
    return { outcome: 'objected', state };
  });

  const setRestriction = db.transaction((shopperId: string, restricted: boolean, atMs: number, audit: AuditDraft): boolean => {
    const flag = restricted ? 1 : 0;
    const changed = run('UPDATE shoppers SET restricted = ?, restriction_changed_at_ms = ? WHERE id = ? AND restricted <> ? AND erased_at_ms IS NULL', flag, atMs, shopperId, flag);
    if (changed === 0) return false;
    if (restricted) run(`UPDATE promotions SET status = 'cancelled' WHERE shopper_id = ? AND status = 'pending'`, shopperId);
    appendAuditLocked(audit);
    return true;
  });

  let closed = false;
  const store: Store = {
    kind: 'sqlite',
    async close() {
      if (closed) return;
      closed = true;
      writes.flushNow();
      await checkpointer?.close();
      db.close();
    },
    async putSettingIfAbsent(name, value) {
      run('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', name, b64(value));
      return unb64(get('SELECT value FROM settings WHERE name = ?', name)!.value);
    },
    async getSetting(name) {
      const row = get('SELECT value FROM settings WHERE name = ?', name);
      return row ? unb64(row.value) : undefined;
    },
    async upsertStore(s) {
      upsertStore(s);
    },
    async listStores() {
      return all(`SELECT ${STORE_COLUMNS} FROM stores ORDER BY id`).map(toStoreRecord);
    },
    async getStore(id) {
      const found = get(`SELECT ${STORE_COLUMNS} FROM stores WHERE id = ?`, id);
      return found === undefined ? undefined : toStoreRecord(found);
    },
    async upsertZone(z) {
      upsertZone(z);
    },
    async listZones(storeId) {
      return all('SELECT store_id, id, name, sensitive, polygon FROM zones WHERE store_id = ? ORDER BY id', storeId).map(toZone);
    },
    async replaceStoreBeacons(storeId, beacons) {
      replaceStoreBeacons.immediate(storeId, beacons);
    },
    async listStoreBeacons(storeId) {
      return (storeId === undefined ? all('SELECT * FROM store_beacons ORDER BY store_id, id') : all('SELECT * FROM store_beacons WHERE store_id = ? ORDER BY id', storeId)).map(toStoreBeacon);
    },
    async upsertGateway(g, rotateSecret = false) {
      return upsertGateway(g, rotateSecret);
    },
    async getGateway(id) {
      const row = get('SELECT * FROM gateways WHERE id = ?', id);
      return row ? toGateway(row) : undefined;
    },
    async listGateways(storeId) {
      return (storeId === undefined ? all('SELECT * FROM gateways ORDER BY id') : all('SELECT * FROM gateways WHERE store_id = ? ORDER BY id', storeId)).map(toGateway);
    },
    async markGatewaySeen(id, atMs, online, report) {
      const reported = gatewayReportColumns(report);
      if (reported === undefined) run('UPDATE gateways SET last_seen_at_ms = ?, online = ? WHERE id = ?', atMs, online ? 1 : 0, id);
      else run(MARK_GATEWAY_REPORTED, atMs, online ? 1 : 0, reported.version, reported.counts, atMs, id);
    },
    async setGatewaySettings(settings) {
      run(
        `INSERT INTO gateway_settings (gateway_id, presence, updated_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (gateway_id) DO UPDATE SET presence = excluded.presence, updated_at_ms = excluded.updated_at_ms`,
        settings.gatewayId, JSON.stringify(settings.presence), settings.updatedAtMs,
      );
    },
    async getGatewaySettings(gatewayId) {
      const row = get('SELECT * FROM gateway_settings WHERE gateway_id = ?', gatewayId);
      return row ? toGatewaySettings(row) : undefined;
    },
    async insertEpochKey(k) {
      run('INSERT INTO epoch_keys (key_id, store_id, key_sealed, not_before_s, not_after_s) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING',
        k.keyId, k.storeId, b64(k.keySealed), k.notBeforeS, k.notAfterS);
    },
    async listEpochKeys(storeId) {
      const base = 'SELECT * FROM epoch_keys WHERE key_sealed IS NOT NULL';
      return (storeId === undefined ? all(`${base} ORDER BY not_before_s, key_id`) : all(`${base} AND store_id = ? ORDER BY not_before_s, key_id`, storeId)).map(toEpochKey);
    },
    async destroyEpochKeys(endedBeforeS) {
      return run('UPDATE epoch_keys SET key_sealed = NULL, destroyed_at_s = ? WHERE key_sealed IS NOT NULL AND not_after_s < ?', endedBeforeS, endedBeforeS);
    },
    async createShopper(s) {
      // DSR-3: objected from the start if the device secret's digest is suppressed — read in the insert itself.
      run(
        `INSERT INTO shoppers (id, token_hash, identity_key_sealed, rotation_exponent, locale, first_name, created_at_ms, erased_at_ms, device_secret_digest, objected_at_ms, token_issued_at_ms, country, birth_year, loyalty_tier, interests)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT CAST(? AS BIGINT) FROM suppressions WHERE device_secret_digest = ?), ?, ?, ?, ?, ?)`,
        s.id, s.tokenHash, s.identityKeySealed ? b64(s.identityKeySealed) : null, s.rotationExponent, s.locale, s.firstName, s.createdAtMs, s.erasedAtMs,
        s.deviceSecretDigest ?? null, s.createdAtMs, s.deviceSecretDigest ?? null, s.tokenIssuedAtMs ?? s.createdAtMs, s.country ?? null, s.birthYear ?? null,
        s.loyaltyTier ?? null, interestsColumn(s.interests ?? []),
      );
      return toShopper(get('SELECT * FROM shoppers WHERE id = ?', s.id)!);
    },
    async findShopperByTokenHash(tokenHash) {
      const row = get('SELECT * FROM shoppers WHERE token_hash = ?', tokenHash);
      return row ? toShopper(row) : undefined;
    },
    async rotateAppToken(rotation, audit) {
      return rotateAppToken.immediate(rotation, audit === undefined ? undefined : parseAuditDraft(audit));
    },
    async findReplacedAppToken(tokenHash) {
      const row = get('SELECT shopper_id, replaced_at_ms FROM app_token_history WHERE token_hash = ?', tokenHash);
      return row ? { shopperId: String(row.shopper_id), replacedAtMs: num(row.replaced_at_ms) } : undefined;
    },
    async auditCredentialRefusalOnce(refusal, audit, atMs) {
      return auditCredentialRefusalOnce.immediate(refusal, parseAuditDraft(audit), atMs);
    },
    async claimProofNonce(shopperId, nonce, expiresAtMs) {
      const claimed = run('INSERT INTO proof_nonces (shopper_id, nonce, expires_at_ms) VALUES (?, ?, ?) ON CONFLICT (shopper_id, nonce) DO NOTHING', shopperId, nonce, expiresAtMs);
      return claimed === 1 ? 'new' : 'replay';
    },
    async getShopper(id) {
      const row = get('SELECT * FROM shoppers WHERE id = ?', id);
      return row ? toShopper(row) : undefined;
    },
    async listResolvableShoppers() {
      return all(
        `SELECT s.id, s.identity_key_sealed, s.rotation_exponent FROM shoppers s JOIN consent_state c ON c.shopper_id = s.id
         WHERE c.purpose = 'presence' AND c.granted = 1 AND s.erased_at_ms IS NULL AND s.restricted = 0 AND s.identity_key_sealed IS NOT NULL ORDER BY s.id`,
      ).map((r) => ({ id: String(r.id), identityKeySealed: unb64(r.identity_key_sealed), rotationExponent: num(r.rotation_exponent) }));
    },
    async listShopperChangesSince(sinceMs) {
      return all(
        `SELECT shopper_id AS id FROM consent_state WHERE purpose = 'presence' AND at_ms >= ?
         UNION SELECT id FROM shoppers WHERE erased_at_ms >= ?
         UNION SELECT id FROM shoppers WHERE restriction_changed_at_ms >= ? ORDER BY id`,
        sinceMs, sinceMs, sinceMs,
      ).map((r) => String(r.id));
    },
    async addBeacon(b) {
      const added = run(
        `INSERT INTO beacons (id, shopper_id, kind, identifier_sealed, identifier_digest, created_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (identifier_digest) DO NOTHING`,
        b.id, b.shopperId, b.kind, b64(b.identifierSealed), b.identifierDigest, b.createdAtMs,
      );
      return added === 1 ? 'added' : 'conflict';
    },
    async listBeacons(shopperId) {
      return all('SELECT * FROM beacons WHERE shopper_id = ? ORDER BY created_at_ms, id', shopperId).map(toLinkedBeacon);
    },
    async removeBeacon(shopperId, id) {
      return run('DELETE FROM beacons WHERE id = ? AND shopper_id = ?', id, shopperId) === 1;
    },
    async listResolvableBeacons(shopperId) {
      return all(
        `SELECT b.* FROM beacons b JOIN shoppers s ON s.id = b.shopper_id JOIN consent_state c ON c.shopper_id = s.id
         WHERE c.purpose = 'presence' AND c.granted = 1 AND s.erased_at_ms IS NULL AND s.restricted = 0 ${shopperId === undefined ? '' : 'AND b.shopper_id = ?'} ORDER BY b.id`,
        ...(shopperId === undefined ? [] : [shopperId]),
      ).map(toLinkedBeacon);
    },
    async appendConsent(records, audit = []) {
      return appendConsent.immediate(records, audit);
    },
    async appendAudit(draft) {
      return appendAudit.immediate(parseAuditDraft(draft));
    },
    async listAudit(fromSeq, limit) {
      return all('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?', fromSeq, limit).map(toAuditRecord);
    },
    async getConsentState(shopperId) {
      return consentState(shopperId);
    },
    async appendConsentLapses(lapses) {
      const checked = lapses.map((lapse) => ({ ...lapse, audit: parseAuditDraft(lapse.audit) }));
      return appendConsentLapses.immediate(checked);
    },
    async listConsentLapseCandidates(query) {
      const { sql, params } = lapseCandidateStatement(query, 'question');
      return all(sql, ...params).map(toLapseCandidate);
    },
    async rebuildConsentState() {
      return rebuildConsentState.immediate();
    },
    async findConsentStateDrift(limit) {
      return all(consentDriftStatement('question'), limit).map((r) => ({ shopperId: String(r.shopper_id), purpose: r.purpose as Purpose }));
    },
    async archiveConsentTexts(texts, atMs) {
      return archiveConsentTexts.immediate(texts, atMs);
    },
    async getConsentText(sha256) {
      const row = get('SELECT * FROM consent_texts WHERE sha256 = ?', sha256);
      return row ? toArchivedText(row) : undefined;
    },
    async setShopperAgeFacts(shopperId, facts) {
      run('UPDATE shoppers SET country = ?, birth_year = ? WHERE id = ?', facts.country, facts.birthYear, shopperId);
    },
    async setShopperAttributes(shopperId, attributes) {
      run('UPDATE shoppers SET loyalty_tier = ?, interests = ? WHERE id = ? AND erased_at_ms IS NULL', attributes.loyaltyTier, interestsColumn(attributes.interests), shopperId);
    },
    async recordVisitActivity(storeId, shopperId, atMs, startsVisit) {
      return recordVisitActivity.immediate(storeId, shopperId, atMs, startsVisit);
    },
    async listConsentRecords(shopperId) {
      return all('SELECT * FROM consent_records WHERE shopper_id = ? ORDER BY seq', shopperId).map(toConsentRecord);
    },
    async putCampaign(campaign, atMs) {
      putCampaign(campaign, atMs);
    },
    async listCampaigns(storeId) {
      return listCampaignRecords({ storeId }).map((r) => r.campaign);
    },
    async getCampaign(id) {
      const found = get('SELECT * FROM campaigns WHERE id = ?', id);
      return found === undefined ? undefined : toCampaignRecord(found);
    },
    async listCampaignRecords(filter) {
      return listCampaignRecords(filter);
    },
    async listCampaignVersions(id) {
      return all('SELECT * FROM campaign_versions WHERE campaign_id = ? ORDER BY version', id).map(toCampaignVersion);
    },
    async saveCampaignDefinition(save) {
      return saveCampaignDefinition.immediate(save);
    },
    async transitionCampaign(transition) {
      return transitionCampaign.immediate(transition);
    },
    async createPrincipal(principal) {
      run('INSERT INTO principals (id, name, role, key_hash, created_at_ms) VALUES (?, ?, ?, ?, ?)', principal.id, principal.name, principal.role, principal.keyHash, principal.createdAtMs);
    },
    async listPrincipals() {
      return all('SELECT * FROM principals ORDER BY created_at_ms, id').map(toPrincipal);
    },
    async findPrincipalByKeyHash(keyHash) {
      const found = get('SELECT * FROM principals WHERE key_hash = ? AND revoked_at_ms IS NULL', keyHash);
      return found === undefined ? undefined : toPrincipal(found);
    },
    async revokePrincipal(id, atMs) {
      return run('UPDATE principals SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL', atMs, id) === 1;
    },
    async createUser(user) {
      return run(INSERT_USER, user.id, user.username, user.role, user.passwordHash, user.createdAtMs) === 1;
    },
    async listUsers() {
      return all(LIST_USERS).map(toUser);
    },
    async findUserByUsername(username) {
      const found = get(FIND_USER, username);
      return found === undefined ? undefined : toUser(found);
    },
    async disableUser(id, atMs) {
      return disableUser.immediate(id, atMs);
    },
    async recordLoginFailure(userId, atMs, policy) {
      const found = get(LOGIN_FAILURE, ...loginFailureParams(userId, atMs, policy));
      if (found === undefined) throw new Error(`recordLoginFailure: no user ${userId}`);
      return { failedLogins: Number(found.failed_logins), lockedUntilMs: found.locked_until_ms === null ? null : Number(found.locked_until_ms) };
    },
    async recordLoginSuccess(userId) {
      run(LOGIN_SUCCESS, userId);
    },
    async createSession(session, idleTimeoutMs) {
      createSession.immediate(session, idleTimeoutMs);
    },
    async lookupSession(idHash, nowMs, idleTimeoutMs) {
      const { lookup, touch, remove } = readSessionRow(get(FIND_SESSION, idHash), nowMs, idleTimeoutMs);
      if (remove) run(DELETE_SESSION, idHash);
      if (touch) run(TOUCH_SESSION, nowMs, idHash, nowMs);
      return lookup;
    },
    async deleteSession(idHash) {
      return run(DELETE_SESSION, idHash) === 1;
    },
    async acceptSequence(gatewayId, boot, seq, eventId, atMs) {
      return acceptSequence.immediate(gatewayId, boot, seq, eventId, atMs);
    },
    async pruneSequences(beforeMs) {
      return run('DELETE FROM event_sequences WHERE at_ms < ?', beforeMs);
    },
    async purgeBefore(kind, cutoffMs, batchLimit) {
      checkPurgeArguments(kind, cutoffMs, batchLimit);
      const { sql, cutoff } = purgeBatchStatement(kind, 'question', cutoffMs);
      const statement = db.prepare(sql);
      let deleted = 0;
      let batches = 0;
      for (;;) {
        const changes = statement.run(cutoff, batchLimit).changes;
        batches += 1;
        deleted += changes;
        if (changes < batchLimit) return { deleted, batches };
        // The driver is synchronous: between batches, let the event loop (and other processes' writers) in.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
    async recordPresence(e, receivedAtMs) {
      return insertPresence(e, receivedAtMs);
    },
    async applyPresence(step) {
      return writes.run(() => applyPresence(step));
    },
    async configVersion() {
      return num(get('SELECT version FROM config_version WHERE id = 1')!.version);
    },
    async recordPromotion(draft) {
      return writes.run(() => recordPromotion(draft));
    },
    async updateZoneState(storeId, shopperId, update) {
      return db.transaction(() => zoneStateLocked(storeId, shopperId, update)).immediate();
    },
    async getZoneState(storeId, shopperId) {
      const row = get('SELECT state FROM zone_states WHERE store_id = ? AND shopper_id = ?', storeId, shopperId);
      return row === undefined ? undefined : zoneStateOf(row.state);
    },
    async listZoneStatesDue(nowMs, limit) {
      return all('SELECT store_id, shopper_id FROM zone_states WHERE due_at_ms <= ? ORDER BY due_at_ms LIMIT ?', nowMs, limit)
        .map((r) => ({ storeId: String(r.store_id), shopperId: String(r.shopper_id) }));
    },
    async getPromotion(id) {
      const row = get('SELECT * FROM promotions WHERE id = ?', id);
      return row ? toPromotion(row) : undefined;
    },
    async listUnackedPromotions(shopperId, nowMs) {
      return all(`SELECT * FROM promotions WHERE shopper_id = ? AND status = 'pending' AND expires_at_ms > ? ORDER BY created_at_ms, id`, shopperId, nowMs).map(toPromotion);
    },
    async markPromotionDelivered(id, atMs) {
      await writes.run(() => run('UPDATE promotions SET delivered_at_ms = COALESCE(delivered_at_ms, ?) WHERE id = ?', atMs, id));
    },
    async ackPromotion(shopperId, id, atMs) {
      return writes.run(() => run(`UPDATE promotions SET status = 'acked', acked_at_ms = COALESCE(acked_at_ms, ?) WHERE id = ? AND shopper_id = ? AND status NOT IN ('cancelled', 'held-out')`, atMs, id, shopperId) === 1);
    },
    async markPromotionOpened(shopperId, id, atMs) {
      return writes.run(() => run(MARK_OPENED, atMs, atMs, id, shopperId) === 1);
    },
    async recordConversions(e) {
      return run(RECORD_CONVERSIONS, e.atMs, e.shopperId, e.atMs, e.atMs, e.storeId, conversionZonePattern(e.zoneId));
    },
    async campaignGroupCounts(campaignId) {
      return all(CAMPAIGN_GROUP_COUNTS, campaignId).map(toGroupCounts);
    },
    async rollupZoneAnalytics(bucketMs, untilMs, minShoppers) {
      checkRollupArguments(bucketMs, untilMs, minShoppers);
      return rollupZoneAnalytics.immediate(bucketMs, untilMs, minShoppers);
    },
    async zoneRollupWatermark(bucketMs) {
      return watermarkOf(get('SELECT rolled_until_ms FROM analytics_rollups WHERE bucket_ms = ?', bucketMs));
    },
    async listZoneFootfall(storeId, bucketMs, fromMs, toMs) {
      return all(LIST_FOOTFALL, storeId, bucketMs, fromMs, toMs).map(toZoneCell);
    },
    async listZoneDwell(storeId, bucketMs, fromMs, toMs) {
      return all(LIST_DWELL, storeId, bucketMs, fromMs, toMs).map(toZoneDwellCell);
    },
    async campaignActivity(campaignId, buckets) {
      checkActivityBuckets(buckets);
      if (buckets.length === 0) return [];
      const fromMs = buckets[0]!.startMs;
      const toMs = buckets.at(-1)!.endMs;
      // One read transaction: the three metrics from one snapshot.
      const read = db.transaction(() => Object.fromEntries(SERIES_METRICS.map((metric) => [metric, all(campaignActivitySql(metric), campaignId, fromMs, toMs)])) as Record<SeriesMetric, Row[]>);
      return foldCampaignActivity(buckets, read());
    },
    async zoneOccupancy(storeId, seenSinceMs) {
      return all(zoneOccupancySql(SQLITE_CURRENT_ZONE), storeId, seenSinceMs).map(toZoneOccupancy);
    },
    async zoneEventCounts(storeId, fromMs, toMs) {
      return all(ZONE_EVENT_COUNTS, storeId, fromMs, toMs).map(toZoneEventCount);
    },
    async expireUndelivered(nowMs, limit) {
      checkExpiryArguments(nowMs, limit);
      // One statement: SQLite runs it alone among writers (every process), so the batch is claimed once.
      // Positional placeholders, in order: nowMs (the batch), limit, nowMs (the re-check).
      return tallyExpired(all(expireUndeliveredStatement(['?', '?']), nowMs, limit, nowMs));
    },
    async putPushTarget(shopperId, targetSealed, atMs) {
      return run(`INSERT INTO push_targets (shopper_id, target_sealed, updated_at_ms) SELECT id, ?, ? FROM shoppers WHERE id = ? AND erased_at_ms IS NULL
                  ON CONFLICT (shopper_id) DO UPDATE SET target_sealed = excluded.target_sealed, updated_at_ms = excluded.updated_at_ms`, b64(targetSealed), atMs, shopperId) === 1;
    },
    async deletePushTarget(shopperId) {
      return run('DELETE FROM push_targets WHERE shopper_id = ?', shopperId) === 1;
    },
    async getPushTargetSealed(shopperId) {
      const row = get('SELECT target_sealed FROM push_targets WHERE shopper_id = ?', shopperId);
      return row ? unb64(row.target_sealed) : undefined;
    },
    async enqueueWebhookDelivery(promotionId, atMs) {
      return run(`INSERT INTO webhook_deliveries (promotion_id, next_attempt_at_ms, status, updated_at_ms) VALUES (?, ?, 'queued', ?) ON CONFLICT (promotion_id) DO NOTHING`, promotionId, atMs, atMs) === 1;
    },
    async claimWebhookDeliveries(nowMs, leaseMs, limit) {
      // One statement, and SQLite has one writer at a time: a row is claimed by one instance at a time.
      return all(
        `UPDATE webhook_deliveries SET claimed_until_ms = ?, attempts = attempts + 1, updated_at_ms = ?
         WHERE promotion_id IN (SELECT promotion_id FROM webhook_deliveries WHERE status = 'queued' AND next_attempt_at_ms <= ? AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?) ORDER BY next_attempt_at_ms, promotion_id LIMIT ?)
         RETURNING *`,
        nowMs + leaseMs, nowMs, nowMs, nowMs, limit,
      ).map(toWebhookDelivery).sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || (a.promotionId < b.promotionId ? -1 : 1));
    },
    async finishWebhookAttempt(promotionId, attempt, outcome) {
      const c = webhookOutcomeColumns(outcome);
      return run(
        `UPDATE webhook_deliveries SET status = ?, next_attempt_at_ms = COALESCE(?, next_attempt_at_ms), last_error = ?, claimed_until_ms = NULL, updated_at_ms = ?
         WHERE promotion_id = ? AND attempts = ? AND status = 'queued'`,
        c.status, c.nextAttemptAtMs, c.lastError, c.atMs, promotionId, attempt,
      ) === 1;
    },
    async getWebhookDelivery(promotionId) {
      const row = get('SELECT * FROM webhook_deliveries WHERE promotion_id = ?', promotionId);
      return row ? toWebhookDelivery(row) : undefined;
    },
    async listDeadWebhookDeliveries(limit, afterPromotionId) {
      checkDeadLetterPage(limit);
      return all(`SELECT * FROM webhook_deliveries WHERE status = 'dead' AND promotion_id > ? ORDER BY promotion_id LIMIT ?`, afterPromotionId ?? '', limit).map(toWebhookDelivery);
    },
    async replayDeadWebhookDeliveries(promotionIds, nowMs, actor) {
      checkReplayIds(promotionIds);
      return db.transaction(() => {
        const requeued = all(
          `UPDATE webhook_deliveries SET ${REPLAY_SET} WHERE status = 'dead' AND promotion_id IN (${promotionIds.map(() => '?').join(', ')}) RETURNING promotion_id`,
          nowMs, nowMs, ...promotionIds,
        ).map((r) => String(r.promotion_id)).sort();
        if (requeued.length > 0) appendAuditLocked(replayAudit(actor, nowMs, promotionIds.length, requeued.length));
        return requeued;
      }).immediate();
    },
    async createPosDevice(d) {
      run('INSERT INTO pos_devices (id, store_id, name, token_hash, created_at_ms) VALUES (?, ?, ?, ?, ?)', d.id, d.storeId, d.name, d.tokenHash, d.createdAtMs);
    },
    async listPosDevices(storeId) {
      return all('SELECT * FROM pos_devices WHERE store_id = ? ORDER BY created_at_ms, id', storeId).map(toPosDevice);
    },
    async findPosDeviceByTokenHash(tokenHash) {
      const row = get('SELECT * FROM pos_devices WHERE token_hash = ? AND revoked_at_ms IS NULL', tokenHash);
      return row ? toPosDevice(row) : undefined;
    },
    async revokePosDevice(storeId, deviceId, atMs) {
      return run('UPDATE pos_devices SET revoked_at_ms = ? WHERE id = ? AND store_id = ? AND revoked_at_ms IS NULL', atMs, deviceId, storeId) === 1;
    },
    async redeemCoupon(request) {
      return redeemCoupon.immediate(request);
    },
    async counts(): Promise<StoreCounts> {
      const count = (sql: string): number => num(get(sql)!.n);
      return {
        shoppers: count('SELECT COUNT(*) AS n FROM shoppers'),
        consentRecords: count('SELECT COUNT(*) AS n FROM consent_records'),
        presenceEvents: count('SELECT COUNT(*) AS n FROM presence_events'),
        promotions: count(`SELECT COUNT(*) AS n FROM promotions WHERE status NOT IN ('cancelled', 'held-out')`),
        exposuresHeldOut: count(`SELECT COUNT(*) AS n FROM promotions WHERE status = 'held-out'`),
        promotionsAcked: count(`SELECT COUNT(*) AS n FROM promotions WHERE status = 'acked'`),
        epochKeys: count('SELECT COUNT(*) AS n FROM epoch_keys WHERE key_sealed IS NOT NULL'),
      };
    },
    async readShopperData(shopperId) {
      return readShopperData.deferred(shopperId);
    },
    async eraseShopper(shopperId, atMs, audit) {
      return eraseShopper.immediate(shopperId, atMs, audit);
    },
    async getErasureProof(shopperId) {
      const row = get('SELECT * FROM erasure_proofs WHERE shopper_id = ?', shopperId);
      return row === undefined ? undefined : toErasureProof(row);
    },
    async recordObjection(shopperId, atMs, records, audit) {
      return recordObjection.immediate(shopperId, atMs, records, audit);
    },
    async isSuppressed(deviceSecretDigest) {
      return get('SELECT 1 AS found FROM suppressions WHERE device_secret_digest = ?', deviceSecretDigest) !== undefined;
    },
    async setRestriction(shopperId, restricted, atMs, audit) {
      return setRestriction.immediate(shopperId, restricted, atMs, parseAuditDraft(audit));
    },
  };
  return store;
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      for (const statement of migration.statements) db.exec(statement);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now());
    }).immediate();
  }
}

const zoneStateOf = (json: unknown): ZoneState => ZoneStateSchema.parse(JSON.parse(String(json)));
