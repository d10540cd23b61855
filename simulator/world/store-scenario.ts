import { z } from 'zod';
import { RemotePresenceSettingsSchema } from '#gateway/protocol/index.ts';
import { parseJsonWith, ScenarioCampaignSchema } from '#simulator/scenario.ts';
import { polygonDefect, polygonsOverlap, type Point } from '#server/domain/geometry.ts';

// A store scenario, version 2: the floor plan as polygons, gateways and store beacons at positions,
// walkways, Poisson arrivals with an hourly profile, the platform and consent mix, the radio and the
// crowd of other devices. Lengths are metres and times seconds unless a name says otherwise.
// Every problem is reported at once, as `file: path: reason`, like the v1 scenario (simulator/scenario.ts):
// field checks by zod, then the cross-field checks below on whichever parts parsed.

const Id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'IDs are lowercase letters, digits, _ and -');
// z.number() already rejects NaN and ±Infinity (zod 4), so every coordinate is finite.
const PointSchema = z.object({ x: z.number(), y: z.number() }).strict();
const nonNegative = <S extends z.ZodNumber>(schema: S) => schema.min(0, { error: (iss) => `must not be negative (got ${String(iss.input)})` });
const positive = <S extends z.ZodNumber>(schema: S) => schema.gt(0, { error: (iss) => `must be positive (got ${String(iss.input)})` });
const share = () => z.number().min(0, { error: shareMessage }).max(1, { error: shareMessage });
function shareMessage(iss: { input?: unknown }): string {
  return `must be a share from 0 to 1 (got ${String(iss.input)})`;
}
/** [min, max] with min ≤ max. */
const range = (item: z.ZodNumber) =>
  z.tuple([item, item]).superRefine(([min, max], ctx) => {
    if (min > max) ctx.addIssue({ code: 'custom', message: `the minimum ${min} exceeds the maximum ${max}` });
  });

const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day HH:MM, 00:00 to 23:59');
/** Minutes since local midnight of an 'HH:MM' time. */
export function minutesOfDay(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}
const CalendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD', abort: true })
  .refine(isRealDate, { error: (iss) => `${String(iss.input)} is not a real date` });
/** 'YYYY-MM-DD' names a day of the proleptic Gregorian calendar (no 30 February, no month 13). */
function isRealDate(date: string): boolean {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day); // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999
  return utc.getUTCFullYear() === year && utc.getUTCMonth() === month - 1 && utc.getUTCDate() === day;
}
const TimeZone = z.string().refine(
  (timeZone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone });
      return true;
    } catch {
      return false;
    }
  },
  { error: (iss) => `unknown time zone "${String(iss.input)}"` },
);
const OpeningHoursSchema = z
  .object({ open: TimeOfDay, close: TimeOfDay })
  .strict()
  // A store open past midnight would need two simulated days; not supported.
  .superRefine((hours, ctx) => {
    if (minutesOfDay(hours.close) <= minutesOfDay(hours.open)) ctx.addIssue({ code: 'custom', path: ['close'], message: `close (${hours.close}) must be after open (${hours.open})` });
  });

/** The local hours h (0–23) whose hour [h:00, h+1:00) the store is open for at least a minute. */
export function openingHourIndices(hours: { open: string; close: string }): number[] {
  const open = minutesOfDay(hours.open);
  const close = minutesOfDay(hours.close);
  return Array.from({ length: 24 }, (_, h) => h).filter((h) => h * 60 + 60 > open && h * 60 < close);
}

const Dwell = z.object({ medianS: positive(z.number()), sigma: z.number().min(0).max(3) }).strict(); // log-normal: median e^μ, σ of ln
const PolygonSchema = z.array(PointSchema).min(3).max(64);
const FloorPlanSchema = z.object({ widthM: positive(z.number()).max(2000), heightM: positive(z.number()).max(2000) }).strict();
const ZoneSchema = z.object({ id: Id, name: z.string().min(1), sensitive: z.boolean().default(false), polygon: PolygonSchema, weight: nonNegative(z.number()).default(1), dwellS: Dwell.optional() }).strict();
const WalkwaysSchema = z.object({ nodes: z.record(Id, PointSchema), edges: z.array(z.tuple([Id, Id])) }).strict();
// BLE advertising interval: 20 ms to 10.24 s (Core Spec v5.4, Vol 6, Part B, §4.4.2.2).
const AdvertisingInterval = z.number().int().min(20).max(10_240);

export const StoreScenarioSchema = z
  .object({
    version: z.literal(2),
    name: z.string().min(1),
    seed: nonNegative(z.number().int()).default(1),
    store: z
      .object({
        id: Id,
        name: z.string().min(1),
        timezone: TimeZone,
        openingHours: OpeningHoursSchema,
        /** The local day simulated (its weekday and any DST change matter). */
        date: CalendarDate.default('2026-03-02'),
      })
      .strict(),
    /** The plan is the rectangle [0, widthM] × [0, heightM]. */
    floorPlan: FloorPlanSchema,
    entrances: z.array(PointSchema).min(1),
    zones: z.array(ZoneSchema).min(1).max(200),
    gateways: z.array(z.object({
      id: Id, zoneId: Id, position: PointSchema, rssiOffsetDb: z.number().min(-20).max(20).default(0), dutyCycle: z.number().gt(0).max(1).default(1),
      /** Presence settings an installer set for this gateway, as the server would push them; absent: calibrated from the floor plan. */
      presence: RemotePresenceSettingsSchema.optional(),
    }).strict()).min(1).max(200),
    /** Beacons the store mounts, which iOS apps in the background monitor as regions. */
    storeBeacons: z.array(z.object({ id: Id, zoneId: Id, position: PointSchema }).strict()).default([]),
    walkways: WalkwaysSchema.optional(),
    population: z
      .object({
        /** Mean Poisson arrival rate over the opening hours, shoppers per hour. */
        arrivalsPerHour: nonNegative(z.number()),
        /** Relative weights per local hour; the rate in hour h is arrivalsPerHour × w[h] / mean(w over opening hours). */
        hourlyProfile: z.array(nonNegative(z.number())).length(24).optional(),
        appShare: share(),
        /** Relative weights of the app's platforms among shoppers with the app. */
        platforms: z
          .object({ android: nonNegative(z.number()), iosForeground: nonNegative(z.number()), iosBackground: nonNegative(z.number()) })
          .strict()
          .refine((p) => p.android + p.iosForeground + p.iosBackground > 0, 'the platform weights sum to 0; at least one must be positive'),
        optIn: z.object({ presence: share(), promotions: share(), personalisation: share(), analytics: share() }).strict(),
        loyaltyBeaconShare: share().default(0),
        /** Share of app users who withdraw consent, uniformly between afterS[0] and afterS[1] into their visit. */
        withdrawal: z.object({ share: share(), afterS: range(nonNegative(z.number())) }).strict().default({ share: 0, afterS: [600, 1800] }),
        redeemProbability: share().default(0.1),
        phonesWithoutAppPerShopper: z.number().min(0).max(3).default(0.6),
      })
      .strict(),
    movement: z
      .object({
        walkingSpeedMps: z.object({ mean: z.number().min(0.2).max(3), sd: nonNegative(z.number()).default(0.15) }).strict(),
        stopsPerVisit: range(z.number().int().min(1)),
        /** Dwell at a stop, unless the zone sets its own. */
        dwellS: Dwell,
      })
      .strict(),
    radio: z
      .object({
        pathLossExponent: z.number().min(1.5).max(5).default(2.5),
        shadowingSigmaDb: z.number().min(0).max(15).default(4),
        multipathBurstProbability: share().default(0.1),
        multipathBurstDb: z.number().min(-30).max(0).default(-6),
        packetLoss: share().default(0.02),
        sensitivityDbm: z.number().min(-110).max(-60).default(-95),
        /** RSSI at 1 m (iBeacon "measured power"). */
        txPowerAt1mDbm: z.object({ phone: z.number().min(-100).max(-20).default(-59), beacon: z.number().min(-100).max(-20).default(-59) }).strict().prefault({}),
        advertisingIntervalMs: z
          .object({ android: AdvertisingInterval.default(250), iosForeground: AdvertisingInterval.default(200), beacon: AdvertisingInterval.default(1000), foreign: AdvertisingInterval.default(1000) })
          .strict()
          .prefault({}),
        /** advDelay, 0–10 ms pseudo-random, added to each interval (Vol 6, Part B, §4.4.2.2.1). */
        advertisingJitterMs: z.number().min(0).max(10).default(10),
        /** Resolvable private address rotation; 15 min is the recommended timeout (Vol 3, Part C, Appendix A). */
        macRotationS: z.number().min(60).max(3600).default(900),
      })
      .strict()
      .prefault({}), // prefault, not default: zod 4 would return a default as is, without the inner defaults
    environment: z
      .object({
        /** Devices that are not shoppers' phones: neighbours, staff, key finders, wearables. */
        foreignDevices: nonNegative(z.number().int()).max(100_000).default(0),
        exposureNotificationShare: share().default(0.3),
        spamDevices: z.array(z.object({ position: PointSchema, advertisementsPerSecond: positive(z.number()).max(2000), addressPool: z.number().int().min(1).default(10_000) }).strict()).default([]),
      })
      .strict()
      .prefault({}),
    simulation: z
      .object({ startAt: TimeOfDay.optional(), durationS: positive(z.number()).max(86_400).optional() })
      .strict()
      .prefault({}),
    /** The campaign to put live when the day runs against a server (`vicino simulate --server`). */
    campaign: ScenarioCampaignSchema.optional(),
  })
  .strict()
  // Runs even when fields failed, so every problem is listed at once; it re-parses each part it reads.
  .superRefine((scenario, ctx) => checkAcrossFields(scenario, (path, message) => ctx.addIssue({ code: 'custom', path, message })), { when: (payload) => isRecord(payload.value) });
export type StoreScenario = z.infer<typeof StoreScenarioSchema>;

export function parseStoreScenario(text: string, fileName = 'scenario'): { ok: true; scenario: StoreScenario } | { ok: false; problems: string[] } {
  const parsed = parseJsonWith(StoreScenarioSchema, text, fileName);
  return parsed.ok ? { ok: true, scenario: parsed.value } : parsed;
}

type Report = (path: (string | number)[], message: string) => void;
type Entry = Record<string, unknown> | undefined;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
/** The value if it parses, else undefined: a cross-field check only reads parts that are themselves valid. */
function valid<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | undefined {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}
function entries(value: unknown): Entry[] {
  return Array.isArray(value) ? value.map((item) => (isRecord(item) ? item : undefined)) : [];
}

function checkAcrossFields(input: unknown, report: Report): void {
  if (!isRecord(input)) return;
  const plan = valid(FloorPlanSchema, input.floorPlan);
  const checkInPlan = (path: (string | number)[], value: unknown): void => {
    const p = valid(PointSchema, value);
    if (!plan || !p) return;
    if (p.x < 0 || p.y < 0 || p.x > plan.widthM || p.y > plan.heightM) report(path, `(${p.x}, ${p.y}) is outside the ${plan.widthM} × ${plan.heightM} m floor plan`);
  };

  const zones = entries(input.zones);
  const gateways = entries(input.gateways);
  const storeBeacons = entries(input.storeBeacons);
  const zoneIds = checkUniqueIds('zone', 'zones', zones, report);
  checkUniqueIds('gateway', 'gateways', gateways, report);
  checkUniqueIds('store beacon', 'storeBeacons', storeBeacons, report);
  for (const [kind, list] of [['gateways', gateways], ['storeBeacons', storeBeacons]] as const) {
    list.forEach((item, i) => {
      const zoneId = valid(Id, item?.zoneId);
      if (Array.isArray(input.zones) && zoneId !== undefined && !zoneIds.has(zoneId)) report([kind, i, 'zoneId'], `no zone "${zoneId}" in this scenario`);
      checkInPlan([kind, i, 'position'], item?.position);
    });
  }
  if (Array.isArray(input.entrances)) input.entrances.forEach((p: unknown, i) => checkInPlan(['entrances', i], p));
  entries(isRecord(input.environment) ? input.environment.spamDevices : undefined).forEach((device, i) => checkInPlan(['environment', 'spamDevices', i, 'position'], device?.position));

  const shapes: { index: number; id: string | undefined; polygon: Point[] }[] = [];
  zones.forEach((zone, i) => {
    const polygon = valid(PolygonSchema, zone?.polygon);
    if (!polygon) return;
    polygon.forEach((p, k) => checkInPlan(['zones', i, 'polygon', k], p));
    const defect = polygonDefect(polygon);
    if (defect === undefined) shapes.push({ index: i, id: valid(Id, zone?.id), polygon });
    else if (defect.kind === 'repeated-vertex') {
      const [a, b] = defect.vertices;
      const p = polygon[a] as Point;
      report(['zones', i, 'polygon'], `vertices ${a} and ${b} are the same point (${p.x}, ${p.y})${b === 0 ? '; do not repeat the first vertex at the end' : ''}`);
    } else if (defect.kind === 'edges-cross') report(['zones', i, 'polygon'], `edges ${defect.edges[0]} and ${defect.edges[1]} cross`);
    else report(['zones', i, 'polygon'], `encloses no area: all ${polygon.length} vertices lie on one line`);
  });
  shapes.forEach((later, j) => {
    for (const earlier of shapes.slice(0, j)) {
      if (polygonsOverlap(earlier.polygon, later.polygon)) report(['zones', later.index, 'polygon'], `overlaps ${earlier.id === undefined ? '' : `zone "${earlier.id}" `}(zones.${earlier.index})`);
    }
  });

  if (isRecord(input.walkways)) checkWalkways(input.walkways, report, checkInPlan);
  if (isRecord(input.campaign) && Array.isArray(input.campaign.zoneIds) && Array.isArray(input.zones)) {
    input.campaign.zoneIds.forEach((zoneId: unknown, i: number) => {
      if (typeof zoneId === 'string' && !zoneIds.has(zoneId)) report(['campaign', 'zoneIds', i], `no zone "${zoneId}" in this scenario`);
    });
  }
  checkSchedule(input, report);
}

/** Reports repeated IDs on the later item; returns the set of valid IDs. */
function checkUniqueIds(kind: string, listPath: string, list: Entry[], report: Report): Set<string> {
  const firstIndex = new Map<string, number>();
  list.forEach((item, i) => {
    const id = valid(Id, item?.id);
    if (id === undefined) return;
    const first = firstIndex.get(id);
    if (first === undefined) firstIndex.set(id, i);
    else report([listPath, i, 'id'], `duplicate ${kind} ID "${id}" (also ${listPath}.${first})`);
  });
  return new Set(firstIndex.keys());
}

function checkWalkways(walkways: Record<string, unknown>, report: Report, checkInPlan: (path: (string | number)[], value: unknown) => void): void {
  const nodes = valid(WalkwaysSchema.shape.nodes, walkways.nodes);
  const names = Object.keys(nodes ?? {});
  const known = new Set(names); // not `in nodes`: "constructor" is a valid ID
  for (const name of names) checkInPlan(['walkways', 'nodes', name], nodes?.[name]);
  // Union–find over node names.
  const parent = new Map(names.map((name) => [name, name]));
  const root = (name: string): string => {
    let r = name;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    parent.set(name, r);
    return r;
  };
  let allEdgesUsable = nodes !== undefined && Array.isArray(walkways.edges);
  (Array.isArray(walkways.edges) ? walkways.edges : []).forEach((edge: unknown, k) => {
    const ends = nodes ? valid(z.tuple([Id, Id]), edge) : undefined;
    ends?.forEach((end, e) => {
      if (!known.has(end)) report(['walkways', 'edges', k, e], `no walkway node "${end}"`);
    });
    if (ends && ends[0] === ends[1]) report(['walkways', 'edges', k], `joins node "${ends[0]}" to itself`);
    if (ends && known.has(ends[0]) && known.has(ends[1]) && ends[0] !== ends[1]) parent.set(root(ends[0]), root(ends[1]));
    else allEdgesUsable = false;
  });
  // A bad edge may be the missing link; only judge connectivity when every edge could be used.
  if (!allEdgesUsable || names.length === 0) return;
  const sizes = new Map<string, number>();
  for (const name of names) sizes.set(root(name), (sizes.get(root(name)) ?? 0) + 1);
  // The largest component is "the rest"; of equal ones, the first met in node order.
  const main = [...sizes].reduce((best, next) => (next[1] > best[1] ? next : best))[0];
  for (const name of names) if (root(name) !== main) report(['walkways', 'nodes', name], 'not connected to the rest of the walkways');
}

function checkSchedule(input: Record<string, unknown>, report: Report): void {
  const hours = valid(OpeningHoursSchema, isRecord(input.store) ? input.store.openingHours : undefined);
  if (!hours) return;
  const population = isRecord(input.population) ? input.population : {};
  const rate = valid(z.number(), population.arrivalsPerHour);
  const profile = valid(z.array(z.number().min(0)).length(24), population.hourlyProfile);
  if (rate !== undefined && rate > 0 && profile) {
    const open = openingHourIndices(hours);
    if (open.every((h) => profile[h] === 0)) {
      report(['population', 'hourlyProfile'], `every hour the store is open (${hours.open}–${hours.close}, hours ${open[0]} to ${open.at(-1)}) has weight 0, so none of the ${rate} arrivals per hour can come`);
    }
  }
  const startAt = valid(TimeOfDay, isRecord(input.simulation) ? input.simulation.startAt : undefined);
  const minute = startAt === undefined ? undefined : minutesOfDay(startAt);
  if (minute !== undefined && (minute < minutesOfDay(hours.open) || minute >= minutesOfDay(hours.close))) {
    report(['simulation', 'startAt'], `${startAt} is outside the opening hours ${hours.open}–${hours.close}`);
  }
}
