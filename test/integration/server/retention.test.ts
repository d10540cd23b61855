import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonymise, topics, type PresenceEvent, type UnsignedPresenceEvent } from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import { DAY_MS, HOUR_MS, retentionWindows, type RetainedKind } from '#server/domain/retention.ts';
import { createPresenceIngest, type PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { sweepZoneStates } from '#server/ingest/resolved-presence.ts';
import { counterValue } from '#server/metrics.ts';
import { createPurgeJob, type PurgeJob, type RetentionAuditEntry } from '#server/retention/purge-job.ts';
import type { PromotionRecord, Store } from '#server/store/store.ts';
import { aCampaign, aPresenceEvent, generousCaps, SECOND_MS } from '#test/helpers/builders.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { buildTestApp, expectStatus, givenStoreWithGateway, grant, putCampaign, registerShopper, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';

// The retention purge (RET-2…4) over the real app and store: Ada walks in, gets a promotion and opens
// it; the test clock then runs past each window and the purge job, driven by that clock, deletes what
// has expired and nothing else, auditing every purge. Runs on SQLite, and on PostgreSQL too when
// DATABASE_URL is set.

const WINDOWS = retentionWindows({ eventSequencesMs: 360_000 });
const KINDS: RetainedKind[] = ['presence-events', 'zone-states', 'delivery-records', 'webhook-deliveries', 'event-sequences', 'proof-nonces', 'visit-history'];

let t: TestApp;
let testStore: TestStore;
let ingest: PresenceIngest;
let notified: PromotionRecord[];
let ada: RegisteredShopper;
let gatewaySecret: Buffer;
let audited: RetentionAuditEntry[];

const nowS = (): number => Math.floor(t.deps.now() / 1000);

/** What the entrance gateway publishes about Ada now. */
function heard(kind: PresenceEvent['kind'], dwellS = 0): PresenceEvent {
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
  const overrides: Partial<UnsignedPresenceEvent> = {
    storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', keyId: key.keyId, kind, proximity: 'near', atS: nowS(), dwellS,
    pseudonym: pseudonymise(key.key, 'eddystone-eid', ada.tokens.eidAt(nowS())),
  };
  return aPresenceEvent(overrides, gatewaySecret);
}
const send = (event: PresenceEvent) => ingest.handle(topics.events('store-1', event.gatewayId), Buffer.from(JSON.stringify(event)));

const rowCount = async (table: string): Promise<number> => {
  const [row] = await testStore.rows(`SELECT COUNT(*) AS n FROM ${table} WHERE shopper_id = '${ada.shopperId}'`);
  return Number(row!.n);
};
const held = async () => ({
  presence: await rowCount('presence_events'), zoneStates: await rowCount('zone_states'), promotions: await rowCount('promotions'), consent: await rowCount('consent_records'),
});
/** The zone arbiter's sweep, as the server runs it every second: Ada's claim expires and her state goes idle. */
const sweep = () => sweepZoneStates({ store: t.deps.store, config: t.deps.config, delivery: { notify: () => undefined }, metrics: t.deps.metrics, experimentKey: t.deps.experimentKey }, t.deps.now());

function purgeJob(store: Pick<Store, 'purgeBefore'> = t.deps.store, audit: (entry: RetentionAuditEntry) => void | Promise<void> = (entry) => void audited.push(entry)): PurgeJob {
  return createPurgeJob({ store, windows: WINDOWS, now: t.deps.now, logger: t.logs.logger.child({ component: 'retention' }), metrics: t.deps.metrics, audit, batchLimit: 2 });
}

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(STORE_KINDS)('retention purge (%s)', (kind) => {
  beforeEach(async () => {
    testStore = await openTestStore(kind);
    t = await buildTestApp({ store: testStore.store });
    notified = [];
    audited = [];
    const delivery: Delivery = { notify: (promotion) => void notified.push(promotion), close: async () => undefined };
    ingest = createPresenceIngest({
      store: t.deps.store, config: t.deps.config, resolver: t.deps.resolver, delivery, metrics: t.deps.metrics, logger: t.logs.logger.child({ component: 'ingest' }), now: t.deps.now, sealer: t.deps.sealer, experimentKey: t.deps.experimentKey,
    });
    gatewaySecret = Buffer.from((await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' })).secret, 'base64url');
    ada = await registerShopper(t.app, { firstName: 'Ada' });
    await grant(t.app, ada.token, { presence: true, promotions: true });
    expectStatus(await putCampaign(t, aCampaign({ id: 'welcome', storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps })), 200);

    // Ada walks in (a presence event and a promotion), opens the promotion, and dwells five minutes later.
    expect(await send(heard('enter'))).toBe('sent');
    expect(await t.deps.store.ackPromotion(ada.shopperId, notified[0]!.id, t.deps.now() + SECOND_MS)).toBe(true);
    t.clock.advance(300 * SECOND_MS);
    await send(heard('dwell', 300));
    expect(await held()).toEqual({ presence: 2, zoneStates: 1, promotions: 1, consent: 2 });
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });

  it('deletes each presence event and the idle zone state 24 h after they happened, and the delivery record after 730 days', async () => {
    const startMs = t.deps.now() - 300 * SECOND_MS;
    const job = purgeJob();

    // A minute short of the first event's 24 h: only the sequence claims (6 min) have expired.
    t.clock.set(startMs + DAY_MS - 60 * SECOND_MS);
    expect(await sweep()).toBe(1);
    let report = await job.run();
    expect(report.failed).toEqual([]);
    expect(await held()).toEqual({ presence: 2, zoneStates: 1, promotions: 1, consent: 2 });
    expect(report.purged.find((p) => p.what === 'event-sequences')!.count).toBe(2);

    // Past it: the enter event goes, the dwell five minutes younger stays. Her zone state, idle since the
    // sweep dropped her claim, records no time later than her entry (the sweep's leave is not kept in it):
    // it goes with the enter event.
    t.clock.set(startMs + DAY_MS + SECOND_MS);
    report = await job.run();
    expect(report.purged.find((p) => p.what === 'presence-events')).toEqual({ what: 'presence-events', count: 1, cutoffMs: startMs + SECOND_MS });
    expect(report.purged.find((p) => p.what === 'zone-states')).toEqual({ what: 'zone-states', count: 1, cutoffMs: startMs + SECOND_MS });
    expect(await held()).toEqual({ presence: 1, zoneStates: 0, promotions: 1, consent: 2 });

    t.clock.advance(300 * SECOND_MS);
    await job.run();
    expect(await held()).toEqual({ presence: 0, zoneStates: 0, promotions: 1, consent: 2 });

    // The opened promotion is a delivery record: kept 730 days, to the millisecond.
    t.clock.set(startMs + 730 * DAY_MS);
    await job.run();
    expect(await held()).toEqual({ presence: 0, zoneStates: 0, promotions: 1, consent: 2 });
    t.clock.set(startMs + 730 * DAY_MS + 1);
    report = await job.run();
    expect(report.purged.find((p) => p.what === 'delivery-records')!.count).toBe(1);
    // Consent records are the ledger's, not retention's: they stay, and so does Ada.
    expect(await held()).toEqual({ presence: 0, zoneStates: 0, promotions: 0, consent: 2 });
    expect(await t.deps.store.getShopper(ada.shopperId)).toMatchObject({ id: ada.shopperId, erasedAtMs: null });
    expect(await counterValue(t.deps.metrics.retentionPurgedRows)).toBe(2 + 2 + 1 + 1);
  });

  it('audits every purge, empty ones included, with what, how many and the cutoff (RET-4)', async () => {
    const job = purgeJob();
    const firstRunMs = t.deps.now();
    await job.run();
    t.clock.advance(2 * HOUR_MS);
    await job.run();

    // Proof nonces carry their own expiry: they go once it has passed (cutoff now).
    const cutoffsAt = (atMs: number) => [atMs - DAY_MS, atMs - DAY_MS, atMs - 730 * DAY_MS, atMs - 730 * DAY_MS, atMs - 360_000, atMs, atMs - 365 * DAY_MS];
    expect(audited.map((e) => e.what)).toEqual([...KINDS, ...KINDS]);
    expect(audited.map((e) => e.cutoffMs)).toEqual([...cutoffsAt(firstRunMs), ...cutoffsAt(firstRunMs + 2 * HOUR_MS)]);
    // Nothing had expired at first; two hours on, the two sequence claims had.
    expect(audited.map((e) => e.count)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]);
  });

  it('raises an alert when one kind fails, still purges the others, and retries on the next run', async () => {
    let broken = true;
    const real = t.deps.store;
    const failing: Pick<Store, 'purgeBefore'> = {
      purgeBefore: (what, cutoffMs, batchLimit) => (broken && what === 'presence-events' ? Promise.reject(new Error('disk I/O error')) : real.purgeBefore(what, cutoffMs, batchLimit)),
    };
    const job = purgeJob(failing);
    t.clock.advance(DAY_MS + 10 * 60 * SECOND_MS);

    const report = await job.run();
    expect(report.failed).toEqual([{ what: 'presence-events', cutoffMs: t.deps.now() - DAY_MS, stage: 'purge', error: 'disk I/O error' }]);
    expect(report.purged.map((p) => [p.what, p.count])).toEqual([['zone-states', 0], ['delivery-records', 0], ['webhook-deliveries', 0], ['event-sequences', 2], ['proof-nonces', 0], ['visit-history', 0]]);
    expect(await counterValue(t.deps.metrics.retentionFailures, { what: 'presence-events' })).toBe(1);
    expect(await counterValue(t.deps.metrics.retentionFailures)).toBe(1);
    const alerts = t.logs.lines().filter((line) => line.level === 50 && line.component === 'retention');
    expect(alerts).toEqual([expect.objectContaining({ what: 'presence-events', stage: 'purge', err: 'disk I/O error', alert: 'retention', msg: 'retention purge failed; the next run retries' })]);
    expect(await held()).toEqual({ presence: 2, zoneStates: 1, promotions: 1, consent: 2 });
    // The failed purge wrote no audit entry: it purged nothing.
    expect(audited.map((e) => e.what)).toEqual(['zone-states', 'delivery-records', 'webhook-deliveries', 'event-sequences', 'proof-nonces', 'visit-history']);

    broken = false;
    t.clock.advance(HOUR_MS);
    expect((await job.run()).failed).toEqual([]);
    expect(await held()).toEqual({ presence: 0, zoneStates: 1, promotions: 1, consent: 2 });
    expect(audited.at(-KINDS.length)).toMatchObject({ what: 'presence-events', count: 2 });
    // No identifier reached the log.
    expect(t.logs.text()).not.toContain(ada.shopperId);
  });

  it('counts a purge whose audit entry could not be written as failed, and logs how many rows went', async () => {
    const job = purgeJob(t.deps.store, (entry) => (entry.what === 'presence-events' ? Promise.reject(new Error('audit log unavailable')) : void audited.push(entry)));
    t.clock.advance(DAY_MS + 10 * 60 * SECOND_MS);

    const report = await job.run();
    expect(report.failed).toEqual([{ what: 'presence-events', cutoffMs: t.deps.now() - DAY_MS, stage: 'audit', error: 'audit log unavailable', count: 2 }]);
    expect(await counterValue(t.deps.metrics.retentionFailures, { what: 'presence-events' })).toBe(1);
    expect(t.logs.lines().filter((line) => line.level === 50)).toEqual([expect.objectContaining({ what: 'presence-events', stage: 'audit', count: 2 })]);
    expect(audited.map((e) => e.what)).toEqual(['zone-states', 'delivery-records', 'webhook-deliveries', 'event-sequences', 'proof-nonces', 'visit-history']);
  });

  it('runs one pass at a time: a run asked for during another shares its report', async () => {
    const job = purgeJob();
    t.clock.advance(DAY_MS + 10 * 60 * SECOND_MS);
    const [a, b] = await Promise.all([job.run(), job.run()]);
    expect(b).toBe(a);
    expect(audited).toHaveLength(KINDS.length);
  });
});
