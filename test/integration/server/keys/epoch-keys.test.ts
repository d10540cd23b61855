import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unwrapEpochKey, type GatewayConfigMessage } from '#gateway/protocol/index.ts';
import { createSealer, type Sealer } from '#server/domain/sealing.ts';
import { createEpochKeyService, type EpochKeyService } from '#server/keys/epoch-keys.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { createTestClock, type TestClock } from '#test/helpers/build-test-app.ts';
import { START_MS } from '#test/helpers/builders.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';

// Epoch keys (ID-3): one per store per period, converging across instances, destroyed after their
// period plus grace, and published to each gateway wrapped under that gateway's own secret.

const ROTATION_S = 86_400;
const GRACE_S = 300;
const PERIOD = Math.floor(START_MS / 1000 / ROTATION_S);
const periodEndMs = (period: number): number => (period + 1) * ROTATION_S * 1000;

let store: Store;
let sealer: Sealer;
let clock: TestClock;
let published: GatewayConfigMessage[];
let gatewaySecret: Buffer;

function service(): EpochKeyService {
  return createEpochKeyService({
    store, sealer, now: clock.now, logger: createLogSink().logger, rotationS: ROTATION_S, graceS: GRACE_S,
    publishConfig: async (config) => void published.push(config),
  });
}

beforeEach(async () => {
  store = openSqliteStore(':memory:');
  sealer = createSealer(randomBytes(32));
  clock = createTestClock(START_MS);
  published = [];
  gatewaySecret = randomBytes(32);
  await store.upsertStore({ id: 'store-1', name: 'High Street', timezone: 'Europe/Rome' });
  await store.upsertZone({ storeId: 'store-1', id: 'entrance', name: 'Entrance', sensitive: false });
  await store.upsertGateway({ id: 'gw-1', storeId: 'store-1', zoneId: 'entrance', secretSealed: sealer.seal(gatewaySecret, 'gateway-secret:gw-1') });
});
afterEach(async () => {
  await store.close();
});

describe('epoch key service', () => {
  it('creates one key for the current period and publishes it to each gateway, wrapped under its secret', async () => {
    const keys = service();
    const live = await keys.maintain();
    expect(live.map((k) => k.keyId)).toEqual([`store-1-${PERIOD}`]);
    expect(live[0]?.key).toHaveLength(32);
    expect(keys.liveKeys()).toEqual(live);
    expect(published).toHaveLength(1);
    const [wrapped] = published[0]!.epochKeys;
    expect(wrapped).toMatchObject({ keyId: `store-1-${PERIOD}`, notBeforeS: PERIOD * ROTATION_S - GRACE_S, notAfterS: (PERIOD + 1) * ROTATION_S + GRACE_S });
    expect(unwrapEpochKey(gatewaySecret, 'gw-1', wrapped!.keyId, wrapped!.wrapped)).toEqual(live[0]!.key);
    // The stored key is sealed: its bytes never appear in the database.
    const [record] = await store.listEpochKeys('store-1');
    expect(record!.keySealed.includes(live[0]!.key)).toBe(false);
  });

  it('republishes only when the set of live keys changes, unless forced', async () => {
    const keys = service();
    await keys.maintain();
    await keys.maintain();
    expect(published).toHaveLength(1);
    await keys.maintain(true);
    expect(published).toHaveLength(2);
  });

  it('converges with another instance on one key per period (first insert wins)', async () => {
    const [a, b] = [service(), service()];
    const [fromA, fromB] = await Promise.all([a.maintain(), b.maintain()]);
    expect(fromA).toEqual(fromB);
    expect((await store.counts()).epochKeys).toBe(1);
  });

  it('adds the next period’s key shortly before the boundary', async () => {
    const keys = service();
    clock.set(periodEndMs(PERIOD) - 2 * GRACE_S * 1000 - 1000);
    expect((await keys.maintain()).map((k) => k.keyId)).toEqual([`store-1-${PERIOD}`]);
    clock.set(periodEndMs(PERIOD) - 2 * GRACE_S * 1000);
    expect((await keys.maintain()).map((k) => k.keyId)).toEqual([`store-1-${PERIOD}`, `store-1-${PERIOD + 1}`]);
    expect(published.at(-1)?.epochKeys.map((k) => k.keyId)).toEqual([`store-1-${PERIOD}`, `store-1-${PERIOD + 1}`]);
  });

  it('destroys a key once its period and grace have passed, so its pseudonyms cannot be recomputed (ID-3)', async () => {
    const keys = service();
    await keys.maintain();
    clock.set(periodEndMs(PERIOD) + GRACE_S * 1000);
    expect((await keys.maintain()).map((k) => k.keyId)).toEqual([`store-1-${PERIOD}`, `store-1-${PERIOD + 1}`]);
    clock.advance(1000);
    expect((await keys.maintain()).map((k) => k.keyId)).toEqual([`store-1-${PERIOD + 1}`]);
    expect(await store.listEpochKeys()).toEqual([expect.objectContaining({ keyId: `store-1-${PERIOD + 1}` })]);
    expect((await store.counts()).epochKeys).toBe(1);
    expect(published.at(-1)?.epochKeys.map((k) => k.keyId)).toEqual([`store-1-${PERIOD + 1}`]);
  });

  it('publishes nothing for an unknown gateway', async () => {
    await service().publishGatewayConfig('gw-9');
    expect(published).toEqual([]);
  });
});
