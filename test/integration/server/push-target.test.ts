import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ShopperExport } from '#server/domain/shopper-export.ts';
import { createSealedPushTargets } from '#server/delivery/push-targets.ts';
import { createSealer } from '#server/domain/sealing.ts';
import { bearer, buildTestApp, expectStatus, registerShopper, signedInject, type TestApp } from '#test/helpers/build-test-app.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';

// PUT /v1/me/push-target on SQLite and, when DATABASE_URL is set, PostgreSQL: stored sealed (never in
// clear in any row, never in a log), readable by the webhook delivery, exported to its owner, erased with them.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const TOKEN = 'fcm-token-Very-Personal-123456';

describe.each(STORE_KINDS)('push target registration (%s)', (kind) => {
  let testStore: TestStore;
  let t: TestApp;

  beforeEach(async () => {
    testStore = await openTestStore(kind);
    t = await buildTestApp({ store: testStore.store });
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });

  const put = (token: string, payload: unknown) => t.app.inject({ method: 'PUT', url: '/v1/me/push-target', headers: bearer(token), payload: payload as Record<string, unknown> });

  it('stores the target sealed, replaces it on the next PUT, and hands it to the delivery', async () => {
    const ada = await registerShopper(t.app);
    expect((await put(ada.token, { provider: 'apns', token: 'first-token' })).statusCode).toBe(204);
    expect((await put(ada.token, { provider: 'fcm', token: TOKEN })).statusCode).toBe(204);
    expect(await createSealedPushTargets(t.deps).get(ada.shopperId)).toEqual({ provider: 'fcm', token: TOKEN });
    expect((await testStore.dump()).join('\n')).not.toContain(TOKEN);
    expect(t.logs.text()).not.toContain(TOKEN);
  });

  it('deletes the target on DELETE, and answers 404 when none is registered', async () => {
    const ada = await registerShopper(t.app);
    const remove = (token: string) => t.app.inject({ method: 'DELETE', url: '/v1/me/push-target', headers: bearer(token) });
    expect((await put(ada.token, { provider: 'fcm', token: TOKEN })).statusCode).toBe(204);
    expect((await remove(ada.token)).statusCode).toBe(204);
    expect(await testStore.store.getPushTargetSealed(ada.shopperId)).toBeUndefined();
    expect(expectStatus<{ error: { code: string } }>(await remove(ada.token), 404).error.code).toBe('NOT_FOUND');
    expect((await remove('not-a-token')).statusCode).toBe(401);
  });

  it('does not open under another master key, and says so without the shopper ID', async () => {
    const ada = await registerShopper(t.app);
    await put(ada.token, { provider: 'fcm', token: TOKEN });
    const elsewhere = createSealedPushTargets({ store: testStore.store, sealer: createSealer(randomBytes(32)) });
    const error = await elsewhere.get(ada.shopperId).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/does not open/);
    expect(error?.message).not.toContain(ada.shopperId);
  });

  it('refuses a bad body naming the field, and an unauthenticated request', async () => {
    const ada = await registerShopper(t.app);
    type Refusal = { error: { code: string; message: string } };
    expect(expectStatus<Refusal>(await put(ada.token, { provider: 'sms', token: TOKEN }), 400).error.message).toContain('provider');
    expect(expectStatus<Refusal>(await put(ada.token, { provider: 'fcm', token: '' }), 400).error.message).toContain('token');
    expect(expectStatus<Refusal>(await put(ada.token, { provider: 'fcm', token: TOKEN, shopperId: 'x' }), 400).error.message).toContain('shopperId');
    expect(t.logs.text()).not.toContain(TOKEN);
    expect((await put('not-a-token', { provider: 'fcm', token: TOKEN })).statusCode).toBe(401);
  });

  it('exports the target to its owner and deletes it on erasure', async () => {
    const ada = await registerShopper(t.app);
    const exportOf = async () => expectStatus<ShopperExport>(await signedInject(t.app, ada, { method: 'GET', url: '/v1/me/export' }, t.deps.now()), 200);
    expect((await exportOf()).pushTarget).toBeNull();
    await put(ada.token, { provider: 'webpush', token: TOKEN });
    expect((await exportOf()).pushTarget).toEqual({ provider: 'webpush', token: TOKEN, updatedAtMs: t.deps.now() });
    expect((await signedInject(t.app, ada, { method: 'DELETE', url: '/v1/me' }, t.deps.now())).statusCode).toBeLessThan(300);
    expect(await testStore.store.getPushTargetSealed(ada.shopperId)).toBeUndefined();
    expect(await testStore.rows(`SELECT * FROM push_targets WHERE shopper_id = '${ada.shopperId}'`)).toEqual([]);
  });
});
