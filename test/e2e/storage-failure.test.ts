import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { counterValue } from '#server/metrics.ts';
import type { SimulationSummary } from '#simulator/store/simulated-store.ts';
import { failingStore, STORAGE_ERROR, type FailingStore } from '../helpers/failing-store.ts';
import { createLogCapture } from '../helpers/log-capture.ts';
import { aTestScenario } from '../helpers/scenarios.ts';
import { startTestSystem, type TestSystem } from '../helpers/test-system.ts';

// CON-5 end to end — "the storage fails in the middle of a run": the real server, broker and simulated
// store, with the Store the server was handed made unable to read consent for a few seconds while
// shoppers keep walking in and out. Promotions flow before; none is decided or delivered while consent
// cannot be read; they flow again after; no non-consenting shopper ever gets one; the server stays up.

const OUTAGE_MS = 3_000;

const stores = ['sqlite', ...(process.env.DATABASE_URL ? ['postgres' as const] : [])] as const;

describe.each(stores)('the storage fails in the middle of a run (CON-5), on %s', (storeKind) => {
  let system: TestSystem;
  let storage: FailingStore;
  let summary: SimulationSummary;
  let outage: { fromMs: number; toMs: number };
  let deliveredDuringOutage: number;
  const logs = createLogCapture('debug');
  // Arrivals spread over 14 s: some shoppers first enter before the outage, some during it, some after.
  const scenario = aTestScenario({ optedInApps: 8, presenceOnlyApps: 1, registeredWithoutConsentApps: 1, phonesWithoutApp: 1, foreignBeacons: 1, arrivalSpreadS: 14 });
  const shown = (): { issuedAtMs: number; receivedAtMs: number }[] => system.sim.apps().flatMap(({ app }) => app.shown);

  beforeAll(async () => {
    system = await startTestSystem({
      scenario, logger: logs.logger, store: storeKind,
      wrapStore: (store) => (storage = failingStore(store)).store,
    });
    const { sim, server } = system;
    await vi.waitFor(() => {
      if (shown().length < 2) throw new Error('waiting for promotions before the outage');
    }, { timeout: 30_000, interval: 100 });

    // Every consent read fails: the ingest's (inside its one transaction per event, Store.applyPresence), and the
    // delivery's and the zone sweep's (getConsentState).
    storage.fail(['applyPresence', 'getConsentState']);
    // A consent read that began just before the switch may still complete its send: start counting once it has.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const deliveredAtStart = await counterValue(server.metrics.deliveries);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - 200));
    deliveredDuringOutage = (await counterValue(server.metrics.deliveries)) - deliveredAtStart;
    storage.recover();
    const window = storage.windows[0]!;
    outage = { fromMs: window.fromMs, toMs: window.toMs! };

    await vi.waitFor(() => {
      if (!shown().some((p) => p.issuedAtMs >= outage.toMs)) throw new Error('waiting for promotions after recovery');
    }, { timeout: 30_000, interval: 100 });
    summary = await sim.stop();
  }, 90_000);

  afterAll(async () => {
    await system?.close();
  });

  it('delivered promotions before the outage and again after it', () => {
    expect(shown().filter((p) => p.issuedAtMs < outage.fromMs).length).toBeGreaterThanOrEqual(2);
    expect(shown().filter((p) => p.issuedAtMs >= outage.toMs).length).toBeGreaterThanOrEqual(1);
    expect(summary.promotionsDelivered).toBe(shown().length);
  });

  it('decided no promotion while consent could not be read, and delivered none', async () => {
    // The apps' view: nothing issued inside the window.
    expect(shown().filter((p) => p.issuedAtMs >= outage.fromMs && p.issuedAtMs < outage.toMs)).toEqual([]);
    // The Store's view: no promotion recorded inside the window.
    const created = (await system.testStore.rows('SELECT created_at_ms FROM promotions')).map((row) => Number(row.created_at_ms));
    expect(created.length).toBeGreaterThan(0);
    expect(created.filter((at) => at >= outage.fromMs && at < outage.toMs)).toEqual([]);
    // The delivery's view: nothing written to an app connection once the outage was under way.
    expect(deliveredDuringOutage).toBe(0);
    // The consent reads did fail, and were counted.
    expect(storage.failures.length).toBeGreaterThan(0);
    expect(storage.failures.every((f) => f.atMs >= outage.fromMs && f.atMs < outage.toMs)).toBe(true);
    expect(await counterValue(system.server.metrics.consentUnreadable)).toBeGreaterThan(0);
  });

  it('sent nothing to a shopper without marketing consent, and logged the failures without identifiers', () => {
    expect(summary.promotionsToNonConsenting).toBe(0);
    const text = logs.text().join('\n');
    expect(text).toContain(STORAGE_ERROR);
    for (const { app } of system.sim.apps()) expect(text).not.toContain(app.shopperId);
  });

  it('stayed up', async () => {
    const health = await fetch(new URL('/health', system.server.url));
    expect(health.status).toBe(200);
  });
});
