import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchMetrics, createMetrics } from '#server/metrics.ts';
import { arbitrateZone, zoneStateDueAtMs } from '#server/domain/zone-arbiter.ts';
import type { BatchObservation } from '#server/store/set-batches.ts';
import { dropPostgresSchemas, openPostgresStore } from '#server/store/postgres-store.ts';
import type { PresenceStep, Store } from '#server/store/store.ts';
import { aConsent, aDraft, aPresence, aShopper } from '#test/helpers/builders.ts';
import { TEST_POOL_MAX } from '#test/helpers/test-pool.ts';

// The PostgreSQL adapter's set-based hot path reports each transaction it makes (openPostgresStore's
// observeBatches): how many calls it took together and whether it fell back to one at a time. The server
// turns that into vicino_store_batch_calls and vicino_store_batch_fallbacks_total. The answers each call gets
// are the Store contracts' business (test/contracts); this is what an operator sees.

const databaseUrl = process.env.DATABASE_URL;

describe('PostgreSQL batch observations environment', () => {
  it('has a database to run against in CI', () => {
    expect(process.env.CI === 'true' && !databaseUrl, 'CI must set DATABASE_URL').toBe(false);
  });
});

describe.runIf(databaseUrl)('PostgreSQL batch observations', () => {
  const schema = `vicino_batches_${randomBytes(6).toString('hex')}`;
  const seen: BatchObservation[] = [];
  const metrics = createMetrics();
  const toMetrics = batchMetrics(metrics);
  let store: Store;

  beforeAll(async () => {
    store = await openPostgresStore(databaseUrl!, { schema, poolMax: TEST_POOL_MAX, observeBatches: (batch) => (seen.push(batch), toMetrics(batch)) });
  });
  afterAll(async () => {
    await store?.close();
    await dropPostgresSchemas(databaseUrl!, [schema]);
  });

  const consenting = async (): Promise<string> => {
    const shopper = aShopper();
    await store.createShopper(shopper);
    await store.appendConsent([aConsent({ shopperId: shopper.id, purpose: 'presence', granted: true }), aConsent({ shopperId: shopper.id, purpose: 'promotions', granted: true })]);
    return shopper.id;
  };
  let seq = 0;
  const stepFor = (shopperId: string, arbitrate?: PresenceStep['arbitrate']): PresenceStep => {
    const event = aPresence({ shopperId });
    return {
      event, receivedAtMs: event.atS * 1000, sequence: { gatewayId: 'gw-batches', boot: 'boot-1', seq: (seq += 1) }, consent: (stored) => stored,
      arbitrate: arbitrate ?? ((previous) => {
        const result = arbitrateZone(previous, { eventId: event.eventId, zoneId: event.zoneId, kind: event.kind, proximity: event.proximity, atMs: event.atS * 1000 });
        return { state: result.state, dueAtMs: zoneStateDueAtMs(result.state), result: { transitions: result.transitions, current: result.state.current?.zoneId } };
      }),
    };
  };

  it('reports five presence steps handed in at once as one transaction of five', async () => {
    const shoppers = await Promise.all(Array.from({ length: 5 }, consenting));
    seen.length = 0;
    const results = await Promise.all(shoppers.map((id) => store.applyPresence(stepFor(id))));
    expect(results.map((r) => r.outcome)).toEqual(Array(5).fill('applied'));
    expect(seen).toEqual([{ kind: 'presence', calls: 5, fellBack: false }]);
  });

  it('reports a batch that failed and went one step at a time, and counts it', async () => {
    const shoppers = await Promise.all(Array.from({ length: 3 }, consenting));
    seen.length = 0;
    const failing: PresenceStep['arbitrate'] = () => {
      throw new Error(`arbiter failed ${randomUUID()}`);
    };
    const results = await Promise.allSettled(shoppers.map((id, i) => store.applyPresence(stepFor(id, i === 1 ? failing : undefined))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(seen).toEqual([{ kind: 'presence', calls: 3, fellBack: true }]);
    expect((await metrics.storeBatchFallbacks.get()).values).toEqual([{ labels: { kind: 'presence' }, value: 1 }]);
  });

  it('reports four sends handed in at once as one transaction, into the batch-size histogram', async () => {
    const shoppers = await Promise.all(Array.from({ length: 4 }, consenting));
    seen.length = 0;
    const results = await Promise.all(shoppers.map((shopperId) => store.recordPromotion(aDraft({ shopperId }))));
    expect(results.map((r) => r.outcome)).toEqual(Array(4).fill('recorded'));
    expect(seen).toEqual([{ kind: 'send', calls: 4, fellBack: false }]);
    const sends = (await metrics.storeBatchCalls.get()).values.filter((v) => v.labels.kind === 'send');
    expect(sends.find((v) => v.metricName === 'vicino_store_batch_calls_count')?.value).toBe(1);
    expect(sends.find((v) => v.metricName === 'vicino_store_batch_calls_sum')?.value).toBe(4);
  });
});
