import { afterEach, describe, expect, it } from 'vitest';
import { pseudonymise, windowStart, type Pseudonym } from '#gateway/protocol/index.ts';
import { buildTestApp, expectStatus, grant, putStore, registerShopper, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';

// ID-3: pseudonyms use a key that rotates daily and is destroyed on rotation. A shopper's pseudonyms on
// day D and on day D+1 share nothing, and once day D's key is destroyed nobody — not the server, not a
// database dump — can recompute day D's pseudonyms.

const DAY_S = 86_400;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

/** Every pseudonym under which the resolver recognises this shopper right now (each live key × window ±1). */
function pseudonymsOf(t: TestApp, shopper: RegisteredShopper): Set<Pseudonym> {
  const nowS = Math.floor(t.deps.now() / 1000);
  const period = 2 ** shopper.rotationExponent;
  const out = new Set<Pseudonym>();
  for (const key of t.deps.keys.liveKeys()) {
    for (const w of [-1, 0, 1]) {
      const pseudonym = pseudonymise(key.key, 'eddystone-eid', shopper.tokens.eidAt(windowStart(nowS, shopper.rotationExponent) + w * period));
      expect(t.deps.resolver.resolve(pseudonym)?.shopperId).toBe(shopper.shopperId);
      out.add(pseudonym);
    }
  }
  return out;
}

describe('pseudonyms across days', () => {
  it("shares nothing between a shopper's pseudonyms on day D and day D+1, and destroys day D's key", async () => {
    const middayD = Date.UTC(2030, 0, 7, 12, 0, 0);
    const t = await buildTestApp({ startMs: middayD });
    apps.push(t);
    expectStatus(await putStore(t, 'store-1'), 200);
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true });

    const dayD = pseudonymsOf(t, shopper);
    const keyD = t.deps.keys.liveKeys().map((k) => k.keyId);
    expect(dayD.size).toBe(3);

    t.clock.advance(DAY_S * 1000);
    t.deps.resolver.setKeys(await t.deps.keys.maintain());
    t.deps.resolver.roll();
    const dayD1 = pseudonymsOf(t, shopper);

    expect([...dayD].filter((p) => dayD1.has(p))).toEqual([]);
    // Day D's key is gone from memory and from the store: its pseudonyms can no longer be recomputed.
    const liveNow = t.deps.keys.liveKeys().map((k) => k.keyId);
    for (const id of keyD) expect(liveNow).not.toContain(id);
    expect((await t.deps.store.listEpochKeys('store-1')).map((k) => k.keyId)).toEqual(liveNow);
    for (const pseudonym of dayD) expect(t.deps.resolver.resolve(pseudonym)).toBeUndefined();
  });

  it('gives the same EID a different pseudonym in another store (one key per store)', async () => {
    const t = await buildTestApp();
    apps.push(t);
    expectStatus(await putStore(t, 'store-1'), 200);
    expectStatus(await putStore(t, 'store-2'), 200);
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true });
    const eid = shopper.tokens.eidAt(Math.floor(t.deps.now() / 1000));
    const [a, b] = ['store-1', 'store-2'].map((storeId) => pseudonymise(t.deps.keys.liveKeys().find((k) => k.storeId === storeId)!.key, 'eddystone-eid', eid));
    expect(a).not.toBe(b);
    expect(t.deps.resolver.resolve(a!)).toEqual({ shopperId: shopper.shopperId, storeId: 'store-1' });
    expect(t.deps.resolver.resolve(b!)).toEqual({ shopperId: shopper.shopperId, storeId: 'store-2' });
  });
});
