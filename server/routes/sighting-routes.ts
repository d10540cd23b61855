import type { FastifyInstance } from 'fastify';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { IOS_REGION_LIMIT, monitoringRegions, sightingEventId, SightingSchema } from '../domain/store-beacons.ts';
import { DEFAULT_EVENT_WINDOW } from '../ingest/presence-ingest.ts';
import { appOutcome, processResolvedPresence } from '../ingest/resolved-presence.ts';
import { resolveConsentConfig } from '../consent/consent-config.ts';
import type { AppDeps } from '../app.ts';
import { authenticateShopper } from './shopper-routes.ts';

// The iOS presence path: the app monitors the stores' beacon regions and reports what it saw. A report
// becomes the same presence event a gateway's resolved pseudonym does, through the same steps
// (ingest/resolved-presence.ts): presence consent, record, decide, atomic record-promotion, delivery.

export async function sightingRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;
  const window = { ...DEFAULT_EVENT_WINDOW, ...deps.eventWindow };
  const consentPolicy = resolveConsentConfig(deps.consent).policy;

  /** The regions to monitor (iOS allows 20 per app): one per UUID + major, widened to the UUID alone past the limit. */
  app.get('/v1/me/regions', async (request) => {
    await authenticateShopper(deps, request);
    return { regions: monitoringRegions(await store.listStoreBeacons()), limit: IOS_REGION_LIMIT };
  });

  app.post('/v1/me/sightings', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    const sighting = parseOrThrow(SightingSchema, request.body);
    const nowMs = now();
    const atMs = sighting.atS * 1000;
    if (atMs < nowMs - window.pastS * 1000 || atMs > nowMs + window.futureS * 1000) {
      throw new ApiError('INVALID_BODY', `atS: the sighting must be at most ${window.pastS} s old and ${window.futureS} s ahead of the server clock`, ['atS']);
    }
    const beacons = await store.listStoreBeacons(sighting.storeId);
    if (beacons.length === 0 && (await store.listZones(sighting.storeId)).length === 0) throw new ApiError('NOT_FOUND', `no store ${sighting.storeId}`, ['storeId']);
    const { uuid, major, minor } = sighting.beacon;
    const beacon = beacons.find((b) => b.uuid === uuid && b.major === major && b.minor === minor);
    if (beacon === undefined) throw new ApiError('NOT_FOUND', `store ${sighting.storeId} has no beacon ${uuid} ${major}/${minor}`, ['beacon']);

    const eventId = sightingEventId(shopper.id, sighting);
    // DSR-4: a restricted shopper's data is kept but not processed: nothing is recorded or decided.
    if (shopper.restricted) return reply.code(202).send({ eventId, zoneId: beacon.zoneId, outcome: 'restricted' });
    const outcome = await processResolvedPresence({
      store, config: deps.config, metrics: deps.metrics,
      delivery: {
        notify: (promotion) => {
          deps.delivery.notify(promotion);
          deps.announce({ type: 'promotion', id: promotion.id, shopperId: promotion.shopperId });
        },
      },
      arbiter: deps.zoneArbiter, consentPolicy, experimentKey: deps.experimentKey,
    }, {
      // Region monitoring gives no range: a sighting claims its zone as 'near'.
      eventId, shopperId: shopper.id, storeId: sighting.storeId, zoneId: beacon.zoneId, kind: sighting.kind, atS: sighting.atS, dwellS: sighting.dwellS, proximity: 'near',
    }, nowMs);
    // CON-1: without presence consent nothing was recorded; the app should not be reporting at all.
    if (outcome === 'no-presence') throw new ApiError('PRESENCE_CONSENT_REQUIRED', 'reporting a sighting needs presence consent: grant "presence" with PUT /v1/me/consents first');
    // The app learns whether a promotion went out, never the campaign's reasons (held-out above all): appOutcome.
    return reply.code(202).send({ eventId, zoneId: beacon.zoneId, outcome: appOutcome(outcome) });
  });
}
