import { z } from 'zod';

// The campaign model (issue 6 item 1). Two layers:
// - CampaignDefinitionSchema: what a marketer writes — placement, trigger, audience, schedule, caps,
//   budget, experiment, message, priority. The API, the console and the Store all validate with it, so
//   a wrong field gets the same message everywhere. Versioned: `schemaVersion` is the shape of the
//   definition; every saved change of a campaign is a new `version` (domain/campaign-lifecycle.ts).
// - CampaignSchema: a definition as stored and evaluated, with its ID, lifecycle status and version.
//
// Times of day and dates are local to each store's time zone (StoreRecord.timezone), so one
// organisation-wide campaign runs 09:00–12:00 in Rome and in Lisbon alike, and a window stays
// 09:00–12:00 across a DST change (domain/schedule.ts turns them into instants).
//
// Cross-field rules that a per-field schema cannot state — caps that contradict each other, a schedule
// that can never run — are refinements here, each naming its field and reason. What needs the stores'
// configuration (unknown or sensitive zones, a window outside every opening hour) is checked against it
// by validateCampaignPlacement (domain/campaign-checks.ts) before a definition is saved.

export const CAMPAIGN_SCHEMA_VERSION = 2;

export const CampaignIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1–64 lower-case letters, digits, "-" or "_", starting with a letter or digit');

const IdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1–64 letters, digits, ".", "-" or "_"');

// Placement: organisation → store → zones. The organisation is the deployment (one controller);
// 'organisation' places the campaign in every store, 'stores' in every zone of the stores named,
// 'zones' in the zones named of one store. Sensitive zones (AN-3) never trigger anything, whatever the level.
export const PlacementSchema = z.discriminatedUnion('level', [
  z.object({ level: z.literal('organisation') }).strict(),
  z.object({ level: z.literal('stores'), storeIds: z.array(IdSchema).min(1).max(500) }).strict(),
  z.object({ level: z.literal('zones'), storeId: IdSchema, zoneIds: z.array(IdSchema).min(1).max(200) }).strict(),
]);
export type Placement = z.infer<typeof PlacementSchema>;

// Trigger: an arbitrated zone transition (enter, exit), a dwell, or a visit to the store — the Nth
// visit, or a return after at least N days away. A visit starts with the first entry into the store
// after a gap (domain/visits.ts); visit triggers fire on that entry, in a placed zone.
export const TriggerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('enter') }).strict(),
  z.object({ kind: z.literal('dwell'), minDwellS: z.number().int().min(1).max(86_400) }).strict(),
  z.object({ kind: z.literal('exit') }).strict(),
  z.object({ kind: z.literal('return'), minDaysAway: z.number().int().min(1).max(3650) }).strict(),
  z
    .object({
      kind: z.literal('visit'),
      /** The visit number that triggers (1 = the first visit ever recorded). */
      nth: z.number().int().min(1).max(10_000),
      /** Every nth visit (n, 2n, 3n…) instead of the nth only. */
      repeat: z.boolean().default(false),
    })
    .strict(),
]);
export type Trigger = z.infer<typeof TriggerSchema>;
export type TriggerKind = Trigger['kind'];

export const LOYALTY_TIERS = ['basic', 'silver', 'gold', 'platinum'] as const;
export const LoyaltyTierSchema = z.enum(LOYALTY_TIERS);
export type LoyaltyTier = z.infer<typeof LoyaltyTierSchema>;
export const InterestSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a lower-case tag such as "coffee" or "kids-fashion"');

// Audience: everyone who consented to promotions, or a segment. A segment uses attributes and visit
// history, which is profiling: it applies only to shoppers who granted personalisation (P2); a shopper
// without P2 is never in a segment (decision.ts). Every condition given must hold.
export const SegmentSchema = z
  .object({
    loyaltyTiers: z.array(LoyaltyTierSchema).min(1).optional(),
    /** At least one of these interests. */
    interests: z.array(InterestSchema).min(1).max(50).optional(),
    /** Visits to this store before the current one (visit history). */
    minPastVisits: z.number().int().min(0).max(100_000).optional(),
    maxPastVisits: z.number().int().min(0).max(100_000).optional(),
  })
  .strict()
  .superRefine((segment, ctx) => {
    if (Object.values(segment).every((v) => v === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a segment needs at least one condition (loyaltyTiers, interests, minPastVisits or maxPastVisits); use { "kind": "everyone" } for everyone' });
    }
    if (segment.minPastVisits !== undefined && segment.maxPastVisits !== undefined && segment.minPastVisits > segment.maxPastVisits) {
      ctx.addIssue({ code: 'custom', path: ['maxPastVisits'], message: `maxPastVisits (${segment.maxPastVisits}) is below minPastVisits (${segment.minPastVisits}): no shopper can match` });
    }
  });
export type Segment = z.infer<typeof SegmentSchema>;

export const AudienceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('everyone') }).strict(),
  z.object({ kind: z.literal('segment'), segment: SegmentSchema }).strict(),
]);
export type Audience = z.infer<typeof AudienceSchema>;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const WeekdaySchema = z.enum(WEEKDAYS);
export type Weekday = z.infer<typeof WeekdaySchema>;

const LocalTimeSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be a local time "HH:MM" (00:00–24:00)');
const LocalDateTimeSchema = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d$/, 'must be a local date and time "YYYY-MM-DDTHH:MM" in the store\'s time zone');

/** Minutes after local midnight of "HH:MM". */
export const minutesOf = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

/**
 * A weekly window in the store's local time: on each of `days`, from `from` until `to`. A `to` earlier
 * than `from` runs overnight into the next day (22:00–07:00); "24:00" is the end of the day.
 */
export const WeeklyWindowSchema = z
  .object({ days: z.array(WeekdaySchema).min(1).max(7), from: LocalTimeSchema, to: LocalTimeSchema })
  .strict()
  .superRefine((window, ctx) => {
    if (minutesOf(window.from) === minutesOf(window.to)) ctx.addIssue({ code: 'custom', path: ['to'], message: `the window ${window.from}–${window.to} is empty: "to" must differ from "from"` });
    if (window.from === '24:00') ctx.addIssue({ code: 'custom', path: ['from'], message: '"from" cannot be 24:00; use 00:00' });
    if (new Set(window.days).size !== window.days.length) ctx.addIssue({ code: 'custom', path: ['days'], message: 'a day is listed twice' });
  });
export type WeeklyWindow = z.infer<typeof WeeklyWindowSchema>;

export const ScheduleSchema = z
  .object({
    /** First local date-time it may send, in each store's time zone; none = from approval. */
    from: LocalDateTimeSchema.optional(),
    /** Local date-time from which it no longer sends; none = until ended. */
    until: LocalDateTimeSchema.optional(),
    /** When in the week it may send; none = at any time the store is open (and not in quiet hours). */
    windows: z.array(WeeklyWindowSchema).min(1).max(50).optional(),
  })
  .strict()
  .superRefine((schedule, ctx) => {
    if (schedule.from !== undefined && schedule.until !== undefined && schedule.until <= schedule.from) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: `until (${schedule.until}) is not after from (${schedule.from}): the campaign could never run` });
    }
  });
export type Schedule = z.infer<typeof ScheduleSchema>;

export const CapsSchema = z
  .object({
    /** Per shopper per campaign: at most `count` per `periodS`. */
    perShopper: z.object({ count: z.number().int().min(1).max(1000), periodS: z.number().int().min(60).max(366 * 86_400) }).strict(),
    /** Per shopper per campaign: at least this long between two sends. */
    minGapS: z.number().int().min(0).max(366 * 86_400),
    /** Per shopper across all campaigns, per rolling day. */
    perShopperDaily: z.number().int().min(1).max(1000),
    /** After any delivery to a shopper, nothing else for this long. */
    cooldownS: z.number().int().min(0).max(7 * 86_400),
  })
  .strict()
  .superRefine((caps, ctx) => {
    const { count, periodS } = caps.perShopper;
    // n sends in one period need (n - 1) gaps inside it.
    if (count > 1 && caps.minGapS * (count - 1) >= periodS) {
      ctx.addIssue({
        code: 'custom', path: ['minGapS'],
        message: `minGapS ${caps.minGapS} s leaves room for at most ${Math.floor((periodS - 1) / Math.max(caps.minGapS, 1)) + 1} sends per ${periodS} s period, but perShopper.count is ${count}: lower one of them`,
      });
    }
    if (periodS <= 86_400 && count > caps.perShopperDaily) {
      ctx.addIssue({
        code: 'custom', path: ['perShopper', 'count'],
        message: `perShopper.count ${count} per ${periodS} s can never be reached: perShopperDaily allows ${caps.perShopperDaily} a day across all campaigns`,
      });
    }
  });
export type Caps = z.infer<typeof CapsSchema>;

export const BudgetSchema = z
  .object({
    /** Promotions sent, at most; held-out (control) shoppers do not count. */
    maxDeliveries: z.number().int().min(1).max(100_000_000).optional(),
    /**
     * Coupons redeemed, at most. Enforced when sending: no coupon is issued while redeemed plus
     * outstanding (sent, unexpired, unredeemed) coupons reach it, so a till never refuses one.
     */
    maxRedemptions: z.number().int().min(1).max(100_000_000).optional(),
  })
  .strict()
  .superRefine((budget, ctx) => {
    if (budget.maxDeliveries !== undefined && budget.maxRedemptions !== undefined && budget.maxRedemptions > budget.maxDeliveries) {
      ctx.addIssue({ code: 'custom', path: ['maxRedemptions'], message: `maxRedemptions (${budget.maxRedemptions}) exceeds maxDeliveries (${budget.maxDeliveries}): each delivery carries one coupon` });
    }
  });
export type Budget = z.infer<typeof BudgetSchema>;

/** Placeholders a template may use: shopper-provided attributes, rendered only with P2 (personalisation). */
export const TEMPLATE_PLACEHOLDERS = ['firstName', 'loyaltyTier'] as const;
const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;

function templateField(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .superRefine((text, ctx) => {
      for (const match of text.matchAll(PLACEHOLDER)) {
        const name = match[1]!;
        if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name)) {
          ctx.addIssue({ code: 'custom', message: `unknown placeholder {{${name}}}: use ${TEMPLATE_PLACEHOLDERS.map((p) => `{{${p}}}`).join(' or ')}` });
        }
      }
    });
}

const DeepLinkSchema = z
  .string()
  .max(2048)
  .url()
  .refine((url) => !/^(javascript|data|vbscript|file):/i.test(url), 'must not be a javascript:, data:, vbscript: or file: URL');

export const MessageSchema = z
  .object({
    /** May use {{firstName}} or {{loyaltyTier}}: rendered only with personalisation consent (P2). */
    title: templateField(80),
    body: templateField(500),
    deepLink: DeepLinkSchema.optional(),
    /** How long the promotion (and its coupon) stays valid after it is sent: its expiry. */
    validForS: z.number().int().min(60).max(30 * 86_400),
  })
  .strict();
export type Message = z.infer<typeof MessageSchema>;

export const VariantIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$/, 'must be 1–16 letters, digits, "-" or "_"');
export const HOLDOUT_VARIANT = 'holdout';

export const VariantSchema = z
  .object({
    id: VariantIdSchema.refine((id) => id !== HOLDOUT_VARIANT, `"${HOLDOUT_VARIANT}" is the control group's name`),
    /** Relative weight among the variants (not counting the holdout). */
    weight: z.number().int().min(1).max(10_000),
    /** Overrides of the campaign's message for this variant. */
    message: z.object({ title: templateField(80).optional(), body: templateField(500).optional(), deepLink: DeepLinkSchema.optional() }).strict().optional(),
  })
  .strict();
export type Variant = z.infer<typeof VariantSchema>;

// A/B variants by weight, plus a holdout: a share of the audience that is decided for but never sent
// anything, the control group the uplift is measured against. A shopper's group is a keyed hash of
// (campaign, shopper): stable for the campaign's life, across instances and restarts (experiment.ts).
export const ExperimentSchema = z
  .object({
    variants: z.array(VariantSchema).min(1).max(10),
    /** Per cent of the audience held out as the control group (0–50). */
    holdoutPercent: z.number().min(0).max(50),
  })
  .strict()
  .superRefine((experiment, ctx) => {
    const seen = new Set<string>();
    experiment.variants.forEach((variant, i) => {
      if (seen.has(variant.id)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'id'], message: `variant "${variant.id}" is listed twice` });
      seen.add(variant.id);
    });
  });
export type Experiment = z.infer<typeof ExperimentSchema>;

/** How conversions are attributed (analytics): a shopper exposed (sent, or held out) who then enters a conversion zone within the window. */
export const AttributionSchema = z
  .object({
    /** Zones of the placed stores whose entry counts as a conversion (a checkout, a department). */
    conversionZoneIds: z.array(IdSchema).min(1).max(50),
    windowS: z.number().int().min(60).max(30 * 86_400),
  })
  .strict();
export type Attribution = z.infer<typeof AttributionSchema>;

const definitionShape = {
  schemaVersion: z.literal(CAMPAIGN_SCHEMA_VERSION).default(CAMPAIGN_SCHEMA_VERSION),
  name: z.string().trim().min(1).max(120),
  placement: PlacementSchema,
  trigger: TriggerSchema,
  audience: AudienceSchema.default({ kind: 'everyone' }),
  schedule: ScheduleSchema.default({}),
  caps: CapsSchema,
  budget: BudgetSchema.default({}),
  experiment: ExperimentSchema.optional(),
  attribution: AttributionSchema.optional(),
  message: MessageSchema,
  /** At most one promotion per trigger per shopper: the highest priority wins (then the lower ID). */
  priority: z.number().int().min(0).max(1000).default(100),
};

/** The rules across a definition's parts. */
function refineDefinition(definition: { experiment?: Experiment | undefined; attribution?: Attribution | undefined }, ctx: z.RefinementCtx): void {
  if (definition.experiment !== undefined && definition.experiment.holdoutPercent > 0 && definition.attribution === undefined) {
    ctx.addIssue({ code: 'custom', path: ['attribution'], message: 'a holdout measures uplift: set attribution (conversionZoneIds, windowS), or holdoutPercent 0' });
  }
}

export const CampaignDefinitionSchema = z.object(definitionShape).strict().superRefine(refineDefinition);
export type CampaignDefinition = z.infer<typeof CampaignDefinitionSchema>;
export type CampaignDefinitionInput = z.input<typeof CampaignDefinitionSchema>;

// Lifecycle: draft → pending (submitted for approval) → active ⇄ paused → ended. Only 'active' sends.
export const CAMPAIGN_STATUSES = ['draft', 'pending', 'active', 'paused', 'ended'] as const;
export const CampaignStatusSchema = z.enum(CAMPAIGN_STATUSES);
export type CampaignStatus = z.infer<typeof CampaignStatusSchema>;

export const CampaignSchema = z
  .object({
    id: CampaignIdSchema,
    status: CampaignStatusSchema,
    /** 1 for the first saved definition, +1 on each change of it (not on status changes). */
    version: z.number().int().min(1).default(1),
    ...definitionShape,
  })
  .strict()
  .superRefine(refineDefinition);
export type Campaign = z.infer<typeof CampaignSchema>;
export type CampaignInput = z.input<typeof CampaignSchema>;

/** The definition part of a campaign (what a version holds). */
export function definitionOf(campaign: CampaignDefinition & { id?: string; status?: string; version?: number }): CampaignDefinition {
  const { id: _id, status: _status, version: _version, ...definition } = campaign;
  return definition;
}

/** Whether a campaign is placed in this store (at any level). */
export function placedInStore(placement: Placement, storeId: string): boolean {
  switch (placement.level) {
    case 'organisation':
      return true;
    case 'stores':
      return placement.storeIds.includes(storeId);
    case 'zones':
      return placement.storeId === storeId;
  }
}

/** Whether a campaign is placed in this zone of this store; sensitive zones are the caller's to exclude. */
export function placedInZone(placement: Placement, storeId: string, zoneId: string): boolean {
  return placedInStore(placement, storeId) && (placement.level !== 'zones' || placement.zoneIds.includes(zoneId));
}

/** The stores a placement names explicitly; undefined for the whole organisation. */
export function placementStoreIds(placement: Placement): string[] | undefined {
  switch (placement.level) {
    case 'organisation':
      return undefined;
    case 'stores':
      return placement.storeIds;
    case 'zones':
      return [placement.storeId];
  }
}

/** The store column a campaign is indexed by: its one store, or '*' when it is placed in several or all. */
export function campaignStoreKey(placement: Placement): string {
  const stores = placementStoreIds(placement);
  return stores !== undefined && stores.length === 1 ? stores[0]! : '*';
}
