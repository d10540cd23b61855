import type { LinkedBeaconKind } from '../domain/beacon-identifier.ts';
import type { AuditDraft, AuditRecord } from '../domain/audit-chain.ts';
import type { Attribution, Budget, Campaign, CampaignStatus, Caps, LoyaltyTier, WeeklyWindow } from '../domain/campaign.ts';
import type { CampaignGroupCounts, ZoneCell, ZoneDwellCell } from '../domain/analytics.ts';
import type { CampaignActivityBucket } from '../domain/campaign-series.ts';
import type { FloorPlan, ZonePolygon } from '../domain/floor-plan.ts';
import type { GatewayCounts, GatewayStatusReport } from '../domain/gateway-report.ts';
import type { LocalBucket } from '../domain/local-buckets.ts';
import type { CampaignRecord, CampaignVersionRecord, LifecycleAction } from '../domain/campaign-lifecycle.ts';
import type { PrincipalRecord } from '../domain/principal.ts';
import type { ConsoleSessionRecord, LoginLockoutPolicy, SessionLookup, UserRecord } from '../domain/console-user.ts';
import type { ConsentDraft, ConsentRecord, ConsentState, Purpose } from '../domain/consent.ts';
import type { ConsentText } from '../domain/consent-texts.ts';
import type { LapseCandidate } from '../domain/consent-lapse.ts';
import type { ErasureCounts, ErasureProof } from '../domain/erasure.ts';
import type { ResolvedPresence } from '../domain/decision.ts';
import type { PromotionMessage } from '../domain/promotion.ts';
import type { RetainedKind } from '../domain/retention.ts';
import type { RemotePresenceSettings } from '#gateway/protocol/index.ts';
import type { ZoneState, ZoneTransition } from '../domain/zone-arbiter.ts';
import type { VisitActivity, VisitRecord } from '../domain/visits.ts';

// The Store port: all durable state. Every method is async even where the embedded driver is
// synchronous, so PostgreSQL fits behind the same interface. Caps, dedupe and the send-time consent
// check are single atomic operations here — never read-then-write in process memory — so several
// server instances, a killed process or a redelivered message neither lose nor duplicate anything.
// Secrets arrive already sealed (domain/sealing.ts): the store never sees a plaintext key.

export type StoreRecord = {
  id: string;
  name: string;
  /** IANA time zone: schedules, opening hours and quiet hours are local to it (domain/schedule.ts). */
  timezone: string;
  /** Weekly windows when the store is open; nothing is sent outside them. None (or empty) = always open. */
  openingHours?: WeeklyWindow[];
  /** Weekly windows when nothing is sent, open or not. */
  quietHours?: WeeklyWindow[];
  /** The plan the console draws the zones on (domain/floor-plan.ts); absent: none given. */
  floorPlan?: FloorPlan;
};
export type ZoneRecord = {
  storeId: string; id: string; name: string; sensitive: boolean;
  /** The zone's outline on the store's floor plan, [x, y] in metres; absent: none given. */
  polygon?: ZonePolygon;
};
export type GatewayRecord = {
  id: string; storeId: string; zoneId: string; secretSealed: Buffer; lastSeenAtMs: number | null; online: boolean;
  /** The last version and operational counters the gateway reported on its status topic, and when; absent until it reports either. */
  report?: GatewayReport;
};
/** What a gateway last said about itself (domain/gateway-report.ts): each part as of the last status that carried it. */
export type GatewayReport = { version: string | null; counts: GatewayCounts | null; atMs: number };
/** Present shoppers in one zone, by the zone arbiter's current zone (Store.zoneOccupancy). */
export type ZoneOccupancy = { zoneId: string; shoppers: number };
/** Presence events in one zone, by the zone of the gateway that claimed them (Store.zoneEventCounts). */
export type ZoneEventCount = { zoneId: string; events: number };
/** Presence settings an operator set for one gateway (sent on its config topic). */
export type GatewaySettingsRecord = { gatewayId: string; presence: RemotePresenceSettings; updatedAtMs: number };
/** One of a store's own iBeacons, standing in a zone; uuid is lower-case with dashes. */
export type StoreBeaconRecord = { storeId: string; id: string; zoneId: string; uuid: string; major: number; minor: number };
export type EpochKeyRecord = { keyId: string; storeId: string; keySealed: Buffer; notBeforeS: number; notAfterS: number };

export type ShopperRecord = {
  id: string;
  tokenHash: string;
  /** When the current app credential was issued (registration or the last rotation): its age is counted from here. */
  tokenIssuedAtMs: number;
  identityKeySealed: Buffer | null;
  rotationExponent: number;
  locale: string;
  firstName: string | null;
  createdAtMs: number;
  erasedAtMs: number | null;
  /** DSR-4: processing restricted — the data is kept, but no processing path uses it. */
  restricted: boolean;
  /** DSR-3: when the shopper objected to marketing (permanent), or null. */
  objectedAtMs: number | null;
  /** HMAC-SHA-256 of the app's device secret under a derived key (domain/objection.ts), or null. */
  deviceSecretDigest: string | null;
  /** The age gate's facts (CON-7): ISO 3166-1 alpha-2 country and birth year; null (or absent) when not given. */
  country?: string | null;
  birthYear?: number | null;
  /** Shopper-provided attributes (PATCH /v1/me), used for segments and templates only with P2; null/[] when not given. */
  loyaltyTier?: LoyaltyTier | null;
  interests?: string[];
};

/** The attributes a shopper sets about themselves (PATCH /v1/me). */
export type ShopperAttributesRecord = { loyaltyTier: LoyaltyTier | null; interests: string[] };

/** A registration: restriction and objection are the Store's to set (a suppressed device secret starts out objected). */
export type NewShopper = Omit<ShopperRecord, 'restricted' | 'objectedAtMs' | 'deviceSecretDigest' | 'tokenIssuedAtMs'> & {
  deviceSecretDigest?: string | null;
  /** The credential's issue time; the registration time by default. */
  tokenIssuedAtMs?: number;
};

/** A resolved presence event as stored. */
export type PresenceEventRecord = Omit<ResolvedPresence, 'proximity'> & { receivedAtMs: number };
export type ZoneStateRecord = { storeId: string; shopperId: string; state: ZoneState; dueAtMs: number | null };

/** Everything held about one shopper, read in one transaction (DSR-1): the export's source. */
export type ShopperData = {
  shopper: ShopperRecord;
  consentState: ConsentState;
  consentRecords: ConsentRecord[];
  presenceEvents: PresenceEventRecord[];
  zoneStates: ZoneStateRecord[];
  promotions: PromotionRecord[];
  beacons: LinkedBeaconRecord[];
  /** The push target their app registered (sealed), or null. */
  pushTarget: { sealed: Buffer; updatedAtMs: number } | null;
  /** Visit history per store (kept only with P2), by store. */
  visits: VisitRecord[];
  audit: AuditRecord[];
};

export type ObjectionResult = { outcome: 'objected' | 'already-objected'; state: ConsentState };

/** Replacing a shopper's app credential: only if the one presented is still the current one (compare-and-swap). */
export type AppTokenRotation = { shopperId: string; previousTokenHash: string; tokenHash: string; atMs: number };

/** How many replaced credentials of a shopper are remembered, to answer "replaced" rather than "unknown". */
export const APP_TOKEN_HISTORY_LIMIT = 5;

/**
 * A refused credential whose refusal is audited once: an expired credential (the shopper's current
 * one), or a replaced one — a client retrying forever writes one audit entry, not one a request.
 */
export type CredentialRefusal = { reason: 'expired'; shopperId: string; tokenHash: string } | { reason: 'rotated'; tokenHash: string };

export type { LinkedBeaconKind };

/**
 * A shopper's loyalty beacon. The identifier (personal data) exists here only sealed; identifierDigest
 * is a keyed hash of kind ‖ identifier under a server key, unique across all shoppers.
 */
export type LinkedBeaconRecord = { id: string; shopperId: string; kind: LinkedBeaconKind; identifierSealed: Buffer; identifierDigest: string; createdAtMs: number };

export type ResolvableShopperRecord = { id: string; identityKeySealed: Buffer; rotationExponent: number };

/** What a promotion is for: one campaign, one shopper, one triggering presence event, in one zone. */
export type PromotionSubject = { campaignId: string; shopperId: string; eventId: string; storeId: string; zoneId: string; createdAtMs: number };

export type PromotionRecord = PromotionSubject & {
  id: string;
  deliveredAtMs: number | null;
  ackedAtMs: number | null;
  /** When its coupon was redeemed at a till (Store.redeemCoupon), or null. */
  redeemedAtMs: number | null;
  /**
   * 'expired': it expired before it was ever written to the app (Store.expireUndelivered) — dropped and
   * counted. It still counts toward the caps (the send was decided and recorded); 'cancelled' does not.
   * 'held-out': the shopper is in the experiment's control group — recorded, never delivered or redeemed.
   */
  status: 'pending' | 'acked' | 'cancelled' | 'expired' | 'held-out';
  message: PromotionMessage;
  // — Experiments, opens and attribution (issue 6; migration 18) —
  /** The experiment group: a variant ID, 'holdout', or null without an experiment. */
  variant: string | null;
  /** When the app reported the shopper opened it, or null. */
  openedAtMs: number | null;
  /** When the shopper entered a conversion zone within the attribution window after it (P3 only), or null. */
  convertedAtMs: number | null;
};

/** A new version of a campaign's definition (Store.saveCampaignDefinition). */
export type CampaignDefinitionSave = { campaign: Campaign; definitionSha256: string; expected: { status: CampaignStatus; version: number } | null; actor: string; atMs: number };
/** A lifecycle action on a campaign (Store.transitionCampaign). */
export type CampaignTransition = {
  id: string; action: LifecycleAction; actor: string; atMs: number; expectedVersion?: number;
  /** A rejection's reason, for the audit entry. */
  reason?: string | undefined;
};

/** What one Store.expireUndelivered batch dropped: how many, and how many of each campaign. */
export type ExpiredUndelivered = { expired: number; byCampaign: Record<string, number> };

export type RecordPromotionResult =
  | { outcome: 'recorded'; promotion: PromotionRecord }
  | { outcome: 'duplicate'; promotion: PromotionRecord }
  | { outcome: 'skipped'; reason: 'no-consent' | 'erased' | 'restricted' | 'objected' | 'budget' | keyof Caps };

export type PromotionDraft = PromotionSubject & {
  message: PromotionMessage;
  caps: Caps;
  /**
   * The campaign's budget, checked in the same transaction as the caps, serialised per campaign across
   * instances: refused ('budget') once maxDeliveries promotions (not cancelled) are recorded, or once
   * redeemed plus outstanding coupons (unexpired, unredeemed, not cancelled) reach maxRedemptions.
   */
  budget?: Budget;
  /** Purposes that must still be granted at the moment of recording (CON-5, fail closed). */
  requiredPurposes: readonly string[];
  // — Experiments and attribution (issue 6 items 1 and 3; migration 18) —
  /** The experiment group: a variant ID, 'holdout', or null/absent without an experiment. */
  variant?: string | null;
  /**
   * The control group: recorded with status 'held-out' after the same consent and cap checks (so treatment
   * and control see the same eligibility); counts toward caps, never toward budgets; never delivered or redeemed.
   */
  heldOut?: boolean;
  /** The campaign's attribution: a later entry into one of these zones of the store, within windowS, converts it (P3 only). */
  attribution?: Attribution;
  /**
   * Whether analytics consent (P3) is active as the caller read it, lapses applied (CON-6): false keeps the
   * exposure out of analytics even while the stored state still says granted. The Store also requires P3 stored.
   */
  analyticsActive?: boolean;
};

// — Analytics (issue 6 item 5; migration 18) —

/** An entry into a zone, which converts the shopper's open exposures that attribute to it. */
export type ConversionEvent = { shopperId: string; storeId: string; zoneId: string; atMs: number };

/** One rollup pass of one bucket size: the cells written (each once), and the new watermark. */
export type ZoneRollupResult = { bucketMs: number; fromMs: number; rolledUntilMs: number; footfallCells: number; dwellCells: number };

// — The presence ingest's hot path (migration 19) —

/** What the zone arbiter's step reports: its transitions, and the zone the shopper is now in. */
export type ArbitratedPresence = { transitions: ZoneTransition[]; current: string | undefined };

/** One resolved presence event, for Store.applyPresence. */
export type PresenceStep = {
  event: ResolvedPresence;
  receivedAtMs: number;
  /** The gateway's claim on the event's (boot, seq), as Store.acceptSequence; none for an app's own report (a sighting). */
  sequence?: { gatewayId: string; boot: string; seq: number };
  /** The consent that counts, from the shopper's state as stored: the caller's policy applied (CON-6). Pure. */
  consent: (stored: ConsentState) => ConsentState;
  /** The zone arbiter's step, as updateZoneState's update: pure, and it may run more than once. */
  arbitrate: (previous: ZoneState | undefined) => ZoneStateUpdate<ArbitratedPresence>;
  /** The store's sensitive zones, from which no visit history is kept (AN-3); undefined: keep none (a store the server does not know). */
  visits?: { sensitiveZoneIds: readonly string[] };
};

/**
 * What Store.applyPresence did: 'replay' — another event holds the sequence number, nothing else was
 * written; 'no-presence' — presence (P1) is not granted, or the shopper is erased or unknown, and nothing
 * was written beyond the claim; 'applied' — the rest, with the consent it read.
 */
export type PresenceStepResult =
  | { outcome: 'replay' }
  | { outcome: 'no-presence'; consent: ConsentState }
  | ({ outcome: 'applied'; consent: ConsentState; visit: VisitActivity | null; conversions: number } & ArbitratedPresence);

/** What claiming an event's (gateway, boot, seq) found: see Store.acceptSequence. */
export type SequenceClaim = 'new' | 'redelivery' | 'replay';

/**
 * What an updateZoneState callback returns: the next state — undefined, or the very object it was given,
 * when nothing changed: then nothing is written — when time alone next changes it (zoneStateDueAtMs),
 * and a result for the caller.
 */
export type ZoneStateUpdate<T> = { state: ZoneState | undefined; dueAtMs: number | null; result: T };
export type ZoneStateKey = { storeId: string; shopperId: string };

/** What one purgeBefore call removed: rows deleted, in how many bounded batches (statements). */
export type PurgeResult = { deleted: number; batches: number };

/** A consent text as archived (ACC-3): immutable once stored. */
export type ArchivedConsentText = ConsentText & { archivedAtMs: number };

/**
 * What listConsentLapseCandidates looks for: granted rows on another text version than the current one,
 * granted before grantedBeforeMs, or of an age-gated purpose whose shopper's birth year is unknown or
 * after bornAfterYear. A superset: domain/consent-lapse.ts lapseOf decides. Keyset-paged by (shopperId, purpose).
 */
export type LapseCandidateQuery = {
  currentVersions: Record<Purpose, string>;
  grantedBeforeMs: number;
  ageGated: { purposes: readonly Purpose[]; bornAfterYear: number };
  after?: { shopperId: string; purpose: Purpose };
  limit: number;
};

/** A lapse to append: the server's withdrawal, the state it expects to replace, and its audit entry. */
export type ConsentLapseWrite = { record: ConsentRecord; expected: { textVersion: string; atMs: number }; audit: AuditDraft };

/** A store's till, authenticated by a bearer token of which only the SHA-256 is kept. */
export type PosDeviceRecord = { id: string; storeId: string; name: string; tokenHash: string; createdAtMs: number; revokedAtMs: number | null };

/** A coupon presented at a till: requestId is the till's idempotency key (a retry after a lost response). */
export type CouponRedemptionRequest = { storeId: string; couponCode: string; requestId: string | null; deviceId: string; atMs: number };

/** A redeemed coupon, as the till is told. */
export type Redemption = { couponCode: string; campaignId: string; title: string; redeemedAtMs: number; storeId: string; zoneId: string };

/**
 * What redeeming a coupon found. 'redeemed' with replayed: true is the same device's retry with the same
 * requestId — the first answer again, nothing written. 'not-found' covers a code of another store.
 */
export type RedemptionResult =
  | { outcome: 'redeemed'; redemption: Redemption; replayed: boolean }
  | { outcome: 'already-redeemed'; redeemedAtMs: number }
  | { outcome: 'expired'; expiresAtMs: number }
  | { outcome: 'cancelled' }
  | { outcome: 'not-found' };

/** Where a queued webhook delivery stands: 'dropped' = no longer to be sent (withdrawn, expired, acknowledged…). */
export type WebhookDeliveryStatus = 'queued' | 'sent' | 'dead' | 'dropped';

/** One promotion in the push-provider webhook's queue (server/delivery/webhook-delivery.ts). */
export type WebhookDeliveryRecord = {
  promotionId: string;
  /** Claims so far: the claim that returned this record is attempt number `attempts`. */
  attempts: number;
  /** Claims made before the row was last replayed from the dead letters: the tries since are attempts − this. */
  attemptsBeforeReplay: number;
  /** How often an operator replayed the row from the dead letters. */
  replays: number;
  nextAttemptAtMs: number;
  claimedUntilMs: number | null;
  status: WebhookDeliveryStatus;
  lastError: string | null;
  updatedAtMs: number;
};

/** How a claimed attempt ended: final (sent, dead, dropped with a reason) or another try at nextAttemptAtMs. */
export type WebhookAttemptOutcome =
  | { status: 'sent'; atMs: number }
  | { status: 'dead' | 'dropped'; atMs: number; error: string }
  | { status: 'queued'; atMs: number; nextAttemptAtMs: number; error: string };

/**
 * Aggregate row counts for the status page. `promotions` are the ones meant for a shopper (neither cancelled nor
 * held out); `exposuresHeldOut` are the experiments' control-group rows, recorded and never sent.
 */
export type StoreCounts = Record<'shoppers' | 'consentRecords' | 'presenceEvents' | 'promotions' | 'exposuresHeldOut' | 'promotionsAcked' | 'epochKeys', number>;

export interface Store {
  /** Adapter name for logs and reports ("sqlite", "postgres"). */
  readonly kind: string;
  close(): Promise<void>;

  /** Stores the value under name unless one exists; returns whichever value is stored (first writer wins). */
  putSettingIfAbsent(name: string, value: Buffer): Promise<Buffer>;
  getSetting(name: string): Promise<Buffer | undefined>;

  upsertStore(store: StoreRecord): Promise<void>;
  listStores(): Promise<StoreRecord[]>;
  /** One store, or undefined: what the send path reads per event (not the whole list). */
  getStore(id: string): Promise<StoreRecord | undefined>;
  upsertZone(zone: ZoneRecord): Promise<void>;
  /** Replaces a store's own beacons with these, in one transaction. */
  replaceStoreBeacons(storeId: string, beacons: readonly Omit<StoreBeaconRecord, 'storeId'>[]): Promise<void>;
  /** Store beacons, of one store or all, by store and ID. */
  listStoreBeacons(storeId?: string): Promise<StoreBeaconRecord[]>;
  listZones(storeId: string): Promise<ZoneRecord[]>;
  /** Creates or updates a gateway; an existing gateway keeps its secret unless rotateSecret. */
  upsertGateway(gateway: Omit<GatewayRecord, 'lastSeenAtMs' | 'online'>, rotateSecret?: boolean): Promise<GatewayRecord>;
  getGateway(id: string): Promise<GatewayRecord | undefined>;
  listGateways(storeId?: string): Promise<GatewayRecord[]>;
  /**
   * Records a status of the gateway: when it was seen and whether it is online, and, when the status
   * carries them, its version and operational counters (GatewayRecord.report, dated atMs). A part the
   * status lacks (the will has no counters) keeps its last value. Not configuration: the version does not move.
   */
  markGatewaySeen(id: string, atMs: number, online: boolean, report?: GatewayStatusReport): Promise<void>;
  /** Replaces a gateway's presence settings (the gateway must exist). */
  setGatewaySettings(settings: GatewaySettingsRecord): Promise<void>;
  getGatewaySettings(gatewayId: string): Promise<GatewaySettingsRecord | undefined>;

  insertEpochKey(key: EpochKeyRecord): Promise<void>;
  /** Keys not yet destroyed, oldest first. */
  listEpochKeys(storeId?: string): Promise<EpochKeyRecord[]>;
  /** Destroys (deletes the sealed key of) every key whose validity ended before the cutoff; returns how many. */
  destroyEpochKeys(endedBeforeS: number): Promise<number>;

  /**
   * Registers a shopper and returns them as stored: objected from the start (objectedAtMs = createdAtMs)
   * if their device secret's digest is suppressed — decided in the same statement as the insert.
   */
  createShopper(shopper: NewShopper): Promise<ShopperRecord>;
  findShopperByTokenHash(tokenHash: string): Promise<ShopperRecord | undefined>;
  /**
   * Replaces the shopper's app credential in one atomic compare-and-swap: only if previousTokenHash is
   * still the current one and the shopper is not erased. Of two concurrent rotations with the same old
   * credential, one is 'rotated' and the other 'conflict'. The replaced hash joins the shopper's history
   * (the latest APP_TOKEN_HISTORY_LIMIT are kept), and the audit draft, if any, is appended in the same transaction.
   */
  rotateAppToken(rotation: AppTokenRotation, audit?: AuditDraft): Promise<'rotated' | 'conflict'>;
  /** Whose credential this was, and when it was replaced, if it is in a shopper's history. */
  findReplacedAppToken(tokenHash: string): Promise<{ shopperId: string; replacedAtMs: number } | undefined>;
  /**
   * Appends the audit draft if this is the first refusal of this credential for this reason, atomically
   * (a conditional update and the append in one transaction): true if it was appended. An expired
   * credential counts only while it is the shopper's current one.
   */
  auditCredentialRefusalOnce(refusal: CredentialRefusal, audit: AuditDraft, atMs: number): Promise<boolean>;
  /**
   * Claims a request proof's nonce for the shopper, once across every instance (a conditional insert):
   * 'new' the first time, 'replay' after. expiresAtMs is when the proof's time alone refuses it; the
   * retention purge ('proof-nonces') deletes the claim after that.
   */
  claimProofNonce(shopperId: string, nonce: string, expiresAtMs: number): Promise<'new' | 'replay'>;
  getShopper(id: string): Promise<ShopperRecord | undefined>;
  /** Shoppers whose presence consent (P1) is granted and who are neither erased nor restricted: the only ones the resolver may index. */
  listResolvableShoppers(): Promise<ResolvableShopperRecord[]>;
  /**
   * IDs of the shoppers whose presence consent or restriction changed, or who were erased, at or after `sinceMs` (the
   * writing server's clock): what an incremental resolver resync re-reads, instead of every shopper.
   */
  listShopperChangesSince(sinceMs: number): Promise<string[]>;

  /** Links a beacon; 'conflict' (and nothing stored) if a beacon with the same digest is linked already, to anyone. */
  addBeacon(beacon: LinkedBeaconRecord): Promise<'added' | 'conflict'>;
  /** The shopper's linked beacons, oldest first. */
  listBeacons(shopperId: string): Promise<LinkedBeaconRecord[]>;
  /** Unlinks the shopper's own beacon; false if it is not theirs or does not exist. */
  removeBeacon(shopperId: string, id: string): Promise<boolean>;
  /**
   * Beacons of shoppers whose presence consent (P1) is granted and who are neither erased nor restricted: the only
   * ones that may resolve. With a shopper ID, only theirs (a change of that shopper's). By beacon ID.
   */
  listResolvableBeacons(shopperId?: string): Promise<LinkedBeaconRecord[]>;

  /**
   * Appends consent records and updates the derived state in one transaction. Each record's
   * previousGranted is read here, in that transaction, under a lock on the shopper — not taken from
   * the caller, whose read may be stale when two changes of one shopper race (CON-3). A withdrawal of
   * presence or promotions also cancels the shopper's undelivered promotions in the same
   * transaction, so nothing is sent after the call returns (CON-4). The audit drafts — given, or made
   * from the records as stored — are appended to the audit log in that same transaction (ACC-1): the
   * change and its entry, or neither.
   */
  appendConsent(records: readonly ConsentDraft[], audit?: readonly AuditDraft[] | ((records: readonly ConsentRecord[]) => readonly AuditDraft[])): Promise<ConsentState>;
  getConsentState(shopperId: string): Promise<ConsentState>;
  listConsentRecords(shopperId: string): Promise<ConsentRecord[]>;
  /**
   * Appends each lapse (the server's withdrawal, CON-6/7) only if the purpose's state is still the grant
   * it expects (granted, same text version and time) — checked and written in one transaction per call,
   * with its audit entry, so two instances running the lapse job at once append each lapse exactly once.
   * Withdrawing presence or promotions cancels undelivered promotions, as appendConsent does. Returns the
   * records appended.
   */
  appendConsentLapses(lapses: readonly ConsentLapseWrite[]): Promise<ConsentRecord[]>;
  /** Granted consents that may have lapsed (see LapseCandidateQuery), by shopper and purpose, at most limit. */
  listConsentLapseCandidates(query: LapseCandidateQuery): Promise<LapseCandidate[]>;
  /**
   * Rebuilds consent_state from consent_records (CON-3): deletes every state row and writes each purpose's
   * last record again, in one transaction. Returns how many state rows it wrote.
   */
  rebuildConsentState(): Promise<number>;
  /** Up to limit (shopper, purpose) pairs whose consent_state differs from what the ledger rebuilds, by shopper and purpose; none when they agree. */
  findConsentStateDrift(limit: number): Promise<{ shopperId: string; purpose: Purpose }[]>;

  /** Archives consent texts not yet archived (by hash); an archived text is never changed. Throws if a (purpose, version, locale) is archived with another text. Returns how many were new. */
  archiveConsentTexts(texts: readonly ConsentText[], atMs: number): Promise<number>;
  getConsentText(sha256: string): Promise<ArchivedConsentText | undefined>;

  /** Sets a shopper's age-gate facts (CON-7). */
  setShopperAgeFacts(shopperId: string, facts: { country: string | null; birthYear: number | null }): Promise<void>;
  /** Sets a shopper's own attributes (loyalty tier, interests); nothing for an erased shopper. */
  setShopperAttributes(shopperId: string, attributes: ShopperAttributesRecord): Promise<void>;

  /**
   * Records the shopper's presence in the store for their visit history (domain/visits.ts nextVisit),
   * read and written in one atomic step across instances: a new visit starts on an arbitrated zone entry
   * (startsVisit) after VISIT_GAP_MS without presence; any presence extends the current one. Nothing is
   * written for an erased or unknown shopper. The caller records only for shoppers with P2, never from a
   * sensitive zone. Erasure deletes the rows; the retention purge ('visit-history') ages them out.
   */
  recordVisitActivity(storeId: string, shopperId: string, atMs: number, startsVisit: boolean): Promise<VisitActivity>;

  /** Installs a campaign as given (status and version included), outside the lifecycle: seeding and tests. */
  putCampaign(campaign: Campaign, atMs: number): Promise<void>;
  /** Campaigns of every status, by ID; with a store, those placed in it. */
  listCampaigns(storeId?: string): Promise<Campaign[]>;
  /** A campaign with its lifecycle metadata. */
  getCampaign(id: string): Promise<CampaignRecord | undefined>;
  /** Campaigns with their metadata, by ID, optionally of one status and placed in one store. */
  listCampaignRecords(filter?: { status?: CampaignStatus; storeId?: string }): Promise<CampaignRecord[]>;
  /** Every saved definition of a campaign, oldest first. */
  listCampaignVersions(id: string): Promise<CampaignVersionRecord[]>;
  /**
   * Saves a definition as a new version (campaign.version, status draft) in one transaction: the version
   * row, and the campaign, only if it is still as read — `expected` null: it must not exist yet;
   * otherwise its status and version must still be these (compare-and-swap). Clears the submission and
   * approval, which were of the previous version. Appends its audit entry (campaignSavedAudit) in the same
   * transaction. False, and nothing written, when it changed meanwhile.
   */
  saveCampaignDefinition(save: CampaignDefinitionSave): Promise<boolean>;
  /**
   * Applies a lifecycle action (domain/campaign-lifecycle.ts TRANSITIONS) as ONE conditional UPDATE: only
   * from its allowed statuses, at expectedVersion if given, and for 'approve' only if the actor neither
   * wrote nor submitted the current version — so of two instances acting at once exactly one wins.
   * Appends its audit entry (campaignTransitionAudit, with the status found under the row's lock) in the
   * same transaction. The campaign as updated, or undefined, and nothing written, when the condition no longer held.
   */
  transitionCampaign(transition: CampaignTransition): Promise<CampaignRecord | undefined>;

  /** Adds an API key's principal (its key already hashed). */
  createPrincipal(principal: Omit<PrincipalRecord, 'revokedAtMs'>): Promise<void>;
  /** Every principal, revoked ones included, oldest first. */
  listPrincipals(): Promise<PrincipalRecord[]>;
  /** The principal holding this key hash, unless it is revoked. */
  findPrincipalByKeyHash(keyHash: string): Promise<PrincipalRecord | undefined>;
  /** Revokes a principal's key; false if there is none or it was already revoked. */
  revokePrincipal(id: string, atMs: number): Promise<boolean>;

  /** Adds a console user (username already normalised); false, and nothing written, if the username is taken. */
  createUser(user: Omit<UserRecord, 'disabledAtMs' | 'failedLogins' | 'lockedUntilMs'>): Promise<boolean>;
  /** Every console user, disabled ones included, oldest first. */
  listUsers(): Promise<UserRecord[]>;
  /** The user with this (normalised) username, disabled or not. */
  findUserByUsername(username: string): Promise<UserRecord | undefined>;
  /** Disables a user and deletes their sessions, in one transaction; false if there is none or it was already disabled. */
  disableUser(id: string, atMs: number): Promise<boolean>;
  /**
   * Counts a failed login for the user as ONE conditional write, so two instances counting at once
   * cannot lose a failure: the count goes up, and reaching policy.maxFailures locks the account until
   * atMs + policy.lockMs and starts the count again. The count and lock after the write.
   */
  recordLoginFailure(userId: string, atMs: number, policy: LoginLockoutPolicy): Promise<{ failedLogins: number; lockedUntilMs: number | null }>;
  /** A successful login: clears the failure count and any lapsed lock. */
  recordLoginSuccess(userId: string): Promise<void>;
  /** Stores a new session, and deletes every session that lapsed before it (absolute expiry, or idle for idleTimeoutMs). */
  createSession(session: Omit<ConsoleSessionRecord, 'lastSeenAtMs'>, idleTimeoutMs: number): Promise<void>;
  /**
   * Looks a session up at nowMs: active when it has neither expired nor idled past idleTimeoutMs and its
   * user is enabled, and then its last-seen time moves to nowMs (at most every SESSION_TOUCH_MS, to spare
   * writes); a lapsed one is deleted and reported as expired.
   */
  lookupSession(idHash: string, nowMs: number, idleTimeoutMs: number): Promise<SessionLookup>;
  /** Deletes a session (logout); false if there was none. */
  deleteSession(idHash: string): Promise<boolean>;

  /**
   * Claims a gateway's sequence number for one event, atomically across instances and restarts:
   * 'new' the first time, 'redelivery' when the same event ID claims it again (a QoS 1 duplicate),
   * 'replay' when another event ID already holds it. atMs is the event's own time, for pruning.
   */
  acceptSequence(gatewayId: string, boot: string, seq: number, eventId: string, atMs: number): Promise<SequenceClaim>;
  /**
   * Everything one resolved presence event writes, as ONE transaction — what the ingest does per event,
   * in this order: the sequence claim (as acceptSequence; 'replay' stops here), the shopper's consent
   * (step.consent applied; without presence, P1, or for an erased shopper nothing more is written —
   * DSR-2), the presence record (by event ID, as recordPresence), the zone arbiter's state (as
   * updateZoneState: locked, read, written), the conversions of the arbitrated entries (as
   * recordConversions; only with analytics consent, P3) and the visit history (as recordVisitActivity;
   * only with personalisation, P2, and never from a sensitive zone). Idempotent on a redelivery of the
   * same event, step by step, as those methods are; atomic across instances and a killed process.
   */
  applyPresence(step: PresenceStep): Promise<PresenceStepResult>;
  /**
   * The configuration's version: raised in the same transaction as every change to stores, zones,
   * gateways (store, zone, secret) and campaigns, by any instance. Unchanged, what was read stands.
   */
  configVersion(): Promise<number>;
  /** Forgets the claims of events timed before the cutoff (they can no longer pass the freshness check); returns how many. */
  pruneSequences(beforeMs: number): Promise<number>;

  /**
   * Deletes the records of one kind timed before cutoffMs (epoch ms; presence events by their own time,
   * delivery records — promotions — by creation, sequence claims by event time, zone states only when
   * idle — nothing due — by the latest time they record), in batches of at most
   * batchLimit rows, each its own short statement, so a big purge never holds a long lock and other
   * writers interleave. Returns how many rows went. Throws a RangeError naming a bad argument.
   */
  purgeBefore(kind: RetainedKind, cutoffMs: number, batchLimit: number): Promise<PurgeResult>;

  /**
   * Records a resolved presence event; 'duplicate' if this event ID was already recorded, 'erased' (and
   * nothing written) if the shopper is erased or unknown — checked atomically with the insert.
   */
  recordPresence(event: ResolvedPresence, receivedAtMs: number): Promise<'new' | 'duplicate' | 'erased'>;

  /**
   * The zone arbiter's state of one shopper in one store (domain/zone-arbiter.ts), read, updated and
   * written as one atomic step across instances: `update` sees the latest committed state and may run
   * more than once (a lost race is retried), so it must be pure. Two instances applying events of the
   * same shopper at once neither lose an update nor both switch zones. Returns `update`'s result from the
   * run that was committed. The row holds zone IDs, times and event IDs only; erasing the shopper deletes it.
   */
  updateZoneState<T>(storeId: string, shopperId: string, update: (previous: ZoneState | undefined) => ZoneStateUpdate<T>): Promise<T>;
  getZoneState(storeId: string, shopperId: string): Promise<ZoneState | undefined>;
  /** States whose dueAtMs has come (at or before nowMs), earliest first, at most `limit`: what the arbiter's sweep re-runs. */
  listZoneStatesDue(nowMs: number, limit: number): Promise<ZoneStateKey[]>;

  /**
   * The atomic send: in one transaction, returns the existing promotion for the same
   * (campaign, shopper, event), or re-checks consent and every cap and records the new promotion.
   */
  recordPromotion(draft: PromotionDraft): Promise<RecordPromotionResult>;
  getPromotion(id: string): Promise<PromotionRecord | undefined>;
  /** Pending promotions for a shopper that have not expired, oldest first. */
  listUnackedPromotions(shopperId: string, nowMs: number): Promise<PromotionRecord[]>;
  markPromotionDelivered(id: string, atMs: number): Promise<void>;
  /** Marks the shopper's own promotion acknowledged; false if it is not theirs or does not exist (or was held out). */
  ackPromotion(shopperId: string, id: string, atMs: number): Promise<boolean>;

  // — Opens, attribution and analytics (issue 6; migration 18, server/store/analytics-sql.ts) —

  /**
   * Records that the shopper opened their own promotion (idempotent: the first time stays); it counts as
   * acknowledged too. False if it is not theirs, does not exist, was cancelled or held out.
   */
  markPromotionOpened(shopperId: string, id: string, atMs: number): Promise<boolean>;
  /**
   * One conditional UPDATE of this shopper's exposures (delivered, or held out) recorded with analytics
   * consent, in this store, not yet converted, whose attribution lists the zone and whose window holds atMs:
   * sets converted_at_ms = atMs. Idempotent (a redelivered entry finds them converted). Returns how many.
   */
  recordConversions(event: ConversionEvent): Promise<number>;
  /** Per experiment group of the campaign, the counts of exposures made with analytics consent (P3). */
  campaignGroupCounts(campaignId: string): Promise<CampaignGroupCounts[]>;
  /**
   * Rolls up presence events of analytics-consenting (P3), unrestricted shoppers in non-sensitive zones into
   * anonymous counts for every bucket of size bucketMs (15 min, 1 h or 1 day, in each store's own time zone:
   * domain/local-buckets.ts) that ends after the size's watermark and at or before untilMs: distinct
   * shoppers per zone (zone_footfall) and per dwell bin of exits (zone_dwell), cells below minShoppers not
   * written. The watermark is read (locked), the cells inserted (ON CONFLICT DO NOTHING) and the watermark
   * advanced to untilMs in one transaction, so across instances each bucket is rolled up exactly once, in
   * the pass whose range holds its end. A first pass starts at the earliest presence event still held.
   */
  rollupZoneAnalytics(bucketMs: number, untilMs: number, minShoppers: number): Promise<ZoneRollupResult>;
  /** How far a bucket size is rolled up (exclusive end), or undefined if never. */
  zoneRollupWatermark(bucketMs: number): Promise<number | undefined>;
  /** The rolled-up cells of a store for one bucket size with bucketStartMs in [fromMs, toMs). */
  listZoneFootfall(storeId: string, bucketMs: number, fromMs: number, toMs: number): Promise<ZoneCell[]>;
  listZoneDwell(storeId: string, bucketMs: number, fromMs: number, toMs: number): Promise<ZoneDwellCell[]>;
  /**
   * A campaign's activity per bucket (domain/campaign-series.ts): deliveries, opens and redemptions, each
   * dated when it happened, of exposures recorded with analytics consent (P3) only — events and distinct
   * shoppers per bucket. The buckets must be contiguous, in order, on whole minutes; one tally each, zeros
   * where nothing happened. No shopper ID leaves the Store. Throws a RangeError naming a bad bucket.
   */
  campaignActivity(campaignId: string, buckets: readonly LocalBucket[]): Promise<CampaignActivityBucket[]>;

  // — The console's live view (AN-1: the route suppresses small counts) —

  /**
   * Present shoppers per zone of a store now: zone states (the arbiter's, Store.updateZoneState) with a
   * current zone and a claim renewed at or after seenSinceMs, of shoppers whose presence consent (P1) is
   * granted and who are neither restricted nor erased. Counts only, by zone ID; zones with none are left out.
   */
  zoneOccupancy(storeId: string, seenSinceMs: number): Promise<ZoneOccupancy[]>;
  /**
   * Presence events of the store's gateways timed in [fromMs, toMs), per the zone of the gateway that
   * claimed each (its sequence claim, Store.acceptSequence): the same figure on every instance. Zones with none are left out.
   */
  zoneEventCounts(storeId: string, fromMs: number, toMs: number): Promise<ZoneEventCount[]>;
  /**
   * Drops up to `limit` promotions that expired (expires_at_ms <= nowMs) while still pending and never
   * written to the app (delivered_at_ms NULL): one conditional UPDATE … RETURNING sets them 'expired', and
   * that UPDATE is the claim, so instances sweeping at once count each promotion once. A promotion written
   * but not acknowledged reached the app and is left pending (not dropped); an ack of an expired one (a
   * frame written in the instant before its expiry) still marks it acked.
   */
  expireUndelivered(nowMs: number, limit: number): Promise<ExpiredUndelivered>;

  /** Sets (or replaces) the shopper's sealed push target; false if the shopper is unknown or erased. */
  putPushTarget(shopperId: string, targetSealed: Buffer, atMs: number): Promise<boolean>;
  /** Deletes the shopper's push target (the app unregistered it); false if there was none. Queued webhook rows then find no target and are dropped. */
  deletePushTarget(shopperId: string): Promise<boolean>;
  /** The shopper's sealed push target, if one is registered. */
  getPushTargetSealed(shopperId: string): Promise<Buffer | undefined>;
  /** Queues a promotion for the webhook, due at atMs; false (nothing changed) if it is queued already. */
  enqueueWebhookDelivery(promotionId: string, atMs: number): Promise<boolean>;
  /**
   * Claims up to `limit` queued rows due at nowMs whose lease (if any) has run out, in ONE atomic
   * statement: each gets claimed_until_ms = nowMs + leaseMs and attempts + 1. Across any number of
   * instances a row is claimed by one at a time. Returns the claimed rows as updated, oldest due first.
   */
  claimWebhookDeliveries(nowMs: number, leaseMs: number, limit: number): Promise<WebhookDeliveryRecord[]>;
  /**
   * Records how the claim numbered `attempt` ended and releases its lease — only if that claim is still
   * the row's latest (a worker whose lease ran out and was re-claimed elsewhere changes nothing): false then.
   */
  finishWebhookAttempt(promotionId: string, attempt: number, outcome: WebhookAttemptOutcome): Promise<boolean>;
  getWebhookDelivery(promotionId: string): Promise<WebhookDeliveryRecord | undefined>;
  /** Dead-lettered webhook rows, by promotion ID, at most `limit` of them after `afterPromotionId` (a page's last). */
  listDeadWebhookDeliveries(limit: number, afterPromotionId?: string): Promise<WebhookDeliveryRecord[]>;
  /**
   * Puts the dead rows among promotionIds back in the queue, due at nowMs, with a fresh set of tries, in one
   * conditional UPDATE (status = 'dead'): a row that is not dead — queued, sent, dropped, unknown — is left
   * alone, and two operators replaying at once requeue each row once. Returns the promotion IDs requeued. The
   * worker checks each again before sending (still pending, unexpired, consent), as for any attempt. When any
   * row is requeued, the audit entry (action 'webhook.replayed', by `actor`, with the counts) is appended in
   * the same transaction.
   */
  replayDeadWebhookDeliveries(promotionIds: readonly string[], nowMs: number, actor: string): Promise<string[]>;

  /** Adds a till to a store (its token already hashed). */
  createPosDevice(device: Omit<PosDeviceRecord, 'revokedAtMs'>): Promise<void>;
  /** A store's tills, revoked ones included, oldest first. */
  listPosDevices(storeId: string): Promise<PosDeviceRecord[]>;
  /** The till holding this token hash, unless it is revoked. */
  findPosDeviceByTokenHash(tokenHash: string): Promise<PosDeviceRecord | undefined>;
  /** Revokes a till of the store; false if it is not the store's or was already revoked. */
  revokePosDevice(storeId: string, deviceId: string, atMs: number): Promise<boolean>;
  /**
   * Redeems a coupon of the store exactly once across every instance: one conditional UPDATE claims the
   * promotion only while it is unredeemed, not cancelled and not expired (expires_at_ms > atMs); the
   * classification of a refused claim reads only what that claim can no longer change.
   */
  redeemCoupon(request: CouponRedemptionRequest): Promise<RedemptionResult>;

  /**
   * Appends one entry to the audit log (ACC-1): its seq and prev_hash come from the current head, read
   * and written in one transaction that excludes every other appender, in this instance or another —
   * so concurrent appends make one unbroken chain. Returns the stored record.
   */
  appendAudit(draft: AuditDraft): Promise<AuditRecord>;
  /** Up to `limit` audit records with seq >= fromSeq, by seq, as stored (for the verifier to check). */
  listAudit(fromSeq: number, limit: number): Promise<AuditRecord[]>;

  counts(): Promise<StoreCounts>;

  // Data-subject rights (docs/data-subject-rights.md).

  /** Everything held about the shopper, read in one read transaction (a consistent snapshot); undefined if unknown or erased. */
  readShopperData(shopperId: string): Promise<ShopperData | undefined>;
  /**
   * Erases the shopper in one transaction (DSR-2, ID-4): destroys the sealed identity key, revokes the
   * credential, clears the profile (first name, locale, attributes, device secret digest, restriction), deletes their
   * beacons, push target, queued webhook deliveries, presence events, zone states, visit history, promotions, consent state and consent records, writes the
   * minimal proof (domain/erasure.ts) and appends `audit(counts)` — all or nothing. A suppression entry
   * (an objection) is kept. undefined if the shopper is unknown or already erased.
   */
  eraseShopper(shopperId: string, atMs: number, audit: (counts: ErasureCounts) => AuditDraft): Promise<ErasureCounts | undefined>;
  getErasureProof(shopperId: string): Promise<ErasureProof | undefined>;
  /**
   * The objection (DSR-3), in one transaction: appends the withdrawal records (as appendConsent, with
   * its audit drafts), marks the shopper objected and writes the suppression entry (with their device
   * secret's digest, if any). 'already-objected', and nothing written, if they had objected before.
   */
  recordObjection(shopperId: string, atMs: number, records: readonly ConsentDraft[], audit: readonly AuditDraft[] | ((records: readonly ConsentRecord[]) => readonly AuditDraft[])): Promise<ObjectionResult>;
  /** Whether a suppression entry holds this device secret digest. */
  isSuppressed(deviceSecretDigest: string): Promise<boolean>;
  /**
   * Sets the restriction (DSR-4) and, if it changed, appends the audit draft in the same transaction and
   * cancels the shopper's pending promotions (nothing is sent while restricted). Returns whether it changed.
   */
  setRestriction(shopperId: string, restricted: boolean, atMs: number, audit: AuditDraft): Promise<boolean>;
}
