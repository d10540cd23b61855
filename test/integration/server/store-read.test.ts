import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, createApiKey, expectStatus, provisionGateway, putStore, type TestApp } from '#test/helpers/build-test-app.ts';

// Reading stores through the operator API (issue 8): the list for the console's pickers, one store as the
// PUT takes it (a round trip changes nothing), and the floor plan with the zones' outlines, checked on the
// way in with each problem named at its field.

let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const boutique = {
  name: 'Boutique', timezone: 'Europe/Rome',
  openingHours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: '09:00', to: '19:30' }],
  floorPlan: { widthM: 20, heightM: 12.5 },
  zones: [
    { id: 'entrance', name: 'Entrance', sensitive: false, polygon: [[0, 0], [6, 0], [6, 12.5], [0, 12.5]] },
    // Shares a wall with the entrance: adjacent, not overlapping.
    { id: 'fitting', name: 'Fitting rooms', sensitive: true, polygon: [[6, 0], [20, 0], [20, 6], [6, 6]] },
    { id: 'stock', name: 'Stock room', sensitive: false },
  ],
  beacons: [{ id: 'door', zoneId: 'entrance', uuid: 'f7826da6-4fa2-4e98-8024-bc5b71e0893e', major: 7, minor: 1 }],
};

const put = (storeId: string, body: unknown, token = t.adminToken) =>
  t.app.inject({ method: 'PUT', url: `/v1/admin/stores/${storeId}`, headers: bearer(token), payload: body as Record<string, unknown> });
const get = (url: string, token = t.adminToken) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

type Issues = { error: { code: string; fields: string[]; issues: { field: string; message: string }[] } };

describe('GET /v1/admin/stores/:storeId', () => {
  it('returns the store as the PUT took it, floor plan and outlines included, so it can go straight back', async () => {
    expectStatus(await put('boutique', boutique), 200);
    const read = expectStatus<Record<string, unknown>>(await get('/v1/admin/stores/boutique'), 200);
    expect(read).toEqual({ id: 'boutique', ...boutique, zones: [boutique.zones[0], boutique.zones[1], boutique.zones[2]].sort((a, b) => a!.id.localeCompare(b!.id)) });

    const { id: _id, ...again } = read;
    expectStatus(await put('boutique', again), 200);
    expect(expectStatus(await get('/v1/admin/stores/boutique'), 200)).toEqual(read);
  });

  it('drops the floor plan and an outline a later PUT leaves out', async () => {
    expectStatus(await put('plain', boutique), 200);
    const { floorPlan: _plan, ...withoutPlan } = boutique;
    expectStatus(await put('plain', { ...withoutPlan, zones: withoutPlan.zones.map(({ polygon: _polygon, ...zone }) => zone) }), 200);
    const read = expectStatus<Record<string, unknown>>(await get('/v1/admin/stores/plain'), 200);
    expect(read).not.toHaveProperty('floorPlan');
    expect(read.zones).toEqual([{ id: 'entrance', name: 'Entrance', sensitive: false }, { id: 'fitting', name: 'Fitting rooms', sensitive: true }, { id: 'stock', name: 'Stock room', sensitive: false }]);
  });

  it('lets every role that reads stores see one, and none change it', async () => {
    expectStatus(await put('boutique', boutique), 200);
    for (const role of ['marketer', 'analyst', 'auditor'] as const) {
      const key = (await createApiKey(t, role)).key;
      expect(expectStatus<{ id: string }>(await get('/v1/admin/stores/boutique', key), 200).id).toBe('boutique');
      expect((await put('boutique', boutique, key)).statusCode).toBe(403);
    }
  });

  it('answers 404 for an unknown store and 400 for a malformed ID', async () => {
    const missing = await get('/v1/admin/stores/nowhere');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: 'no store nowhere', fields: ['storeId'] } });
    const malformed = await get('/v1/admin/stores/%20bad%20id');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error: { code: 'INVALID_PARAMS', fields: ['storeId'] } });
  });
});

describe('GET /v1/admin/stores', () => {
  it('lists every store with how many zones and gateways it has, and no secret', async () => {
    expectStatus(await put('boutique', boutique), 200);
    expectStatus(await putStore(t, 'annex', [{ id: 'entrance' }, { id: 'tills' }]), 200);
    const gateway = expectStatus<{ config: { secret: string } }>(await provisionGateway(t, 'annex', { id: 'gw-annex-1', zoneId: 'tills' }), 201);
    expectStatus(await provisionGateway(t, 'annex', { id: 'gw-annex-2', zoneId: 'entrance' }), 201);

    const response = await get('/v1/admin/stores', (await createApiKey(t, 'analyst')).key);
    const { stores } = expectStatus<{ stores: unknown[] }>(response, 200);
    expect(stores).toContainEqual({ id: 'annex', name: 'Store annex', timezone: 'Europe/Rome', zoneCount: 2, gatewayCount: 2 });
    expect(stores).toContainEqual({ id: 'boutique', name: 'Boutique', timezone: 'Europe/Rome', zoneCount: 3, gatewayCount: 0 });
    expect(response.body).not.toContain(gateway.config.secret);
  });
});

describe('floor plan checks on PUT /v1/admin/stores/:storeId', () => {
  const withZones = (zones: unknown[], floorPlan: unknown = boutique.floorPlan) => ({ ...boutique, floorPlan, zones, beacons: [] });
  const rejected = async (body: unknown): Promise<{ field: string; message: string }[]> => {
    const response = await put('checked', body);
    expect(response.statusCode, response.body).toBe(400);
    const { error } = response.json() as Issues;
    expect(error.code).toBe('INVALID_BODY');
    return error.issues;
  };

  it('names each vertex outside the plan', async () => {
    expect(await rejected(withZones([{ id: 'a', name: 'A', polygon: [[0, 0], [21, 0], [21, 13], [0, 5]] }]))).toEqual([
      { field: 'zones.0.polygon.1', message: '(21, 0) is outside the 20 × 12.5 m floor plan' },
      { field: 'zones.0.polygon.2', message: '(21, 13) is outside the 20 × 12.5 m floor plan' },
    ]);
  });

  it('refuses an outline without a floor plan, with fewer than 3 vertices, crossing itself, without area, or overlapping another', async () => {
    const { floorPlan: _plan, ...noPlan } = withZones([{ id: 'a', name: 'A', polygon: [[0, 0], [1, 0], [1, 1]] }]);
    expect(await rejected(noPlan)).toEqual([{ field: 'zones.0.polygon', message: 'a zone outline needs the store\'s floorPlan ({ widthM, heightM }) to be drawn on' }]);
    expect(await rejected(withZones([{ id: 'a', name: 'A', polygon: [[0, 0], [1, 0]] }]))).toEqual([{ field: 'zones.0.polygon', message: 'a polygon needs at least 3 vertices' }]);
    expect(await rejected(withZones([{ id: 'a', name: 'A', polygon: [[0, 0], [4, 4], [4, 0], [0, 4]] }]))).toEqual([{ field: 'zones.0.polygon', message: 'edges 0 and 2 cross' }]);
    expect(await rejected(withZones([{ id: 'a', name: 'A', polygon: [[0, 0], [2, 2], [4, 4]] }]))).toEqual([{ field: 'zones.0.polygon', message: 'encloses no area: all 3 vertices lie on one line' }]);
    expect(await rejected(withZones([{ id: 'a', name: 'A', polygon: [[0, 0], [1, 0], [1, 1], [0, 0]] }]))).toEqual([
      { field: 'zones.0.polygon', message: 'vertices 3 and 0 are the same point; do not repeat the first vertex at the end' },
    ]);
    expect(await rejected(withZones([
      { id: 'a', name: 'A', polygon: [[0, 0], [5, 0], [5, 5], [0, 5]] },
      { id: 'b', name: 'B', polygon: [[4, 4], [8, 4], [8, 8], [4, 8]] },
    ]))).toEqual([{ field: 'zones.1.polygon', message: 'overlaps zone "a" (zones.0)' }]);
  });

  it('refuses a floor plan without a size, naming the field', async () => {
    expect(await rejected(withZones([{ id: 'a', name: 'A' }], { widthM: 0, heightM: 2001 }))).toEqual([
      { field: 'floorPlan.widthM', message: 'must be more than 0 m' },
      { field: 'floorPlan.heightM', message: 'must be at most 2000 m' },
    ]);
    expect(await rejected(withZones([{ id: 'a', name: 'A' }], { widthM: 10, heightM: 10, depthM: 3 }))).toEqual([{ field: 'floorPlan.depthM', message: 'unknown field "depthM"' }]);
    expect(await rejected(withZones([{ id: 'a', name: 'A', polygon: [[0, 'x'], [1, 0], [1, 1]] }]))).toEqual([{ field: 'zones.0.polygon.0.1', message: expect.stringMatching(/number/) }]);
  });

  it('stores nothing of a refused body, and audits the plan\'s size and the outlined zones, not the outlines', async () => {
    expect((await put('refused', withZones([{ id: 'a', name: 'A', polygon: [[0, 0], [99, 0], [99, 1]] }]))).statusCode).toBe(400);
    expect((await get('/v1/admin/stores/refused')).statusCode).toBe(404);
    expectStatus(await put('audited', boutique), 200);
    const entry = (await t.deps.store.listAudit(1, 100_000)).filter((e) => e.action === 'store.changed' && e.subject === 'audited').at(-1);
    expect(entry?.details).toMatchObject({ floorPlan: { widthM: 20, heightM: 12.5 }, outlinedZoneIds: ['entrance', 'fitting'] });
    expect(JSON.stringify(entry?.details)).not.toContain('12.5]');
  });
});
