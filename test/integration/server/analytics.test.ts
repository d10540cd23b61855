import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonymise, topics, type PresenceEvent } from '#gateway/protocol/index.ts';
import { createZoneRollupJob } from '#server/analytics/rollup-job.ts';
import { newcombeDifference, type CampaignReport, type ZoneReport } from '#server/domain/analytics.ts';
import type { Experiment } from '#server/domain/campaign.ts';
import type { ShopperExport } from '#server/domain/shopper-export.ts';
import type { PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { counterValue } from '#server/metrics.ts';
import { aCampaign, aPresenceEvent, generousCaps } from '#test/helpers/builders.ts';
import { connectAppStream, shoppersInEachGroup } from '#test/helpers/app-stream.ts';
import {
  bearer, buildTestApp, expectStatus, grant, ingestOver, provisionGateway, putCampaign, putStore, registerShopper, signedInject, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';

// Analytics end to end through the test app, on SQLite and (with DATABASE_URL) PostgreSQL: a campaign with
// a variant and a 50 % holdout; shoppers walk in (treated ones get the variant over their app's socket,
// held-out ones nothing), some open it, some redeem at the till, some go on to the checkout (a
// conversion); the campaign report and the zone report (after the rollup) say exactly that, k-anonymously.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const EXPERIMENT: Experiment = { holdoutPercent: 50, variants: [{ id: 'a', weight: 1, message: { title: 'Variant A: coffee for two' } }] };
const QUARTER_MS = 900_000;

let t: TestApp;
let testStore: TestStore;
let ingest: PresenceIngest;
let secrets: Record<string, Buffer>;
let streamUrl: string;
let sockets: WebSocket[];

const nowS = (): number => Math.floor(t.deps.now() / 1000);
function heard(who: RegisteredShopper, gatewayId: 'gw-entrance' | 'gw-checkout' | 'gw-pharmacy', kind: 'enter' | 'exit', dwellS = 0): PresenceEvent {
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
  return aPresenceEvent({
    storeId: 'store-1', gatewayId, zoneId: gatewayId.slice(3), keyId: key.keyId, kind, proximity: 'near', atS: nowS(), dwellS,
    pseudonym: pseudonymise(key.key, 'eddystone-eid', who.tokens.eidAt(nowS())),
  }, secrets[gatewayId]);
}
const send = (event: PresenceEvent) => ingest.handle(topics.events('store-1', event.gatewayId), Buffer.from(JSON.stringify(event)));
const admin = (url: string) => t.app.inject({ method: 'GET', url, headers: bearer(t.adminToken) });

describe.each(STORE_KINDS)('analytics (%s)', (kind) => {
  beforeEach(async () => {
    testStore = await openTestStore(kind);
    t = await buildTestApp({ store: testStore.store, masterKey: randomBytes(32) });
    ingest = ingestOver(t, t.deps.delivery);
    expectStatus(await putStore(t, 'store-1', [{ id: 'entrance' }, { id: 'checkout' }, { id: 'pharmacy', sensitive: true }]), 200);
    secrets = {};
    for (const zoneId of ['entrance', 'checkout', 'pharmacy']) {
      const config = expectStatus<{ config: { secret: string } }>(await provisionGateway(t, 'store-1', { id: `gw-${zoneId}`, zoneId }), 201).config;
      secrets[`gw-${zoneId}`] = Buffer.from(config.secret, 'base64url');
    }
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    streamUrl = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/v1/me/promotions/stream`;
    sockets = [];
  });
  afterEach(async () => {
    for (const socket of sockets) socket.terminate();
    await t.close();
    await testStore.close();
  });

  it('measures deliveries, opens, redemptions, conversions and the uplift over the holdout, and exports them as CSV', async () => {
    expectStatus(await putCampaign(t, aCampaign({
      id: 'ab-coffee', storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps, experiment: EXPERIMENT,
      attribution: { conversionZoneIds: ['checkout'], windowS: 3600 }, message: { title: 'Fresh coffee', body: 'Two for one.', validForS: 3600 },
    })), 200);
    // Ten shoppers in each group (their group is the keyed hash of campaign and shopper), all with analytics consent.
    const { treated, control } = await shoppersInEachGroup(t, { id: 'ab-coffee', experiment: EXPERIMENT }, 10, { url: streamUrl, opened: sockets });
    // One more, treated or not, without analytics consent: gets promotions, never enters analytics.
    const private_ = await registerShopper(t.app);
    await grant(t.app, private_.token, { presence: true, promotions: true });

    for (const { shopper } of treated) expect(await send(heard(shopper, 'gw-entrance', 'enter'))).toBe('sent');
    for (const shopper of control) expect(await send(heard(shopper, 'gw-entrance', 'enter'))).toBe('held-out');
    expect(['sent', 'held-out']).toContain(await send(heard(private_, 'gw-entrance', 'enter')));
    expect(await counterValue(t.deps.metrics.heldOut)).toBeGreaterThanOrEqual(10);

    // Treated apps get the variant's title; each promotion is marked delivered once written.
    for (const { stream } of treated) await expect.poll(() => stream.frames.filter((f) => f.type === 'promotion').length).toBe(1);
    const promotions = treated.map(({ stream }) => stream.frames.find((f) => f.type === 'promotion')!);
    expect(new Set(promotions.map((p) => p.title))).toEqual(new Set(['Variant A: coffee for two']));
    // Held-out shoppers get nothing, even when their app connects later.
    const late = await connectAppStream(streamUrl, control[0]!.token, sockets);
    await late.roundTrip();
    expect(late.frames.filter((f) => f.type === 'promotion')).toEqual([]);
    expect(expectStatus<{ promotions: unknown[] }>(await t.app.inject({ method: 'GET', url: '/v1/me/promotions', headers: bearer(control[0]!.token) }), 200).promotions).toEqual([]);

    // Three opens over the socket (one reported twice), one over HTTP; a held-out row cannot be opened.
    for (const i of [0, 1, 2, 0]) treated[i]!.stream.send({ type: 'opened', id: promotions[i]!.id });
    expectStatus(await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${String(promotions[3]!.id)}/opened`, headers: bearer(treated[3]!.shopper.token) }), 204);
    expectStatus(await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${String(promotions[3]!.id)}/opened`, headers: bearer(treated[3]!.shopper.token) }), 204);
    expectStatus(await t.app.inject({ method: 'POST', url: `/v1/me/promotions/${String(promotions[4]!.id)}/opened`, headers: bearer(treated[3]!.shopper.token) }), 404);
    await expect.poll(async () => (await Promise.all(promotions.map((p) => t.deps.store.getPromotion(String(p.id))))).filter((p) => p?.openedAtMs !== null).length).toBe(4);

    // Two coupons redeemed at the till.
    const till = expectStatus<{ token: string }>(await t.app.inject({ method: 'POST', url: '/v1/admin/stores/store-1/pos-devices', headers: bearer(t.adminToken), payload: { name: 'Till 1' } }), 201);
    for (const p of promotions.slice(0, 2)) {
      expectStatus(await t.app.inject({ method: 'POST', url: '/v1/pos/redemptions', headers: bearer(till.token), payload: { couponCode: p.couponCode } }), 200);
    }

    // Ten minutes later six treated and two held-out shoppers go on to the checkout: conversions.
    t.clock.advance(10 * 60_000);
    for (const shopper of [...treated.slice(0, 6).map((x) => x.shopper), ...control.slice(0, 2)]) {
      await send(heard(shopper, 'gw-entrance', 'exit', 600));
      await send(heard(shopper, 'gw-checkout', 'enter'));
    }
    expect(await counterValue(t.deps.metrics.conversions)).toBe(8);

    const report = expectStatus<CampaignReport>(await admin('/v1/admin/analytics/campaigns/ab-coffee'), 200);
    expect(report.groups).toEqual([
      {
        variant: 'a', holdout: false, suppressed: false, shoppers: 10, exposures: 10, deliveries: 10, opens: 4, redemptions: 2, conversions: 6, convertedShoppers: 6,
        redemptionRate: 0.2, conversionRate: 0.6,
      },
      {
        variant: 'holdout', holdout: true, suppressed: false, shoppers: 10, exposures: 10, deliveries: 0, opens: 0, redemptions: 0, conversions: 2, convertedShoppers: 2,
        redemptionRate: null, conversionRate: 0.2,
      },
    ]);
    const ci = newcombeDifference(6, 10, 2, 10);
    expect(report.uplift).toMatchObject({ status: 'ok', method: 'newcombe-hybrid-score', absolute: { estimate: ci.estimate, lower: ci.lower, upper: ci.upper } });
    expect(report.uplift.status === 'ok' && report.uplift.relative).toBeCloseTo(2, 10);

    const csv = await admin('/v1/admin/analytics/campaigns/ab-coffee.csv');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.split('\r\n');
    expect(lines[0]).toBe('campaign_id,variant,holdout,suppressed,shoppers,exposures,deliveries,opens,redemptions,conversions,converted_shoppers,redemption_rate,conversion_rate,uplift_status,uplift_absolute,uplift_lower_95,uplift_upper_95,uplift_relative');
    expect(lines[1]).toBe(`ab-coffee,a,false,false,10,10,10,4,2,6,6,0.2,0.6,ok,${ci.estimate},${ci.lower},${ci.upper},${ci.estimate / 0.2}`);
    expect(lines[2]).toBe('ab-coffee,holdout,true,false,10,10,0,0,0,2,2,,0.2,,,,,');
    expect(lines[3]).toBe(`ab-coffee,all-variants,false,,,,,,,,,,,ok,${ci.estimate},${ci.lower},${ci.upper},${ci.estimate / 0.2}`);
    expect((await admin('/v1/admin/analytics/campaigns/ab-coffee?format=csv')).body).toBe(csv.body);

    // The shopper's own export (DSR-1) shows their group and what happened.
    const held = expectStatus<ShopperExport>(await signedInject(t.app, control[0]!, { method: 'GET', url: '/v1/me/export' }, t.deps.now()), 200);
    expect(held.promotions.map((p) => [p.status, p.variant, p.convertedAtMs !== null, p.deliveredAtMs])).toEqual([['held-out', 'holdout', true, null]]);
    const opened = expectStatus<ShopperExport>(await signedInject(t.app, treated[0]!.shopper, { method: 'GET', url: '/v1/me/export' }, t.deps.now()), 200);
    expect(opened.promotions.map((p) => [p.status, p.variant, typeof p.openedAtMs, typeof p.convertedAtMs, typeof p.redeemedAtMs])).toEqual([['acked', 'a', 'number', 'number', 'number']]);
  });

  it('reports zone footfall and dwell per closed bucket after the rollup, suppressing cells under k and the sensitive zone', async () => {
    const start = t.deps.now();
    const crowd: RegisteredShopper[] = [];
    for (let i = 0; i < 12; i += 1) {
      const shopper = await registerShopper(t.app);
      await grant(t.app, shopper.token, { presence: true, analytics: true });
      crowd.push(shopper);
    }
    const unconsenting = await registerShopper(t.app);
    await grant(t.app, unconsenting.token, { presence: true });
    for (const shopper of [...crowd, unconsenting]) expect(await send(heard(shopper, 'gw-entrance', 'enter'))).toBe('no-consent');
    for (const shopper of crowd.slice(0, 11)) await send(heard(shopper, 'gw-pharmacy', 'enter'));
    t.clock.advance(6 * 60_000);
    for (const shopper of crowd) await send(heard(shopper, 'gw-entrance', 'exit', 360));
    // Only nine reach the checkout: below k.
    for (const shopper of crowd.slice(0, 9)) await send(heard(shopper, 'gw-checkout', 'enter'));

    const bucket = Math.floor(start / QUARTER_MS) * QUARTER_MS;
    const rollup = createZoneRollupJob({ store: t.deps.store, now: t.deps.now, presenceEventsMs: 86_400_000, metrics: t.deps.metrics, logger: t.logs.logger });
    t.clock.set(bucket + 2 * 3_600_000 + 10 * 60_000);
    await rollup.run();
    await rollup.run();

    const url = `/v1/admin/analytics/stores/store-1/zones?bucket=15m&from=${new Date(bucket).toISOString()}&to=${bucket + 2 * QUARTER_MS}`;
    const report = expectStatus<ZoneReport>(await admin(url), 200);
    expect(report.k).toBe(10);
    expect(report.footfall).toEqual([
      { zoneId: 'checkout', bucketStartMs: bucket, bucketEndMs: bucket + QUARTER_MS, shoppers: null, suppressed: true },
      { zoneId: 'checkout', bucketStartMs: bucket + QUARTER_MS, bucketEndMs: bucket + 2 * QUARTER_MS, shoppers: null, suppressed: true },
      { zoneId: 'entrance', bucketStartMs: bucket, bucketEndMs: bucket + QUARTER_MS, shoppers: 12, suppressed: false },
      { zoneId: 'entrance', bucketStartMs: bucket + QUARTER_MS, bucketEndMs: bucket + 2 * QUARTER_MS, shoppers: null, suppressed: true },
    ].filter((c) => c.bucketEndMs <= report.rolledUntilMs));
    expect(report.footfall.some((c) => c.zoneId === 'pharmacy')).toBe(false);
    expect(report.dwell.filter((c) => !c.suppressed)).toEqual([{ zoneId: 'entrance', bucketStartMs: bucket, bucketEndMs: bucket + QUARTER_MS, bin: '5-15m', shoppers: 12, suppressed: false }]);

    const csv = await admin(url.replace('/zones?', '/zones.csv?'));
    expect(csv.statusCode).toBe(200);
    const lines = csv.body.split('\r\n');
    expect(lines[0]).toBe('store_id,zone_id,bucket,bucket_start,bucket_end,metric,dwell_bin,shoppers,suppressed');
    expect(lines).toContain(`store-1,entrance,15m,${new Date(bucket).toISOString()},${new Date(bucket + QUARTER_MS).toISOString()},footfall,,12,false`);
    expect(lines).toContain(`store-1,checkout,15m,${new Date(bucket).toISOString()},${new Date(bucket + QUARTER_MS).toISOString()},footfall,,,true`);
    // The hourly rollup counts twelve distinct shoppers in the hour, not one per quarter.
    const hourly = expectStatus<ZoneReport>(await admin(`/v1/admin/analytics/stores/store-1/zones?bucket=1h&from=${Math.floor(bucket / 3_600_000) * 3_600_000}&to=${Math.floor(bucket / 3_600_000) * 3_600_000 + 3_600_000}`), 200);
    expect(hourly.footfall.find((c) => c.zoneId === 'entrance')).toMatchObject({ shoppers: 12 });
  });

  it('reports a store\'s days on its own calendar: a New York store\'s rows run from New York midnight to midnight', async () => {
    expectStatus(await t.app.inject({
      method: 'PUT', url: '/v1/admin/stores/store-ny', headers: bearer(t.adminToken),
      payload: { name: 'Fifth Avenue', timezone: 'America/New_York', zones: [{ id: 'entrance', name: 'Entrance' }] },
    }), 200);
    t.clock.set(Date.parse('2030-03-12T12:00:00Z'));
    await createZoneRollupJob({ store: t.deps.store, now: t.deps.now, presenceEventsMs: 86_400_000, metrics: t.deps.metrics, logger: t.logs.logger }).run();
    // The week of the spring-forward Sunday (10 March 2030): each row starts at a New York midnight, and the Sunday has 23 hours.
    const report = expectStatus<ZoneReport>(await admin('/v1/admin/analytics/stores/store-ny/zones?bucket=1d&from=2030-03-08T05:00:00Z&to=2030-03-12T04:00:00Z'), 200);
    expect(report.timezone).toBe('America/New_York');
    expect(report.footfall.map((c) => [new Date(c.bucketStartMs).toISOString(), (c.bucketEndMs - c.bucketStartMs) / 3_600_000])).toEqual([
      ['2030-03-08T05:00:00.000Z', 24], ['2030-03-09T05:00:00.000Z', 24], ['2030-03-10T05:00:00.000Z', 23], ['2030-03-11T04:00:00.000Z', 24],
    ]);
    // By default, the last 30 whole local days before today's New York midnight.
    const recent = expectStatus<ZoneReport>(await admin('/v1/admin/analytics/stores/store-ny/zones?bucket=1d'), 200);
    expect(recent.toMs).toBe(Date.parse('2030-03-12T04:00:00Z'));
    expect(recent.footfall).toHaveLength(30);
    expect(recent.footfall.every((c) => new Date(c.bucketStartMs).getUTCHours() === 4 || new Date(c.bucketStartMs).getUTCHours() === 5)).toBe(true);
  });

  it('refuses bad query parameters with a 400 naming the field, unknown campaigns and stores with a 404, and callers without the admin token', async () => {
    const bad = await admin('/v1/admin/analytics/stores/store-1/zones?bucket=5m');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_PARAMS', fields: ['bucket'] } });
    expect((await admin('/v1/admin/analytics/stores/store-1/zones?from=yesterday')).json()).toMatchObject({ error: { fields: ['from'] } });
    expect((await admin('/v1/admin/analytics/stores/store-1/zones?from=2000&to=1000')).json()).toMatchObject({ error: { fields: ['to'] } });
    expect((await admin('/v1/admin/analytics/stores/store-1/zones?bucket=15m&from=0&to=1800000000')).json()).toMatchObject({ error: { fields: ['from'] } });
    expect((await admin('/v1/admin/analytics/stores/store-1/zones?k=3')).json()).toMatchObject({ error: { fields: ['k'] } });
    expect((await admin('/v1/admin/analytics/campaigns/none')).statusCode).toBe(404);
    expect((await admin('/v1/admin/analytics/campaigns/BAD!')).json()).toMatchObject({ error: { code: 'INVALID_PARAMS', fields: ['campaignId'] } });
    expect((await admin('/v1/admin/analytics/stores/nowhere/zones')).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/analytics/campaigns/none' })).statusCode).toBe(401);
  });
});
