import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BeaconIdentifierSchema } from '../domain/beacon-identifier.ts';
import { isGranted } from '../domain/consent.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import type { AppDeps } from '../app.ts';
import { authenticateShopper } from './shopper-routes.ts';

// A shopper's loyalty beacons (their own physical iBeacon or Eddystone-UID tag), linked with presence
// consent (P1) and resolved through the same pseudonym path as the app's tokens. The identifier is the
// shopper's data: it comes back only to them (GET), never in another response, a log line or on MQTT.

export const BeaconParamsSchema = z.object({ id: z.string().regex(/^bc_[0-9a-f]{24}$/, 'id is a beacon ID from GET /v1/me/beacons') });

/**
 * After a link, an unlink or a consent change of one shopper: re-reads their resolvable beacons and republishes every
 * gateway's registeredBeacons — always after a link or unlink (`changed`), and after a consent change
 * only if the beacon set moved. The decision cannot rest on this sync alone: another one (the server
 * bus handler, on this or another instance, or the periodic resync) may have read the new beacon
 * first and taken the change with it, leaving this sync nothing new to report and the gateways
 * without the beacon until the next key change. A failed publish is logged; the next change publishes again.
 */
export async function applyBeaconChange(deps: AppDeps, changed: boolean, shopperId: string): Promise<void> {
  if (!(await deps.beacons.sync(shopperId)) && !changed) return;
  await deps.keys.publishAllConfigs().catch((error: Error) => deps.logger.warn({ err: error.message }, 'republishing gateway configs after a beacon change failed'));
}

export async function beaconRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, beacons } = deps;

  app.post('/v1/me/beacons', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    const beacon = parseOrThrow(BeaconIdentifierSchema, request.body);
    // CON-1: a beacon is presence data; nothing is linked (or stored) without presence consent.
    if (!isGranted(await store.getConsentState(shopper.id), 'presence')) {
      throw new ApiError('PRESENCE_CONSENT_REQUIRED', 'linking a beacon needs presence consent: grant "presence" with PUT /v1/me/consents first');
    }
    const linked = await beacons.link(shopper.id, beacon);
    if (linked.outcome === 'conflict') throw new ApiError('BEACON_ALREADY_LINKED', 'this beacon is linked already; unlink it first (DELETE /v1/me/beacons/:id)');
    await applyBeaconChange(deps, true, shopper.id);
    deps.announce({ type: 'beacons' });
    return reply.code(201).send({ id: linked.id, kind: beacon.kind });
  });

  app.get('/v1/me/beacons', async (request) => {
    const shopper = await authenticateShopper(deps, request);
    return { beacons: await beacons.list(shopper.id) };
  });

  app.delete('/v1/me/beacons/:id', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    const { id } = parseOrThrow(BeaconParamsSchema, request.params, 'INVALID_PARAMS');
    if (!(await beacons.unlink(shopper.id, id))) throw new ApiError('NOT_FOUND', `no beacon ${id} for this shopper`);
    await applyBeaconChange(deps, true, shopper.id);
    deps.announce({ type: 'beacons' });
    return reply.code(204).send();
  });
}
