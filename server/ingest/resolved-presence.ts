import { decide, type ResolvedPresence } from '../domain/decision.ts';
import { isGranted } from '../domain/consent.ts';
import { buildPromotion } from '../domain/promotion.ts';
import type { Delivery } from '../delivery/delivery.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';

// What happens to a presence event once it is known whose it is — whichever way it arrived: a
// gateway's pseudonym that resolved (presence-ingest.ts) or an iOS app's report of a store beacon
// (POST /v1/me/sightings). One path, so both get the same checks in the same order:
// presence consent (P1) → record presence → decide (campaigns, consent for marketing, freshness) →
// the atomic check-and-record of the promotion in the Store (consent re-checked, caps, dedupe) →
// delivery. Every step is idempotent on the event ID, so a redelivered event changes nothing.

/** 'no-presence': P1 is not granted, and nothing was recorded; 'no-consent': presence recorded, marketing not allowed. */
export type PresenceOutcome = 'no-presence' | 'no-consent' | 'too-late' | 'no-campaign' | 'capped' | 'sent' | 'duplicate';

export type ResolvedPresenceDeps = { store: Store; delivery: Pick<Delivery, 'notify'>; metrics: Metrics };

export async function processResolvedPresence(deps: ResolvedPresenceDeps, event: ResolvedPresence, nowMs: number): Promise<PresenceOutcome> {
  const { store, metrics } = deps;
  const consent = await store.getConsentState(event.shopperId);
  if (!isGranted(consent, 'presence')) return 'no-presence';
  await store.recordPresence(event, nowMs);

  const decision = decide(event, consent, await store.listCampaigns(event.storeId), nowMs);
  if (!decision.send) {
    metrics.decisions.inc({ outcome: 'skip', reason: decision.reason.code });
    return decision.reason.code;
  }
  const shopper = await store.getShopper(event.shopperId);
  const message = buildPromotion({
    campaign: decision.campaign, shopperId: event.shopperId, eventId: event.eventId, zoneId: event.zoneId,
    personalised: decision.personalised, purposes: decision.purposes, attributes: { firstName: shopper?.firstName ?? undefined }, nowMs,
  });
  const result = await store.recordPromotion({
    message, campaignId: decision.campaign.id, shopperId: event.shopperId, eventId: event.eventId,
    storeId: event.storeId, zoneId: event.zoneId, createdAtMs: nowMs, caps: decision.campaign.caps, requiredPurposes: decision.purposes,
  });
  if (result.outcome === 'skipped') {
    metrics.decisions.inc({ outcome: 'skip', reason: result.reason });
    return result.reason === 'no-consent' || result.reason === 'erased' ? 'no-consent' : 'capped';
  }
  metrics.decisions.inc({ outcome: result.outcome === 'recorded' ? 'send' : 'duplicate', reason: 'none' });
  if (result.promotion.status === 'pending') deps.delivery.notify(result.promotion);
  return result.outcome === 'recorded' ? 'sent' : 'duplicate';
}
