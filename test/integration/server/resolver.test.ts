import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { generateX25519KeyPair, pseudonymise, x25519PublicKey } from '#gateway/protocol/index.ts';
import { identityKeyFor } from '#server/identity.ts';
import { createResolver, SLICE_BUDGET } from '#server/resolver.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { buildTestApp, expectStatus, grant, putStore, registerShopper, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';

// The resolver service over a store that outlives the app: what a restarted (or second) server
// instance indexes, and that the resolver key pair and the identity keys survive the restart.

const opened: { apps: TestApp[]; stores: Store[] } = { apps: [], stores: [] };
afterEach(async () => {
  for (const app of opened.apps.splice(0)) await app.close();
  for (const store of opened.stores.splice(0)) await store.close();
});

async function instance(store: Store, masterKey: Buffer, resolverPrivateKey?: Buffer): Promise<TestApp> {
  const t = await buildTestApp({ store, masterKey, resolverPrivateKey });
  opened.apps.push(t);
  return t;
}

const pseudonymNow = (t: TestApp, shopper: RegisteredShopper) =>
  pseudonymise(t.deps.keys.liveKeys()[0]!.key, 'eddystone-eid', shopper.tokens.eidAt(Math.floor(t.deps.now() / 1000)));

describe('resolver', () => {
  it('keeps resolving registered apps after the resolver key pair is rotated, and registers new apps under the new key', async () => {
    const store = openSqliteStore(':memory:');
    opened.stores.push(store);
    const masterKey = randomBytes(32);
    const [oldKey, newKey] = [generateX25519KeyPair().privateKey, generateX25519KeyPair().privateKey];
    const before = await instance(store, masterKey, oldKey);
    expectStatus(await putStore(before, 'store-1'), 200);
    const registeredBefore = await registerShopper(before.app);
    await grant(before.app, registeredBefore.token, { presence: true });
    expect(registeredBefore.resolverPublicKey).toBe(x25519PublicKey(oldKey).toString('hex'));

    const after = await instance(store, masterKey, newKey);
    const published = expectStatus<{ publicKey: string }>(await after.app.inject({ method: 'GET', url: '/v1/resolver' }), 200);
    expect(published.publicKey).toBe(x25519PublicKey(newKey).toString('hex'));
    // The app registered before the rotation keeps its identity key, so its tokens still resolve.
    expect(after.deps.resolver.resolve(pseudonymNow(after, registeredBefore))).toEqual({ shopperId: registeredBefore.shopperId, storeId: 'store-1' });
    const registeredAfter = await registerShopper(after.app);
    await grant(after.app, registeredAfter.token, { presence: true });
    expect(registeredAfter.resolverPublicKey).toBe(published.publicKey);
    expect(after.deps.resolver.resolve(pseudonymNow(after, registeredAfter))?.shopperId).toBe(registeredAfter.shopperId);
  });

  it('refuses a configured resolver key of the wrong length with a message naming the setting', async () => {
    const store = openSqliteStore(':memory:');
    opened.stores.push(store);
    await expect(buildTestApp({ store, resolverPrivateKey: randomBytes(31) })).rejects.toThrow(/RESOLVER_PRIVATE_KEY must be 32 bytes/);
  });

  it('indexes only consenting shoppers when a server starts on an existing store (ID-2)', async () => {
    const store = openSqliteStore(':memory:');
    opened.stores.push(store);
    const masterKey = randomBytes(32);
    const first = await instance(store, masterKey);
    expectStatus(await putStore(first, 'store-1'), 200);
    const consenting = await registerShopper(first.app);
    await grant(first.app, consenting.token, { presence: true });
    const promotionsOnly = await registerShopper(first.app);
    await grant(first.app, promotionsOnly.token, { promotions: true });
    const withdrawn = await registerShopper(first.app);
    await grant(first.app, withdrawn.token, { presence: true });
    await grant(first.app, withdrawn.token, { presence: false });
    const silent = await registerShopper(first.app);

    const second = await instance(store, masterKey);
    expect(second.deps.resolverKeys.publicKey).toEqual(first.deps.resolverKeys.publicKey);
    expect(second.deps.keys.liveKeys().map((k) => k.keyId)).toEqual(first.deps.keys.liveKeys().map((k) => k.keyId));
    expect(second.deps.resolver.size().shoppers).toBe(1);
    expect(second.deps.resolver.resolve(pseudonymNow(second, consenting))).toEqual({ shopperId: consenting.shopperId, storeId: 'store-1' });
    for (const shopper of [promotionsOnly, withdrawn, silent]) expect(second.deps.resolver.resolve(pseudonymNow(second, shopper))).toBeUndefined();
  });

  it('derives the identity key the app derives, from the app public key alone', async () => {
    const t = await buildTestApp();
    opened.apps.push(t);
    const shopper = await registerShopper(t.app);
    const serverKey = identityKeyFor(t.deps.resolverKeys, shopper.identity.keyPair.publicKey);
    const record = await t.deps.store.getShopper(shopper.shopperId);
    expect(t.deps.sealer.open(record!.identityKeySealed!, `identity-key:${shopper.shopperId}`)).toEqual(serverKey);
  });

  it('drops a shopper on refresh once their presence consent is gone, and adds them back when it returns', async () => {
    const t = await buildTestApp();
    opened.apps.push(t);
    expectStatus(await putStore(t, 'store-1'), 200);
    const shopper = await registerShopper(t.app);
    await t.deps.resolver.refresh(shopper.shopperId);
    expect(t.deps.resolver.resolve(pseudonymNow(t, shopper))).toBeUndefined();
    await grant(t.app, shopper.token, { presence: true });
    await t.deps.resolver.refresh(shopper.shopperId);
    expect(t.deps.resolver.resolve(pseudonymNow(t, shopper))?.shopperId).toBe(shopper.shopperId);
    await t.deps.resolver.refresh(shopper.shopperId, {});
    expect(t.deps.resolver.resolve(pseudonymNow(t, shopper))).toBeUndefined();
    await t.deps.resolver.refresh('sh_nobody');
    expect(t.deps.resolver.size().shoppers).toBe(0);
  });

  it('keeps rolling on every call of rollInSlices, as the server\'s timer makes them, so a shopper stays resolvable window after window', async () => {
    const t = await buildTestApp();
    opened.apps.push(t);
    expectStatus(await putStore(t, 'store-1'), 200);
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true });
    for (let window = 1; window <= 3; window += 1) {
      t.clock.advance(1024 * 1000);
      expect(await t.deps.resolver.rollInSlices()).toBe(1);
      expect(t.deps.resolver.resolve(pseudonymNow(t, shopper))).toEqual({ shopperId: shopper.shopperId, storeId: 'store-1' });
    }
  });

  it('computes a new key for many shoppers one slice at once and the rest in slices between event-loop turns', async () => {
    const t = await buildTestApp();
    opened.apps.push(t);
    expectStatus(await putStore(t, 'store-1'), 200);
    // More shoppers than one slice covers: each needs 3 windows under the new key.
    const count = Math.ceil(SLICE_BUDGET / 3) + 50;
    const shoppers = await Promise.all(Array.from({ length: count }, async () => {
      const shopper = await registerShopper(t.app);
      await grant(t.app, shopper.token, { presence: true });
      return shopper;
    }));
    const extra = { keyId: 'store-2-0', storeId: 'store-2', key: randomBytes(32) };
    const underExtra = (shopper: RegisteredShopper) =>
      t.deps.resolver.resolve(pseudonymise(extra.key, 'eddystone-eid', shopper.tokens.eidAt(Math.floor(t.deps.now() / 1000))));

    t.deps.resolver.setKeys([...t.deps.keys.liveKeys(), extra]);
    const resolvedAtOnce = shoppers.filter((s) => underExtra(s) !== undefined).length;
    expect(resolvedAtOnce).toBeGreaterThan(0);
    expect(resolvedAtOnce).toBeLessThan(count);
    await t.deps.resolver.rollInSlices();
    for (const shopper of shoppers) expect(underExtra(shopper)).toEqual({ shopperId: shopper.shopperId, storeId: 'store-2' });
  });

  it('indexes a store of shoppers in slices between event-loop turns, and a withdrawal during the sync stays withdrawn', async () => {
    const t = await buildTestApp();
    opened.apps.push(t);
    expectStatus(await putStore(t, 'store-1'), 200);
    const shoppers: RegisteredShopper[] = [];
    for (let i = 0; i < 12; i += 1) {
      const shopper = await registerShopper(t.app);
      await grant(t.app, shopper.token, { presence: true });
      shoppers.push(shopper);
    }
    const withdrawing = shoppers.at(-1)!;
    // A second instance starting up: its list of consenting shoppers is read before the withdrawal lands.
    const staleList = await t.deps.store.listResolvableShoppers();
    let releaseList!: () => void;
    const listGate = new Promise<void>((resolve) => (releaseList = resolve));
    const gated: Store = Object.create(t.deps.store, {
      listResolvableShoppers: { value: async () => (await listGate, staleList) },
    }) as Store;
    const resolver = createResolver({ store: gated, sealer: t.deps.sealer, now: t.deps.now, logger: createLogSink().logger, syncSlice: 5 });
    resolver.setKeys(t.deps.keys.liveKeys());

    const syncing = resolver.sync();
    await grant(t.app, withdrawing.token, { presence: false });
    await resolver.refresh(withdrawing.shopperId);
    releaseList();
    let turnsDuringSync = 0;
    let finished = false;
    const countTurns = (): void => {
      if (finished) return;
      turnsDuringSync += 1;
      setImmediate(countTurns);
    };
    setImmediate(countTurns);
    await syncing;
    finished = true;

    expect(turnsDuringSync).toBeGreaterThanOrEqual(2);
    expect(resolver.size().shoppers).toBe(shoppers.length - 1);
    expect(resolver.resolve(pseudonymNow(t, withdrawing))).toBeUndefined();
    for (const shopper of shoppers.slice(0, -1)) expect(resolver.resolve(pseudonymNow(t, shopper))?.shopperId).toBe(shopper.shopperId);
  });

  it('re-reads only the shoppers whose presence consent changed since a time, as the minute resync does', async () => {
    const t = await buildTestApp();
    opened.apps.push(t);
    expectStatus(await putStore(t, 'store-1'), 200);
    const steady = await registerShopper(t.app);
    await grant(t.app, steady.token, { presence: true });
    const withdrawing = await registerShopper(t.app);
    await grant(t.app, withdrawing.token, { presence: true });
    // A second instance's index, built before the withdrawal below, which it then misses on the bus.
    const other = createResolver({ store: t.deps.store, sealer: t.deps.sealer, now: t.deps.now, logger: createLogSink().logger });
    other.setKeys(t.deps.keys.liveKeys());
    await other.sync();
    expect(other.size().shoppers).toBe(2);
    t.clock.advance(1_000);
    const since = t.deps.now();
    await grant(t.app, withdrawing.token, { presence: false });
    const joining = await registerShopper(t.app);
    await grant(t.app, joining.token, { presence: true });

    expect(await other.syncChangesSince(since)).toBe(2);
    expect(other.resolve(pseudonymNow(t, withdrawing))).toBeUndefined();
    expect(other.resolve(pseudonymNow(t, joining))?.shopperId).toBe(joining.shopperId);
    expect(other.resolve(pseudonymNow(t, steady))?.shopperId).toBe(steady.shopperId);
  });
});
