import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '#server/domain/campaign.ts';
import type { CampaignSeries } from '#server/domain/campaign-series.ts';
import type { PromotionRecord } from '#server/store/store.ts';
import { aCampaign, aDraft, generousCaps, START_MS } from '#test/helpers/builders.ts';
import { bearer, buildTestApp, createApiKey, expectStatus, grant, putCampaign, putStore, registerShopper, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';

// A campaign over time for the console's chart (issue 8): GET /v1/admin/analytics/campaigns/:id/series
// gives deliveries, opens and redemptions per closed bucket, each dated when it happened, on the placed
// store's wall clock, every cell from k (10) distinct shoppers up — and never the bucket still filling.

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
// START_MS is Monday 2030-01-07 09:00 UTC, 10:00 in Rome.

let t: TestApp;
let campaign: Campaign;
const shoppers: RegisteredShopper[] = [];

beforeAll(async () => {
  t = await buildTestApp();
  expectStatus(await putStore(t, 'store-1', [{ id: 'entrance' }]), 200);
  campaign = aCampaign({ id: 'coffee', storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps });
  expectStatus(await putCampaign(t, campaign), 200);
  for (let i = 0; i < 17; i += 1) {
    const shopper = await registerShopper(t.app);
    await grant(t.app, shopper.token, { presence: true, promotions: true, analytics: i < 16 });
    shoppers.push(shopper);
  }
  const store = t.deps.store;
  const deliver = async (shopper: RegisteredShopper, atMs: number): Promise<PromotionRecord> => {
    const result = await store.recordPromotion({ ...aDraft({ shopperId: shopper.shopperId, campaign, createdAtMs: atMs - 1000 }), analyticsActive: true });
    if (result.outcome !== 'recorded') throw new Error(`not recorded: ${JSON.stringify(result)}`);
    await store.markPromotionDelivered(result.promotion.id, atMs);
    return result.promotion;
  };
  // 09:00–10:00 UTC: twelve shoppers get one each, and the one without analytics consent too (never counted).
  const first = [];
  for (const shopper of shoppers.slice(0, 12)) first.push(await deliver(shopper, START_MS + 20 * MINUTE_MS));
  await deliver(shoppers[16]!, START_MS + 20 * MINUTE_MS);
  // 10:00–11:00: four more deliveries; ten of the first twelve open theirs, three redeem at the till.
  for (const shopper of shoppers.slice(12, 16)) await deliver(shopper, START_MS + HOUR_MS + 5 * MINUTE_MS);
  for (const [i, promotion] of first.slice(0, 10).entries()) expect(await store.markPromotionOpened(shoppers[i]!.shopperId, promotion.id, START_MS + HOUR_MS + 10 * MINUTE_MS)).toBe(true);
  for (const promotion of first.slice(0, 3)) {
    const redeemed = await store.redeemCoupon({ storeId: 'store-1', couponCode: promotion.message.couponCode, requestId: null, deviceId: 'pd-1', atMs: START_MS + HOUR_MS + 15 * MINUTE_MS });
    expect(redeemed.outcome).toBe('redeemed');
  }
  // 12:10, in the bucket still filling when the clock says 12:30.
  for (const shopper of shoppers.slice(0, 11)) await deliver(shopper, START_MS + 3 * HOUR_MS + 10 * MINUTE_MS);
  t.clock.set(START_MS + 3 * HOUR_MS + 30 * MINUTE_MS);
});
afterAll(async () => t.close());

const iso = (ms: number): string => new Date(ms).toISOString();
const get = (url: string, token = t.adminToken) => t.app.inject({ method: 'GET', url, headers: bearer(token) });
const series = async (query: string, token?: string): Promise<CampaignSeries> => expectStatus<CampaignSeries>(await get(`/v1/admin/analytics/campaigns/coffee/series${query}`, token), 200);

describe('GET /v1/admin/analytics/campaigns/:campaignId/series', () => {
  it('counts per hour by when each happened, shows a cell only from k distinct shoppers up, and never the bucket still filling', async () => {
    const hourly = await series(`?bucket=1h&from=${iso(START_MS)}&to=${iso(START_MS + 5 * HOUR_MS)}`);
    expect(hourly).toEqual({
      campaignId: 'coffee', timezone: 'Europe/Rome', bucket: '1h', fromMs: START_MS, toMs: START_MS + 3 * HOUR_MS, k: 10,
      points: [
        { bucketStartMs: START_MS, bucketEndMs: START_MS + HOUR_MS, deliveries: 12, opens: null, redemptions: null },
        // Four deliveries (fewer than k shoppers) and three redemptions are withheld; ten opens are shown.
        { bucketStartMs: START_MS + HOUR_MS, bucketEndMs: START_MS + 2 * HOUR_MS, deliveries: null, opens: 10, redemptions: null },
        { bucketStartMs: START_MS + 2 * HOUR_MS, bucketEndMs: START_MS + 3 * HOUR_MS, deliveries: null, opens: null, redemptions: null },
      ],
    });
  });

  it('aligns days on the store\'s local midnight, and shows a day only once it has ended', async () => {
    const romeMidnight = Date.UTC(2030, 0, 6, 23, 0); // 2030-01-07 00:00 in Rome
    const today = await series('?bucket=1d');
    expect(today.points).toHaveLength(30);
    expect(today.toMs).toBe(romeMidnight);
    expect(today.points.every((p) => p.deliveries === null)).toBe(true);

    t.clock.set(romeMidnight + 25 * HOUR_MS);
    const daily = await series('?bucket=1d');
    // Sixteen distinct shoppers got 27 deliveries that day (the 11 of 12:10 included); ten opened, three redeemed.
    expect(daily.points.at(-1)).toEqual({ bucketStartMs: romeMidnight, bucketEndMs: romeMidnight + 24 * HOUR_MS, deliveries: 27, opens: 10, redemptions: null });
    t.clock.set(START_MS + 3 * HOUR_MS + 30 * MINUTE_MS);
  });

  it('answers CSV at series.csv or with format=csv, a withheld cell empty', async () => {
    const query = `?bucket=1h&from=${START_MS}&to=${START_MS + 2 * HOUR_MS}`;
    const csv = await get(`/v1/admin/analytics/campaigns/coffee/series.csv${query}`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="campaign-coffee-1h.csv"');
    expect(csv.body).toBe([
      'campaign_id,bucket,bucket_start,bucket_end,deliveries,opens,redemptions',
      'coffee,1h,2030-01-07T09:00:00.000Z,2030-01-07T10:00:00.000Z,12,,',
      'coffee,1h,2030-01-07T10:00:00.000Z,2030-01-07T11:00:00.000Z,,10,',
      '',
    ].join('\r\n'));
    expect((await get(`/v1/admin/analytics/campaigns/coffee/series${query}&format=csv`)).body).toBe(csv.body);
  });

  it('follows UTC for a campaign placed in stores of different time zones', async () => {
    expectStatus(await putStore(t, 'lisbon', [{ id: 'entrance' }]), 200);
    expectStatus(await t.app.inject({ method: 'PUT', url: '/v1/admin/stores/ny', headers: bearer(t.adminToken), payload: { name: 'NY', timezone: 'America/New_York', zones: [{ id: 'entrance', name: 'Entrance' }] } }), 200);
    expectStatus(await putCampaign(t, aCampaign({ id: 'everywhere', placement: { level: 'organisation' }, caps: generousCaps })), 200);
    const everywhere = expectStatus<CampaignSeries>(await get('/v1/admin/analytics/campaigns/everywhere/series?bucket=1d'), 200);
    expect(everywhere.timezone).toBe('UTC');
    expect(everywhere.toMs).toBe(Date.UTC(2030, 0, 7));
  });

  it('refuses bad parameters naming them, and answers 404 for an unknown campaign', async () => {
    for (const [query, field] of [['?bucket=5m', 'bucket'], [`?from=${START_MS}&to=${START_MS - HOUR_MS}`, 'to'], ['?from=yesterday', 'from'], ['?limit=3', 'limit'], [`?bucket=15m&from=${START_MS - 30 * 24 * HOUR_MS}`, 'from']] as const) {
      const response = await get(`/v1/admin/analytics/campaigns/coffee/series${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.fields, query).toEqual([field]);
    }
    const missing = await get('/v1/admin/analytics/campaigns/nothing/series');
    expect(missing.statusCode).toBe(404);
    expect((await get('/v1/admin/analytics/campaigns/Bad%20Id/series')).statusCode).toBe(400);
  });

  it('is a report: open to the analyst, not to the auditor', async () => {
    expect((await series('', (await createApiKey(t, 'analyst')).key)).campaignId).toBe('coffee');
    expect((await get('/v1/admin/analytics/campaigns/coffee/series', (await createApiKey(t, 'auditor')).key)).statusCode).toBe(403);
  });
});
