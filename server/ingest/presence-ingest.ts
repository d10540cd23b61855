import type { Logger } from 'pino';
import { GatewayStatusSchema, parsePayload, parseTopic, PresenceEventSchema, verifyMessage, verifyPresenceEvent, type PresenceEvent, type Pseudonym } from '#gateway/protocol/index.ts';

const PSEUDONYM = /^[0-9a-f]{32}$/;
import { operationalCounts } from '../domain/gateway-report.ts';
import type { ResolvedPresence } from '../domain/decision.ts';
import type { Sealer } from '../domain/sealing.ts';
import type { ArbiterConfig } from '../domain/zone-arbiter.ts';
import type { ConsentPolicy } from '../domain/consent.ts';
import type { Delivery } from '../delivery/delivery.ts';
import type { Metrics } from '../metrics.ts';
import type { Resolution } from '../domain/resolver-index.ts';
import type { Resolver } from '../resolver.ts';
import type { Store } from '../store/store.ts';
import { createEventMacKeys } from './event-mac-keys.ts';
import { processResolvedPresence, type PresenceOutcome } from './resolved-presence.ts';
import type { ConfigView } from './config-view.ts';

// Presence ingest: one MQTT message in, at most one promotion out. A message is checked in this
// order, and each failure is counted under its own outcome and logged with the gateway and reason
// only: schema → topic/payload match → known gateway and zone → MAC under that gateway's secret
// (`forged`) → event time within the window (`stale`) → its (gateway, boot, seq) not already taken by
// another event (`replayed`; claimed only once the pseudonym resolves, so that an unresolved one
// leaves no row, ID-2). Every step after that is idempotent — presence is recorded by event ID,
// promotions by (campaign, shopper, event) — so a message the broker redelivers after a crash or to
// another instance changes nothing the second time. Those steps are resolved-presence.ts, shared with
// the iOS apps' sightings.

export type IngestOutcome =
  | 'rejected-topic' | 'rejected-schema' | 'rejected-mismatch' | 'unknown-gateway' | 'forged' | 'stale' | 'replayed' | 'unresolved'
  | Exclude<PresenceOutcome, 'no-presence'> | 'status';

/**
 * How far an event's time may lie from the server clock: behind (a gateway's outbox draining after a
 * broker outage of up to an hour is still presence history) and ahead (clock skew). Outside it the
 * event is `stale`; inside it, replays are caught by sequence number. Promotions additionally need a
 * fresh event (decision.ts, DEFAULT_MAX_EVENT_AGE_S).
 */
export type EventWindow = { pastS: number; futureS: number };
export const DEFAULT_EVENT_WINDOW: EventWindow = { pastS: 3_600, futureS: 30 };

export type PresenceIngest = {
  handle(topic: string, payload: Buffer): Promise<IngestOutcome>;
  /**
   * The ingress's lane for a message (mqtt-ingress.ts): the shopper a presence event resolves to, so one
   * shopper's events reach the zone arbiter in arrival order while other shoppers' run concurrently; the
   * topic for anything else (status, unresolved, malformed: no shopper state to order). Synchronous and
   * side-effect free: the resolver is in memory. handle() checks everything again, in its own order.
   */
  orderKey(topic: string, payload: Buffer): string;
};

export type PresenceIngestDeps = {
  store: Store;
  /** Gateways, stores and campaigns as of the Store's configuration version (config-view.ts). */
  config: ConfigView;
  resolver: Resolver;
  /** Resolves loyalty-beacon pseudonyms (beacon-service.ts); without it no beacon resolves. */
  beacons?: { resolve(pseudonym: PresenceEvent['pseudonym']): Resolution | undefined };
  delivery: Delivery;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  /** Opens each gateway's sealed secret, from which its event MAC key is derived. */
  sealer: Sealer;
  eventWindow?: Partial<EventWindow>;
  /** The zone arbiter's margin, hold and staleness (DEFAULT_ARBITER_CONFIG by default). */
  arbiter?: ArbiterConfig;
  /** CON-6: the current text versions and the validity a grant must meet to count (resolved-presence.ts). */
  consentPolicy?: ConsentPolicy;
  /** K_exp: A/B variant and holdout assignment (domain/experiment.ts). */
  experimentKey: Uint8Array;
};

export function createPresenceIngest(deps: PresenceIngestDeps): PresenceIngest {
  const { store, resolver, delivery, metrics, logger, now } = deps;
  const window: EventWindow = { ...DEFAULT_EVENT_WINDOW, ...deps.eventWindow };
  const macKeys = createEventMacKeys({ sealer: deps.sealer, now });
  const outcome = (value: IngestOutcome): IngestOutcome => {
    metrics.presence.inc({ outcome: value });
    return value;
  };
  /** Counts and logs a rejected message: the gateway of its topic and the reason, never the payload or a pseudonym. */
  const reject = (reason: IngestOutcome, gatewayId: string, details: { error?: string } = {}): IngestOutcome => {
    logger.warn({ gatewayId, reason, ...details }, 'presence message rejected');
    return outcome(reason);
  };

  const handleStatus = async (gatewayId: string, storeId: string, payload: Buffer): Promise<IngestOutcome> => {
    const parsed = parsePayload(GatewayStatusSchema, payload);
    if (!parsed.ok) return reject('rejected-schema', gatewayId, { error: parsed.error });
    const status = parsed.value;
    if (status.storeId !== storeId || status.gatewayId !== gatewayId) return reject('rejected-mismatch', gatewayId);
    const gateway = await deps.config.gateway(gatewayId);
    if (gateway === undefined || gateway.storeId !== storeId) return outcome('unknown-gateway');
    if (!verifyMessage(macKeys.keyFor(gateway), 'status', status)) return reject('forged', gatewayId);
    // "Offline" is accepted whatever its age: it is the will, signed when the gateway connected. A stale
    // "online" (a replay) is not: it would show a dead gateway alive.
    const nowMs = now();
    if (status.online && (status.atS * 1000 < nowMs - window.pastS * 1000 || status.atS * 1000 > nowMs + window.futureS * 1000)) return reject('stale', gatewayId);
    // Its version and operational counters, for the operator's gateway list (domain/gateway-report.ts: no device counts kept).
    await store.markGatewaySeen(gatewayId, nowMs, status.online, { version: status.version, counts: operationalCounts(status.counts) });
    return outcome('status');
  };

  return {
    orderKey(topic, payload) {
      const route = parseTopic(topic);
      if (route?.kind !== 'events') return `topic:${topic}`;
      // Only the two fields the lane needs, without the schema's full parse (handle() runs it): a payload
      // that lies here lands in another lane, and is then rejected or handled on its own merits.
      let fields: { idKind?: unknown; pseudonym?: unknown };
      try {
        fields = JSON.parse(payload.toString('utf8')) as typeof fields;
      } catch {
        return `topic:${topic}`;
      }
      if (typeof fields !== 'object' || fields === null || typeof fields.pseudonym !== 'string' || !PSEUDONYM.test(fields.pseudonym)) return `topic:${topic}`;
      const pseudonym = fields.pseudonym as Pseudonym;
      const resolution = fields.idKind === 'eddystone-eid' ? resolver.resolve(pseudonym) : deps.beacons?.resolve(pseudonym);
      return resolution === undefined ? `topic:${topic}` : `shopper:${resolution.storeId}:${resolution.shopperId}`;
    },
    async handle(topic, payload) {
      const started = performance.now();
      const route = parseTopic(topic);
      if (route === undefined) return outcome('rejected-topic');
      if (route.kind === 'status') return handleStatus(route.gatewayId, route.storeId, payload);
      if (route.kind !== 'events') return outcome('rejected-topic');

      const parsed = parsePayload(PresenceEventSchema, payload);
      // Logged without the payload: it may carry a pseudonym, or be hostile. parsePayload's error never quotes it.
      if (!parsed.ok) return reject('rejected-schema', route.gatewayId, { error: parsed.error });
      const event = parsed.value;
      if (event.storeId !== route.storeId || event.gatewayId !== route.gatewayId) return reject('rejected-mismatch', route.gatewayId);
      const gateway = await deps.config.gateway(event.gatewayId);
      if (gateway === undefined || gateway.storeId !== event.storeId || gateway.zoneId !== event.zoneId) return reject('unknown-gateway', route.gatewayId);
      // A subscriber cannot see who published, and an ACL can be wrong: the MAC shows the named gateway signed it.
      if (!verifyPresenceEvent(macKeys.keyFor(gateway), event)) return reject('forged', route.gatewayId);
      const nowMs = now();
      const atMs = event.atS * 1000;
      if (atMs < nowMs - window.pastS * 1000 || atMs > nowMs + window.futureS * 1000) return reject('stale', route.gatewayId);

      // App tokens resolve through the shoppers' EIDs; every other kind only as a linked loyalty beacon.
      const resolution = event.idKind === 'eddystone-eid' ? resolver.resolve(event.pseudonym) : deps.beacons?.resolve(event.pseudonym);
      // ID-2: an unresolved pseudonym moves a counter and nothing else — so it is resolved (in memory)
      // before its sequence number is claimed, which writes a row.
      if (resolution === undefined || resolution.storeId !== event.storeId) return outcome('unresolved');
      const resolved: ResolvedPresence = {
        eventId: event.eventId, shopperId: resolution.shopperId, storeId: event.storeId, zoneId: event.zoneId,
        kind: event.kind, atS: event.atS, dwellS: event.dwellS, proximity: event.proximity,
      };
      // The sequence claim is the first write of the event's one transaction (Store.applyPresence): a redelivery
      // (same event ID) goes on through the idempotent steps; another event under a taken number stops there.
      const result = await processResolvedPresence(
        { store, config: deps.config, delivery, metrics, arbiter: deps.arbiter, consentPolicy: deps.consentPolicy, experimentKey: deps.experimentKey },
        resolved, nowMs, { gatewayId: event.gatewayId, boot: event.boot, seq: event.seq },
      );
      if (result === 'replayed') return reject('replayed', route.gatewayId);
      metrics.ingestSeconds.observe((performance.now() - started) / 1000);
      return outcome(result === 'no-presence' ? 'no-consent' : result);
    },
  };
}
