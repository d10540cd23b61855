import { z } from 'zod';
import { LoyaltyTierSchema } from './campaign.ts';
import { ConsentChannelSchema, LapseReasonSchema, PurposeSchema, type ConsentRecord } from './consent.ts';
import { PromotionMessageSchema } from './promotion.ts';
import { ZoneStateSchema } from './zone-arbiter.ts';

// The shopper's data export (DSR-1: access and portability): one JSON document with everything the
// system holds about them — profile, consent state and every consent record, presence events, zone
// states, promotions, linked beacons (identifiers opened, for their owner only) and the audit entries
// about them. The zod schema is the contract; its JSON Schema (z.toJSONSchema) is published at
// docs/schemas/shopper-export.v1.schema.json and served at GET /v1/schemas/shopper-export.v1.json.
// A change to this file changes the published schema: a breaking one needs a new `schema` version.
// No format keywords (date-time, uuid…): every consumer's validator then reads the schema alike.

export const SHOPPER_EXPORT_SCHEMA = 'vicino.shopper-export.v1';
/** Where the JSON Schema is committed (relative to the repository root) and served. */
export const SHOPPER_EXPORT_SCHEMA_FILE = 'docs/schemas/shopper-export.v1.schema.json';
export const SHOPPER_EXPORT_SCHEMA_PATH = '/v1/schemas/shopper-export.v1.json';

const epochMs = z.number().int().nonnegative().describe('Unix epoch milliseconds');
const epochS = z.number().int().nonnegative().describe('Unix epoch seconds');

const ProfileSchema = z
  .object({
    shopperId: z.string(),
    locale: z.string(),
    firstName: z.string().nullable(),
    registeredAtMs: epochMs,
    rotationExponent: z.number().int(),
    /** DSR-4: the shopper restricted processing; the data is kept but no processing path uses it. */
    restricted: z.boolean(),
    /** DSR-3: when the shopper objected to marketing (permanent), or null. */
    objectedAtMs: epochMs.nullable(),
    /** Whether the app registered a device secret (only its keyed digest is held; it is not exported). */
    deviceSecretRegistered: z.boolean(),
    /** CON-7: the age gate's facts, as the shopper gave them: ISO 3166-1 alpha-2 country and birth year. */
    country: z.string().nullable(),
    birthYear: z.number().int().nullable(),
    /** When the app's current credential was issued (registration or its last rotation). */
    credentialIssuedAtMs: epochMs,
    /** Attributes the shopper gave (PATCH /v1/me), used only with personalisation (P2). Optional: added within v1. */
    loyaltyTier: LoyaltyTierSchema.nullable().optional(),
    interests: z.array(z.string()).optional(),
  })
  .strict();

const PurposeStateSchema = z.object({ granted: z.boolean(), textVersion: z.string(), atMs: epochMs }).strict();

const ConsentRecordSchema = z
  .object({
    id: z.string(),
    purpose: PurposeSchema,
    granted: z.boolean(),
    textVersion: z.string(),
    textSha256: z.string().regex(/^[0-9a-f]{64}$/),
    locale: z.string(),
    serverTimeMs: epochMs,
    clientTimeMs: epochMs.nullable(),
    channel: ConsentChannelSchema,
    previousGranted: z.boolean().nullable(),
    /** Why the system withdrew a grant (channel "system", CON-6/7): a superseded text, expiry, or the age gate; null otherwise. */
    reason: LapseReasonSchema.nullable(),
  })
  .strict();

const PresenceEventSchema = z
  .object({
    eventId: z.string(),
    storeId: z.string(),
    zoneId: z.string(),
    kind: z.string(),
    atS: epochS,
    dwellS: z.number().int().nonnegative(),
    receivedAtMs: epochMs,
  })
  .strict();

const ExportedZoneStateSchema = z.object({ storeId: z.string(), state: ZoneStateSchema, dueAtMs: epochMs.nullable() }).strict();

/** Visit history in one store (kept only with P2): visits counted, the current (or last) one's start, the last presence, and the previous visit's last presence. */
const ExportedVisitSchema = z
  .object({ storeId: z.string(), visitCount: z.number().int().nonnegative(), visitStartedAtMs: epochMs, lastSeenAtMs: epochMs, previousVisitLastSeenMs: epochMs.nullable() })
  .strict();

const ExportedPromotionSchema = z
  .object({
    id: z.string(),
    campaignId: z.string(),
    eventId: z.string(),
    storeId: z.string(),
    zoneId: z.string(),
    /** 'held-out': the shopper was in the campaign's control group (experiment holdout): recorded, never sent. */
    status: z.enum(['pending', 'acked', 'cancelled', 'expired', 'held-out']),
    createdAtMs: epochMs,
    deliveredAtMs: epochMs.nullable(),
    ackedAtMs: epochMs.nullable(),
    /** When the coupon was redeemed at a till, or null. */
    redeemedAtMs: epochMs.nullable(),
    message: PromotionMessageSchema,
    // Experiments and analytics (issue 6). Optional: added within v1, so older v1 documents stay valid.
    /** The experiment group: a variant ID, "holdout", or null without an experiment. */
    variant: z.string().nullable().optional(),
    /** When the app reported the promotion opened, or null. */
    openedAtMs: epochMs.nullable().optional(),
    /** When an entry into a conversion zone was attributed to it (with analytics consent only), or null. */
    convertedAtMs: epochMs.nullable().optional(),
  })
  .strict();

const ExportedBeaconSchema = z.discriminatedUnion('kind', [
  z.object({
    id: z.string(), kind: z.literal('ibeacon'), createdAtMs: epochMs,
    uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/), major: z.number().int().min(0).max(65_535), minor: z.number().int().min(0).max(65_535),
  }).strict(),
  z.object({
    id: z.string(), kind: z.literal('eddystone-uid'), createdAtMs: epochMs,
    namespace: z.string().regex(/^[0-9a-f]{20}$/), instance: z.string().regex(/^[0-9a-f]{12}$/),
  }).strict(),
]);

type DetailValue = string | number | boolean | null | DetailValue[] | { [key: string]: DetailValue };
const DetailValueSchema: z.ZodType<DetailValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(DetailValueSchema), z.record(z.string(), DetailValueSchema)]));

const ExportedAuditSchema = z
  .object({ seq: z.number().int().positive(), atMs: epochMs, actor: z.string(), action: z.string(), details: z.record(z.string(), DetailValueSchema) })
  .strict();

export const ShopperExportSchema = z
  .object({
    schema: z.literal(SHOPPER_EXPORT_SCHEMA),
    exportedAtMs: epochMs,
    profile: ProfileSchema,
    consents: z.object({ state: z.partialRecord(PurposeSchema, PurposeStateSchema), records: z.array(ConsentRecordSchema) }).strict(),
    presenceEvents: z.array(PresenceEventSchema),
    zoneStates: z.array(ExportedZoneStateSchema),
    /** Visit history per store. Optional: added within v1, so older v1 documents stay valid. */
    visits: z.array(ExportedVisitSchema).optional(),
    promotions: z.array(ExportedPromotionSchema),
    beacons: z.array(ExportedBeaconSchema),
    /** The push target the app registered (PUT /v1/me/push-target), opened for its owner, or null. Optional: added within v1, so older v1 documents stay valid. */
    pushTarget: z.object({ provider: z.enum(['fcm', 'apns', 'webpush']), token: z.string(), updatedAtMs: epochMs }).strict().nullable().optional(),
    /** Audit entries whose subject is this shopper (ACC-1), as chained; their details hold no personal data. */
    audit: z.array(ExportedAuditSchema),
  })
  .strict()
  .meta({ title: 'Vicino shopper data export, version 1', description: 'Everything the system holds about one shopper (GDPR art. 15 and 20).' });
export type ShopperExport = z.infer<typeof ShopperExportSchema>;

/** The published JSON Schema, as committed at SHOPPER_EXPORT_SCHEMA_FILE (stable key order, trailing newline). */
export function shopperExportJsonSchema(): string {
  return `${JSON.stringify({ $id: SHOPPER_EXPORT_SCHEMA, ...z.toJSONSchema(ShopperExportSchema, { target: 'draft-2020-12' }) }, null, 2)}\n`;
}

/** How many of each kind an export holds: what the audit entry records (counts only, no content). */
export function exportCounts(document: ShopperExport): Record<string, number> {
  return {
    consentRecords: document.consents.records.length, presenceEvents: document.presenceEvents.length, zoneStates: document.zoneStates.length,
    visits: document.visits?.length ?? 0, promotions: document.promotions.length, beacons: document.beacons.length, audit: document.audit.length,
  };
}

/** A consent record as exported: one shape for the export and for the erasure proof's ledger fingerprint (domain/erasure.ts). */
export function exportedConsentRecord(r: ConsentRecord): ShopperExport['consents']['records'][number] {
  return {
    id: r.id, purpose: r.purpose, granted: r.granted, textVersion: r.textVersion, textSha256: r.textSha256, locale: r.locale,
    serverTimeMs: r.serverTimeMs, clientTimeMs: r.clientTimeMs, channel: r.channel, previousGranted: r.previousGranted, reason: r.reason ?? null,
  };
}
