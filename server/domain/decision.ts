import type { PresenceKind, Proximity } from '#gateway/protocol/index.ts';
import { placedInZone, type Campaign, type Caps, type LoyaltyTier, type Segment } from './campaign.ts';
import { isGranted, marketingAllowed, type ConsentState, type Purpose } from './consent.ts';
import { inSchedulePeriod, inAnyWeeklyWindow, storeHoursRefusal, type StoreHours } from './schedule.ts';
import type { VisitActivity } from './visits.ts';

// The pure half of a send decision (MKT-1): which campaign, if any, this arbitrated presence event
// triggers for this shopper — a function of the event, the shopper's state (consent, attributes, visit),
// the store (time zone, opening and quiet hours, sensitive zones), the campaigns and the clock. The other
// half — caps, budgets and the send-time consent re-check — is one atomic check-and-record in the Store
// (Store.recordPromotion), so it holds across instances.
//
// The checks, in order, each with its skip reason: consent for marketing (P1 + P4) → freshness → a
// sensitive zone triggers nothing (AN-3) → the store's quiet hours and opening hours, in its time zone
// (MKT-3) → the campaigns this event triggers (status, placement, trigger, the schedule's period) → their
// weekly windows → their audience → the highest priority wins (then the lower ID): at most one promotion
// per trigger per shopper.

export type ResolvedPresence = {
  eventId: string;
  shopperId: string;
  storeId: string;
  zoneId: string;
  /** 'move' (a band change) only feeds the zone arbiter (zone-arbiter.ts); it triggers no campaign. */
  kind: PresenceKind;
  atS: number;
  dwellS: number;
  /** The gateway's coarse band; an iOS sighting, which has none, counts as 'near'. */
  proximity: Proximity;
};

/** Shopper-provided attributes (PATCH /v1/me): used only with personalisation consent (P2). */
export type ShopperAttributes = { firstName?: string | null | undefined; loyaltyTier?: LoyaltyTier | null | undefined; interests?: readonly string[] | undefined };

/** What decide() knows of the shopper. `visit` is null when no visit history is kept for them (no P2). */
export type ShopperContext = { consent: ConsentState; attributes: ShopperAttributes; visit: VisitActivity | null };

/** What decide() knows of the store the event happened in. */
export type StoreContext = StoreHours & { id: string; sensitiveZoneIds: readonly string[] };

export type SkipReason =
  | { code: 'no-consent'; missing: Purpose[] }
  | { code: 'too-late'; ageS: number }
  | { code: 'sensitive-zone' }
  | { code: 'quiet-hours' }
  | { code: 'closed' }
  | { code: 'no-campaign' }
  | { code: 'outside-schedule'; campaignIds: string[] }
  | { code: 'not-in-audience'; campaignIds: string[] }
  | { code: 'capped'; cap: keyof Caps | 'duplicate' };

export type SkipCode = SkipReason['code'];

export type Decision =
  | { send: true; campaign: Campaign; personalised: boolean; purposes: Purpose[] }
  | { send: false; reason: SkipReason };

const DAY_MS = 86_400_000;

/** Whether the shopper's visit activity fires a visit trigger: only on the entry that starts a visit. */
function visitTriggerFires(trigger: Campaign['trigger'], event: ResolvedPresence, visit: VisitActivity | null): boolean {
  if (event.kind !== 'enter' || visit === null || !visit.newVisit) return false;
  switch (trigger.kind) {
    case 'return':
      return visit.previousVisitLastSeenMs !== null && event.atS * 1000 - visit.previousVisitLastSeenMs >= trigger.minDaysAway * DAY_MS;
    case 'visit':
      return trigger.repeat ? visit.visitNumber % trigger.nth === 0 : visit.visitNumber === trigger.nth;
    default:
      return false;
  }
}

/**
 * Whether the campaign is live for this event: active, placed in its zone, its trigger matched, and
 * inside its schedule's period (from inclusive, until exclusive, local to the store). Weekly windows,
 * audience and the store's hours are decide()'s further checks.
 */
export function triggers(campaign: Campaign, event: ResolvedPresence, nowMs: number, store: Pick<StoreContext, 'timezone'>, visit: VisitActivity | null = null): boolean {
  if (campaign.status !== 'active' || !placedInZone(campaign.placement, event.storeId, event.zoneId)) return false;
  if (!inSchedulePeriod(campaign.schedule, store.timezone, nowMs)) return false;
  switch (campaign.trigger.kind) {
    case 'enter':
      return event.kind === 'enter';
    case 'exit':
      return event.kind === 'exit';
    case 'dwell':
      return event.kind === 'dwell' && event.dwellS >= campaign.trigger.minDwellS;
    case 'return':
    case 'visit':
      return visitTriggerFires(campaign.trigger, event, visit);
  }
}

/**
 * Whether the shopper is in a segment: only with personalisation (P2) granted — a segment is profiling —
 * and every condition given holds. Visit-history conditions count visits before the current one; with
 * no visit history kept they never hold.
 */
export function inSegment(segment: Segment, shopper: ShopperContext): boolean {
  if (!isGranted(shopper.consent, 'personalisation')) return false;
  const { loyaltyTier, interests = [] } = shopper.attributes;
  if (segment.loyaltyTiers !== undefined && (loyaltyTier == null || !segment.loyaltyTiers.includes(loyaltyTier))) return false;
  if (segment.interests !== undefined && !segment.interests.some((interest) => interests.includes(interest))) return false;
  if (segment.minPastVisits !== undefined || segment.maxPastVisits !== undefined) {
    if (shopper.visit === null) return false;
    const past = shopper.visit.pastVisits;
    if (segment.minPastVisits !== undefined && past < segment.minPastVisits) return false;
    if (segment.maxPastVisits !== undefined && past > segment.maxPastVisits) return false;
  }
  return true;
}

/** A campaign that uses profiling: a segment audience, or a visit trigger (both read visit history or attributes). */
export const usesProfiling = (campaign: Campaign): boolean =>
  campaign.audience.kind === 'segment' || campaign.trigger.kind === 'return' || campaign.trigger.kind === 'visit';

/**
 * Whether the shopper is in the campaign's audience. A campaign that uses profiling — a segment, or a
 * visit trigger, which reads visit history — reaches only shoppers with P2, whatever visit data the caller
 * passed (the send path keeps none without P2; this holds even if a caller did).
 */
export const inAudience = (campaign: Campaign, shopper: ShopperContext): boolean =>
  campaign.audience.kind === 'everyone'
    ? !usesProfiling(campaign) || isGranted(shopper.consent, 'personalisation')
    : inSegment(campaign.audience.segment, shopper);

export const isPersonalised = (campaign: Campaign): boolean => /\{\{\s*\w+\s*\}\}/.test(campaign.message.body + campaign.message.title);

/**
 * A promotion is about being here now: an event older than this (a gateway's outbox draining after a
 * broker outage) still counts as presence, but triggers nothing.
 */
export const DEFAULT_MAX_EVENT_AGE_S = 120;

const byPriority = (a: Campaign, b: Campaign): number => b.priority - a.priority || a.id.localeCompare(b.id);

/** At most one promotion per trigger per shopper: the highest-priority eligible campaign wins. */
export function decide(
  event: ResolvedPresence,
  shopper: ShopperContext,
  store: StoreContext,
  campaigns: readonly Campaign[],
  nowMs: number,
  options: { maxEventAgeS?: number } = {},
): Decision {
  const base = marketingAllowed(shopper.consent, false);
  if (!base.allowed) return { send: false, reason: { code: 'no-consent', missing: base.missing } };
  const ageS = Math.floor(nowMs / 1000) - event.atS;
  if (ageS > (options.maxEventAgeS ?? DEFAULT_MAX_EVENT_AGE_S)) return { send: false, reason: { code: 'too-late', ageS } };
  // AN-3: a sensitive zone is never a targeting criterion, at any placement level.
  if (store.sensitiveZoneIds.includes(event.zoneId)) return { send: false, reason: { code: 'sensitive-zone' } };
  const hours = storeHoursRefusal(store, nowMs);
  if (hours !== undefined) return { send: false, reason: { code: hours } };
  const triggered = campaigns.filter((campaign) => triggers(campaign, event, nowMs, store, shopper.visit));
  if (triggered.length === 0) return { send: false, reason: { code: 'no-campaign' } };
  const inWindow = triggered.filter((campaign) => campaign.schedule.windows === undefined || inAnyWeeklyWindow(campaign.schedule.windows, store.timezone, nowMs));
  if (inWindow.length === 0) return { send: false, reason: { code: 'outside-schedule', campaignIds: triggered.map((c) => c.id).sort() } };
  const eligible = inWindow.filter((campaign) => inAudience(campaign, shopper)).sort(byPriority);
  const campaign = eligible[0];
  if (campaign === undefined) return { send: false, reason: { code: 'not-in-audience', campaignIds: inWindow.map((c) => c.id).sort() } };
  // Personalised text needs P2; without it the message is sent unpersonalised, never personalised. A
  // campaign that used profiling to pick the shopper needs P2 at send time as well (re-checked by the Store).
  const personalised = isPersonalised(campaign) && isGranted(shopper.consent, 'personalisation');
  const purposes: Purpose[] = personalised || usesProfiling(campaign) ? ['presence', 'promotions', 'personalisation'] : ['presence', 'promotions'];
  return { send: true, campaign, personalised, purposes };
}
