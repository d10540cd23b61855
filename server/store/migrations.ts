// Schema migrations, in the portable subset of SQL that SQLite and PostgreSQL both run unchanged:
// TEXT, BIGINT, INTEGER; binary values as base64 TEXT; booleans as INTEGER 0/1; times as epoch ms/s.
// Append new migrations; never edit an applied one.

export type Migration = { version: number; name: string; statements: string[] };

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'foundation',
    statements: [
      `CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
      `CREATE TABLE stores (id TEXT PRIMARY KEY, name TEXT NOT NULL, timezone TEXT NOT NULL)`,
      `CREATE TABLE zones (store_id TEXT NOT NULL REFERENCES stores(id), id TEXT NOT NULL, name TEXT NOT NULL, sensitive INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (store_id, id))`,
      `CREATE TABLE gateways (id TEXT PRIMARY KEY, store_id TEXT NOT NULL REFERENCES stores(id), zone_id TEXT NOT NULL, secret_sealed TEXT NOT NULL, last_seen_at_ms BIGINT, online INTEGER NOT NULL DEFAULT 0)`,
      `CREATE TABLE epoch_keys (key_id TEXT PRIMARY KEY, store_id TEXT NOT NULL REFERENCES stores(id), key_sealed TEXT, not_before_s BIGINT NOT NULL, not_after_s BIGINT NOT NULL, destroyed_at_s BIGINT)`,
      `CREATE TABLE shoppers (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, identity_key_sealed TEXT, rotation_exponent INTEGER NOT NULL, locale TEXT NOT NULL, first_name TEXT, created_at_ms BIGINT NOT NULL, erased_at_ms BIGINT)`,
      `CREATE TABLE consent_records (id TEXT PRIMARY KEY, shopper_id TEXT NOT NULL REFERENCES shoppers(id), purpose TEXT NOT NULL, granted INTEGER NOT NULL, text_version TEXT NOT NULL, text_sha256 TEXT NOT NULL, locale TEXT NOT NULL, server_time_ms BIGINT NOT NULL, client_time_ms BIGINT, channel TEXT NOT NULL, previous_granted INTEGER, seq BIGINT NOT NULL)`,
      `CREATE INDEX consent_records_shopper ON consent_records (shopper_id, seq)`,
      `CREATE TABLE consent_state (shopper_id TEXT NOT NULL REFERENCES shoppers(id), purpose TEXT NOT NULL, granted INTEGER NOT NULL, text_version TEXT NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (shopper_id, purpose))`,
      `CREATE TABLE campaigns (id TEXT PRIMARY KEY, store_id TEXT NOT NULL REFERENCES stores(id), status TEXT NOT NULL, definition TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)`,
      `CREATE TABLE presence_events (event_id TEXT PRIMARY KEY, shopper_id TEXT NOT NULL REFERENCES shoppers(id), store_id TEXT NOT NULL, zone_id TEXT NOT NULL, kind TEXT NOT NULL, at_s BIGINT NOT NULL, dwell_s INTEGER NOT NULL, received_at_ms BIGINT NOT NULL)`,
      `CREATE INDEX presence_events_shopper ON presence_events (shopper_id, at_s)`,
      `CREATE TABLE promotions (id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, shopper_id TEXT NOT NULL REFERENCES shoppers(id), event_id TEXT NOT NULL, store_id TEXT NOT NULL, zone_id TEXT NOT NULL, coupon_code TEXT NOT NULL UNIQUE, created_at_ms BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL, delivered_at_ms BIGINT, acked_at_ms BIGINT, status TEXT NOT NULL, message TEXT NOT NULL)`,
      `CREATE INDEX promotions_shopper ON promotions (shopper_id, created_at_ms)`,
    ],
  },
  {
    version: 2,
    name: 'event sequences',
    statements: [
      // Replay guard: each (gateway, boot, seq) is accepted once, whichever instance sees it first.
      // Transport metadata only (no pseudonym), kept as long as the event could still pass the
      // freshness check, then pruned.
      `CREATE TABLE event_sequences (gateway_id TEXT NOT NULL, boot TEXT NOT NULL, seq BIGINT NOT NULL, event_id TEXT NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (gateway_id, boot, seq))`,
      `CREATE INDEX event_sequences_at ON event_sequences (at_ms)`,
    ],
  },
  {
    version: 3,
    name: 'loyalty beacons',
    statements: [
      // A shopper's own physical beacon (iBeacon or Eddystone-UID), linked with presence consent. The
      // identifier is personal data: it is kept only sealed (AES-256-GCM under the master key, label
      // beacon-identifier:<id>). Uniqueness is enforced on identifier_digest, a keyed hash (HMAC-SHA-256
      // under a key derived from the master key, of kind ‖ identifier), so it needs no plaintext.
      // Erasing the shopper deletes these rows.
      `CREATE TABLE beacons (id TEXT PRIMARY KEY, shopper_id TEXT NOT NULL REFERENCES shoppers(id), kind TEXT NOT NULL, identifier_sealed TEXT NOT NULL, identifier_digest TEXT NOT NULL, created_at_ms BIGINT NOT NULL)`,
      `CREATE UNIQUE INDEX beacons_identifier ON beacons (identifier_digest)`,
      `CREATE INDEX beacons_shopper ON beacons (shopper_id, created_at_ms)`,
    ],
  },
  {
    version: 4,
    name: 'store beacons',
    statements: [
      // A store's own iBeacons (not personal data), which iOS apps monitor as regions and report
      // sightings of (POST /v1/me/sightings); each stands in one zone.
      `CREATE TABLE store_beacons (store_id TEXT NOT NULL REFERENCES stores(id), id TEXT NOT NULL, zone_id TEXT NOT NULL, uuid TEXT NOT NULL, major INTEGER NOT NULL, minor INTEGER NOT NULL, PRIMARY KEY (store_id, id))`,
      `CREATE UNIQUE INDEX store_beacons_identity ON store_beacons (store_id, uuid, major, minor)`,
    ],
  },
  {
    version: 5,
    name: 'gateway settings',
    statements: [
      // Presence settings an operator sets per gateway (thresholds, timeouts; numbers only, no personal
      // data), sent on the gateway's retained config topic. JSON of RemotePresenceSettings.
      `CREATE TABLE gateway_settings (gateway_id TEXT PRIMARY KEY REFERENCES gateways(id), presence TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)`,
    ],
  },
  {
    version: 6,
    name: 'incremental resolver resync',
    statements: [
      // The resolver's minute resync reads only the shoppers whose presence consent changed, or who
      // were erased, since the last one (listShopperChangesSince), not all of them.
      `CREATE INDEX consent_state_changes ON consent_state (purpose, at_ms)`,
      `CREATE INDEX shoppers_erased ON shoppers (erased_at_ms)`,
    ],
  },
  {
    // Version 7, not 6: versions 5 and 6 are taken by other branches (issue 4); the runners apply
    // whatever versions are missing, so the gap is harmless.
    version: 7,
    name: 'zone arbitration',
    statements: [
      // One row per (store, shopper): the zone arbiter's state (domain/zone-arbiter.ts) as JSON —
      // zone IDs, proximity band ranks, times and the IDs of the last events applied, nothing else
      // (MIN-4, MIN-6: zone level). version counts the writes; due_at_ms is when time alone next
      // changes the state (the sweep's index). Erasing the shopper deletes these rows.
      `CREATE TABLE zone_states (store_id TEXT NOT NULL, shopper_id TEXT NOT NULL REFERENCES shoppers(id), state TEXT NOT NULL, version BIGINT NOT NULL, due_at_ms BIGINT, PRIMARY KEY (store_id, shopper_id))`,
      `CREATE INDEX zone_states_due ON zone_states (due_at_ms)`,
    ],
  },
  {
    version: 8,
    name: 'audit log',
    statements: [
      // The tamper-evident audit log (ACC-1, domain/audit-chain.ts): hash = SHA-256(prev_hash ‖
      // canonical entry). details is JSON without personal data (IDs, counts, purposes, text versions).
      // Append-only: nothing updates or deletes these rows; seq is dense from 1, so a removed row shows as a gap.
      `CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`,
    ],
  },
  {
    version: 9,
    name: 'retention purge indexes',
    statements: [
      // The retention purge (Store.purgeBefore) picks rows by age in batches: by the event's time, and
      // by the promotion's creation (RET-2, RET-3). event_sequences has its index (at_ms) already.
      `CREATE INDEX presence_events_at ON presence_events (at_s)`,
      `CREATE INDEX promotions_created ON promotions (created_at_ms)`,
      // The latest time a zone state records (domain/retention.ts zoneStateLastSeenMs), written with it, so
      // an idle state (due_at_ms NULL) can be deleted by age. States written before this stay NULL until
      // their next write, and are not aged out until then.
      `ALTER TABLE zone_states ADD COLUMN last_seen_ms BIGINT`,
      `CREATE INDEX zone_states_last_seen ON zone_states (last_seen_ms)`,
    ],
  },
  {
    version: 10,
    name: 'consent ledger',
    statements: [
      // ACC-3: every consent text the server has shown, immutable and addressed by the SHA-256 of its exact
      // UTF-8 text. Rows are only ever inserted (insert-if-absent by hash, at every start); one text per
      // (purpose, version, locale), so a text changed without a new version is caught at start.
      `CREATE TABLE consent_texts (sha256 TEXT PRIMARY KEY, purpose TEXT NOT NULL, version TEXT NOT NULL, locale TEXT NOT NULL, text TEXT NOT NULL, archived_at_ms BIGINT NOT NULL)`,
      `CREATE UNIQUE INDEX consent_texts_version ON consent_texts (purpose, version, locale)`,
      // CON-6/7: the server's own withdrawals (channel 'system') say why: 'text-superseded', 'expired' or 'age-gate'.
      `ALTER TABLE consent_records ADD COLUMN reason TEXT`,
      // The lapse job's one query reads granted rows by purpose, version and age, in key order.
      `CREATE INDEX consent_state_granted ON consent_state (granted, shopper_id, purpose, text_version, at_ms)`,
      // CON-7: the age gate's facts. country is ISO 3166-1 alpha-2; birth_year is personal data (never logged).
      `ALTER TABLE shoppers ADD COLUMN country TEXT`,
      `ALTER TABLE shoppers ADD COLUMN birth_year INTEGER`,
    ],
  },
  {
    version: 11,
    name: 'data-subject rights',
    statements: [
      // Restriction (DSR-4): the data is kept but every processing path skips the shopper. The change
      // time lets listShopperChangesSince report it, so other instances' resync drops (or re-adds) them.
      `ALTER TABLE shoppers ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE shoppers ADD COLUMN restriction_changed_at_ms BIGINT`,
      `CREATE INDEX shoppers_restriction_changed ON shoppers (restriction_changed_at_ms)`,
      // Objection to marketing (DSR-3). device_secret_digest is HMAC-SHA-256 of the app's device secret
      // under a key derived from the master key: never the secret itself. Erasure clears both on the
      // shopper row; an objection survives in suppressions.
      `ALTER TABLE shoppers ADD COLUMN objected_at_ms BIGINT`,
      `ALTER TABLE shoppers ADD COLUMN device_secret_digest TEXT`,
      // One row per objection: the shopper ID and, if their app sent one, the device secret's digest, so a
      // re-registration from the same device starts out objected. Kept after erasure (docs/data-subject-rights.md).
      `CREATE TABLE suppressions (shopper_id TEXT PRIMARY KEY, device_secret_digest TEXT UNIQUE, objected_at_ms BIGINT NOT NULL)`,
      // The minimal proof left by an erasure (DSR-2): no personal content — the ID, when, the SHA-256 of
      // the deleted consent ledger (canonical JSON) and the final per-purpose state with its times.
      `CREATE TABLE erasure_proofs (shopper_id TEXT PRIMARY KEY, erased_at_ms BIGINT NOT NULL, consent_records INTEGER NOT NULL, consent_ledger_sha256 TEXT NOT NULL, final_state TEXT NOT NULL)`,
      // The export (DSR-1) reads the audit entries about one shopper.
      `CREATE INDEX audit_log_subject ON audit_log (subject, seq)`,
    ],
  },
  {
    version: 12,
    name: 'app credential expiry, rotation and request proofs',
    statements: [
      // The app credential ages from its issue (registration or rotation); token_refused_at_ms marks the
      // first refusal of the current credential as expired, so that refusal is audited once per credential.
      `ALTER TABLE shoppers ADD COLUMN token_issued_at_ms BIGINT`,
      `UPDATE shoppers SET token_issued_at_ms = created_at_ms`,
      `ALTER TABLE shoppers ADD COLUMN token_refused_at_ms BIGINT`,
      // The last few replaced credentials of each shopper (SHA-256 only), to tell "replaced" (401
      // CREDENTIAL_REVOKED, audited once) from "unknown". Erasing the shopper deletes these rows.
      `CREATE TABLE app_token_history (token_hash TEXT PRIMARY KEY, shopper_id TEXT NOT NULL, replaced_at_ms BIGINT NOT NULL, refused_at_ms BIGINT)`,
      `CREATE INDEX app_token_history_shopper ON app_token_history (shopper_id, replaced_at_ms)`,
      // Request-proof nonces, each usable once per shopper across every instance (the primary key is the
      // claim), kept until the proof's time alone refuses it, then purged ('proof-nonces').
      `CREATE TABLE proof_nonces (shopper_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at_ms BIGINT NOT NULL, PRIMARY KEY (shopper_id, nonce))`,
      `CREATE INDEX proof_nonces_expires ON proof_nonces (expires_at_ms)`,
    ],
  },
  {
    version: 13,
    name: 'point-of-sale redemption',
    statements: [
      // A store's tills (POS devices): only the SHA-256 of each device's bearer token is kept, as for app
      // credentials; a revoked device keeps its row (revoked_at_ms) so its ID in the audit log still resolves.
      `CREATE TABLE pos_devices (id TEXT PRIMARY KEY, store_id TEXT NOT NULL REFERENCES stores(id), name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT)`,
      `CREATE INDEX pos_devices_store ON pos_devices (store_id, created_at_ms)`,
      // A coupon is redeemed once: one conditional UPDATE sets these columns only while redeemed_at_ms is
      // NULL (Store.redeemCoupon). redemption_request_id is the till's idempotency key, so its retry gets
      // the same answer. The row is the promotion's: erasure and the retention purge delete it with it.
      `ALTER TABLE promotions ADD COLUMN redeemed_at_ms BIGINT`,
      `ALTER TABLE promotions ADD COLUMN redeemed_by_device_id TEXT`,
      `ALTER TABLE promotions ADD COLUMN redemption_request_id TEXT`,
    ],
  },
  {
    version: 14,
    name: 'webhook delivery queue',
    statements: [
      // The push-provider webhook's durable queue (server/delivery/webhook-delivery.ts): one row per
      // promotion, keyed by its ID only (no personal data). A worker claims due rows with one UPDATE that
      // sets a lease (claimed_until_ms) and counts the attempt, so two instances never send one row at once
      // and a killed worker's lease runs out for another to retry. status: queued | sent | dead | dropped.
      `CREATE TABLE webhook_deliveries (promotion_id TEXT PRIMARY KEY, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at_ms BIGINT NOT NULL, claimed_until_ms BIGINT, status TEXT NOT NULL, last_error TEXT, updated_at_ms BIGINT NOT NULL)`,
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at_ms)`,
      // The push target each shopper's app registered (PUT /v1/me/push-target): personal data (it
      // addresses one device), so only sealed under the master key, labelled per shopper. Erasure deletes it.
      `CREATE TABLE push_targets (shopper_id TEXT PRIMARY KEY REFERENCES shoppers(id), target_sealed TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)`,
    ],
  },
  {
    version: 15,
    name: 'expiry of undelivered promotions',
    statements: [
      // Store.expireUndelivered finds pending promotions past their expiry without scanning the table.
      `CREATE INDEX promotions_expiry ON promotions (status, expires_at_ms)`,
    ],
  },
  {
    version: 16,
    name: 'principals and campaign lifecycle',
    statements: [
      // API keys of people and machines (SEC-2): only the SHA-256 of each key is kept, as for app and
      // till credentials; a revoked key keeps its row, so its principal ID in the audit log still resolves.
      `CREATE TABLE principals (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT)`,
      // The campaigns table is rebuilt: a campaign placed in several stores (or the whole organisation)
      // is indexed by store_id '*', which the old foreign key to stores refused; and it gains its version
      // and the lifecycle's metadata (who wrote the current version, who submitted and approved it).
      // definition keeps the whole campaign as JSON; status and version in their columns are authoritative.
      `CREATE TABLE campaigns_lifecycle (id TEXT PRIMARY KEY, store_id TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, authored_by TEXT, authored_at_ms BIGINT, submitted_by TEXT, submitted_at_ms BIGINT, approved_by TEXT, approved_at_ms BIGINT, status_changed_by TEXT, status_changed_at_ms BIGINT)`,
      `INSERT INTO campaigns_lifecycle (id, store_id, status, version, definition, created_at_ms, updated_at_ms) SELECT id, store_id, status, 1, definition, updated_at_ms, updated_at_ms FROM campaigns`,
      `DROP TABLE campaigns`,
      `ALTER TABLE campaigns_lifecycle RENAME TO campaigns`,
      `CREATE INDEX campaigns_store ON campaigns (store_id, id)`,
      // Every saved definition of a campaign, immutable: what each version said, who wrote it, and its SHA-256.
      `CREATE TABLE campaign_versions (campaign_id TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL, definition_sha256 TEXT NOT NULL, authored_by TEXT, authored_at_ms BIGINT NOT NULL, PRIMARY KEY (campaign_id, version))`,
      ],
    },
    {
    version: 17,
    name: 'store hours, shopper attributes, visit history, campaign budgets',
    statements: [
      // A store's opening and quiet hours: JSON arrays of weekly windows (campaign.ts WeeklyWindowSchema), local to its time zone; NULL = none.
      `ALTER TABLE stores ADD COLUMN opening_hours TEXT`,
      `ALTER TABLE stores ADD COLUMN quiet_hours TEXT`,
      // Shopper-provided attributes, used only with P2 (segments, templates); interests a JSON array. Erasure clears them.
      `ALTER TABLE shoppers ADD COLUMN loyalty_tier TEXT`,
      `ALTER TABLE shoppers ADD COLUMN interests TEXT`,
      // Visit history (profiling, kept only with P2): per (store, shopper) the visit count, the current
      // visit's start, the last presence, and the previous visit's last presence (for 'return' triggers). Erasure deletes it; the purge ages it out 12 months after
      // the last presence (RET-3).
      `CREATE TABLE store_visits (store_id TEXT NOT NULL, shopper_id TEXT NOT NULL REFERENCES shoppers(id), visit_count INTEGER NOT NULL, visit_started_at_ms BIGINT NOT NULL, last_seen_at_ms BIGINT NOT NULL, previous_visit_last_seen_ms BIGINT, PRIMARY KEY (store_id, shopper_id))`,
      `CREATE INDEX store_visits_last_seen ON store_visits (last_seen_at_ms)`,
      // Budgets count a campaign's promotions in the send transaction.
      `CREATE INDEX promotions_campaign ON promotions (campaign_id, status, expires_at_ms)`,
      ],
    },
    {
    version: 18,
    name: 'experiments, opens, attribution and analytics rollups',
    statements: [
      // The experiment group of each exposure (a variant ID, 'holdout', or NULL without an experiment): a
      // held-out shopper's row has status 'held-out', is never delivered or redeemed, and counts toward caps.
      `ALTER TABLE promotions ADD COLUMN variant TEXT`,
      // When the app reported the shopper opened it (POST /v1/me/promotions/:id/opened, or {type:'opened'}).
      `ALTER TABLE promotions ADD COLUMN opened_at_ms BIGINT`,
      // Attribution (P3 only): analytics = 1 when analytics consent was granted at the exposure; a conversion
      // (entering one of conversion_zones — ",zone-a,zone-b," — in the same store before conversion_until_ms)
      // sets converted_at_ms once, by one conditional UPDATE of that shopper's open exposures.
      `ALTER TABLE promotions ADD COLUMN analytics INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE promotions ADD COLUMN conversion_zones TEXT`,
      `ALTER TABLE promotions ADD COLUMN conversion_until_ms BIGINT`,
      `ALTER TABLE promotions ADD COLUMN converted_at_ms BIGINT`,
      `CREATE INDEX promotions_conversion ON promotions (shopper_id, conversion_until_ms)`,
      `CREATE INDEX promotions_campaign_variant ON promotions (campaign_id, variant)`,
      // Anonymous zone aggregates (AN-1, AN-2): counts of distinct analytics-consenting shoppers per zone
      // and closed time bucket, no shopper ID, no sequence. Cells below the k floor (10) are never written.
      // bucket_ms is the bucket's size (900000, 3600000 or 86400000); the key makes each cell written once.
      `CREATE TABLE zone_footfall (store_id TEXT NOT NULL, zone_id TEXT NOT NULL, bucket_ms BIGINT NOT NULL, bucket_start_ms BIGINT NOT NULL, shoppers INTEGER NOT NULL, PRIMARY KEY (store_id, zone_id, bucket_ms, bucket_start_ms))`,
      `CREATE TABLE zone_dwell (store_id TEXT NOT NULL, zone_id TEXT NOT NULL, bucket_ms BIGINT NOT NULL, bucket_start_ms BIGINT NOT NULL, dwell_bin INTEGER NOT NULL, shoppers INTEGER NOT NULL, PRIMARY KEY (store_id, zone_id, bucket_ms, bucket_start_ms, dwell_bin))`,
      // How far each bucket size has been rolled up (exclusive end, epoch ms): the rollup's claim, advanced in
      // the transaction that writes the cells, so two instances roll each bucket up once.
      `CREATE TABLE analytics_rollups (bucket_ms BIGINT PRIMARY KEY, rolled_until_ms BIGINT NOT NULL)`,
    ],
  },
  {
    version: 19,
    name: 'configuration version',
    statements: [
      // One counter, raised in the same transaction as every change to what the presence ingest reads per
      // event — stores (hours), zones (sensitive), gateways (store, zone, secret) and campaigns — so each
      // instance keeps those in memory and re-reads them only when it moved (server/ingest/config-view.ts).
      // A gateway's last-seen time is not configuration and does not move it.
      `CREATE TABLE config_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)`,
      `INSERT INTO config_version (id, version) VALUES (1, 0)`,
    ],
  },
  {
    version: 20,
    name: 'webhook dead-letter replay',
    statements: [
      // An operator may put dead-lettered webhook rows back in the queue (POST /v1/admin/webhook/dead-letters/replay).
      // `attempts` stays monotonic — it numbers claims, so a worker whose lease ran out long ago can never finish
      // a later claim — and a replayed row gets a fresh set of tries: those since the replay are attempts minus
      // attempts_before_replay. `replays` counts how often it was replayed.
      `ALTER TABLE webhook_deliveries ADD COLUMN attempts_before_replay INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE webhook_deliveries ADD COLUMN replays INTEGER NOT NULL DEFAULT 0`,
    ],
  },
  {
    version: 21,
    name: 'console users and sessions',
    statements: [
      // People who log in to the console (issue 8): a scrypt hash, never the password; a lockout counter.
      `CREATE TABLE console_users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at_ms BIGINT NOT NULL, disabled_at_ms BIGINT, failed_logins INTEGER NOT NULL, locked_until_ms BIGINT)`,
      // A session by the SHA-256 of its token, in storage so that every server instance knows it.
      `CREATE TABLE console_sessions (id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES console_users(id), created_at_ms BIGINT NOT NULL, last_seen_at_ms BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL)`,
      `CREATE INDEX console_sessions_user ON console_sessions (user_id)`,
      `CREATE INDEX console_sessions_expiry ON console_sessions (expires_at_ms)`,
    ],
  },
  {
    version: 22,
    name: 'floor plans and gateway reports',
    statements: [
      // The console's live view (issue 8): a store's floor plan ({ widthM, heightM }, JSON) and each zone's
      // outline on it ([[x, y], …] in metres, JSON); NULL = none given. Drawing aids only, not personal data.
      `ALTER TABLE stores ADD COLUMN floor_plan TEXT`,
      `ALTER TABLE zones ADD COLUMN polygon TEXT`,
      // What each gateway last said about itself on its status topic: its software version and its
      // operational counters (JSON of domain/gateway-report.ts GatewayCounts; no device counts), and when.
      `ALTER TABLE gateways ADD COLUMN version TEXT`,
      `ALTER TABLE gateways ADD COLUMN status_counts TEXT`,
      `ALTER TABLE gateways ADD COLUMN reported_at_ms BIGINT`,
    ],
  },
];
