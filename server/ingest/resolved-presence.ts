import { createHash } from 'node:crypto';
import { decide, type ResolvedPresence, type ShopperContext, type SkipCode, type StoreContext } from '../domain/decision.ts';
import type { VisitActivity } from '../domain/visits.ts';
import type { Campaign } from '../domain/campaign.ts';
import { activeConsent, isGranted, type ConsentPolicy, type ConsentState } from '../domain/consent.ts';
import { DEFAULT_CONSENT_POLICY } from '../domain/consent-texts.ts';
import { buildPromotion } from '../domain/promotion.ts';
import { assignGroup, variantLabel } from '../domain/experiment.ts';
import {
  arbitrateZone, arbitrateZoneAt, DEFAULT_ARBITER_CONFIG, zoneStateDueAtMs, type ArbiterConfig, type ZoneState, type ZoneTransition,
} from '../domain/zone-arbiter.ts';
import type { Delivery } from '../delivery/delivery.ts';
import type { Metrics } from '../metrics.ts';
import type { PresenceStep, Store, ZoneStateKey } from '../store/store.ts';
import type { ConfigView } from './config-view.ts';
import { conversionEntries, visitPresence } from '../store/presence-step.ts';

// What happens to a presence event once it is known whose it is — whichever way it arrived: a
// gateway's pseudonym that resolved (presence-ingest.ts) or an iOS app's report of a store beacon
// (POST /v1/me/sightings). One path, so both get the same checks in the same order, the writes of the
// first five as ONE transaction (Store.applyPresence): the gateway's sequence claim → presence consent
// (P1) → record presence → the zone arbiter → conversions (P3) and the visit history (only with P2,
// never from a sensitive zone) → decide, on the arbitrated transitions (consent for marketing, freshness, sensitive zones, the store's
// quiet and opening hours, campaigns, schedules, audiences: domain/decision.ts) → the atomic
// check-and-record of the promotion in the Store (consent re-checked, caps, budget, dedupe) → delivery.
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

/**
/**
 * 'no-presence': P1 is not granted, and nothing was recorded; 'no-consent': presence recorded, marketing
 * not allowed; the other skips are decide()'s reasons, and 'capped' or 'budget' the Store's refusal;
 * 'held-out': the shopper is in the campaign's control group — the exposure was recorded, nothing is sent.
 */
export type PresenceOutcome = 'no-presence' | SkipCode | 'budget' | 'held-out' | 'sent' | 'duplicate';

export type ResolvedPresenceDeps = {
  store: Store;
  /** Stores, zones and campaigns as of the Store's configuration version (config-view.ts). */
  config: ConfigView;
  delivery: Pick<Delivery, 'notify'>;
  metrics: Metrics;
  arbiter?: ArbiterConfig;
  /** CON-6: a grant on a superseded text or past its validity counts as not granted; the built-in catalog's, 12 months, by default. */
  consentPolicy?: ConsentPolicy;
  /** K_exp (domain/experiment.ts deriveExperimentKey): assigns shoppers to A/B variants and the holdout. */
  experimentKey: Uint8Array;
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
const RANK: Record<Exclude<PresenceOutcome, 'no-presence'>, number> = {
  sent: 12, 'held-out': 11, duplicate: 10, budget: 9, capped: 8, 'not-in-audience': 7, 'outside-schedule': 6, 'quiet-hours': 5, closed: 4, 'no-consent': 3, 'sensitive-zone': 2, 'too-late': 1, 'no-campaign': 0,
};
const mostSignificant = (outcomes: readonly Exclude<PresenceOutcome, 'no-presence'>[]): Exclude<PresenceOutcome, 'no-presence'> =>
  outcomes.reduce((best, outcome) => (RANK[outcome] > RANK[best] ? outcome : best), 'no-campaign');

/**
 * What the shopper's app is told about its own report (POST /v1/me/sightings): whether a promotion went out
 * ('sent'), whether the report was one already handled ('duplicate'), whether the shopper's own marketing
 * consent stopped it ('no-consent'), and otherwise only 'not-sent'. The campaign's reasons — the experiment's
 * control group above all, and caps, budgets, schedules and audiences — are the controller's and stay on the
 * server: an app told 'held-out' would know its shopper is in the holdout, and the experiment would no longer
 * compare like with like. The shopper reads every row held, held-out ones included, in their export (DSR-1).
 */
export type AppOutcome = 'sent' | 'duplicate' | 'no-consent' | 'not-sent';
export function appOutcome(outcome: Exclude<PresenceOutcome, 'no-presence'> | 'replayed'): AppOutcome {
  if (outcome === 'sent' || outcome === 'duplicate' || outcome === 'no-consent') return outcome;
  return outcome === 'replayed' ? 'duplicate' : 'not-sent';
}

/**
 * The Store's consent state, with lapsed grants (CON-6) read as withdrawn — the lapse job writes them down
 * hourly, and in between they must not be used — or the Store's error, counted where it was read, if it
 * cannot be read.
 */
export async function readConsent(deps: Pick<ResolvedPresenceDeps, 'store' | 'metrics' | 'consentPolicy'>, shopperId: string, where: 'ingest' | 'sweep', nowMs: number): Promise<ConsentState> {
  try {
    return activeConsent(await deps.store.getConsentState(shopperId), deps.consentPolicy ?? DEFAULT_CONSENT_POLICY, nowMs);
  } catch (error) {
    deps.metrics.consentUnreadable.inc({ where });
    throw error;
  }
}

/**
 * Records the shopper's presence in their visit history — only with personalisation (P2): visit history
 * is profiling — and never from a sensitive zone (AN-3). An arbitrated entry into a zone may start a visit.
 * null when nothing is kept for them.
 */
async function visitActivity(
  deps: ResolvedPresenceDeps, consent: ConsentState, context: StoreContext, shopperId: string, presence: { zoneId: string; atMs: number }, entered: readonly ZoneTransition[],
): Promise<VisitActivity | null> {
  // The same rule the event's own transaction applies (Store.applyPresence).
  const visit = visitPresence(presence, { sensitiveZoneIds: context.sensitiveZoneIds }, consent, entered);
  return visit === undefined ? null : deps.store.recordVisitActivity(context.id, shopperId, visit.atMs, visit.startsVisit);
}

/**
 * sequence: the gateway's (boot, seq) claim, made in the same transaction (the MQTT ingest); 'replayed' when
 * another event holds it, and then nothing was written. An app's sighting has none.
 */
export async function processResolvedPresence(deps: ResolvedPresenceDeps, event: ResolvedPresence, nowMs: number): Promise<PresenceOutcome>;
export async function processResolvedPresence(
  deps: ResolvedPresenceDeps, event: ResolvedPresence, nowMs: number, sequence: PresenceStep['sequence'],
): Promise<PresenceOutcome | 'replayed'>;
export async function processResolvedPresence(
  deps: ResolvedPresenceDeps, event: ResolvedPresence, nowMs: number, sequence?: PresenceStep['sequence'],
): Promise<PresenceOutcome | 'replayed'> {
  const { store, metrics } = deps;
  const arbiter = deps.arbiter ?? DEFAULT_ARBITER_CONFIG;
  const policy = deps.consentPolicy ?? DEFAULT_CONSENT_POLICY;
  const context = await deps.config.storeContext(event.storeId);
  const step = await store.applyPresence({
    event, receivedAtMs: nowMs, ...(sequence === undefined ? {} : { sequence }),
    // CON-6: lapsed grants read as withdrawn — the lapse job writes them down hourly, and in between they must not be used.
    consent: (stored) => activeConsent(stored, policy, nowMs),
    arbitrate: (previous) => {
      const result = arbitrateZone(previous, { eventId: event.eventId, zoneId: event.zoneId, kind: event.kind, proximity: event.proximity, atMs: event.atS * 1000 }, arbiter);
      return { state: result.state, dueAtMs: zoneStateDueAtMs(result.state, arbiter), result: { transitions: result.transitions, current: result.state.current?.zoneId } };
    },
    ...(context === undefined ? {} : { visits: { sensitiveZoneIds: context.sensitiveZoneIds } }),
  }).catch((error: unknown) => {
    // CON-5: the consent read is part of this transaction; whatever failed, nothing was decided or sent.
    metrics.consentUnreadable.inc({ where: 'ingest' });
    throw error;
  });
  if (step.outcome === 'replay') return 'replayed';
  if (step.outcome === 'no-presence') return 'no-presence';
  if (step.conversions > 0) metrics.conversions.inc(step.conversions);
  const { consent, visit } = step;
  const triggers = triggersOf(event, step.transitions, step.current);
  if (context === undefined) {
    metrics.decisions.inc({ outcome: 'skip', reason: 'closed' });
    return 'closed';
  }
  if (triggers.length === 0) {
    // Nothing to decide on: the same checks in the same order say why (consent, freshness, zone, hours, no campaign).
    const decision = decide(event, { consent, attributes: {}, visit }, context, [], nowMs);
    const reason = decision.send ? 'no-campaign' : decision.reason.code;
    deps.metrics.decisions.inc({ outcome: 'skip', reason });
    return reason;
  }
  return sendFor(deps, consent, context, visit, triggers, nowMs, await deps.config.campaigns(event.storeId));
}

/**
 * Attribution (issue 6 item 3): each arbitrated entry into a zone converts the shopper's open exposures whose
 * campaign counts that zone — one conditional UPDATE per entry, of this shopper's rows only, idempotent on
 * redelivery (a converted exposure is not converted again). Only with analytics consent (P3) now; the
 * exposure itself needed P3 when it was recorded.
 */
async function recordConversions(deps: ResolvedPresenceDeps, consent: ConsentState, storeId: string, shopperId: string, transitions: readonly ZoneTransition[]): Promise<void> {
  for (const t of conversionEntries(consent, transitions)) {
    const converted = await deps.store.recordConversions({ shopperId, storeId, zoneId: t.zoneId, atMs: t.atMs });
    if (converted > 0) deps.metrics.conversions.inc(converted);
  }
}

const CONSENT_REFUSALS: readonly string[] = ['no-consent', 'erased', 'restricted', 'objected'];

/** Decides and records (and hands to delivery) a promotion for each trigger. */
async function sendFor(
  deps: ResolvedPresenceDeps, consent: ConsentState, context: StoreContext, visit: VisitActivity | null, triggers: readonly Trigger[], nowMs: number,
  campaigns: readonly Campaign[],
): Promise<Exclude<PresenceOutcome, 'no-presence'>> {
  const { store, metrics } = deps;
  // Attributes serve segments and templates, both only with P2: without it the profile is not read at all
  // (a round trip per event is a share of the ingest's time: docs/benchmarks.md, end to end).
  const record = isGranted(consent, 'personalisation') ? await store.getShopper(triggers[0]!.shopperId) : undefined;
  // Attributes are the shopper's own; decide() uses them (segments) only with P2, and templates render them only with P2.
  const shopper: ShopperContext = { consent, attributes: { firstName: record?.firstName, loyaltyTier: record?.loyaltyTier, interests: record?.interests }, visit };
  const outcomes: Exclude<PresenceOutcome, 'no-presence'>[] = [];
  for (const trigger of triggers) {
    const decision = decide(trigger, shopper, context, campaigns, nowMs);
    if (!decision.send) {
      metrics.decisions.inc({ outcome: 'skip', reason: decision.reason.code });
      outcomes.push(decision.reason.code);
      continue;
    }
    // Experiments (issue 6 item 1): the shopper's group, stable per (campaign, shopper). A variant's message
    // overrides the campaign's; a held-out shopper's exposure is recorded (same checks, same caps) and never sent.
    const { experiment, attribution } = decision.campaign;
    const group = experiment === undefined ? undefined : assignGroup(deps.experimentKey, { id: decision.campaign.id, experiment }, trigger.shopperId);
    const message = buildPromotion({
      campaign: decision.campaign, shopperId: trigger.shopperId, eventId: trigger.eventId, storeId: trigger.storeId, zoneId: trigger.zoneId,
      personalised: decision.personalised, purposes: decision.purposes, attributes: { firstName: record?.firstName ?? undefined, loyaltyTier: record?.loyaltyTier ?? undefined }, nowMs,
      ...(group?.kind === 'variant' ? { variant: group.variant } : {}),
    });
    // The Store re-reads consent in the same transaction that records; if that fails, nothing was recorded or sent.
    const result = await store.recordPromotion({
      message, campaignId: decision.campaign.id, shopperId: trigger.shopperId, eventId: trigger.eventId,
      storeId: trigger.storeId, zoneId: trigger.zoneId, createdAtMs: nowMs, caps: decision.campaign.caps, budget: decision.campaign.budget, requiredPurposes: decision.purposes,
      variant: variantLabel(group), heldOut: group?.kind === 'holdout', ...(attribution === undefined ? {} : { attribution }), analyticsActive: isGranted(consent, 'analytics'),
    }).catch((error: unknown) => {
      metrics.consentUnreadable.inc({ where: 'record' });
      throw error;
    });
    if (result.outcome === 'skipped') {
      metrics.decisions.inc({ outcome: 'skip', reason: result.reason });
      outcomes.push(CONSENT_REFUSALS.includes(result.reason) ? 'no-consent' : result.reason === 'budget' ? 'budget' : 'capped');
      continue;
    }
    if (result.promotion.status === 'held-out') {
      // The control group: nothing is delivered, on this or any later path (status 'held-out' is never listed for sending).
      if (result.outcome === 'recorded') metrics.heldOut.inc();
      metrics.decisions.inc({ outcome: result.outcome === 'recorded' ? 'held-out' : 'duplicate', reason: 'none' });
      // A redelivery of a held-out event is still 'held-out' (not 'duplicate', which a sent one gives), so the
      // outcome the app sees (appOutcome) never tells the control group apart on a retry either.
      outcomes.push('held-out');
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
    await recordConversions(deps, consent, key.storeId, key.shopperId, transitions);
    const triggers = transitions.map((t): ResolvedPresence => ({
      eventId: zoneTimerEventId(key, t), shopperId: key.shopperId, storeId: key.storeId, zoneId: t.zoneId,
      kind: t.kind === 'entered' ? 'enter' : 'exit', atS: Math.floor(t.atMs / 1000), dwellS: Math.floor(t.dwellMs / 1000), proximity: 'near',
    }));
    const context = await deps.config.storeContext(key.storeId);
    if (context === undefined) continue;
    const entry = transitions.find((t) => t.kind === 'entered');
    const visit = entry === undefined ? null : await visitActivity(deps, consent, context, key.shopperId, { zoneId: entry.zoneId, atMs: entry.atMs }, transitions);
    await sendFor(deps, consent, context, visit, triggers, nowMs, await deps.config.campaigns(key.storeId));
  }
  return changed;
}
