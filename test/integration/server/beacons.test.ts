import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pseudonymise, topics, type PresenceEvent } from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import { beaconIdentifierBytes, type BeaconIdentifier } from '#server/domain/beacon-identifier.ts';
import { createBeaconService, deriveBeaconDigestKey } from '#server/beacon-service.ts';
import type { PromotionRecord, Store } from '#server/store/store.ts';
import { aCampaign, aPresenceEvent, generousCaps } from '#test/helpers/builders.ts';
import {
  bearer, buildTestApp, expectStatus, givenStoreWithGateway, grant, ingestOver, putCampaign, registerShopper, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';

// Loyalty beacons through the shopper API (POST/GET/DELETE /v1/me/beacons), and their resolution:
// a linked beacon of a consenting shopper is in every gateway's registeredBeacons and resolves to them.

const IBEACON = { kind: 'ibeacon', uuid: 'f7826da6-4fa2-4e98-8024-bc5b71e0893e', major: 1, minor: 2 } as const;
const EDDYSTONE_UID = { kind: 'eddystone-uid', namespace: 'edd1ebeac04e5defa017', instance: '0123456789ab' } as const;

let t: TestApp;
let ada: RegisteredShopper;
let gatewaySecret: Buffer;

beforeEach(async () => {
  t = await buildTestApp();
  const config = await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' });
  gatewaySecret = Buffer.from(config.secret, 'base64url');
  ada = await registerShopper(t.app);
  await grant(t.app, ada.token, { presence: true, promotions: true });
});
afterEach(async () => {
  await t.close();
});

const link = (token: string, body: unknown) => t.app.inject({ method: 'POST', url: '/v1/me/beacons', headers: bearer(token), payload: body as object });
const listOwn = async (token: string) => expectStatus<{ beacons: (BeaconIdentifier & { id: string })[] }>(
  await t.app.inject({ method: 'GET', url: '/v1/me/beacons', headers: bearer(token) }), 200).beacons;
const unlink = (token: string, id: string) => t.app.inject({ method: 'DELETE', url: `/v1/me/beacons/${id}`, headers: bearer(token) });

const liveKey = () => t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
const beaconPseudonym = (beacon: BeaconIdentifier) => pseudonymise(liveKey().key, beacon.kind, beaconIdentifierBytes(beacon));
const lastConfig = () => t.published.filter((c) => c.gatewayId === 'gw-1').at(-1)!;

describe('linking a loyalty beacon', () => {
  it('answers 201 with the ID and kind only, and lists the beacon, identifier included, to its owner', async () => {
    const response = link(ada.token, IBEACON);
    const created = expectStatus<Record<string, unknown>>(await response, 201);
    expect(Object.keys(created).sort()).toEqual(['id', 'kind']);
    expect(created.kind).toBe('ibeacon');
    expect(await listOwn(ada.token)).toEqual([{ id: created.id, ...IBEACON, createdAtMs: t.clock.now() }]);
  });

  it('links an Eddystone-UID, normalising hex to lower case', async () => {
    expectStatus(await link(ada.token, { ...EDDYSTONE_UID, namespace: EDDYSTONE_UID.namespace.toUpperCase() }), 201);
    expect(await listOwn(ada.token)).toEqual([expect.objectContaining(EDDYSTONE_UID)]);
  });

  it('stores the identifier only sealed, and unique by a keyed digest', async () => {
    expectStatus(await link(ada.token, IBEACON), 201);
    const [record] = await t.deps.store.listBeacons(ada.shopperId);
    const plain = beaconIdentifierBytes(IBEACON);
    expect(record!.identifierSealed.includes(plain)).toBe(false);
    expect(record!.identifierSealed.toString('hex')).not.toContain(plain.subarray(0, 8).toString('hex'));
    expect(record!.identifierDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(record!.identifierDigest).not.toContain(plain.toString('hex').slice(0, 8));
  });

  it('refuses a beacon linked already, to anyone, with 409 BEACON_ALREADY_LINKED', async () => {
    const bob = await registerShopper(t.app);
    await grant(t.app, bob.token, { presence: true });
    expectStatus(await link(ada.token, IBEACON), 201);

    const again = await link(bob.token, { ...IBEACON, uuid: IBEACON.uuid.toUpperCase() });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('BEACON_ALREADY_LINKED');
    expect(await listOwn(bob.token)).toEqual([]);
  });

  it('refuses without presence consent with 409 PRESENCE_CONSENT_REQUIRED, storing nothing', async () => {
    const bob = await registerShopper(t.app);
    await grant(t.app, bob.token, { promotions: true });
    const response = await link(bob.token, IBEACON);
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('PRESENCE_CONSENT_REQUIRED');
    expect(await t.deps.store.listBeacons(bob.shopperId)).toEqual([]);
  });

  it.each([
    [{ ...IBEACON, uuid: 'not-a-uuid' }, 'uuid'],
    [{ ...IBEACON, major: 70_000 }, 'major'],
    [{ ...IBEACON, minor: -1 }, 'minor'],
    [{ ...EDDYSTONE_UID, namespace: 'abcd' }, 'namespace'],
    [{ ...EDDYSTONE_UID, instance: '0123456789abcdef' }, 'instance'],
    [{ kind: 'altbeacon', id1: IBEACON.uuid }, 'kind'],
  ])('answers 400 naming the field for %j, and changes nothing', async (body, field) => {
    const response = await link(ada.token, body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.fields).toContain(field);
    expect(await t.deps.store.listBeacons(ada.shopperId)).toEqual([]);
  });

  it('needs the app credential', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/v1/me/beacons', payload: IBEACON })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/v1/me/beacons' })).statusCode).toBe(401);
  });

  it('logs no identifier of a linked or refused beacon', async () => {
    expectStatus(await link(ada.token, IBEACON), 201);
    await link(ada.token, IBEACON);
    await link(ada.token, { ...IBEACON, major: 70_000 });
    const text = t.logs.text().toLowerCase();
    expect(text).not.toContain('f7826da6');
    expect(text).not.toContain('bc5b71e0893e');
  });
});

describe('unlinking', () => {
  it('removes the owner\'s beacon and answers 404 to anyone else', async () => {
    const bob = await registerShopper(t.app);
    const { id } = expectStatus<{ id: string }>(await link(ada.token, IBEACON), 201);
    expect((await unlink(bob.token, id)).statusCode).toBe(404);
    expect(await listOwn(ada.token)).toHaveLength(1);
    expect((await unlink(ada.token, id)).statusCode).toBe(204);
    expect(await listOwn(ada.token)).toEqual([]);
    expect((await unlink(ada.token, 'bc_bogus')).statusCode).toBe(400);
  });
});

describe('gateways and other instances', () => {
  it('puts a linked beacon in the gateways\' registeredBeacons, and takes it out on unlink', async () => {
    const { id } = expectStatus<{ id: string }>(await link(ada.token, IBEACON), 201);
    expect(lastConfig().registeredBeacons).toEqual([beaconPseudonym(IBEACON)]);
    expect(t.announced).toContainEqual({ type: 'beacons' });

    expectStatus(await unlink(ada.token, id), 204);
    expect(lastConfig().registeredBeacons).toEqual([]);
  });

  it('publishes a link whose change another sync read first (the server bus handler, between the insert and the route\'s own sync)', async () => {
    const addBeacon = t.deps.store.addBeacon.bind(t.deps.store);
    vi.spyOn(t.deps.store, 'addBeacon').mockImplementation(async (record) => {
      const outcome = await addBeacon(record);
      expect(await t.deps.beacons.sync()).toBe(true); // the other reader takes the change; the route's sync then sees none
      return outcome;
    });
    const before = t.published.length;
    expectStatus(await link(ada.token, IBEACON), 201);
    expect(t.published.length).toBeGreaterThan(before);
    expect(lastConfig().registeredBeacons).toEqual([beaconPseudonym(IBEACON)]);
  });

  it('republishes nothing for a consent change of a shopper without beacons', async () => {
    const before = t.published.length;
    await grant(t.app, ada.token, { presence: false });
    await grant(t.app, ada.token, { presence: true });
    expect(t.published.length).toBe(before);
  });

  it('takes a beacon out of the gateways\' configs and of resolution when presence is withdrawn, and back on re-grant', async () => {
    expectStatus(await link(ada.token, IBEACON), 201);
    await grant(t.app, ada.token, { presence: false });
    expect(lastConfig().registeredBeacons).toEqual([]);
    expect(t.deps.beacons.resolve(beaconPseudonym(IBEACON))).toBeUndefined();

    await grant(t.app, ada.token, { presence: true });
    expect(lastConfig().registeredBeacons).toEqual([beaconPseudonym(IBEACON)]);
    expect(t.deps.beacons.resolve(beaconPseudonym(IBEACON))).toEqual({ shopperId: ada.shopperId, storeId: 'store-1' });
  });
});

describe('presence from a linked beacon', () => {
  type Recording = Delivery & { notified: PromotionRecord[] };
  const recording = (): Recording => {
    const notified: PromotionRecord[] = [];
    return { notified, notify: (p) => void notified.push(p), close: async () => undefined };
  };
  const ingestFor = (delivery: Delivery) => ingestOver(t, delivery);
  const sighting = (beacon: BeaconIdentifier, overrides: Partial<PresenceEvent> = {}) => aPresenceEvent({
    storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', keyId: liveKey().keyId, idKind: beacon.kind,
    pseudonym: beaconPseudonym(beacon), atS: Math.floor(t.clock.now() / 1000), ...overrides,
  }, gatewaySecret);
  const send = (ingest: ReturnType<typeof ingestFor>, event: PresenceEvent) => ingest.handle(topics.events('store-1', 'gw-1'), Buffer.from(JSON.stringify(event)));

  it('resolves to its shopper and triggers their promotion', async () => {
    expectStatus(await putCampaign(t, aCampaign({ storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps })), 200);
    expectStatus(await link(ada.token, IBEACON), 201);
    const delivery = recording();
    expect(await send(ingestFor(delivery), sighting(IBEACON))).toBe('sent');
    expect(delivery.notified.map((p) => p.shopperId)).toEqual([ada.shopperId]);
  });

  it('does not resolve a beacon pseudonym sent as an app token, nor an unlinked beacon', async () => {
    expectStatus(await link(ada.token, IBEACON), 201);
    const ingest = ingestFor(recording());
    expect(await send(ingest, sighting(IBEACON, { idKind: 'eddystone-eid' }))).toBe('unresolved');
    expect(await send(ingest, sighting({ ...IBEACON, minor: 3 }))).toBe('unresolved');
  });
});

describe('the beacon service under concurrent changes', () => {
  it('ends with the newer list when two syncs overlap and the older read finishes last', async () => {
    expectStatus(await link(ada.token, IBEACON), 201);
    const bob = await registerShopper(t.app);
    await grant(t.app, bob.token, { presence: true, promotions: true });
    // A service of a second instance whose first read is slow: it sees only Ada's beacon, and finishes last.
    const staleList = await t.deps.store.listResolvableBeacons();
    let releaseFirstRead!: () => void;
    const firstRead = new Promise<void>((resolve) => (releaseFirstRead = resolve));
    let reads = 0;
    const store: Store = Object.create(t.deps.store, {
      listResolvableBeacons: { value: async () => ((reads += 1) === 1 ? (await firstRead, staleList) : t.deps.store.listResolvableBeacons()) },
    }) as Store;
    const service = createBeaconService({ store, sealer: t.deps.sealer, digestKey: deriveBeaconDigestKey(randomBytes(32)), now: t.deps.now, logger: createLogSink().logger });
    service.setKeys(t.deps.keys.liveKeys());

    const first = service.sync();
    expectStatus(await link(bob.token, EDDYSTONE_UID), 201);
    const second = service.sync();
    // Time enough for the second sync to finish, if it may overtake the first; then the first read returns.
    await Promise.race([second, new Promise((resolve) => setTimeout(resolve, 50))]);
    releaseFirstRead();
    await Promise.all([first, second]);

    const registered = service.registeredBeacons([liveKey().key]);
    expect(registered).toEqual(expect.arrayContaining([beaconPseudonym(IBEACON), beaconPseudonym(EDDYSTONE_UID)]));
    expect(service.size().beacons).toBe(2);
  });

  it('re-reads one shopper\'s beacons after their change, and keeps everyone else\'s as they were', async () => {
    expectStatus(await link(ada.token, IBEACON), 201);
    const bob = await registerShopper(t.app);
    await grant(t.app, bob.token, { presence: true, promotions: true });
    expectStatus(await link(bob.token, EDDYSTONE_UID), 201);
    const asked: (string | undefined)[] = [];
    const store: Store = Object.create(t.deps.store, {
      listResolvableBeacons: { value: (shopperId?: string) => (asked.push(shopperId), t.deps.store.listResolvableBeacons(shopperId)) },
    }) as Store;
    const service = createBeaconService({ store, sealer: t.deps.sealer, digestKey: deriveBeaconDigestKey(randomBytes(32)), now: t.deps.now, logger: createLogSink().logger });
    service.setKeys(t.deps.keys.liveKeys());
    expect(await service.sync()).toBe(true);
    expect(service.registeredBeacons([liveKey().key]).sort()).toEqual([beaconPseudonym(IBEACON), beaconPseudonym(EDDYSTONE_UID)].sort());

    // Bob withdraws presence: his read drops his beacon alone.
    await grant(t.app, bob.token, { presence: false });
    expect(await service.sync(bob.shopperId)).toBe(true);
    expect(service.registeredBeacons([liveKey().key])).toEqual([beaconPseudonym(IBEACON)]);
    expect(service.resolve(beaconPseudonym(EDDYSTONE_UID))).toBeUndefined();
    // Ada's read finds nothing new.
    expect(await service.sync(ada.shopperId)).toBe(false);
    expect(service.size().beacons).toBe(1);
    expect(asked).toEqual([undefined, bob.shopperId, ada.shopperId]);
    // He grants it again: his beacon is back.
    await grant(t.app, bob.token, { presence: true, promotions: true });
    expect(await service.sync(bob.shopperId)).toBe(true);
    expect(service.registeredBeacons([liveKey().key]).sort()).toEqual([beaconPseudonym(IBEACON), beaconPseudonym(EDDYSTONE_UID)].sort());
  });

  it('shares one read among syncs asked for while a read runs, and that read sees every change they were told of', async () => {
    let releaseFirstRead!: () => void;
    const firstRead = new Promise<void>((resolve) => (releaseFirstRead = resolve));
    let reads = 0;
    const store: Store = Object.create(t.deps.store, {
      listResolvableBeacons: { value: async () => ((reads += 1) === 1 ? (await firstRead, t.deps.store.listResolvableBeacons()) : t.deps.store.listResolvableBeacons()) },
    }) as Store;
    const service = createBeaconService({ store, sealer: t.deps.sealer, digestKey: deriveBeaconDigestKey(randomBytes(32)), now: t.deps.now, logger: createLogSink().logger });
    service.setKeys(t.deps.keys.liveKeys());

    const running = service.sync();
    // A burst of consent changes while the first read is held: 20 syncs asked for, one after the other.
    expectStatus(await link(ada.token, IBEACON), 201);
    const burst = Array.from({ length: 20 }, () => service.sync());
    releaseFirstRead();
    await Promise.all([running, ...burst]);

    expect(reads).toBe(2);
    expect(service.registeredBeacons([liveKey().key])).toEqual([beaconPseudonym(IBEACON)]);
    // Asked again once all is done: a read of its own.
    await service.sync();
    expect(reads).toBe(3);
  });
});
