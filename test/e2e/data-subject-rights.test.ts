import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashToken } from '#server/identity.ts';
import { startServer, type RunningServer } from '#server/server.ts';
import { expectStatus, grant, registerShopper, signedInject, type RegisteredShopper } from '../helpers/build-test-app.ts';
import { createLogCapture } from '../helpers/log-capture.ts';
import { findLeaks } from '../helpers/leak-search.ts';
import { openTestStore, type TestStore } from '../helpers/open-test-store.ts';
import { startTestBroker, type TestBroker } from '../helpers/start-broker.ts';

// Data-subject rights across two running server instances on one database and one broker (PostgreSQL
// and MQTT_URL when set; a SQLite file and an embedded broker otherwise): the shopper asks instance A;
// instance B's in-memory resolver follows through the server bus at once, not at its next resync.
// The logs of both instances hold none of the shopper's personal data.

describe('data-subject rights across two server instances', () => {
  const masterKey = randomBytes(32);
  const logs = createLogCapture('debug');
  const FIRST_NAME = 'Evangelina';
  let broker: TestBroker;
  let testStore: TestStore;
  let a: RunningServer;
  let b: RunningServer;
  let ada: RegisteredShopper;

  beforeAll(async () => {
    broker = await startTestBroker({ external: process.env.MQTT_URL });
    testStore = await openTestStore(process.env.DATABASE_URL ? 'postgres' : 'sqlite');
    const common = { masterKey, logger: logs.logger, adminTokenHash: hashToken(randomBytes(24).toString('base64url')), http: { port: 0, host: '127.0.0.1' }, mqtt: { url: broker.url } };
    a = await startServer({ ...common, store: testStore.store, instanceId: 'a' });
    b = await startServer({ ...common, store: await testStore.openAnother(), instanceId: 'b' });
    ada = await registerShopper(a.app, { firstName: FIRST_NAME });
    await grant(a.app, ada.token, { presence: true, promotions: true });
    await vi.waitFor(() => expect(b.resolver.size().shoppers).toBe(1), { timeout: 10_000, interval: 20 });
  }, 30_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await testStore?.close();
    await broker?.close();
  });

  it('restriction asked of A takes the shopper out of B\'s resolver at once, and lifting it puts them back', async () => {
    expectStatus(await signedInject(a.app, ada, { method: 'PUT', url: '/v1/me/restriction', payload: { restricted: true } }), 200);
    expect(a.resolver.size().shoppers).toBe(0);
    await vi.waitFor(() => expect(b.resolver.size().shoppers).toBe(0), { timeout: 5_000, interval: 20 });
    expectStatus(await signedInject(b.app, ada, { method: 'PUT', url: '/v1/me/restriction', payload: { restricted: false } }), 200);
    await vi.waitFor(() => expect(a.resolver.size().shoppers).toBe(1), { timeout: 5_000, interval: 20 });
  });

  it('an objection made on A is enforced by B', async () => {
    expectStatus(await signedInject(a.app, ada, { method: 'POST', url: '/v1/me/objection', payload: {} }), 200);
    await expect(grant(b.app, ada.token, { promotions: true })).rejects.toThrow(/409.*OBJECTED/);
  });

  it('erasure asked of A: B forgets the shopper at once, both refuse the old credential, and no log line names them', async () => {
    expect((await signedInject(a.app, ada, { method: 'DELETE', url: '/v1/me' })).statusCode).toBe(204);
    await vi.waitFor(() => expect(b.resolver.size().shoppers).toBe(0), { timeout: 5_000, interval: 20 });
    expect((await signedInject(b.app, ada, { method: 'GET', url: '/v1/me' })).statusCode).toBe(401);
    expect((await signedInject(a.app, ada, { method: 'GET', url: '/v1/me/export' })).statusCode).toBe(401);
    expect(findLeaks(await testStore.dump(), [{ what: 'first name', value: FIRST_NAME }, { what: 'token hash', value: hashToken(ada.token) }])).toEqual([]);
    const lines = logs.text();
    expect(lines.length).toBeGreaterThan(0);
    expect(findLeaks(lines, [{ what: 'first name', value: FIRST_NAME }, { what: 'token', value: ada.token }])).toEqual([]);
  });
});
