import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { IdSchema, RemotePresenceSettingsSchema, RESERVED_ID_PREFIX } from '#gateway/protocol/index.ts';
import { SERVER_MQTT_USERNAME } from '../broker/broker-access.ts';
import type { AuditDetails } from '../domain/audit-chain.ts';
import { WeeklyWindowSchema } from '../domain/campaign.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { floorPlanIssues, FloorPlanSchema, ZonePolygonSchema } from '../domain/floor-plan.ts';
import { StoreBeaconSchema } from '../domain/store-beacons.ts';
import { newAppToken } from '../identity.ts';
import { principalOf } from '../auth/admin-access.ts';
import type { AppDeps } from '../app.ts';

// Operator API: stores, zones, gateways and tills (campaigns: campaign-routes.ts; API keys and the audit
// log: access-routes.ts). Every /v1/admin route is authenticated and authorised by auth/admin-access.ts
// against the permission matrix (SEC-2). Every change is written to the audit log (ACC-1) after it is
// made, with the acting principal — IDs, counts and settings only, never a secret.

export const StoreBodySchema = z
  .object({
    name: z.string().min(1).max(120),
    timezone: z.string().min(1).refine((tz) => Intl.supportedValuesOf('timeZone').includes(tz) || tz === 'UTC', 'timezone must be an IANA time zone such as "Europe/Rome"'),
    zones: z.array(z.object({
      id: IdSchema, name: z.string().min(1).max(80), sensitive: z.boolean().default(false),
      /** The zone's outline on the floor plan, [[x, y], …] in metres (domain/floor-plan.ts); the console's live view draws it. */
      polygon: ZonePolygonSchema.optional(),
    }).strict()).min(1).max(500),
    /** The store's floor plan, { widthM, heightM }: the rectangle the zone outlines are drawn on. A PUT without it removes it. */
    floorPlan: FloorPlanSchema.optional(),
    /** Weekly windows, local to the store's time zone, when it is open: nothing is sent outside them. None = always open. */
    openingHours: z.array(WeeklyWindowSchema).min(1).max(50).optional(),
    /** Weekly windows when nothing is sent, open or not (MKT-3). */
    quietHours: z.array(WeeklyWindowSchema).min(1).max(50).optional(),
    /** The store's own iBeacons, which iOS apps monitor (GET /v1/me/regions); a PUT replaces them, none if absent. */
    beacons: z.array(StoreBeaconSchema).max(500).default([]),
  })
  .strict()
  .superRefine((body, ctx) => {
    const zoneIds = new Set(body.zones.map((z) => z.id));
    const ids = new Set<string>();
    const identities = new Set<string>();
    body.beacons.forEach((beacon, i) => {
      if (!zoneIds.has(beacon.zoneId)) ctx.addIssue({ code: 'custom', path: ['beacons', i, 'zoneId'], message: `no zone "${beacon.zoneId}" in this store` });
      if (ids.has(beacon.id)) ctx.addIssue({ code: 'custom', path: ['beacons', i, 'id'], message: `beacon ID "${beacon.id}" is listed twice` });
      const identity = `${beacon.uuid}/${beacon.major}/${beacon.minor}`;
      if (identities.has(identity)) ctx.addIssue({ code: 'custom', path: ['beacons', i], message: 'another beacon has the same uuid, major and minor' });
      ids.add(beacon.id);
      identities.add(identity);
    });
    for (const issue of floorPlanIssues(body.floorPlan, body.zones)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

export const GatewayBodySchema = z
  .object({
    // The gateway ID is its MQTT username (SEC-1), so it cannot be the servers' one.
    id: IdSchema.refine((id) => id !== SERVER_MQTT_USERNAME && !id.startsWith(RESERVED_ID_PREFIX),
      `gateway IDs starting with "${RESERVED_ID_PREFIX}" are reserved for the servers' MQTT logins and client IDs`),
    zoneId: IdSchema,
    rotateSecret: z.boolean().default(false),
  })
  .strict();

/** A till of the store (server/routes/pos-routes.ts); the name is the operator's label, e.g. "Till 3". */
export const PosDeviceBodySchema = z.object({ name: z.string().trim().min(1).max(80) }).strict();

/** The gateway list, of every store or of one. */
export const GatewayListQuerySchema = z.object({ storeId: IdSchema.optional() }).strict();

/** Per-gateway presence settings; they reach the gateway on its retained config topic and apply without a restart. */
export const GatewaySettingsBodySchema = z.object({ presence: RemotePresenceSettingsSchema }).strict();

export async function adminRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, sealer, now } = deps;
  // The acting principal (auth/admin-access.ts authenticated it and checked the route's permission).
  const audit = (request: FastifyRequest, action: string, subject: string, details: AuditDetails) =>
    store.appendAudit({ atMs: now(), actor: principalOf(request).id, action, subject, details });

  app.put('/v1/admin/stores/:storeId', async (request) => {
    const { storeId } = parseOrThrow(z.object({ storeId: IdSchema }), request.params, 'INVALID_PARAMS');
    const body = parseOrThrow(StoreBodySchema, request.body);
    await store.upsertStore({
      id: storeId, name: body.name, timezone: body.timezone,
      ...(body.openingHours === undefined ? {} : { openingHours: body.openingHours }), ...(body.quietHours === undefined ? {} : { quietHours: body.quietHours }),
      ...(body.floorPlan === undefined ? {} : { floorPlan: body.floorPlan }),
    });
    for (const zone of body.zones) {
      await store.upsertZone({ storeId, id: zone.id, name: zone.name, sensitive: zone.sensitive, ...(zone.polygon === undefined ? {} : { polygon: zone.polygon }) });
    }
    await store.replaceStoreBeacons(storeId, body.beacons);
    // Beacon IDs only: a beacon's uuid, major and minor stay out of the log.
    await audit(request, 'store.changed', storeId, {
      timezone: body.timezone, openingHours: body.openingHours ?? null, quietHours: body.quietHours ?? null, zoneIds: body.zones.map((z) => z.id), sensitiveZoneIds: body.zones.filter((z) => z.sensitive).map((z) => z.id),
      beaconIds: body.beacons.map((b) => b.id),
      // The plan's size and which zones have an outline; the outlines themselves could outgrow an entry's 4 KiB.
      floorPlan: body.floorPlan ?? null, outlinedZoneIds: body.zones.filter((z) => z.polygon !== undefined).map((z) => z.id),
    });
    const live = await deps.keys.maintain();
    deps.resolver.setKeys(live);
    deps.beacons.setKeys(live);
    deps.announce({ type: 'keys' });
    return { id: storeId, ...body };
  });

  /**
   * Provisions a gateway and returns its config file, with its secret — shown this once. The MQTT
   * username is the gateway ID and the password is derived from the secret (gateway/protocol/credentials.ts),
   * so the file carries no second secret.
   */
  app.post('/v1/admin/stores/:storeId/gateways', async (request, reply) => {
    const { storeId } = parseOrThrow(z.object({ storeId: IdSchema }), request.params, 'INVALID_PARAMS');
    const body = parseOrThrow(GatewayBodySchema, request.body);
    const zones = await store.listZones(storeId);
    if (zones.length === 0) throw new ApiError('NOT_FOUND', `no store ${storeId}`);
    if (!zones.some((z) => z.id === body.zoneId)) throw new ApiError('INVALID_BODY', `zoneId: store ${storeId} has no zone ${body.zoneId}`, ['zoneId']);
    const existing = await store.getGateway(body.id);
    if (existing && existing.storeId !== storeId) throw new ApiError('CONFLICT', `gateway ${body.id} belongs to another store`);
    if (existing && !body.rotateSecret) throw new ApiError('CONFLICT', `gateway ${body.id} exists; set rotateSecret to issue a new secret`);
    const secret = randomBytes(32);
    await store.upsertGateway({ id: body.id, storeId, zoneId: body.zoneId, secretSealed: sealer.seal(secret, `gateway-secret:${body.id}`) }, true);
    await audit(request, existing ? 'gateway.secret-rotated' : 'gateway.provisioned', body.id, { storeId, zoneId: body.zoneId });
    await deps.keys.publishGatewayConfig(body.id);
    return reply.code(201).send({
      config: { storeId, gatewayId: body.id, zoneId: body.zoneId, secret: secret.toString('base64url'), mqtt: { url: deps.publicMqttUrl, username: body.id } },
    });
  });

  /**
   * Issues a till's credential: 256 random bits, shown this once; the store keeps its SHA-256 only
   * (like an app credential). The device redeems its own store's coupons until it is revoked.
   */
  app.post('/v1/admin/stores/:storeId/pos-devices', async (request, reply) => {
    const { storeId } = parseOrThrow(z.object({ storeId: IdSchema }), request.params, 'INVALID_PARAMS');
    const body = parseOrThrow(PosDeviceBodySchema, request.body);
    if ((await store.getStore(storeId)) === undefined) throw new ApiError('NOT_FOUND', `no store ${storeId}`);
    const deviceId = `pd_${randomUUID().replaceAll('-', '')}`;
    const { token, tokenHash } = newAppToken();
    const createdAtMs = now();
    await store.createPosDevice({ id: deviceId, storeId, name: body.name, tokenHash, createdAtMs });
    // The device and store IDs only: neither the token nor its hash.
    await audit(request, 'pos-device.created', deviceId, { storeId });
    return reply.code(201).send({ deviceId, storeId, name: body.name, createdAtMs, token });
  });

  app.get('/v1/admin/stores/:storeId/pos-devices', async (request) => {
    const { storeId } = parseOrThrow(z.object({ storeId: IdSchema }), request.params, 'INVALID_PARAMS');
    if ((await store.getStore(storeId)) === undefined) throw new ApiError('NOT_FOUND', `no store ${storeId}`);
    return {
      devices: (await store.listPosDevices(storeId)).map((d) => ({ deviceId: d.id, storeId: d.storeId, name: d.name, createdAtMs: d.createdAtMs, revokedAtMs: d.revokedAtMs })),
    };
  });

  app.delete('/v1/admin/stores/:storeId/pos-devices/:deviceId', async (request, reply) => {
    const { storeId, deviceId } = parseOrThrow(z.object({ storeId: IdSchema, deviceId: IdSchema }), request.params, 'INVALID_PARAMS');
    if (!(await store.revokePosDevice(storeId, deviceId, now()))) throw new ApiError('NOT_FOUND', `no active POS device ${deviceId} in store ${storeId}`);
    await audit(request, 'pos-device.revoked', deviceId, { storeId });
    return reply.code(204).send();
  });

  const gatewayOfStore = async (params: unknown) => {
    const { storeId, gatewayId } = parseOrThrow(z.object({ storeId: IdSchema, gatewayId: IdSchema }), params, 'INVALID_PARAMS');
    const gateway = await store.getGateway(gatewayId);
    if (gateway === undefined || gateway.storeId !== storeId) throw new ApiError('NOT_FOUND', `no gateway ${gatewayId} in store ${storeId}`);
    return gateway;
  };

  /** Replaces a gateway's presence settings and republishes its config, so the gateway applies them at once. */
  app.put('/v1/admin/stores/:storeId/gateways/:gatewayId/settings', async (request) => {
    const gateway = await gatewayOfStore(request.params);
    const body = parseOrThrow(GatewaySettingsBodySchema, request.body);
    const record = { gatewayId: gateway.id, presence: body.presence, updatedAtMs: now() };
    await store.setGatewaySettings(record);
    await audit(request, 'gateway.settings-changed', gateway.id, { storeId: gateway.storeId, presence: body.presence });
    await deps.keys.publishGatewayConfig(gateway.id);
    return record;
  });

  app.get('/v1/admin/stores/:storeId/gateways/:gatewayId/settings', async (request) => {
    const gateway = await gatewayOfStore(request.params);
    return (await store.getGatewaySettings(gateway.id)) ?? { gatewayId: gateway.id, presence: {}, updatedAtMs: null };
  });

  /**
   * Every gateway (or one store's, ?storeId=), with what it last reported about itself on its status topic:
   * its version and operational counters (domain/gateway-report.ts), null until it reports them.
   */
  app.get('/v1/admin/gateways', async (request) => {
    const { storeId } = parseOrThrow(GatewayListQuerySchema, request.query ?? {}, 'INVALID_PARAMS');
    return {
      gateways: (await store.listGateways(storeId)).map((g) => ({
        id: g.id, storeId: g.storeId, zoneId: g.zoneId, online: g.online, lastSeenAtMs: g.lastSeenAtMs,
        version: g.report?.version ?? null, counts: g.report?.counts ?? null, reportedAtMs: g.report?.atMs ?? null,
      })),
    };
  });
}
