import { minutesOf, placementStoreIds, WEEKDAYS, type CampaignDefinition, type WeeklyWindow } from './campaign.ts';
import { localToInstantMs } from './schedule.ts';

// The checks of a campaign definition that need the stores' configuration (issue 6, "bad input"): a
// placement in an unknown store or zone, a sensitive zone used for targeting or attribution (AN-3), a
// schedule that ended already, or weekly windows that never meet the placed stores' opening hours.
// Pure: the route gathers the stores and zones. Run when a definition is saved and again when it is
// submitted, since the stores may have changed in between. Each issue names its field.

export type StoreForChecks = {
  id: string;
  /** IANA time zone: schedule dates and times are local to each store. */
  timezone: string;
  zones: readonly { id: string; sensitive: boolean }[];
  /** When the store is open, if it says (weekly windows in its local time); absent: always open. */
  openingHours?: readonly WeeklyWindow[] | undefined;
};

export type CampaignIssue = { field: string; message: string };

const MINUTES_PER_DAY = 1440;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

/** Every problem found, in field order; none when the definition fits the stores. */
export function checkCampaignAgainstStores(definition: CampaignDefinition, stores: readonly StoreForChecks[], nowMs: number): CampaignIssue[] {
  const issues: CampaignIssue[] = [];
  const { placement } = definition;
  const byId = new Map(stores.map((s) => [s.id, s]));
  const namedIds = placementStoreIds(placement);
  const storeField = placement.level === 'zones' ? 'placement.storeId' : 'placement.storeIds';
  const unknownStores = (namedIds ?? []).filter((id) => !byId.has(id));
  if (unknownStores.length > 0) issues.push({ field: storeField, message: `unknown store${unknownStores.length > 1 ? 's' : ''} ${unknownStores.join(', ')}` });
  const placed = namedIds === undefined ? [...stores] : namedIds.flatMap((id) => byId.get(id) ?? []);

  if (placement.level === 'zones') {
    const store = byId.get(placement.storeId);
    if (store !== undefined) {
      const unknown = placement.zoneIds.filter((id) => !store.zones.some((z) => z.id === id));
      if (unknown.length > 0) issues.push({ field: 'placement.zoneIds', message: `store ${store.id} has no zone ${unknown.join(', ')}` });
      // AN-3: a sensitive zone is never a targeting criterion.
      const sensitive = placement.zoneIds.filter((id) => store.zones.find((z) => z.id === id)?.sensitive === true);
      if (sensitive.length > 0) issues.push({ field: 'placement.zoneIds', message: `${sensitive.join(', ')} ${sensitive.length > 1 ? 'are' : 'is'} marked sensitive and cannot be targeted (AN-3)` });
    }
  }

  if (definition.attribution !== undefined) {
    const zones = placed.flatMap((s) => s.zones);
    const ids = definition.attribution.conversionZoneIds;
    const unknown = ids.filter((id) => !zones.some((z) => z.id === id));
    if (unknown.length > 0 && placed.length > 0) issues.push({ field: 'attribution.conversionZoneIds', message: `no placed store has a zone ${unknown.join(', ')}` });
    // AN-3: a sensitive zone is never used for profiling, and attribution profiles a shopper's movements.
    const sensitive = ids.filter((id) => zones.some((z) => z.id === id && z.sensitive));
    if (sensitive.length > 0) issues.push({ field: 'attribution.conversionZoneIds', message: `${sensitive.join(', ')} ${sensitive.length > 1 ? 'are' : 'is'} marked sensitive and cannot be a conversion zone (AN-3)` });
  }

  const { until, windows } = definition.schedule;
  if (until !== undefined && placed.length > 0 && placed.every((s) => localToInstantMs(until, s.timezone) <= nowMs)) {
    issues.push({ field: 'schedule.until', message: `until (${until}) is in the past in every placed store's time zone: the campaign could never run` });
  }
  if (windows !== undefined) {
    const withHours = placed.filter((s) => s.openingHours !== undefined);
    // Only when every placed store states its hours: a store without them is open whenever the windows are.
    if (withHours.length > 0 && withHours.length === placed.length && !withHours.some((s) => overlaps(windows, s.openingHours!))) {
      issues.push({ field: 'schedule.windows', message: `the weekly windows never fall inside the opening hours of ${withHours.length > 1 ? 'any placed store' : `store ${withHours[0]!.id}`}: the campaign could never run` });
    }
  }
  return issues;
}

/** A weekly window as [start, end) minute intervals of the week (Monday 00:00 = 0); an overnight window runs into the next day, Sunday's into Monday. */
export function weekIntervals(window: WeeklyWindow): [number, number][] {
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  const length = to > from ? to - from : MINUTES_PER_DAY - from + to;
  return window.days.flatMap((day): [number, number][] => {
    const start = WEEKDAYS.indexOf(day) * MINUTES_PER_DAY + from;
    const end = start + length;
    return end <= MINUTES_PER_WEEK ? [[start, end]] : [[start, MINUTES_PER_WEEK], [0, end - MINUTES_PER_WEEK]];
  });
}

/** Whether any of `a` shares a minute with any of `b`. */
export function overlaps(a: readonly WeeklyWindow[], b: readonly WeeklyWindow[]): boolean {
  const left = a.flatMap(weekIntervals);
  const right = b.flatMap(weekIntervals);
  return left.some(([s1, e1]) => right.some(([s2, e2]) => s1 < e2 && s2 < e1));
}
