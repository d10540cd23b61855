import { z } from 'zod';
import { IdSchema, RemotePresenceSettingsSchema } from '#gateway/protocol/index.ts';
import { BeaconIdentifierSchema } from '../domain/beacon-identifier.ts';
import { CampaignDefinitionSchema, CampaignIdSchema, CampaignSchema } from '../domain/campaign.ts';
import { PurposeSchema } from '../domain/consent.ts';
import { OPERATIONAL_COUNTS } from '../domain/gateway-report.ts';
import { RoleSchema } from '../domain/principal.ts';
import { StoreBodySchema } from '../routes/admin-routes.ts';

// What the handlers send back, as zod schemas for the OpenAPI document (route-docs.ts). Request schemas
// are the handlers' own; these describe responses, which no handler parses, so each one follows the
// handler it names. Times are epoch milliseconds (…Ms) or seconds (…S), as everywhere in the API.

const epochMs = z.number().int().describe('epoch milliseconds');
const nullableMs = epochMs.nullable();

/** Every error: server/app.ts's error handler and server/domain/errors.ts. */
export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().describe('a stable code, such as INVALID_BODY or FORBIDDEN (server/domain/errors.ts)'),
      message: z.string().describe('what is wrong, naming the field at fault'),
      fields: z.array(z.string()).describe('the dotted paths of the fields at fault, such as "caps.perShopper.count"'),
      issues: z.array(z.object({ field: z.string(), message: z.string() })).optional().describe('each field at fault with its own message, for a form to show next to the field'),
    }),
  })
  .meta({ title: 'Error' });

// Operator API.

/** A store as PUT /v1/admin/stores/:storeId takes it, with its ID: what the PUT answers and GET /v1/admin/stores/:storeId reads. */
export const StoreSchema = StoreBodySchema.safeExtend({ id: IdSchema });

export const GatewayConfigFileSchema = z.object({
  config: z.object({
    storeId: IdSchema, gatewayId: IdSchema, zoneId: IdSchema,
    secret: z.string().describe("the gateway's secret, base64url: shown this once"),
    mqtt: z.object({ url: z.string(), username: z.string().describe('the gateway ID') }),
  }),
});

export const GatewaySettingsRecordSchema = z.object({ gatewayId: IdSchema, presence: RemotePresenceSettingsSchema, updatedAtMs: nullableMs });

export const GatewayListSchema = z.object({
  gateways: z.array(z.object({
    id: IdSchema, storeId: IdSchema, zoneId: IdSchema, online: z.boolean(), lastSeenAtMs: nullableMs,
    version: z.string().nullable().describe("the gateway's software version, from its last status message"),
    counts: z.partialRecord(z.enum(OPERATIONAL_COUNTS), z.number()).nullable().describe('operational counters since its process started, from its last heartbeat (never device counts)'),
    reportedAtMs: nullableMs,
  })),
});

export const PosDeviceCreatedSchema = z.object({
  deviceId: z.string(), storeId: IdSchema, name: z.string(), createdAtMs: epochMs, token: z.string().describe("the till's bearer token: shown this once"),
});
export const PosDeviceListSchema = z.object({
  devices: z.array(z.object({ deviceId: z.string(), storeId: IdSchema, name: z.string(), createdAtMs: epochMs, revokedAtMs: nullableMs })),
});

export const ApiKeyCreatedSchema = z.object({
  principalId: z.string(), name: z.string(), role: RoleSchema, createdAtMs: epochMs, key: z.string().describe('the API key: shown this once; the server keeps its SHA-256 only'),
});
export const ApiKeyListSchema = z.object({
  principals: z.array(z.object({ principalId: z.string(), name: z.string(), role: RoleSchema, createdAtMs: epochMs, revokedAtMs: nullableMs })),
});

export const AuditPageSchema = z.object({
  entries: z.array(z.object({
    seq: z.number().int(), atMs: epochMs, actor: z.string().describe('a principal or user ID, "shopper", "admin" or "system"'), action: z.string(), subject: z.string(),
    details: z.record(z.string(), z.unknown()).describe('IDs, counts and settings: never a secret or personal data'),
    prevHash: z.string().describe("the previous entry's hash"), hash: z.string().describe('SHA-256 over this entry and prevHash: the chain GET /v1/admin/audit/verify checks'),
  })),
  nextSeq: z.number().int().nullable().describe('the fromSeq of the next page; null on the last page'),
});

/** GET /v1/admin/audit/verify: the chain intact, or its first bad entry (server/verify-audit-log.ts). */
export const AuditVerificationSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), entries: z.number().int().describe('entries checked: all of them'), head: z.string().describe("the last entry's hash"), checkedAtMs: epochMs }),
  z.object({
    ok: z.literal(false), entries: z.number().int().describe('entries intact before the first bad one'), firstBadSeq: z.number().int(),
    fault: z.enum(['altered', 'missing', 'out-of-order', 'broken-link']), reason: z.string(), checkedAtMs: epochMs,
  }),
]);

export const DeadLetterPageSchema = z.object({
  deadLetters: z.array(z.object({ promotionId: z.string(), attempts: z.number().int(), replays: z.number().int(), lastError: z.string().nullable(), deadAtMs: epochMs })),
  next: z.string().nullable().describe('the `after` of the next page; null on the last page'),
});
export const DeadLetterReplaySchema = z.object({ requeued: z.array(z.string()), notDead: z.array(z.string()).describe('unknown, or no longer dead') });

const LifecycleSchema = z.object({
  createdAtMs: epochMs, updatedAtMs: epochMs,
  authoredBy: z.string().nullable(), authoredAtMs: nullableMs, submittedBy: z.string().nullable(), submittedAtMs: nullableMs,
  approvedBy: z.string().nullable(), approvedAtMs: nullableMs, statusChangedBy: z.string().nullable(), statusChangedAtMs: nullableMs,
  definitionSha256: z.string().describe('SHA-256 of the definition, as audited'),
});

/** A campaign as the API shows it: the campaign, and who did what to it when (campaign-routes.ts view). */
export const CampaignViewSchema = CampaignSchema.safeExtend({ lifecycle: LifecycleSchema }).meta({ title: 'CampaignView' });
export const CampaignListSchema = z.object({ campaigns: z.array(CampaignViewSchema) });
export const CampaignVersionsSchema = z.object({
  versions: z.array(z.object({ campaignId: CampaignIdSchema, version: z.number().int(), definition: CampaignDefinitionSchema, definitionSha256: z.string(), authoredBy: z.string().nullable(), authoredAtMs: nullableMs })),
});

export const FieldIssueSchema = z.object({ field: z.string(), message: z.string() });

const RenderedMessageSchema = z.object({ title: z.string(), body: z.string(), deepLink: z.string().optional() });
const MessagePreviewSchema = z.object({
  personalised: RenderedMessageSchema.describe('as a shopper with personalisation consent reads it, with the sample values'),
  generic: RenderedMessageSchema.describe('as everyone else reads it'),
});
/** domain/campaign-preview.ts CampaignPreview. */
export const CampaignPreviewSchema = z.object({
  valid: z.boolean().describe('whether a PUT of this definition would be accepted, as the stores are configured now'),
  issues: z.array(FieldIssueSchema).describe("every problem, each at its field's dotted path within the definition"),
  preview: MessagePreviewSchema.extend({ variants: z.array(MessagePreviewSchema.extend({ id: z.string() })) })
    .nullable().describe("the message, and each experiment variant's; null while the message itself is not valid"),
});

export const StoreListSchema = z.object({
  stores: z.array(z.object({ id: IdSchema, name: z.string(), timezone: z.string(), zoneCount: z.number().int(), gatewayCount: z.number().int() })),
});

/** domain/live-view.ts LiveView. */
export const LiveStoreSchema = z.object({
  storeId: IdSchema, atMs: epochMs, k: z.number().int().describe('the k of k-anonymity: smaller counts are suppressed'),
  windowS: z.number().describe('the window the rates are averaged over, s'),
  zones: z.array(z.object({
    zoneId: IdSchema, name: z.string(), sensitive: z.boolean(),
    occupancy: z.number().int().nullable().describe('shoppers present; null when fewer than k, or a sensitive zone: suppressed'),
    eventsPerSecond: z.number().nullable().describe('null when the occupancy is suppressed'),
  })),
  eventsPerSecond: z.number().describe("events per second of the store's gateways outside sensitive zones"),
});

const UpliftSchema = z.object({ status: z.enum(['ok', 'not-enough-data']) }).catchall(z.unknown());
export const CampaignReportSchema = z.object({
  campaignId: CampaignIdSchema, k: z.number().int(),
  groups: z.array(z.object({
    variant: z.string(), holdout: z.boolean(), suppressed: z.boolean(),
    shoppers: z.number().int().nullable(), exposures: z.number().int().nullable(), deliveries: z.number().int().nullable(), opens: z.number().int().nullable(),
    redemptions: z.number().int().nullable(), conversions: z.number().int().nullable(), convertedShoppers: z.number().int().nullable(),
    redemptionRate: z.number().nullable(), conversionRate: z.number().nullable(),
  })),
  uplift: UpliftSchema, variants: z.array(z.object({ variant: z.string(), uplift: UpliftSchema })),
});
const ZoneCellSchema = z.object({ zoneId: IdSchema, bucketStartMs: epochMs, bucketEndMs: epochMs, shoppers: z.number().int().nullable(), suppressed: z.boolean() });
export const ZoneReportSchema = z.object({
  storeId: IdSchema, timezone: z.string(), bucket: z.string(), fromMs: epochMs, toMs: epochMs, k: z.number().int(), rolledUntilMs: epochMs,
  footfall: z.array(ZoneCellSchema), dwell: z.array(ZoneCellSchema.extend({ bin: z.string() })), dwellBins: z.array(z.string()),
});
/** domain/campaign-series.ts CampaignSeries. */
export const CampaignSeriesSchema = z.object({
  campaignId: CampaignIdSchema, timezone: z.string().describe("the time zone on whose wall clock the buckets are aligned (the placed stores' own, else UTC)"),
  bucket: z.string(), fromMs: epochMs, toMs: epochMs, k: z.number().int(),
  points: z.array(z.object({
    bucketStartMs: epochMs, bucketEndMs: epochMs,
    deliveries: z.number().int().nullable(), opens: z.number().int().nullable(), redemptions: z.number().int().nullable(),
  })).describe('each closed bucket; a count from fewer than k distinct shoppers is null, as an empty one is'),
});

export const RecordOfProcessingSchema = z.record(z.string(), z.unknown()).describe('the record of processing activities (GDPR art. 30) as JSON');

// Console sessions and users.

export const UserSchema = z.object({ id: z.string(), username: z.string(), role: RoleSchema, createdAtMs: epochMs, disabledAtMs: nullableMs });
export const UserListSchema = z.object({ users: z.array(UserSchema) });
export const SessionSchema = z.object({
  user: z.object({ id: z.string(), username: z.string(), role: RoleSchema }),
  permissions: z.array(z.string()).describe("the role's permissions (auth/permissions.ts), so the console hides what the user cannot do"),
  csrfToken: z.string().describe('send it as X-CSRF-Token on every request that changes something'),
  expiresAtMs: epochMs, idleTimeoutMs: z.number().int(),
});

// The shopper app's API.

export const RegisteredSchema = z.object({
  shopperId: z.string(), token: z.string().describe("the app's credential: keep it in the device's secure storage"),
  rotationExponent: z.number().int(), resolverPublicKey: z.string(), objected: z.boolean(),
});
const ConsentStateSchema = z
  .partialRecord(PurposeSchema, z.object({ granted: z.boolean(), textVersion: z.string(), atMs: epochMs }))
  .describe("each purpose's last answer");
export const ConsentsSchema = z.object({ consents: ConsentStateSchema });
export const ShopperSelfSchema = z.object({
  shopperId: z.string(), locale: z.string(), registeredAtMs: epochMs, country: z.string().nullable(), birthYear: z.number().int().nullable(),
  loyaltyTier: z.string().nullable(), interests: z.array(z.string()), consents: ConsentStateSchema,
  purposes: z.record(z.string(), z.object({ status: z.string(), textVersion: z.string().nullable(), grantedAtMs: nullableMs, expiresAtMs: nullableMs }).catchall(z.unknown())),
});
export const ProfileSchema = z.object({
  country: z.string().nullable(), birthYear: z.number().int().nullable(), loyaltyTier: z.string().nullable(), interests: z.array(z.string()), consents: ConsentStateSchema,
});
const ConsentTextSchema = z.object({ purpose: PurposeSchema, version: z.string(), locale: z.string(), text: z.string(), sha256: z.string() });
export const ConsentTextsSchema = z.object({ texts: z.array(ConsentTextSchema) });
export const ArchivedConsentTextSchema = ConsentTextSchema.extend({ archivedAtMs: epochMs });
export const ResolverInfoSchema = z.object({ publicKey: z.string(), defaultRotationExponent: z.number().int(), timeBase: z.literal('unix-seconds'), toleranceWindows: z.number().int() });
export const TokenRotatedSchema = z.object({ token: z.string(), issuedAtMs: epochMs, expiresAtMs: epochMs });
export const PromotionListSchema = z.object({ promotions: z.array(z.record(z.string(), z.unknown())).describe('promotion messages (domain/promotion.ts PromotionMessageSchema)') });
export const BeaconLinkedSchema = z.object({ id: z.string(), kind: z.string() });
export const BeaconListSchema = z.object({ beacons: z.array(z.intersection(BeaconIdentifierSchema, z.object({ id: z.string(), createdAtMs: epochMs }))) });
export const RegionsSchema = z.object({ regions: z.array(z.object({ uuid: z.string(), major: z.number().int().optional() })), limit: z.number().int() });
export const SightingOutcomeSchema = z.object({ eventId: z.string(), zoneId: IdSchema, outcome: z.string() });
export const ObjectionSchema = z.object({ objected: z.literal(true), objectedAtMs: nullableMs, consents: ConsentStateSchema });
export const RestrictionSchema = z.object({ restricted: z.boolean() });
export const RedeemedSchema = z.object({
  redemption: z.object({ couponCode: z.string(), campaignId: z.string(), title: z.string(), redeemedAtMs: epochMs, storeId: IdSchema, zoneId: IdSchema }),
});

// Status.

export const HealthSchema = z.object({ status: z.literal('ok'), store: z.string() });
export const StatusSchema = z.object({
  atMs: epochMs, gateways: z.object({ total: z.number().int(), online: z.number().int() }), resolver: z.record(z.string(), z.unknown()),
  connectedApps: z.number().int(), presenceMessages: z.number(), unresolvedMessages: z.number(), counts: z.record(z.string(), z.number()),
});
