import { describe, expect, it } from 'vitest';
import type { Purpose } from '#server/domain/consent.ts';
import type { ZoneState } from '#server/domain/zone-arbiter.ts';
import type { ShopperRecord, Store } from '#server/store/store.ts';
import { aCampaign, aConsent, aDraft, aShopper, SECOND_MS, START_MS, uniqueId } from '#test/helpers/builders.ts';
import { seededDatabases, type FreshDatabase } from './fresh-database.ts';

// What the Store gives the console (issue 8), run against every adapter: floor plans and zone outlines,
// what gateways report about themselves, the live view's counts (present shoppers per zone, events per
// zone) and a campaign's activity per time bucket. Counts only: no shopper ID leaves these methods.

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

export function describeConsoleStoreContract(name: string, fresh: () => Promise<FreshDatabase>, cleanup?: () => Promise<void>): void {
  describe(`Store console contract: ${name}`, () => {
    const database = seededDatabases(fresh, [['entrance', false], ['bakery', false], ['pharmacy', true]], cleanup);

    async function givenShopper(store: Store, consents: Partial<Record<Purpose, boolean>> = { presence: true, promotions: true, analytics: true }): Promise<ShopperRecord> {
      const shopper = aShopper();
      await store.createShopper(shopper);
      await store.appendConsent(Object.entries(consents).map(([purpose, granted]) => aConsent({ shopperId: shopper.id, purpose: purpose as Purpose, granted })));
      return shopper;
    }

    /** The arbiter's state of a shopper in zoneId since atMs (null: claims gone, in no zone). */
    const inZone = (zoneId: string | null, atMs: number): ZoneState => ({
      claims: zoneId === null ? {} : { [zoneId]: { rank: 1, atMs } },
      current: zoneId === null ? null : { zoneId, sinceMs: atMs },
      challenger: null,
      applied: zoneId === null ? [{ eventId: uniqueId('ev'), transitions: [{ kind: 'left', zoneId: 'entrance', atMs, dwellMs: 0 }] }] : [],
    });
    const place = (store: Store, shopperId: string, zoneId: string | null, atMs = START_MS, storeId = 'store-1') =>
      store.updateZoneState(storeId, shopperId, () => ({ state: inZone(zoneId, atMs), dueAtMs: zoneId === null ? null : atMs + 900_000, result: undefined }));

    describe('floor plans and zone outlines', () => {
      it('keeps a store\'s floor plan and its zones\' outlines, replaces them on upsert, and drops them when left out', async () => {
        const { store, another } = await database();
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Plan', timezone: 'Europe/Rome', floorPlan: { widthM: 40, heightM: 25.5 } });
        await store.upsertZone({ storeId, id: 'tills', name: 'Tills', sensitive: false, polygon: [[0, 0], [10, 0], [10, 5.25], [0, 5.25]] });
        await store.upsertZone({ storeId, id: 'aisle', name: 'Aisle', sensitive: false });

        const other = await another();
        expect(await other.getStore(storeId)).toEqual({ id: storeId, name: 'Plan', timezone: 'Europe/Rome', floorPlan: { widthM: 40, heightM: 25.5 } });
        expect((await other.listStores()).find((s) => s.id === storeId)?.floorPlan).toEqual({ widthM: 40, heightM: 25.5 });
        expect(await other.listZones(storeId)).toEqual([
          { storeId, id: 'aisle', name: 'Aisle', sensitive: false },
          { storeId, id: 'tills', name: 'Tills', sensitive: false, polygon: [[0, 0], [10, 0], [10, 5.25], [0, 5.25]] },
        ]);

        await store.upsertZone({ storeId, id: 'tills', name: 'Tills', sensitive: false, polygon: [[1, 1], [4, 1], [4, 4]] });
        expect((await store.listZones(storeId)).find((z) => z.id === 'tills')?.polygon).toEqual([[1, 1], [4, 1], [4, 4]]);
        await store.upsertZone({ storeId, id: 'tills', name: 'Tills', sensitive: true });
        await store.upsertStore({ id: storeId, name: 'Plan', timezone: 'Europe/Rome' });
        expect(await store.getStore(storeId)).toEqual({ id: storeId, name: 'Plan', timezone: 'Europe/Rome' });
        expect((await store.listZones(storeId)).find((z) => z.id === 'tills')).toEqual({ storeId, id: 'tills', name: 'Tills', sensitive: true });
      });
    });

    describe('gateway reports', () => {
      it('keeps the last version and counters a gateway reported, each as of the last status that carried it', async () => {
        const { store, another } = await database();
        const gateway = await store.upsertGateway({ id: uniqueId('gw'), storeId: 'store-1', zoneId: 'entrance', secretSealed: Buffer.from('s') });
        await store.markGatewaySeen(gateway.id, START_MS, true);
        // Nothing reported yet: no report at all (a gateway of an older version says nothing about itself).
        expect(await store.getGateway(gateway.id)).toEqual({ ...gateway, lastSeenAtMs: START_MS, online: true });

        await store.markGatewaySeen(gateway.id, START_MS + SECOND_MS, true, { version: '1.4.0', counts: { uptimeS: 60, advertisements: 1200, published: 7 } });
        expect((await (await another()).getGateway(gateway.id))?.report).toEqual({ version: '1.4.0', counts: { uptimeS: 60, advertisements: 1200, published: 7 }, atMs: START_MS + SECOND_MS });

        // The will (offline, no counters): the counters stay as last reported.
        await store.markGatewaySeen(gateway.id, START_MS + 2 * SECOND_MS, false, { version: '1.4.0' });
        expect(await store.getGateway(gateway.id)).toMatchObject({
          online: false, lastSeenAtMs: START_MS + 2 * SECOND_MS, report: { version: '1.4.0', counts: { uptimeS: 60, advertisements: 1200, published: 7 }, atMs: START_MS + 2 * SECOND_MS },
        });
        // A status with nothing to report changes only seen and online; re-provisioning keeps the report.
        await store.markGatewaySeen(gateway.id, START_MS + 3 * SECOND_MS, true, {});
        await store.upsertGateway({ id: gateway.id, storeId: 'store-1', zoneId: 'bakery', secretSealed: Buffer.from('t') }, true);
        expect((await store.listGateways('store-1')).find((g) => g.id === gateway.id)).toMatchObject({
          zoneId: 'bakery', online: true, lastSeenAtMs: START_MS + 3 * SECOND_MS, report: { version: '1.4.0', atMs: START_MS + 2 * SECOND_MS },
        });
      });
    });

    describe('live occupancy', () => {
      it('counts present shoppers per current zone, leaving out stale states, other stores and shoppers no longer in a zone', async () => {
        const { store, another } = await database();
        await store.upsertStore({ id: 'store-2', name: 'Annex', timezone: 'Europe/London' });
        await store.upsertZone({ storeId: 'store-2', id: 'entrance', name: 'entrance', sensitive: false });
        for (let i = 0; i < 3; i += 1) await place(store, (await givenShopper(store)).id, 'entrance');
        await place(store, (await givenShopper(store)).id, 'bakery', START_MS + 5 * MINUTE_MS);
        await place(store, (await givenShopper(store)).id, 'pharmacy');
        // Left (no current zone), last heard too long ago, or in another store: not counted here.
        await place(store, (await givenShopper(store)).id, null);
        await place(store, (await givenShopper(store)).id, 'bakery', START_MS - 20 * MINUTE_MS);
        await place(store, (await givenShopper(store)).id, 'entrance', START_MS, 'store-2');

        const sorted = (rows: { zoneId: string; shoppers: number }[]) => [...rows].sort((a, b) => a.zoneId.localeCompare(b.zoneId));
        expect(sorted(await (await another()).zoneOccupancy('store-1', START_MS - 15 * MINUTE_MS))).toEqual([
          { zoneId: 'bakery', shoppers: 1 }, { zoneId: 'entrance', shoppers: 3 }, { zoneId: 'pharmacy', shoppers: 1 },
        ]);
        expect(await store.zoneOccupancy('store-2', START_MS - 15 * MINUTE_MS)).toEqual([{ zoneId: 'entrance', shoppers: 1 }]);
        expect(await store.zoneOccupancy(uniqueId('st'), 0)).toEqual([]);
      });

      it('leaves out shoppers who withdrew presence, are restricted or were erased', async () => {
        const { store } = await database();
        const [counted, withdrawn, restricted, erased] = [await givenShopper(store), await givenShopper(store), await givenShopper(store), await givenShopper(store)];
        for (const shopper of [counted, withdrawn, restricted, erased]) await place(store, shopper.id, 'entrance');
        await store.appendConsent([aConsent({ shopperId: withdrawn.id, purpose: 'presence', granted: false, previousGranted: true, serverTimeMs: START_MS + SECOND_MS })]);
        const audit = (subject: string, action: string) => ({ atMs: START_MS, actor: 'shopper', action, subject, details: {} });
        await store.setRestriction(restricted.id, true, START_MS, audit(restricted.id, 'shopper.restricted'));
        await store.eraseShopper(erased.id, START_MS, () => audit(erased.id, 'shopper.erased'));
        expect(await store.zoneOccupancy('store-1', START_MS - MINUTE_MS)).toEqual([{ zoneId: 'entrance', shoppers: 1 }]);
      });
    });

    describe('events per zone', () => {
      it('counts the sequence claims of the store\'s gateways in [from, to), per the claiming gateway\'s zone, on every instance', async () => {
        const { store, another } = await database();
        await store.upsertStore({ id: 'store-2', name: 'Annex', timezone: 'Europe/London' });
        const door = await store.upsertGateway({ id: uniqueId('gw'), storeId: 'store-1', zoneId: 'entrance', secretSealed: Buffer.from('a') });
        const oven = await store.upsertGateway({ id: uniqueId('gw'), storeId: 'store-1', zoneId: 'bakery', secretSealed: Buffer.from('b') });
        const annex = await store.upsertGateway({ id: uniqueId('gw'), storeId: 'store-2', zoneId: 'entrance', secretSealed: Buffer.from('c') });
        const claim = (target: Store, gatewayId: string, seq: number, atMs: number) => target.acceptSequence(gatewayId, 'boot-1', seq, uniqueId('ev'), atMs);
        const other = await another();
        // From two instances: the counts come from storage, not from either's memory.
        await claim(store, door.id, 1, START_MS);
        await claim(other, door.id, 2, START_MS + 9_999);
        await claim(store, door.id, 3, START_MS + 10_000);
        await claim(store, door.id, 0, START_MS - 1);
        await claim(other, oven.id, 1, START_MS + 5_000);
        await claim(store, annex.id, 1, START_MS + 5_000);
        // A redelivery claims nothing new.
        expect(await store.acceptSequence(oven.id, 'boot-1', 1, 'another-event', START_MS + 5_000)).toBe('replay');

        const counts = await store.zoneEventCounts('store-1', START_MS, START_MS + 10_000);
        expect([...counts].sort((a, b) => a.zoneId.localeCompare(b.zoneId))).toEqual([{ zoneId: 'bakery', events: 1 }, { zoneId: 'entrance', events: 2 }]);
        expect(await other.zoneEventCounts('store-2', START_MS, START_MS + 10_000)).toEqual([{ zoneId: 'entrance', events: 1 }]);
        expect(await store.zoneEventCounts('store-1', START_MS + HOUR_MS, START_MS + HOUR_MS + 10_000)).toEqual([]);
      });
    });

    describe('campaign activity', () => {
      const hours = (n: number) => Array.from({ length: n }, (_, i) => ({ startMs: START_MS + i * HOUR_MS, endMs: START_MS + (i + 1) * HOUR_MS }));

      it('tallies deliveries, opens and redemptions per bucket by when each happened, with distinct shoppers, P3 exposures only', async () => {
        const { store } = await database();
        const campaign = aCampaign();
        const elsewhere = aCampaign();
        const send = async (shopper: ShopperRecord, deliveredAtMs: number, target = campaign) => {
          const result = await store.recordPromotion({ ...aDraft({ shopperId: shopper.id, campaign: target, createdAtMs: deliveredAtMs - SECOND_MS }), analyticsActive: true });
          if (result.outcome !== 'recorded') throw new Error(`not recorded: ${result.outcome}`);
          await store.markPromotionDelivered(result.promotion.id, deliveredAtMs);
          return result.promotion;
        };
        const [ada, bo, cy] = [await givenShopper(store), await givenShopper(store), await givenShopper(store)];
        const withoutAnalytics = await givenShopper(store, { presence: true, promotions: true, analytics: false });
        // Hour 0: Ada twice, Bo once. Hour 1: Cy, and Ada's first promotion opened and redeemed.
        const first = await send(ada, START_MS + 10 * MINUTE_MS);
        await send(ada, START_MS + 50 * MINUTE_MS);
        await send(bo, START_MS + 59 * MINUTE_MS);
        await send(cy, START_MS + HOUR_MS);
        expect(await store.markPromotionOpened(ada.id, first.id, START_MS + 62 * MINUTE_MS)).toBe(true);
        expect((await store.redeemCoupon({ storeId: 'store-1', couponCode: first.message.couponCode, requestId: null, deviceId: 'pd-1', atMs: START_MS + 65 * MINUTE_MS })).outcome).toBe('redeemed');
        // Not counted: without analytics consent, another campaign, before the range.
        await send(withoutAnalytics, START_MS + 5 * MINUTE_MS);
        await send(bo, START_MS + 5 * MINUTE_MS, elsewhere);
        await send(cy, START_MS - MINUTE_MS);

        const activity = await store.campaignActivity(campaign.id, hours(3));
        expect(activity).toEqual([
          { ...hours(3)[0]!, deliveries: { events: 3, shoppers: 2 }, opens: { events: 0, shoppers: 0 }, redemptions: { events: 0, shoppers: 0 } },
          { ...hours(3)[1]!, deliveries: { events: 1, shoppers: 1 }, opens: { events: 1, shoppers: 1 }, redemptions: { events: 1, shoppers: 1 } },
          { ...hours(3)[2]!, deliveries: { events: 0, shoppers: 0 }, opens: { events: 0, shoppers: 0 }, redemptions: { events: 0, shoppers: 0 } },
        ]);
        expect(JSON.stringify(activity)).not.toContain(ada.id);
        expect(await store.campaignActivity(campaign.id, [])).toEqual([]);
        expect(await store.campaignActivity(uniqueId('cmp'), hours(1))).toEqual([{ ...hours(1)[0]!, deliveries: { events: 0, shoppers: 0 }, opens: { events: 0, shoppers: 0 }, redemptions: { events: 0, shoppers: 0 } }]);
      });

      it('refuses buckets that are not contiguous, in order and on whole minutes, naming the bucket', async () => {
        const { store } = await database();
        await expect(store.campaignActivity('c', [hours(1)[0]!, { startMs: START_MS + 2 * HOUR_MS, endMs: START_MS + 3 * HOUR_MS }])).rejects.toThrow(/buckets\[1\] must start where buckets\[0\] ends/);
        await expect(store.campaignActivity('c', [{ startMs: START_MS + 1, endMs: START_MS + HOUR_MS }])).rejects.toThrow(/buckets\[0\] must start and end on whole minutes/);
        await expect(store.campaignActivity('c', [{ startMs: START_MS, endMs: START_MS }])).rejects.toThrow(RangeError);
      });
    });
  });
}
