import type { Logger } from 'pino';
import { parsePayload, parseTopic, PresenceEventSchema, GatewayStatusSchema } from '#gateway/protocol/index.ts';
import { decide, type ResolvedPresence } from '../domain/decision.ts';
import { isGranted } from '../domain/consent.ts';
import { buildPromotion } from '../domain/promotion.ts';
import type { Delivery } from '../delivery/delivery.ts';
import type { Metrics } from '../metrics.ts';
import type { Resolver } from '../resolver.ts';
import type { Store } from '../store/store.ts';

// Presence ingest: one MQTT message in, at most one promotion out. Every step is idempotent —
// presence is recorded by event ID, promotions by (campaign, shopper, event) — so a message the
// broker redelivers after a crash or to another instance changes nothing the second time.

export type IngestOutcome =
  | 'rejected-topic' | 'rejected-schema' | 'rejected-mismatch' | 'unknown-gateway' | 'unresolved'
  | 'no-consent' | 'no-campaign' | 'capped' | 'sent' | 'duplicate' | 'status';

export type PresenceIngest = { handle(topic: string, payload: Buffer): Promise<IngestOutcome> };

export function createPresenceIngest(deps: { store: Store; resolver: Resolver; delivery: Delivery; metrics: Metrics; logger: Logger; now: () => number }): PresenceIngest {
  const { store, resolver, delivery, metrics, logger, now } = deps;
  const outcome = (value: IngestOutcome): IngestOutcome => {
    metrics.presence.inc({ outcome: value });
    return value;
  };

  const handleStatus = async (gatewayId: string, storeId: string, payload: Buffer): Promise<IngestOutcome> => {
    const parsed = parsePayload(GatewayStatusSchema, payload);
    if (!parsed.ok) {
      logger.warn({ gatewayId, error: parsed.error }, 'status message rejected');
      return outcome('rejected-schema');
    }
    const gateway = await store.getGateway(gatewayId);
    if (gateway === undefined || gateway.storeId !== storeId) return outcome('unknown-gateway');
    await store.markGatewaySeen(gatewayId, now(), parsed.value.online);
    return outcome('status');
  };

  return {
    async handle(topic, payload) {
      const started = performance.now();
      const route = parseTopic(topic);
      if (route === undefined) return outcome('rejected-topic');
      if (route.kind === 'status') return handleStatus(route.gatewayId, route.storeId, payload);
      if (route.kind !== 'events') return outcome('rejected-topic');

      const parsed = parsePayload(PresenceEventSchema, payload);
      if (!parsed.ok) {
        // Logged without the payload: it may carry a pseudonym, or be hostile.
        logger.warn({ gatewayId: route.gatewayId, error: parsed.error }, 'presence message rejected');
        return outcome('rejected-schema');
      }
      const event = parsed.value;
      if (event.storeId !== route.storeId || event.gatewayId !== route.gatewayId) {
        logger.warn({ gatewayId: route.gatewayId }, 'presence message names another store or gateway than its topic');
        return outcome('rejected-mismatch');
      }
      const gateway = await store.getGateway(event.gatewayId);
      if (gateway === undefined || gateway.storeId !== event.storeId || gateway.zoneId !== event.zoneId) {
        logger.warn({ gatewayId: event.gatewayId }, 'presence from an unknown gateway or zone');
        return outcome('unknown-gateway');
      }
      const resolution = resolver.resolve(event.pseudonym);
      // ID-2: an unresolved pseudonym moves a counter and nothing else.
      if (resolution === undefined || resolution.storeId !== event.storeId) return outcome('unresolved');

      const consent = await store.getConsentState(resolution.shopperId);
      if (!isGranted(consent, 'presence')) return outcome('no-consent');
      const resolved: ResolvedPresence = {
        eventId: event.eventId, shopperId: resolution.shopperId, storeId: event.storeId, zoneId: event.zoneId,
        kind: event.kind, atS: event.atS, dwellS: event.dwellS,
      };
      const nowMs = now();
      await store.recordPresence(resolved, nowMs);

      const decision = decide(resolved, consent, await store.listCampaigns(event.storeId), nowMs);
      if (!decision.send) {
        metrics.decisions.inc({ outcome: 'skip', reason: decision.reason.code });
        return outcome(decision.reason.code === 'capped' ? 'capped' : decision.reason.code);
      }
      const shopper = await store.getShopper(resolution.shopperId);
      const message = buildPromotion({
        campaign: decision.campaign, shopperId: resolution.shopperId, eventId: event.eventId, zoneId: event.zoneId,
        personalised: decision.personalised, purposes: decision.purposes, attributes: { firstName: shopper?.firstName ?? undefined }, nowMs,
      });
      const result = await store.recordPromotion({
        message, campaignId: decision.campaign.id, shopperId: resolution.shopperId, eventId: event.eventId,
        storeId: event.storeId, zoneId: event.zoneId, createdAtMs: nowMs, caps: decision.campaign.caps, requiredPurposes: decision.purposes,
      });
      metrics.ingestSeconds.observe((performance.now() - started) / 1000);
      if (result.outcome === 'skipped') {
        metrics.decisions.inc({ outcome: 'skip', reason: result.reason });
        return outcome(result.reason === 'no-consent' || result.reason === 'erased' ? 'no-consent' : 'capped');
      }
      metrics.decisions.inc({ outcome: result.outcome === 'recorded' ? 'send' : 'duplicate', reason: 'none' });
      if (result.promotion.status === 'pending') delivery.notify(result.promotion);
      return outcome(result.outcome === 'recorded' ? 'sent' : 'duplicate');
    },
  };
}
