import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { IdSchema } from '#gateway/protocol/index.ts';
import { kAnonymity } from '../domain/analytics.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { LIVE_WINDOW_MS, liveView } from '../domain/live-view.ts';
import { DEFAULT_ARBITER_CONFIG } from '../domain/zone-arbiter.ts';
import type { StoreBeaconRecord, StoreRecord, ZoneRecord } from '../store/store.ts';
import type { AppDeps } from '../app.ts';

// Reading stores (issue 8, the console): the list, one store as PUT /v1/admin/stores/:storeId takes it
// (so the console can load it, edit it and put it back), and its live view — k-anonymous occupancy per
// zone and events per second (domain/live-view.ts), from storage, the same on every server instance.
// Authenticated and authorised by auth/admin-access.ts (stores.read, live.read). Configuration only, and
// counts: no shopper, no pseudonym, no secret.

export const StoreParamsSchema = z.object({ storeId: IdSchema }).strict();

/** A store as the PUT takes it, with its ID: optional parts only when set. */
export function storeView(record: StoreRecord, zones: readonly ZoneRecord[], beacons: readonly StoreBeaconRecord[]) {
  return {
    id: record.id,
    name: record.name,
    timezone: record.timezone,
    ...(record.openingHours === undefined ? {} : { openingHours: record.openingHours }),
    ...(record.quietHours === undefined ? {} : { quietHours: record.quietHours }),
    ...(record.floorPlan === undefined ? {} : { floorPlan: record.floorPlan }),
    zones: zones.map((zone) => ({ id: zone.id, name: zone.name, sensitive: zone.sensitive, ...(zone.polygon === undefined ? {} : { polygon: zone.polygon }) })),
    beacons: beacons.map((beacon) => ({ id: beacon.id, zoneId: beacon.zoneId, uuid: beacon.uuid, major: beacon.major, minor: beacon.minor })),
  };
}

export async function storeReadRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;
  const k = kAnonymity(deps.analyticsK);
  // A zone state whose last claim is older than this is the arbiter's to drop (domain/zone-arbiter.ts staleMs).
  const staleMs = deps.zoneArbiter?.staleMs ?? DEFAULT_ARBITER_CONFIG.staleMs;

  const found = async (params: unknown): Promise<StoreRecord> => {
    const { storeId } = parseOrThrow(StoreParamsSchema, params, 'INVALID_PARAMS');
    const record = await store.getStore(storeId);
    if (record === undefined) throw new ApiError('NOT_FOUND', `no store ${storeId}`, ['storeId']);
    return record;
  };

  app.get('/v1/admin/stores', async () => {
    const [stores, gateways] = await Promise.all([store.listStores(), store.listGateways()]);
    const gatewaysOf = new Map<string, number>();
    for (const gateway of gateways) gatewaysOf.set(gateway.storeId, (gatewaysOf.get(gateway.storeId) ?? 0) + 1);
    const zoneCounts = await Promise.all(stores.map(async (s) => (await store.listZones(s.id)).length));
    return {
      stores: stores.map((s, i) => ({ id: s.id, name: s.name, timezone: s.timezone, zoneCount: zoneCounts[i]!, gatewayCount: gatewaysOf.get(s.id) ?? 0 })),
    };
  });

  app.get('/v1/admin/stores/:storeId', async (request) => {
    const record = await found(request.params);
    const [zones, beacons] = await Promise.all([store.listZones(record.id), store.listStoreBeacons(record.id)]);
    return storeView(record, zones, beacons);
  });

  app.get('/v1/admin/stores/:storeId/live', async (request, reply) => {
    const record = await found(request.params);
    const atMs = now();
    const [zones, occupancy, events] = await Promise.all([
      store.listZones(record.id),
      store.zoneOccupancy(record.id, atMs - staleMs),
      // (now − window, now]: events are dated by the gateway to the whole second, and the one dated now counts.
      store.zoneEventCounts(record.id, atMs - LIVE_WINDOW_MS + 1, atMs + 1),
    ]);
    // A moment's figures: never cached on the way.
    void reply.header('cache-control', 'no-store');
    return liveView({ storeId: record.id, atMs, k, windowMs: LIVE_WINDOW_MS, zones, occupancy, events });
  });
}
