import { describe, expect, it } from 'vitest';
import { HOLDOUT_VARIANT, type Campaign } from '#server/domain/campaign.ts';
import type { Purpose } from '#server/domain/consent.ts';
import type { ResolvedPresence } from '#server/domain/decision.ts';
import type { PromotionDraft, ShopperRecord, Store } from '#server/store/store.ts';
import { aCampaign, aConsent, aDraft, aPresence, aShopper, generousCaps, SECOND_MS, START_MS } from '#test/helpers/builders.ts';
import { seededDatabases, type FreshDatabase } from './fresh-database.ts';

// The Store's analytics half (issue 6; server/store/analytics-sql.ts), run against every adapter: held-out
// exposures, opens, conversions, campaign counts and the zone rollup. `fresh` opens an empty database and
// returns a way to open another instance on it (two servers); each test that depends on global state
// (the rollup's watermark) takes its own.


const MINUTE_MS = 60_000;
const QUARTER_MS = 15 * MINUTE_MS;
const HOUR_MS = 60 * MINUTE_MS;

export function describeAnalyticsContract(name: string, fresh: () => Promise<FreshDatabase>, cleanup?: () => Promise<void>): void {
  describe(`Store analytics contract: ${name}`, () => {
    const database = seededDatabases(fresh, [['entrance', false], ['checkout', false], ['snack_bar', false], ['pharmacy', true]], cleanup);

    async function givenShopper(store: Store, consents: Partial<Record<Purpose, boolean>> = { presence: true, promotions: true, analytics: true }, overrides: Partial<ShopperRecord> = {}): Promise<ShopperRecord> {
      const shopper = aShopper(overrides);
      await store.createShopper(shopper);
      await store.appendConsent(Object.entries(consents).map(([purpose, granted]) => aConsent({ shopperId: shopper.id, purpose: purpose as Purpose, granted })));
      return shopper;
    }

    const attributed = (overrides: Partial<Parameters<typeof aCampaign>[0]> = {}): Campaign =>
      aCampaign({
        experiment: { holdoutPercent: 10, variants: [{ id: 'a', weight: 1 }] },
        attribution: { conversionZoneIds: ['checkout', 'snack_bar'], windowS: 3600 },
        ...overrides,
      });
    const exposure = (shopperId: string, campaign: Campaign, group: { variant: string; heldOut?: boolean }, createdAtMs = START_MS): PromotionDraft => ({
      ...aDraft({ shopperId, campaign, createdAtMs }), variant: group.variant, heldOut: group.heldOut ?? false, ...(campaign.attribution ? { attribution: campaign.attribution } : {}),
    });
    const entry = (shopperId: string, zoneId: string, atMs: number) => ({ shopperId, storeId: 'store-1', zoneId, atMs });

    describe('held-out exposures', () => {
      it('records a held-out row after the same checks, never lists, expires, acknowledges, opens or redeems it', async () => {
        const { store } = await database();
        const shopper = await givenShopper(store);
        const campaign = attributed({ caps: { ...generousCaps, perShopper: { count: 1, periodS: 86_400 } } });
        const result = await store.recordPromotion(exposure(shopper.id, campaign, { variant: HOLDOUT_VARIANT, heldOut: true }));
        expect(result.outcome).toBe('recorded');
        if (result.outcome !== 'recorded') return;
        expect(result.promotion).toMatchObject({ status: 'held-out', variant: 'holdout', deliveredAtMs: null });
        // It counts toward the caps, so treatment and control meet the same eligibility.
        expect(await store.recordPromotion(exposure(shopper.id, campaign, { variant: HOLDOUT_VARIANT, heldOut: true }, START_MS + SECOND_MS))).toEqual({ outcome: 'skipped', reason: 'perShopper' });
        expect(await store.listUnackedPromotions(shopper.id, START_MS)).toEqual([]);
        expect((await store.expireUndelivered(START_MS + 10 * 86_400_000, 100)).byCampaign[campaign.id]).toBeUndefined();
        expect(await store.ackPromotion(shopper.id, result.promotion.id, START_MS)).toBe(false);
        expect(await store.markPromotionOpened(shopper.id, result.promotion.id, START_MS)).toBe(false);
        expect(await store.redeemCoupon({ storeId: 'store-1', couponCode: result.promotion.message.couponCode, requestId: null, deviceId: 'pd-1', atMs: START_MS + SECOND_MS }))
          .toEqual({ outcome: 'not-found' });
        expect((await store.getPromotion(result.promotion.id))?.status).toBe('held-out');
        // The status page counts it as a control exposure, not as a promotion recorded for sending.
        expect(await store.counts()).toMatchObject({ promotions: 0, exposuresHeldOut: 1, promotionsAcked: 0 });
      });

      it('refuses a held-out row without consent, as a sent one', async () => {
        const { store } = await database();
        const shopper = await givenShopper(store, { presence: true, promotions: false, analytics: true });
        expect(await store.recordPromotion(exposure(shopper.id, attributed(), { variant: HOLDOUT_VARIANT, heldOut: true }))).toEqual({ outcome: 'skipped', reason: 'no-consent' });
      });
    });

    describe('opens', () => {
      it('records the first open of the shopper\'s own promotion, idempotently, and counts it as an ack', async () => {
        const { store } = await database();
        const shopper = await givenShopper(store);
        const other = await givenShopper(store);
        const result = await store.recordPromotion(exposure(shopper.id, attributed(), { variant: 'a' }));
        if (result.outcome !== 'recorded') throw new Error(result.outcome);
        const id = result.promotion.id;
        expect(await store.markPromotionOpened(other.id, id, START_MS + SECOND_MS)).toBe(false);
        expect(await store.markPromotionOpened(shopper.id, id, START_MS + SECOND_MS)).toBe(true);
        expect(await store.markPromotionOpened(shopper.id, id, START_MS + 9 * SECOND_MS)).toBe(true);
        expect(await store.getPromotion(id)).toMatchObject({ openedAtMs: START_MS + SECOND_MS, ackedAtMs: START_MS + SECOND_MS, status: 'acked' });
        expect(await store.markPromotionOpened(shopper.id, 'pr_unknown', START_MS)).toBe(false);
      });
    });

    describe('conversions', () => {
      it('converts a delivered exposure or a held-out one when the shopper enters an attribution zone within the window, once', async () => {
        const { store } = await database();
        const [treated, control] = [await givenShopper(store), await givenShopper(store)];
        const campaign = attributed();
        const sent = await store.recordPromotion(exposure(treated.id, campaign, { variant: 'a' }));
        const held = await store.recordPromotion(exposure(control.id, campaign, { variant: HOLDOUT_VARIANT, heldOut: true }));
        if (sent.outcome !== 'recorded' || held.outcome !== 'recorded') throw new Error('not recorded');
        // Not delivered yet: no exposure, nothing to convert.
        expect(await store.recordConversions(entry(treated.id, 'checkout', START_MS + MINUTE_MS))).toBe(0);
        await store.markPromotionDelivered(sent.promotion.id, START_MS + 2 * MINUTE_MS);
        // Another zone, another store: nothing.
        expect(await store.recordConversions(entry(treated.id, 'entrance', START_MS + 3 * MINUTE_MS))).toBe(0);
        expect(await store.recordConversions({ ...entry(treated.id, 'checkout', START_MS + 3 * MINUTE_MS), storeId: 'store-2' })).toBe(0);
        expect(await store.recordConversions(entry(treated.id, 'checkout', START_MS + 3 * MINUTE_MS))).toBe(1);
        // A redelivered entry converts nothing again, and the first time stays.
        expect(await store.recordConversions(entry(treated.id, 'checkout', START_MS + 3 * MINUTE_MS))).toBe(0);
        expect(await store.recordConversions(entry(treated.id, 'snack_bar', START_MS + 4 * MINUTE_MS))).toBe(0);
        expect((await store.getPromotion(sent.promotion.id))?.convertedAtMs).toBe(START_MS + 3 * MINUTE_MS);
        // The control converts without any delivery; "_" in a zone ID is no wildcard ("snackXbar" does not match).
        expect(await store.recordConversions(entry(control.id, 'snackXbar', START_MS + MINUTE_MS))).toBe(0);
        expect(await store.recordConversions(entry(control.id, 'snack_bar', START_MS + MINUTE_MS))).toBe(1);
      });

      it('does not convert after the window, before the exposure, or without analytics consent at the exposure', async () => {
        const { store } = await database();
        const [late, early, noP3] = [await givenShopper(store), await givenShopper(store), await givenShopper(store, { presence: true, promotions: true, analytics: false })];
        const campaign = attributed();
        for (const shopper of [late, early, noP3]) await store.recordPromotion(exposure(shopper.id, campaign, { variant: HOLDOUT_VARIANT, heldOut: true }));
        expect(await store.recordConversions(entry(late.id, 'checkout', START_MS + 3600 * SECOND_MS + 1))).toBe(0);
        expect(await store.recordConversions(entry(late.id, 'checkout', START_MS + 3600 * SECOND_MS))).toBe(1);
        expect(await store.recordConversions(entry(early.id, 'checkout', START_MS - 1))).toBe(0);
        expect(await store.recordConversions(entry(noP3.id, 'checkout', START_MS + MINUTE_MS))).toBe(0);
      });

      it('keeps an exposure out of analytics when the caller found P3 lapsed (CON-6), though the stored state still says granted', async () => {
        const { store } = await database();
        const lapsed = await givenShopper(store);
        await store.recordPromotion({ ...exposure(lapsed.id, attributed(), { variant: HOLDOUT_VARIANT, heldOut: true }), analyticsActive: false });
        expect(await store.recordConversions(entry(lapsed.id, 'checkout', START_MS + MINUTE_MS))).toBe(0);
      });
    });

    describe('campaign counts', () => {
      it('counts P3 exposures per group: deliveries, opens, redemptions, conversions, distinct shoppers', async () => {
        const { store } = await database();
        const campaign = attributed();
        const treated = await Promise.all([1, 2, 3].map(() => givenShopper(store)));
        const control = await Promise.all([1, 2].map(() => givenShopper(store)));
        const withoutP3 = await givenShopper(store, { presence: true, promotions: true, analytics: false });
        const ids: string[] = [];
        for (const shopper of [...treated, withoutP3]) {
          const r = await store.recordPromotion(exposure(shopper.id, campaign, { variant: 'a' }));
          if (r.outcome !== 'recorded') throw new Error(r.outcome);
          await store.markPromotionDelivered(r.promotion.id, START_MS + SECOND_MS);
          ids.push(r.promotion.id);
        }
        for (const shopper of control) await store.recordPromotion(exposure(shopper.id, campaign, { variant: HOLDOUT_VARIANT, heldOut: true }));
        // Recorded but never delivered: no exposure.
        await store.recordPromotion(exposure((await givenShopper(store)).id, campaign, { variant: 'a' }));
        await store.markPromotionOpened(treated[0]!.id, ids[0]!, START_MS + 2 * SECOND_MS);
        const first = (await store.getPromotion(ids[0]!))!;
        await store.redeemCoupon({ storeId: 'store-1', couponCode: first.message.couponCode, requestId: null, deviceId: 'pd-1', atMs: START_MS + 3 * SECOND_MS });
        await store.recordConversions(entry(treated[0]!.id, 'checkout', START_MS + MINUTE_MS));
        await store.recordConversions(entry(control[1]!.id, 'checkout', START_MS + MINUTE_MS));
        const counts = (await store.campaignGroupCounts(campaign.id)).sort((x, y) => String(x.variant).localeCompare(String(y.variant)));
        expect(counts).toEqual([
          { variant: 'a', shoppers: 3, exposures: 3, deliveries: 3, opens: 1, redemptions: 1, conversions: 1, convertedShoppers: 1 },
          { variant: 'holdout', shoppers: 2, exposures: 2, deliveries: 0, opens: 0, redemptions: 0, conversions: 1, convertedShoppers: 1 },
        ]);
        expect(await store.campaignGroupCounts('cmp-none')).toEqual([]);
      });
    });

    describe('zone rollup', () => {
      const T0 = Math.floor(START_MS / 86_400_000) * 86_400_000 + 10 * HOUR_MS;
      const at = (ms: number, shopperId: string, zoneId: string, overrides: Partial<ResolvedPresence> = {}): ResolvedPresence =>
        aPresence({ shopperId, zoneId, atS: Math.floor(ms / 1000), ...overrides });

      async function crowd(store: Store, n: number, consents?: Partial<Record<Purpose, boolean>>): Promise<ShopperRecord[]> {
        const shoppers: ShopperRecord[] = [];
        for (let i = 0; i < n; i += 1) shoppers.push(await givenShopper(store, consents));
        return shoppers;
      }

      it('counts distinct P3 shoppers per zone and closed bucket, writes no cell below 10, leaves sensitive zones and non-P3 shoppers out', async () => {
        const { store } = await database();
        const ten = await crowd(store, 10);
        const nine = await crowd(store, 9);
        const noP3 = await crowd(store, 5, { presence: true, promotions: true, analytics: false });
        for (const s of ten) {
          await store.recordPresence(at(T0 + MINUTE_MS, s.id, 'entrance'), T0);
          await store.recordPresence(at(T0 + 2 * MINUTE_MS, s.id, 'entrance', { kind: 'exit', dwellS: 400 }), T0);
          await store.recordPresence(at(T0 + 3 * MINUTE_MS, s.id, 'pharmacy'), T0);
        }
        for (const s of [...nine, ...noP3]) await store.recordPresence(at(T0 + MINUTE_MS, s.id, 'checkout'), T0);
        for (const s of noP3) await store.recordPresence(at(T0 + MINUTE_MS, s.id, 'entrance'), T0);
        const result = await store.rollupZoneAnalytics(QUARTER_MS, T0 + QUARTER_MS, 10);
        // A first pass starts at the earliest event held (T0 + 1 min), and closes the quarter [T0, T0 + 15 min) that holds it.
        expect(result).toEqual({ bucketMs: QUARTER_MS, fromMs: T0 + MINUTE_MS, rolledUntilMs: T0 + QUARTER_MS, footfallCells: 1, dwellCells: 1 });
        expect(await store.listZoneFootfall('store-1', QUARTER_MS, T0, T0 + HOUR_MS)).toEqual([{ zoneId: 'entrance', bucketStartMs: T0, shoppers: 10 }]);
        expect(await store.listZoneDwell('store-1', QUARTER_MS, T0, T0 + HOUR_MS)).toEqual([{ zoneId: 'entrance', bucketStartMs: T0, bin: 2, shoppers: 10 }]);
        expect(await store.zoneRollupWatermark(QUARTER_MS)).toBe(T0 + QUARTER_MS);
        // The next pass starts at the watermark: nothing is counted twice.
        expect(await store.rollupZoneAnalytics(QUARTER_MS, T0 + QUARTER_MS, 10)).toMatchObject({ footfallCells: 0, dwellCells: 0, rolledUntilMs: T0 + QUARTER_MS });
        expect(await store.zoneRollupWatermark(HOUR_MS)).toBeUndefined();
      });

      it('rolls each bucket up exactly once when two instances run the rollup at the same time', async () => {
        const db = await database();
        const other = await db.another();
        const shoppers = await crowd(db.store, 12);
        for (let q = 0; q < 4; q += 1) {
          for (const s of shoppers) await db.store.recordPresence(at(T0 + q * QUARTER_MS + MINUTE_MS, s.id, 'entrance'), T0);
        }
        const results = await Promise.all([db.store, other, db.store, other].map((s) => s.rollupZoneAnalytics(QUARTER_MS, T0 + HOUR_MS, 10)));
        expect(results.reduce((sum, r) => sum + r.footfallCells, 0)).toBe(4);
        const cells = await other.listZoneFootfall('store-1', QUARTER_MS, T0, T0 + HOUR_MS);
        expect(cells.map((c) => [c.bucketStartMs - T0, c.shoppers])).toEqual([[0, 12], [QUARTER_MS, 12], [2 * QUARTER_MS, 12], [3 * QUARTER_MS, 12]]);
        // The hour, rolled up on its own watermark: twelve distinct shoppers, not 48.
        await Promise.all([db.store.rollupZoneAnalytics(HOUR_MS, T0 + HOUR_MS, 10), other.rollupZoneAnalytics(HOUR_MS, T0 + HOUR_MS, 10)]);
        expect(await db.store.listZoneFootfall('store-1', HOUR_MS, T0, T0 + HOUR_MS)).toEqual([{ zoneId: 'entrance', bucketStartMs: T0, shoppers: 12 }]);
      });

      it('counts each store\'s days from its own midnight: a New York day is rolled up once it ends there, with every event of it', async () => {
        const { store } = await database();
        const DAY = 86_400_000;
        await store.upsertStore({ id: 'store-ny', name: 'Fifth Avenue', timezone: 'America/New_York' });
        await store.upsertZone({ storeId: 'store-ny', id: 'entrance', name: 'Entrance', sensitive: false });
        const early = await crowd(store, 10);
        const late = await crowd(store, 10);
        const ms = (iso: string): number => Date.parse(iso);
        for (const s of early) {
          await store.recordPresence(at(ms('2030-01-07T23:30:00Z'), s.id, 'entrance'), ms('2030-01-07T23:30:00Z')); // London, Monday 7th
          await store.recordPresence(at(ms('2030-01-08T03:00:00Z'), s.id, 'entrance', { storeId: 'store-ny' }), ms('2030-01-08T03:00:00Z')); // New York, Monday 22:00
        }
        // 01:00 UTC: London's Monday is over, New York's is not — only London's is counted.
        expect(await store.rollupZoneAnalytics(DAY, ms('2030-01-08T01:00:00Z'), 10)).toMatchObject({ footfallCells: 1 });
        expect(await store.listZoneFootfall('store-1', DAY, 0, ms('2030-02-01T00:00:00Z'))).toEqual([{ zoneId: 'entrance', bucketStartMs: ms('2030-01-07T00:00:00Z'), shoppers: 10 }]);
        expect(await store.listZoneFootfall('store-ny', DAY, 0, ms('2030-02-01T00:00:00Z'))).toEqual([]);
        // Ten more shoppers in New York at 23:00 Monday, local; the day ends at 05:00 UTC, and the next pass counts all twenty.
        for (const s of late) await store.recordPresence(at(ms('2030-01-08T04:00:00Z'), s.id, 'entrance', { storeId: 'store-ny' }), ms('2030-01-08T04:00:00Z'));
        expect(await store.rollupZoneAnalytics(DAY, ms('2030-01-08T06:00:00Z'), 10)).toMatchObject({ fromMs: ms('2030-01-08T01:00:00Z'), footfallCells: 1 });
        expect(await store.listZoneFootfall('store-ny', DAY, 0, ms('2030-02-01T00:00:00Z'))).toEqual([{ zoneId: 'entrance', bucketStartMs: ms('2030-01-07T05:00:00Z'), shoppers: 20 }]);
        expect(await store.listZoneFootfall('store-1', DAY, 0, ms('2030-02-01T00:00:00Z'))).toHaveLength(1);
      });

      it('refuses a bucket size that is not 15 minutes, an hour or a day, a negative untilMs and a k below 10, naming them', async () => {
        const { store } = await database();
        await expect(store.rollupZoneAnalytics(60_000, 0, 10)).rejects.toThrow(/bucketMs/);
        await expect(store.rollupZoneAnalytics(2 * HOUR_MS, 0, 10)).rejects.toThrow(/bucketMs/);
        await expect(store.rollupZoneAnalytics(QUARTER_MS, -1, 10)).rejects.toThrow(/untilMs/);
        await expect(store.rollupZoneAnalytics(QUARTER_MS, QUARTER_MS, 9)).rejects.toThrow(/minShoppers/);
      });
    });
  });
}
