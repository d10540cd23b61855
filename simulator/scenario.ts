import { z } from 'zod';

// A scenario: the store, its zones and gateways, the radio, the people, and the campaign to run.
// Validated with zod; every problem is reported with its path. (The simulator issue extends this
// with floor plans as polygons, Poisson arrivals, platform mixes and schedules.)

const Id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'IDs are lowercase letters, digits, _ and -');
const Point = z.object({ x: z.number().min(0).max(10_000), y: z.number().min(0).max(10_000) }).strict();

/** The campaign a scenario puts live (maker–checker, through the admin API) for its run against a server. */
export const ScenarioCampaignSchema = z
  .object({
    id: Id,
    name: z.string().min(1),
    zoneIds: z.array(Id).min(1),
    trigger: z.union([
      z.object({ kind: z.literal('enter') }).strict(),
      z.object({ kind: z.literal('exit') }).strict(),
      z.object({ kind: z.literal('dwell'), minDwellS: z.number().int().min(1) }).strict(),
    ]),
    message: z.object({ title: z.string(), body: z.string(), deepLink: z.string().optional(), validForS: z.number().int() }).strict(),
    caps: z.object({
      perShopper: z.object({ count: z.number().int(), periodS: z.number().int() }).strict(),
      minGapS: z.number().int(),
      perShopperDaily: z.number().int(),
      cooldownS: z.number().int(),
    }).strict(),
  })
  .strict();

export const ScenarioSchema = z
  .object({
    name: z.string().min(1),
    seed: z.number().int().nonnegative().default(1),
    store: z.object({ id: Id, name: z.string().min(1), timezone: z.string().min(1).default('UTC') }).strict(),
    /** Where shoppers come in and leave. */
    door: Point,
    zones: z
      .array(
        z
          .object({
            id: Id,
            name: z.string().min(1),
            sensitive: z.boolean().default(false),
            /** Where shoppers stand while in this zone. */
            centre: Point,
            gateway: z.object({ id: Id, position: Point, rssiOffsetDb: z.number().min(-20).max(20).default(0), dutyCycle: z.number().gt(0).max(1).default(1) }).strict(),
          })
          .strict(),
      )
      .min(1)
      .max(100),
    radio: z
      .object({
        pathLossExponent: z.number().min(1.5).max(5),
        shadowingSigmaDb: z.number().min(0).max(15),
        multipathBurstProbability: z.number().min(0).max(1),
        multipathBurstDb: z.number().min(-30).max(0),
        packetLoss: z.number().min(0).max(1),
        sensitivityDbm: z.number().min(-110).max(-60),
      })
      .partial()
      .strict()
      .default({}),
    population: z
      .object({
        /** Apps that opt in to presence and promotions (half of them also to personalisation). */
        optedInApps: z.number().int().min(0).max(10_000),
        /**
         * Share (0–1) of the opted-in apps whose shopper carries a loyalty iBeacon, linked through the API
         * after consenting. Their phone does not advertise (it stays in a bag): the beacon is how they are seen.
         */
        loyaltyBeaconShare: z.number().min(0).max(1).default(0),
        /**
         * Share (0–1) of the apps of each kind that run on iOS in the background: they do not advertise (iOS
         * cannot, readably); they monitor the store-beacon regions (GET /v1/me/regions) and report a
         * sighting (POST /v1/me/sightings) on entering and leaving a zone beacon's range.
         */
        iosBackgroundShare: z.number().min(0).max(1).default(0),
        /** How near (m) a store beacon an iOS app must be for region monitoring to report it. */
        storeBeaconRangeM: z.number().min(0.5).max(50).default(4),
        /** Apps that opt in to presence only: resolved, never marketed to. */
        presenceOnlyApps: z.number().int().min(0).max(10_000),
        /** Apps that opt in fully, then withdraw promotions after withdrawAfterS. */
        withdrawingApps: z.number().int().min(0).max(10_000),
        withdrawAfterS: z.number().min(0).default(8),
        /** Share (0–1) of the promotions shown that the shopper redeems at a till (POST /v1/pos/redemptions), redeemAfterS later. */
        redeemProbability: z.number().min(0).max(1).default(0.3),
        redeemAfterS: z.tuple([z.number().min(0), z.number().min(0)]).default([1, 4]),
        /** Apps that registered but never gave presence consent, and advertise anyway: the server must resolve nothing. */
        registeredWithoutConsentApps: z.number().int().min(0).max(10_000).default(0),
        /** Phones without the app: Apple Continuity, Exposure Notification, rotating addresses. */
        phonesWithoutApp: z.number().int().min(0).max(10_000),
        /** Beacons nobody registered (someone's key finder, a neighbouring shop's beacon, an Eddystone-EID tag of another system). */
        foreignBeacons: z.number().int().min(0).max(10_000),
        /** Arrivals are spread uniformly over this many seconds; after a visit a shopper comes back later. */
        arrivalSpreadS: z.number().min(0).max(86_400),
        revisitAfterS: z.tuple([z.number().min(0), z.number().min(0)]).default([10, 30]),
        dwellS: z.tuple([z.number().min(0), z.number().min(0)]),
        walkingSpeedMps: z.number().min(0.2).max(3).default(1.2),
        appAdvertisingIntervalMs: z.number().int().min(20).max(10_000).default(200),
      })
      .strict(),
    campaign: ScenarioCampaignSchema,
  })
  .strict()
  .superRefine((scenario, ctx) => {
    const zoneIds = new Set(scenario.zones.map((z) => z.id));
    scenario.campaign.zoneIds.forEach((id, i) => {
      if (!zoneIds.has(id)) ctx.addIssue({ code: 'custom', path: ['campaign', 'zoneIds', i], message: `no zone "${id}" in this scenario` });
    });
    const gatewayIds = scenario.zones.map((z) => z.gateway.id);
    if (new Set(gatewayIds).size !== gatewayIds.length) ctx.addIssue({ code: 'custom', path: ['zones'], message: 'gateway IDs must be unique' });
    if (zoneIds.size !== scenario.zones.length) ctx.addIssue({ code: 'custom', path: ['zones'], message: 'zone IDs must be unique' });
  });
export type Scenario = z.infer<typeof ScenarioSchema>;

/** A JSON file through a schema: its value, or every problem as `file: path: reason`. */
export function parseJsonWith<T>(schema: z.ZodType<T>, text: string, fileName: string): { ok: true; value: T } | { ok: false; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`${fileName} is not valid JSON: ${(error as Error).message}`] };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((issue) => `${fileName}: ${issue.path.join('.') || '(root)'}: ${issue.message}`) };
}

export function parseScenario(text: string, fileName = 'scenario'): { ok: true; scenario: Scenario } | { ok: false; problems: string[] } {
  const parsed = parseJsonWith(ScenarioSchema, text, fileName);
  return parsed.ok ? { ok: true, scenario: parsed.value } : parsed;
}
