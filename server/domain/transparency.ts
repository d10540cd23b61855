import { placedInZone, type Campaign } from './campaign.ts';
import type { ConsentText } from './consent-texts.ts';
import { PURPOSES, PURPOSE_CODES, type Purpose } from './consent.ts';
import { DAY_MS, DEFAULT_PROFILING_MS, HOUR_MS } from './retention.ts';
import { SHOPPER_EXPORT_SCHEMA_PATH } from './shopper-export.ts';

// Transparency (privacy-requirements.md TRN-1, ACC-2), pure: the record of processing activities
// (GDPR art. 30) and each store's privacy notice, generated from the live configuration — the stores,
// zones and campaigns in the Store, the retention windows, the epoch-key period, the consent texts and
// the controller's identity — so what is published is what the system does. Rendering (Markdown,
// HTML) and I/O live with the callers (simulator/cli/ropa.ts, server/routes/notice-routes.ts).

/** Shown verbatim while the controller is not configured, so nobody mistakes a default for the real one. */
export const CONTROLLER_NAME_UNSET = '(not configured: set CONTROLLER_NAME)';
export const CONTROLLER_CONTACT_UNSET = '(not configured: set CONTROLLER_CONTACT)';

export type Controller = { name: string; contact: string };
export const UNCONFIGURED_CONTROLLER: Controller = { name: CONTROLLER_NAME_UNSET, contact: CONTROLLER_CONTACT_UNSET };

/** The configuration every document reads, whatever the store. */
export type TransparencySettings = {
  controller: Controller;
  /** The retention windows in force (domain/retention.ts), ms. */
  retention: { presenceEventsMs: number; deliveryRecordsMs: number; profilingMs?: number };
  /** How long one epoch key lives before it is destroyed (ID-3), s. */
  epochRotationS: number;
  consentTexts: Record<Purpose, ConsentText>;
};

export type StoreZone = { id: string; name: string; sensitive: boolean };
export type StoreConfiguration = { id: string; name: string; timezone: string; zones: readonly StoreZone[]; campaigns: readonly Campaign[] };

export type PurposeEntry = {
  code: 'P1' | 'P2' | 'P3' | 'P4';
  purpose: Purpose;
  description: string;
  legalBasis: string;
  consentText: { version: string; locale: string; sha256: string };
};
export type DataCategory = { id: string; description: string; retention: string; retentionMs: number | null; purposes: Purpose[] };

export type RecordOfProcessing = {
  document: 'record-of-processing-activities';
  legalReference: 'GDPR art. 30(1)';
  controller: Controller & { configured: boolean };
  purposes: PurposeEntry[];
  dataSubjects: string[];
  dataCategories: DataCategory[];
  recipients: string[];
  transfers: string;
  securityMeasures: string[];
  stores: { id: string; name: string; timezone: string; zoneIds: string[]; sensitiveZoneIds: string[]; campaigns: { id: string; name: string; status: string; zoneIds: string[] }[] }[];
};

export type PrivacyNotice = {
  document: 'privacy-notice';
  store: { id: string; name: string; timezone: string };
  controller: Controller & { configured: boolean };
  purposes: PurposeEntry[];
  zones: { id: string; name: string; sensitive: boolean; note: string | null }[];
  data: DataCategory[];
  rights: { right: string; how: string }[];
  activeCampaigns: number;
  contact: string;
};

const PURPOSE_DESCRIPTIONS: Record<Purpose, string> = {
  presence: 'In-store presence detection: recognising, at zone level, that the app of a shopper who opted in is in one of the store\'s zones.',
  personalisation: 'Personalisation and profiling: using the shopper\'s first name and visits to personalise offers.',
  analytics: 'Analytics and attribution: aggregated statistics, each figure covering at least 10 shoppers.',
  promotions: 'Promotional messages: sending offers to the shopper\'s app while in the store.',
};

const LEGAL_BASIS = 'Consent (GDPR art. 6(1)(a); ePrivacy Directive art. 5(3)): separate per purpose, optional, withdrawable at any time.';

/** A duration as people read it: whole days from two days up, else whole hours ("24 hours", as RET-2 says), else seconds. */
export function describeDuration(ms: number): string {
  const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (ms >= 2 * DAY_MS && ms % DAY_MS === 0) return plural(ms / DAY_MS, 'day');
  if (ms >= HOUR_MS && ms % HOUR_MS === 0) return plural(ms / HOUR_MS, 'hour');
  return plural(Math.round(ms / 1000), 'second');
}

const isConfigured = (controller: Controller): boolean => controller.name !== CONTROLLER_NAME_UNSET && controller.contact !== CONTROLLER_CONTACT_UNSET;

function purposeEntries(settings: TransparencySettings): PurposeEntry[] {
  return PURPOSES.map((purpose) => {
    const text = settings.consentTexts[purpose];
    return {
      code: PURPOSE_CODES[purpose], purpose, description: PURPOSE_DESCRIPTIONS[purpose], legalBasis: LEGAL_BASIS,
      consentText: { version: text.version, locale: text.locale, sha256: text.sha256 },
    };
  });
}

function dataCategories(settings: TransparencySettings): DataCategory[] {
  const { presenceEventsMs, deliveryRecordsMs, profilingMs = DEFAULT_PROFILING_MS } = settings.retention;
  return [
    {
      id: 'presence',
      description: 'Pseudonymous presence at zone level: a keyed-hash pseudonym, the zone, enter/dwell/exit, a time in seconds and a coarse proximity band. No MAC address, no raw Bluetooth identifier, no coordinates.',
      retention: `${describeDuration(presenceEventsMs)}, then deleted (RET-2); raw sightings stay in the gateway's memory for 60 seconds at most (RET-1)`,
      retentionMs: presenceEventsMs,
      purposes: ['presence', 'promotions'],
    },
    {
      id: 'app-identity',
      description: 'The app\'s registration: a hash of its access token and when it was issued (and hashes of the last few it replaced), its identity key sealed under the master key, its token rotation period, its locale, an optional first name, an optional loyalty tier and interests (used only with personalisation), an optional country and birth year (the age gate for personalisation and promotions, GDPR art. 8), and an optional keyed hash of a device secret (so that an objection to marketing survives a reinstall).',
      retention: 'Until you erase the account from the app (DELETE /v1/me) or ask the controller to (see your rights)',
      retentionMs: null,
      purposes: ['presence', 'personalisation'],
    },
    {
      id: 'consent-records',
      description: 'Append-only consent records: purpose, granted or withdrawn, the version and SHA-256 of the text shown, its locale, server and client time, channel and the previous state; a grant lapses (and is asked again) when its text changes or after at most 12 months.',
      retention: 'For the life of the account, as proof of consent (GDPR art. 7(1))',
      retentionMs: null,
      purposes: [...PURPOSES],
    },
    {
      id: 'visit-history',
      description: 'Visit history per store, kept only with personalisation (P2) and never from a sensitive zone: how many visits, when the current one started and the last presence in the store. Used for visit and return triggers and visit-based segments.',
      retention: `${describeDuration(profilingMs)} after the last presence, then deleted (RET-3)`,
      retentionMs: profilingMs,
      purposes: ['personalisation', 'promotions'],
    },
    {
      id: 'promotion-deliveries',
      description: 'Promotion delivery records: campaign, store, zone, the message sent, and when it was delivered and opened.',
      retention: `${describeDuration(deliveryRecordsMs)}, then deleted (RET-3)`,
      retentionMs: deliveryRecordsMs,
      purposes: ['promotions'],
    },
    {
      id: 'objection-and-erasure',
      description: 'After an objection to marketing: the shopper ID, when, and the keyed hash of the device secret, if the app sent one. After an erasure: the shopper ID, when, the number and SHA-256 of the deleted consent records and the final state of each purpose, with its time. No name, token, key, identifier or presence.',
      retention: 'Kept: the objection must hold for good (GDPR art. 21(3)) and the erasure must be provable (art. 5(2), 7(1))',
      retentionMs: null,
      purposes: ['promotions', 'personalisation'],
    },
    {
      id: 'audit-log',
      description: 'The tamper-evident audit log of consent changes, data-subject requests (export, erasure, objection, restriction; counts only), store, gateway and campaign changes, retention purges and failed admin logins (ACC-1). It records what happened, not presence.',
      retention: 'Kept as the controller\'s accountability record (GDPR art. 5(2)); append-only',
      retentionMs: null,
      purposes: [...PURPOSES],
    },
  ];
}

function securityMeasures(settings: TransparencySettings): string[] {
  return [
    `Pseudonymisation at the gateway with epoch keys rotated every ${describeDuration(settings.epochRotationS * 1000)} and destroyed after use, so earlier pseudonyms cannot be recomputed (ID-3)`,
    'Gateways hold no identity keys and cannot tell who a shopper is (MIN-5); only consenting shoppers\' tokens are resolved (ID-2)',
    'Identity keys, gateway secrets and epoch keys are stored sealed (AES-256-GCM) under a master key; erasure destroys a shopper\'s key',
    'MQTT over TLS with per-gateway credentials and broker ACLs: a gateway may publish only as itself (SEC-1)',
    'A tamper-evident, hash-chained audit log that a verifier re-walks (`vicino audit verify`, ACC-1)',
    'Consent is checked at send time in one atomic step and fails closed: if it cannot be read, nothing is sent (CON-5, MKT-1)',
    'Retention purges on a schedule, each one audited; a failed purge raises an alert (RET-4)',
  ];
}

const RECIPIENTS = [
  'None beyond the controller and its processors (hosting of the server, its database and MQTT broker). The system itself sends data to no third party: promotions go only to the shopper\'s own app.',
];
const TRANSFERS = 'None by the system: it sends no personal data outside the controller\'s own deployment. Any transfer by a hosting processor is the controller\'s to document.';

/** The record of processing activities (art. 30, ACC-2) across every store. Stores and zones sorted by ID. */
export function buildRecordOfProcessing(settings: TransparencySettings, stores: readonly StoreConfiguration[]): RecordOfProcessing {
  return {
    document: 'record-of-processing-activities',
    legalReference: 'GDPR art. 30(1)',
    controller: { ...settings.controller, configured: isConfigured(settings.controller) },
    purposes: purposeEntries(settings),
    dataSubjects: ['Shoppers who installed the app and opted in to at least in-store presence detection (P1); nobody else is recognised'],
    dataCategories: dataCategories(settings),
    recipients: RECIPIENTS,
    transfers: TRANSFERS,
    securityMeasures: securityMeasures(settings),
    stores: [...stores].sort((a, b) => compare(a.id, b.id)).map((store) => ({
      id: store.id, name: store.name, timezone: store.timezone,
      zoneIds: store.zones.map((zone) => zone.id).sort(compare),
      sensitiveZoneIds: store.zones.filter((zone) => zone.sensitive).map((zone) => zone.id).sort(compare),
      campaigns: [...store.campaigns].sort((a, b) => compare(a.id, b.id)).map((c) => ({
        id: c.id, name: c.name, status: c.status,
        zoneIds: store.zones.filter((zone) => !zone.sensitive && placedInZone(c.placement, store.id, zone.id)).map((zone) => zone.id).sort(compare),
      })),
    })),
  };
}

/** AN-3 as the admin API enforces it (routes/admin-routes.ts): a sensitive zone is never a campaign's target. */
export const SENSITIVE_ZONE_NOTE = 'Sensitive zone: never used to target promotions.';

/** One store's privacy notice (TRN-1). */
export function buildPrivacyNotice(settings: TransparencySettings, store: StoreConfiguration): PrivacyNotice {
  const controller = { ...settings.controller, configured: isConfigured(settings.controller) };
  return {
    document: 'privacy-notice',
    store: { id: store.id, name: store.name, timezone: store.timezone },
    controller,
    purposes: purposeEntries(settings),
    zones: [...store.zones].sort((a, b) => compare(a.id, b.id))
      .map((zone) => ({ id: zone.id, name: zone.name, sensitive: zone.sensitive, note: zone.sensitive ? SENSITIVE_ZONE_NOTE : null })),
    data: dataCategories(settings),
    rights: [
      { right: 'Access and portability (GDPR arts. 15, 20)', how: `Download everything held about you from the app (GET /v1/me/export): one JSON document, described by the JSON Schema at ${SHOPPER_EXPORT_SCHEMA_PATH}. You may also ask the controller at the contact below.` },
      { right: 'Erasure (art. 17)', how: 'Erase your account from the app (DELETE /v1/me): your data is deleted at once and your app\'s key destroyed. Kept: a record that you consented and withdrew, without personal content, and your objection to marketing if you made one.' },
      { right: 'Objection to marketing (art. 21)', how: 'Object from the app (POST /v1/me/objection): you will get no promotional messages and no personalisation, for good, even if you reinstall the app and register again on the same device.' },
      { right: 'Restriction (art. 18)', how: 'Restrict processing from the app (PUT /v1/me/restriction): your data is kept but not used until you lift the restriction.' },
      { right: 'Withdrawal of consent (art. 7(3))', how: 'Withdraw any purpose at any time from the app; it takes effect at once.' },
      { right: 'Complaint', how: 'You may lodge a complaint with your data protection supervisory authority.' },
    ],
    activeCampaigns: store.campaigns.filter((campaign) => campaign.status === 'active').length,
    contact: settings.controller.contact,
  };
}

/** Code-point order, so the output does not depend on the locale of the machine that generates it. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** JSON with object keys in sorted order at every level, so two generations of one configuration are byte-identical. */
export function stableJson(value: unknown, indent = 2): string {
  const sort = (input: unknown): unknown => {
    if (Array.isArray(input)) return input.map(sort);
    if (input !== null && typeof input === 'object') {
      return Object.fromEntries(Object.keys(input).sort(compare).map((key) => [key, sort((input as Record<string, unknown>)[key])]));
    }
    return input;
  };
  return JSON.stringify(sort(value), null, indent);
}
