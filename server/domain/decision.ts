import type { PresenceKind, Proximity } from '#gateway/protocol/index.ts';
import { placedInZone, type Campaign, type Caps } from './campaign.ts';
import { marketingAllowed, type ConsentState, type Purpose } from './consent.ts';

// The pure half of a send decision: which campaign, if any, this presence event triggers for this
// shopper, given consent and the clock. The other half — caps and the send-time consent re-check —
// is one atomic check-and-record in the Store (Store.recordPromotion), so it holds across instances.

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

export type SkipReason =
  | { code: 'no-consent'; missing: Purpose[] }
  | { code: 'too-late'; ageS: number }
  | { code: 'no-campaign' }
  | { code: 'capped'; cap: keyof Caps | 'duplicate' };

export type Decision =
  | { send: true; campaign: Campaign; personalised: boolean; purposes: Purpose[] }
  | { send: false; reason: SkipReason };

export function triggers(campaign: Campaign, event: ResolvedPresence, _nowMs: number): boolean {
  if (campaign.status !== 'active' || !placedInZone(campaign.placement, event.storeId, event.zoneId)) return false;
  switch (campaign.trigger.kind) {
    case 'enter':
      return event.kind === 'enter';
    case 'exit':
      return event.kind === 'exit';
    case 'dwell':
      return event.kind === 'dwell' && event.dwellS >= campaign.trigger.minDwellS;
    case 'return':
    case 'visit':
      // Visit triggers need the shopper's visit history (not yet evaluated here).
      return false;
  }
}

export const isPersonalised = (campaign: Campaign): boolean => /\{\{\s*\w+\s*\}\}/.test(campaign.message.body + campaign.message.title);

/**
 * A promotion is about being here now: an event older than this (a gateway's outbox draining after a
 * broker outage) still counts as presence, but triggers nothing.
 */
export const DEFAULT_MAX_EVENT_AGE_S = 120;

/** At most one promotion per trigger per shopper: the highest-priority eligible campaign wins. */
export function decide(
  event: ResolvedPresence,
  consent: ConsentState,
  campaigns: readonly Campaign[],
  nowMs: number,
  options: { maxEventAgeS?: number } = {},
): Decision {
  const base = marketingAllowed(consent, false);
  if (!base.allowed) return { send: false, reason: { code: 'no-consent', missing: base.missing } };
  const ageS = Math.floor(nowMs / 1000) - event.atS;
  if (ageS > (options.maxEventAgeS ?? DEFAULT_MAX_EVENT_AGE_S)) return { send: false, reason: { code: 'too-late', ageS } };
  const eligible = campaigns.filter((campaign) => triggers(campaign, event, nowMs)).sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  const campaign = eligible[0];
  if (campaign === undefined) return { send: false, reason: { code: 'no-campaign' } };
  // Personalised text needs P2; without it the message is sent unpersonalised, never personalised.
  const personalised = isPersonalised(campaign) && marketingAllowed(consent, true).allowed;
  const purposes: Purpose[] = personalised ? ['presence', 'promotions', 'personalisation'] : ['presence', 'promotions'];
  return { send: true, campaign, personalised, purposes };
}
