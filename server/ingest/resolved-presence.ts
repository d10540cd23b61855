import { createHash } from 'node:crypto';
import { decide, type ResolvedPresence } from '../domain/decision.ts';
import { activeConsent, isGranted, type ConsentPolicy, type ConsentState } from '../domain/consent.ts';
import { DEFAULT_CONSENT_POLICY } from '../domain/consent-texts.ts';
import { buildPromotion } from '../domain/promotion.ts';
import {
  arbitrateZone, arbitrateZoneAt, DEFAULT_ARBITER_CONFIG, zoneStateDueAtMs, type ArbiterConfig, type ZoneState, type ZoneTransition,
} from '../domain/zone-arbiter.ts';
import type { Delivery } from '../delivery/delivery.ts';
import type { Metrics } from '../metrics.ts';
import type { Store, ZoneStateKey } from '../store/store.ts';

// What happens to a presence event once it is known whose it is — whichever way it arrived: a
// gateway's pseudonym that resolved (presence-ingest.ts) or an iOS app's report of a store beacon
// (POST /v1/me/sightings). One path, so both get the same checks in the same order:
// presence consent (P1) → record presence → the zone arbiter (Store.updateZoneState, atomic) →
// decide, on the arbitrated transitions (campaigns, consent for marketing, freshness) → the atomic
// check-and-record of the promotion in the Store (consent re-checked, caps, dedupe) → delivery.
//
// Campaigns fire on the arbiter's decisions, not on each gateway's edges (issue 4 item 6): an 'enter'
// campaign when the arbiter enters a zone, an 'exit' campaign when it leaves one, a dwell campaign for a
// dwell event of the current arbitrated zone only; a 'move' (band change) only feeds the arbiter.
//
// Idempotent on the event ID, step by step: presence is recorded by event ID; the arbiter state keeps
// the IDs of the last events it applied with the transitions each caused, so a redelivery (QoS 1, or
// an app's retry) switches nothing and gets the same transitions back; promotions are keyed by
// (campaign, shopper, event), so those transitions record nothing twice — and a promotion lost to a
// crash between the arbiter's commit and the send is made on the redelivery.
//
// CON-5, fail closed: a Store that throws — on the consent read, or in the atomic check-and-record —
// stops the event there, before anything is handed to delivery; there is no default consent and no
// cached one. The error goes up to the caller (the MQTT ingress retries, then drops; the sightings route
// answers 500; the sweep logs), and the consent read is counted in vicino_consent_unreadable_total
// ('ingest' or 'sweep'; 'record' when the check-and-record failed). Delivery re-reads consent at send
// time too (websocket-delivery.ts).

/** 'no-presence': P1 is not granted, and nothing was recorded; 'no-consent': presence recorded, marketing not allowed. */
export type PresenceOutcome = 'no-presence' | 'no-consent' | 'too-late' | 'no-campaign' | 'capped' | 'sent' | 'duplicate';

export type ResolvedPresenceDeps = {
  store: Store;
  delivery: Pick<Delivery, 'notify'>;
  metrics: Metrics;
  arbiter?: ArbiterConfig;
  /** CON-6: a grant on a superseded text or past its validity counts as not granted; the built-in catalog's, 12 months, by default. */
  consentPolicy?: ConsentPolicy;
};


type Trigger = ResolvedPresence;

/** What the arbitrated transitions (and a dwell of the current zone) trigger, as events decide() understands. */
function triggersOf(event: ResolvedPresence, transitions: readonly ZoneTransition[], currentZoneId: string | undefined): Trigger[] {
  const out: Trigger[] = transitions.map((t) => ({
    ...event, zoneId: t.zoneId, kind: t.kind === 'entered' ? 'enter' : 'exit', atS: Math.floor(t.atMs / 1000), dwellS: Math.floor(t.dwellMs / 1000),
  }));
  if (event.kind === 'dwell' && event.zoneId === currentZoneId && transitions.length === 0) out.push(event);
  return out;
}

// When one event triggers several campaigns (leaving one zone and entering another), the outcome
// reported is the most significant.
const RANK: Record<Exclude<PresenceOutcome, 'no-presence'>, number> = { sent: 5, duplicate: 4, capped: 3, 'no-consent': 2, 'too-late': 1, 'no-campaign': 0 };
const mostSignificant = (outcomes: readonly Exclude<PresenceOutcome, 'no-presence'>[]): Exclude<PresenceOutcome, 'no-presence'> =>
  outcomes.reduce((best, outcome) => (RANK[outcome] > RANK[best] ? outcome : best), 'no-campaign');

/**
 * The Store's consent state, with lapsed grants (CON-6) read as withdrawn — the lapse job writes them down
 * hourly, and in between they must not be used — or the Store's error, counted where it was read, if it
 * cannot be read.
 */
async function readConsent(deps: ResolvedPresenceDeps, shopperId: string, where: 'ingest' | 'sweep', nowMs: number): Promise<ConsentState> {
  try {
    return activeConsent(await deps.store.getConsentState(shopperId), deps.consentPolicy ?? DEFAULT_CONSENT_POLICY, nowMs);
  } catch (error) {
    deps.metrics.consentUnreadable.inc({ where });
    throw error;
  }
}

export async function processResolvedPresence(deps: ResolvedPresenceDeps, event: ResolvedPresence, nowMs: number): Promise<PresenceOutcome> {
  const { store } = deps;
  const config = deps.arbiter ?? DEFAULT_ARBITER_CONFIG;
  const consent = await readConsent(deps, event.shopperId, 'ingest', nowMs);
  if (!isGranted(consent, 'presence')) return 'no-presence';
  await store.recordPresence(event, nowMs);

  const arbitrated = await store.updateZoneState(event.storeId, event.shopperId, (previous) => {
    const result = arbitrateZone(previous, { eventId: event.eventId, zoneId: event.zoneId, kind: event.kind, proximity: event.proximity, atMs: event.atS * 1000 }, config);
    return { state: result.state, dueAtMs: zoneStateDueAtMs(result.state, config), result: { transitions: result.transitions, current: result.state.current?.zoneId } };
  });
  const triggers = triggersOf(event, arbitrated.transitions, arbitrated.current);
  if (triggers.length === 0) {
    // Nothing to decide on: the same checks in the same order say why (consent, freshness, no campaign).
    const decision = decide(event, consent, [], nowMs);
    const reason = decision.send ? 'no-campaign' : decision.reason.code;
    deps.metrics.decisions.inc({ outcome: 'skip', reason });
    return reason;
  }
  return sendFor(deps, consent, triggers, nowMs);
}

/** Decides and records (and hands to delivery) a promotion for each trigger. */
async function sendFor(deps: ResolvedPresenceDeps, consent: ConsentState, triggers: readonly Trigger[], nowMs: number): Promise<Exclude<PresenceOutcome, 'no-presence'>> {
  const { store, metrics } = deps;
  const campaigns = await store.listCampaigns(triggers[0]!.storeId);
  const outcomes: Exclude<PresenceOutcome, 'no-presence'>[] = [];
  for (const trigger of triggers) {
    const decision = decide(trigger, consent, campaigns, nowMs);
    if (!decision.send) {
      metrics.decisions.inc({ outcome: 'skip', reason: decision.reason.code });
      outcomes.push(decision.reason.code);
      continue;
    }
    // The profile is read only for a personalised message: buildPromotion renders attributes only then (P2),
    // and a round trip per promotion is a share of the ingest's time (docs/benchmarks.md, end to end).
    const firstName = decision.personalised ? (await store.getShopper(trigger.shopperId))?.firstName ?? undefined : undefined;
    const message = buildPromotion({
      campaign: decision.campaign, shopperId: trigger.shopperId, eventId: trigger.eventId, zoneId: trigger.zoneId,
      personalised: decision.personalised, purposes: decision.purposes, attributes: { firstName }, nowMs,
    });
    // The Store re-reads consent in the same transaction that records; if that fails, nothing was recorded or sent.
    const result = await store.recordPromotion({
      message, campaignId: decision.campaign.id, shopperId: trigger.shopperId, eventId: trigger.eventId,
      storeId: trigger.storeId, zoneId: trigger.zoneId, createdAtMs: nowMs, caps: decision.campaign.caps, requiredPurposes: decision.purposes,
    }).catch((error: unknown) => {
      metrics.consentUnreadable.inc({ where: 'record' });
      throw error;
    });
    if (result.outcome === 'skipped') {
      metrics.decisions.inc({ outcome: 'skip', reason: result.reason });
      outcomes.push(['no-consent', 'erased', 'restricted', 'objected'].includes(result.reason) ? 'no-consent' : 'capped');
      continue;
    }
    metrics.decisions.inc({ outcome: result.outcome === 'recorded' ? 'send' : 'duplicate', reason: 'none' });
    if (result.promotion.status === 'pending') deps.delivery.notify(result.promotion);
    outcomes.push(result.outcome === 'recorded' ? 'sent' : 'duplicate');
  }
  return mostSignificant(outcomes);
}

/**
 * The ID standing in for an event when time alone moved the arbiter (a challenger's hold ran out, a
 * claim went stale): derived from the committed transition, so promotions stay keyed and idempotent.
 * SHA-256, shaped as an RFC 9562 version-8 UUID.
 */
export function zoneTimerEventId(key: ZoneStateKey, transition: ZoneTransition): string {
  const hash = createHash('sha256').update(JSON.stringify(['zone-timer', key.storeId, key.shopperId, transition.kind, transition.zoneId, transition.atMs])).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The arbiter's clock: gateways publish edges, not heartbeats every second, so a challenger that has
 * held its lead for holdMs may hear no further event. Every state due by nowMs is re-arbitrated (in
 * the same atomic update, so racing instances switch once), and what that changes triggers campaigns
 * like an event would. Returns how many states changed zone. A sweep is not redelivered: should the
 * process die between the state's commit and the send, that one promotion is not made (the zone is
 * still right).
 */
export async function sweepZoneStates(deps: ResolvedPresenceDeps, nowMs: number, limit = 500): Promise<number> {
  const { store } = deps;
  const config = deps.arbiter ?? DEFAULT_ARBITER_CONFIG;
  let changed = 0;
  for (const key of await store.listZoneStatesDue(nowMs, limit)) {
    const transitions = await store.updateZoneState(key.storeId, key.shopperId, (previous: ZoneState | undefined) => {
      // Another instance may have swept (or an event moved) it since it was listed.
      const dueAtMs = previous === undefined ? null : zoneStateDueAtMs(previous, config);
      if (previous === undefined || dueAtMs === null || dueAtMs > nowMs) return { state: undefined, dueAtMs, result: [] as ZoneTransition[] };
      const result = arbitrateZoneAt(previous, nowMs, config);
      return { state: result.state, dueAtMs: zoneStateDueAtMs(result.state, config), result: result.transitions };
    });
    if (transitions.length === 0) continue;
    changed += 1;
    const consent = await readConsent(deps, key.shopperId, 'sweep', nowMs);
    // P1 withdrawn since: nothing more happens for this shopper (CON-4).
    if (!isGranted(consent, 'presence')) continue;
    const triggers = transitions.map((t): ResolvedPresence => ({
      eventId: zoneTimerEventId(key, t), shopperId: key.shopperId, storeId: key.storeId, zoneId: t.zoneId,
      kind: t.kind === 'entered' ? 'enter' : 'exit', atS: Math.floor(t.atMs / 1000), dwellS: Math.floor(t.dwellMs / 1000), proximity: 'near',
    }));
    await sendFor(deps, consent, triggers, nowMs);
  }
  return changed;
}
