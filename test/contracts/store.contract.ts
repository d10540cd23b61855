import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, createAuditVerifier, type AuditDraft, type AuditRecord } from '#server/domain/audit-chain.ts';
import { definitionOf, type Campaign } from '#server/domain/campaign.ts';
import { definitionSha256 } from '#server/domain/campaign-lifecycle.ts';
import fc from 'fast-check';
import { PURPOSES, replayConsent, type ConsentRecord, type LapseReason, type Purpose } from '#server/domain/consent.ts';
import { sha256Text, type ConsentText } from '#server/domain/consent-texts.ts';
import type { LapseCandidate } from '#server/domain/consent-lapse.ts';
import { erasureProof } from '#server/domain/erasure.ts';
import { ObjectedGrantError } from '#server/domain/objection.ts';
import { arbitrateZone, emptyZoneState, zoneStateDueAtMs, type ZoneState } from '#server/domain/zone-arbiter.ts';
import {
  APP_TOKEN_HISTORY_LIMIT, type ConsentLapseWrite, type LapseCandidateQuery, type PromotionDraft, type RecordPromotionResult, type ShopperRecord, type Store,
} from '#server/store/store.ts';
import { aCampaign, aConsent, aLinkedBeacon, aDraft, aPresence, aShopper, DAY_MS, generousCaps, SECOND_MS, START_MS, uniqueId } from '#test/helpers/builders.ts';

// The Store contract (docs in server/store/store.ts), run against every adapter through the port
// alone. `open` may be called more than once: every store it returns must share one database —
// that is how the suite plays two server instances racing each other. Tests share that database
// and stay independent by using fresh IDs (builders) and by asserting on deltas where a method is global.

export function describeStoreContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let others: Store[] = [];

    /** A second instance on the same database: another server. */
    const anotherInstance = async (): Promise<Store> => {
      const other = await open();
      others.push(other);
      return other;
    };

    beforeAll(async () => {
      store = await open();
      await store.upsertStore({ id: 'store-1', name: 'High Street', timezone: 'Europe/London' });
    });
    afterEach(async () => {
      await Promise.all(others.map((other) => other.close()));
      others = [];
    });
    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    async function givenShopper(consents: Partial<Record<Purpose, boolean>> = { presence: true, promotions: true }, overrides: Partial<ShopperRecord> = {}): Promise<ShopperRecord> {
      const shopper = aShopper(overrides);
      await store.createShopper(shopper);
      const records = Object.entries(consents).map(([purpose, granted]) => aConsent({ shopperId: shopper.id, purpose: purpose as Purpose, granted }));
      if (records.length > 0) await store.appendConsent(records);
      return shopper;
    }

    const withdraw = (target: Store, shopperId: string, purpose: Purpose, atMs = START_MS): ReturnType<Store['appendConsent']> =>
      target.appendConsent([aConsent({ shopperId, purpose, granted: false, previousGranted: true, serverTimeMs: atMs })]);
    const regrant = (shopperId: string, purpose: Purpose): ReturnType<Store['appendConsent']> =>
      store.appendConsent([aConsent({ shopperId, purpose, granted: true, previousGranted: false })]);

    /** The stored record now, read back through the port: a redelivery of a recorded draft returns it. */
    async function current(draft: PromotionDraft) {
      const result = await store.recordPromotion(draft);
      if (result.outcome !== 'duplicate') throw new Error(`expected ${draft.message.id} to be stored, got ${result.outcome}`);
      return result.promotion;
    }

    const outcome = (result: RecordPromotionResult): string => (result.outcome === 'skipped' ? `skipped:${result.reason}` : result.outcome);
    const tally = (results: readonly RecordPromotionResult[]): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const result of results) counts[outcome(result)] = (counts[outcome(result)] ?? 0) + 1;
      return counts;
    };

    it('names its adapter', () => {
      expect(store.kind).toMatch(/^[a-z0-9-]+$/);
    });

    describe('settings', () => {
      it('keeps the first value written for a setting', async () => {
        const setting = uniqueId('setting');
        expect(await store.getSetting(setting)).toBeUndefined();
        expect(await store.putSettingIfAbsent(setting, Buffer.from('first'))).toEqual(Buffer.from('first'));
        expect(await store.putSettingIfAbsent(setting, Buffer.from('second'))).toEqual(Buffer.from('first'));
        expect(await store.getSetting(setting)).toEqual(Buffer.from('first'));
      });

      it('agrees on one value when two instances race to write a setting', async () => {
        const other = await anotherInstance();
        const setting = uniqueId('setting');
        const written = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).putSettingIfAbsent(setting, randomBytes(32))));
        const stored = await store.getSetting(setting);
        expect(stored).toBeDefined();
        for (const value of written) expect(value).toEqual(stored);
      });
    });

    describe('stores, zones and gateways', () => {
      it('upserts stores and zones in place, listed by ID', async () => {
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Old name', timezone: 'Europe/London' });
        await store.upsertStore({ id: storeId, name: 'New name', timezone: 'Europe/Paris' });
        await store.upsertZone({ storeId, id: 'tills', name: 'Tills', sensitive: false });
        await store.upsertZone({ storeId, id: 'pharmacy', name: 'Pharmacy', sensitive: false });
        await store.upsertZone({ storeId, id: 'pharmacy', name: 'Pharmacy counter', sensitive: true });

        expect((await store.listStores()).filter((s) => s.id === storeId)).toEqual([{ id: storeId, name: 'New name', timezone: 'Europe/Paris' }]);
        expect(await store.getStore(storeId)).toEqual({ id: storeId, name: 'New name', timezone: 'Europe/Paris' });
        expect(await store.getStore(uniqueId('st'))).toBeUndefined();
        expect(await store.listZones(storeId)).toEqual([
          { storeId, id: 'pharmacy', name: 'Pharmacy counter', sensitive: true },
          { storeId, id: 'tills', name: 'Tills', sensitive: false },
        ]);
      });

      it('replaces a store\'s own beacons as a whole, listed by ID, per store or for all', async () => {
        const storeId = uniqueId('st');
        const otherId = uniqueId('st');
        for (const id of [storeId, otherId]) await store.upsertStore({ id, name: 'Beacons', timezone: 'UTC' });
        const uuid = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';
        await store.replaceStoreBeacons(storeId, [{ id: 'door', zoneId: 'entrance', uuid, major: 1, minor: 1 }, { id: 'bread', zoneId: 'bakery', uuid, major: 1, minor: 2 }]);
        await store.replaceStoreBeacons(otherId, [{ id: 'door', zoneId: 'entrance', uuid, major: 2, minor: 1 }]);
        expect((await store.listStoreBeacons(storeId)).map((b) => b.id)).toEqual(['bread', 'door']);

        await store.replaceStoreBeacons(storeId, [{ id: 'tills', zoneId: 'tills', uuid, major: 1, minor: 3 }]);
        expect(await store.listStoreBeacons(storeId)).toEqual([{ storeId, id: 'tills', zoneId: 'tills', uuid, major: 1, minor: 3 }]);
        expect((await store.listStoreBeacons()).filter((b) => b.storeId === storeId || b.storeId === otherId).map((b) => `${b.storeId === storeId ? 'a' : 'b'}:${b.id}`).sort())
          .toEqual(['a:tills', 'b:door']);
        await store.replaceStoreBeacons(storeId, []);
        expect(await store.listStoreBeacons(storeId)).toEqual([]);
      });

      it('keeps a store\'s beacons unchanged when a replacement fails part-way', async () => {
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Beacons', timezone: 'UTC' });
        const uuid = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';
        const before = [{ id: 'door', zoneId: 'entrance', uuid, major: 1, minor: 1 }];
        await store.replaceStoreBeacons(storeId, before);
        // Two beacons with one (uuid, major, minor): the unique constraint fails the second insert.
        await expect(store.replaceStoreBeacons(storeId, [{ id: 'a', zoneId: 'entrance', uuid, major: 1, minor: 5 }, { id: 'b', zoneId: 'tills', uuid, major: 1, minor: 5 }])).rejects.toThrow();
        expect(await store.listStoreBeacons(storeId)).toEqual([{ storeId, ...before[0] }]);
      });

      it('keeps a gateway secret on upsert unless asked to rotate it', async () => {
        const id = uniqueId('gw');
        const created = await store.upsertGateway({ id, storeId: 'store-1', zoneId: 'entrance', secretSealed: Buffer.from('secret-1') });
        expect(created).toEqual({ id, storeId: 'store-1', zoneId: 'entrance', secretSealed: Buffer.from('secret-1'), lastSeenAtMs: null, online: false });

        const moved = await store.upsertGateway({ id, storeId: 'store-1', zoneId: 'tills', secretSealed: Buffer.from('secret-2') });
        expect(moved).toMatchObject({ zoneId: 'tills', secretSealed: Buffer.from('secret-1') });

        const rotated = await store.upsertGateway({ id, storeId: 'store-1', zoneId: 'tills', secretSealed: Buffer.from('secret-3') }, true);
        expect(rotated.secretSealed).toEqual(Buffer.from('secret-3'));
        expect(await store.getGateway(id)).toEqual(rotated);
      });

      it('records when a gateway was last seen and lists gateways per store', async () => {
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Annex', timezone: 'Europe/London' });
        const b = await store.upsertGateway({ id: `${storeId}-b`, storeId, zoneId: 'entrance', secretSealed: Buffer.from('b') });
        await store.upsertGateway({ id: `${storeId}-a`, storeId, zoneId: 'tills', secretSealed: Buffer.from('a') });
        await store.markGatewaySeen(b.id, START_MS, true);

        expect(await store.getGateway(b.id)).toMatchObject({ lastSeenAtMs: START_MS, online: true });
        expect((await store.listGateways(storeId)).map((g) => g.id)).toEqual([`${storeId}-a`, `${storeId}-b`]);
        expect((await store.listGateways()).map((g) => g.id)).toEqual(expect.arrayContaining([`${storeId}-a`, `${storeId}-b`]));
        expect(await store.getGateway(uniqueId('gw'))).toBeUndefined();
      });

      it("keeps a gateway's presence settings, replaces them as a whole, and knows none for other gateways", async () => {
        const gateway = await store.upsertGateway({ id: uniqueId('gw'), storeId: 'store-1', zoneId: 'entrance', secretSealed: Buffer.from('s') });
        expect(await store.getGatewaySettings(gateway.id)).toBeUndefined();
        await store.setGatewaySettings({ gatewayId: gateway.id, presence: { enterRssiDbm: -75, exitRssiDbm: -85, minSightings: 3 }, updatedAtMs: START_MS });
        expect(await store.getGatewaySettings(gateway.id)).toEqual({ gatewayId: gateway.id, presence: { enterRssiDbm: -75, exitRssiDbm: -85, minSightings: 3 }, updatedAtMs: START_MS });
        await store.setGatewaySettings({ gatewayId: gateway.id, presence: { dwellIntervalMs: 60_000 }, updatedAtMs: START_MS + 1 });
        // Another server instance sees the latest settings.
        expect(await (await anotherInstance()).getGatewaySettings(gateway.id)).toEqual({ gatewayId: gateway.id, presence: { dwellIntervalMs: 60_000 }, updatedAtMs: START_MS + 1 });
        expect(await store.getGatewaySettings(uniqueId('gw'))).toBeUndefined();
      });

      it('refuses settings for a gateway that does not exist', async () => {
        await expect(store.setGatewaySettings({ gatewayId: uniqueId('gw'), presence: {}, updatedAtMs: START_MS })).rejects.toThrow();
      });
    });

    describe('epoch keys', () => {
      const key = (storeId: string, notBeforeS: number, notAfterS: number) => ({ keyId: uniqueId('key'), storeId, keySealed: randomBytes(16), notBeforeS, notAfterS });

      it('lists epoch keys oldest first', async () => {
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Keys', timezone: 'UTC' });
        const base = 2_000_000_000;
        const [newest, oldest, middle] = [key(storeId, base + 200, base + 300), key(storeId, base, base + 100), key(storeId, base + 100, base + 200)];
        for (const k of [newest, oldest, middle]) await store.insertEpochKey(k);

        expect(await store.listEpochKeys(storeId)).toEqual([oldest, middle, newest]);
        expect((await store.listEpochKeys()).filter((k) => k.storeId === storeId)).toEqual([oldest, middle, newest]);
      });

      it('destroys only keys whose validity ended before the cutoff', async () => {
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Old keys', timezone: 'UTC' });
        // Far in the past, so no other test's keys are old enough to be destroyed.
        const keys = [key(storeId, 0, 1000), key(storeId, 1000, 2000), key(storeId, 2000, 2500), key(storeId, 2500, 3000)];
        for (const k of keys) await store.insertEpochKey(k);
        const before = await store.counts();

        expect(await store.destroyEpochKeys(2500)).toBe(2);
        expect(await store.listEpochKeys(storeId)).toEqual(keys.slice(2));
        expect((await store.listEpochKeys()).map((k) => k.keyId)).not.toContain(keys[0]!.keyId);
        expect((await store.counts()).epochKeys).toBe(before.epochKeys - 2);
        expect(await store.destroyEpochKeys(2500)).toBe(0);
      });
    });

    describe('shoppers', () => {
      it('finds a shopper by token hash and by ID', async () => {
        const shopper = aShopper({ identityKeySealed: null, firstName: null });
        await store.createShopper(shopper);

        expect(await store.findShopperByTokenHash(shopper.tokenHash)).toEqual(shopper);
        expect(await store.getShopper(shopper.id)).toEqual(shopper);
        expect(await store.findShopperByTokenHash('0'.repeat(64))).toBeUndefined();
        expect(await store.getShopper(uniqueId('sh'))).toBeUndefined();
      });

      it('lets the resolver index only shoppers with presence granted who are not erased', async () => {
        const resolvable = await givenShopper({ presence: true });
        const withdrawn = await givenShopper({ presence: true });
        await withdraw(store, withdrawn.id, 'presence');
        const promotionsOnly = await givenShopper({ promotions: true });
        const erased = await givenShopper({ presence: true }, { erasedAtMs: START_MS });
        const silent = await givenShopper({});
        const ours = new Set([resolvable, withdrawn, promotionsOnly, erased, silent].map((s) => s.id));

        const listed = (await store.listResolvableShoppers()).filter((s) => ours.has(s.id));
        expect(listed).toEqual([{ id: resolvable.id, identityKeySealed: resolvable.identityKeySealed, rotationExponent: resolvable.rotationExponent }]);
      });

      it('lists the shoppers whose presence consent changed, or who were erased, since a time — for an incremental resync', async () => {
        // Far in the future, so no other test's consent changes fall after `since`.
        const since = START_MS + 400 * 86_400_000;
        const before = await givenShopper({ presence: true });
        const granted = await givenShopper({});
        await store.appendConsent([aConsent({ shopperId: granted.id, purpose: 'presence', granted: true, serverTimeMs: since })]);
        const withdrawn = await givenShopper({ presence: true });
        await withdraw(store, withdrawn.id, 'presence', since + 1_000);
        const promotionsOnly = await givenShopper({});
        await store.appendConsent([aConsent({ shopperId: promotionsOnly.id, purpose: 'promotions', granted: true, serverTimeMs: since + 1_000 })]);
        const erased = await givenShopper({ presence: true }, { erasedAtMs: since + 2_000 });
        const ours = new Set([before, granted, withdrawn, promotionsOnly, erased].map((s) => s.id));

        const changed = (await store.listShopperChangesSince(since)).filter((id) => ours.has(id));
        expect(changed).toEqual([granted.id, withdrawn.id, erased.id].sort());
        expect((await store.listShopperChangesSince(since + 1_001)).filter((id) => ours.has(id))).toEqual([erased.id]);
      });
    });

    describe('app credentials and request-proof nonces', () => {
      const refusal = (subject: string, reason: string): AuditDraft => ({ atMs: START_MS, actor: 'shopper', action: 'credential.refused', subject, details: { reason, route: '/v1/me' } });
      const auditedFor = async (subject: string): Promise<AuditRecord[]> => {
        const found: AuditRecord[] = [];
        for (let from = 1; ; ) {
          const page = await store.listAudit(from, 500);
          found.push(...page.filter((record) => record.subject === subject));
          if (page.length < 500) return found;
          from = page.at(-1)!.seq + 1;
        }
      };
      const newHash = (): string => randomBytes(32).toString('hex');

      it('counts a new shopper\'s credential from registration unless told otherwise', async () => {
        const shopper = aShopper({ createdAtMs: START_MS + 5 });
        const { tokenIssuedAtMs: _issued, ...withoutIssue } = shopper;
        await store.createShopper(withoutIssue);
        expect((await store.getShopper(shopper.id))?.tokenIssuedAtMs).toBe(START_MS + 5);
      });

      it('rotates a credential only from the current one, keeps the replaced one in the history and audits in the same step', async () => {
        const shopper = await givenShopper({});
        const next = newHash();
        const rotation = { shopperId: shopper.id, previousTokenHash: shopper.tokenHash, tokenHash: next, atMs: START_MS + DAY_MS };
        expect(await store.rotateAppToken(rotation, { ...refusal(shopper.id, 'x'), action: 'credential.rotated', details: {} })).toBe('rotated');

        expect(await store.findShopperByTokenHash(shopper.tokenHash)).toBeUndefined();
        expect(await store.findShopperByTokenHash(next)).toMatchObject({ id: shopper.id, tokenIssuedAtMs: START_MS + DAY_MS });
        expect(await store.findReplacedAppToken(shopper.tokenHash)).toEqual({ shopperId: shopper.id, replacedAtMs: START_MS + DAY_MS });
        expect(await store.findReplacedAppToken(next)).toBeUndefined();
        expect((await auditedFor(shopper.id)).map((r) => r.action)).toEqual(['credential.rotated']);
        // The old credential again: it is no longer the current one.
        expect(await store.rotateAppToken({ ...rotation, tokenHash: newHash() })).toBe('conflict');
        expect(await store.findShopperByTokenHash(next)).toMatchObject({ id: shopper.id });
      });

      it('lets exactly one of two concurrent rotations from the same credential win, across instances', async () => {
        const shopper = await givenShopper({});
        const other = await anotherInstance();
        const [a, b] = [newHash(), newHash()];
        const results = await Promise.all([
          store.rotateAppToken({ shopperId: shopper.id, previousTokenHash: shopper.tokenHash, tokenHash: a, atMs: START_MS + 1 }),
          other.rotateAppToken({ shopperId: shopper.id, previousTokenHash: shopper.tokenHash, tokenHash: b, atMs: START_MS + 1 }),
        ]);
        expect([...results].sort()).toEqual(['conflict', 'rotated']);
        const winner = results[0] === 'rotated' ? a : b;
        expect(await store.findShopperByTokenHash(winner)).toMatchObject({ id: shopper.id });
        expect(await store.findShopperByTokenHash(winner === a ? b : a)).toBeUndefined();
      });

      it('never rotates an erased shopper\'s credential', async () => {
        const shopper = await givenShopper({}, { erasedAtMs: START_MS });
        expect(await store.rotateAppToken({ shopperId: shopper.id, previousTokenHash: shopper.tokenHash, tokenHash: newHash(), atMs: START_MS + 1 })).toBe('conflict');
      });

      it(`keeps only the latest ${APP_TOKEN_HISTORY_LIMIT} replaced credentials of a shopper`, async () => {
        const shopper = await givenShopper({});
        const hashes = [shopper.tokenHash];
        for (let i = 1; i <= APP_TOKEN_HISTORY_LIMIT + 2; i += 1) {
          hashes.push(newHash());
          expect(await store.rotateAppToken({ shopperId: shopper.id, previousTokenHash: hashes[i - 1]!, tokenHash: hashes[i]!, atMs: START_MS + i })).toBe('rotated');
        }
        const remembered = await Promise.all(hashes.slice(0, -1).map((hash) => store.findReplacedAppToken(hash)));
        expect(remembered.map((found) => found !== undefined)).toEqual([false, false, ...Array<boolean>(APP_TOKEN_HISTORY_LIMIT).fill(true)]);
      });

      it('audits the refusal of an expired credential once per credential, even when refused on two instances at once', async () => {
        const shopper = await givenShopper({});
        const other = await anotherInstance();
        const expired = { reason: 'expired' as const, shopperId: shopper.id, tokenHash: shopper.tokenHash };
        const firsts = await Promise.all([store, other, store, other].map((s) => s.auditCredentialRefusalOnce(expired, refusal(shopper.id, 'expired'), START_MS)));
        expect(firsts.filter(Boolean)).toHaveLength(1);
        expect(await store.auditCredentialRefusalOnce(expired, refusal(shopper.id, 'expired'), START_MS + 1)).toBe(false);
        // A credential that is not the current one is not "expired" here.
        expect(await store.auditCredentialRefusalOnce({ ...expired, tokenHash: newHash() }, refusal(shopper.id, 'expired'), START_MS)).toBe(false);
        // After a rotation, the new credential's first expiry is audited again; the replaced one's first refusal too, once.
        const next = newHash();
        await store.rotateAppToken({ shopperId: shopper.id, previousTokenHash: shopper.tokenHash, tokenHash: next, atMs: START_MS + 2 });
        expect(await store.auditCredentialRefusalOnce({ ...expired, tokenHash: next }, refusal(shopper.id, 'expired'), START_MS + 3)).toBe(true);
        const rotated = { reason: 'rotated' as const, tokenHash: shopper.tokenHash };
        expect(await store.auditCredentialRefusalOnce(rotated, refusal(shopper.id, 'rotated'), START_MS + 4)).toBe(true);
        expect(await store.auditCredentialRefusalOnce(rotated, refusal(shopper.id, 'rotated'), START_MS + 5)).toBe(false);
        expect(await store.auditCredentialRefusalOnce({ reason: 'rotated', tokenHash: newHash() }, refusal(shopper.id, 'rotated'), START_MS)).toBe(false);
        expect((await auditedFor(shopper.id)).map((r) => r.details.reason)).toEqual(['expired', 'expired', 'rotated']);
      });

      it('claims a proof nonce once per shopper, across instances, until the purge removes it after its expiry', async () => {
        const [ada, bob] = [await givenShopper({}), await givenShopper({})];
        const other = await anotherInstance();
        const nonce = randomBytes(16).toString('hex');
        const claims = await Promise.all([store, other, store, other, store].map((s) => s.claimProofNonce(ada.id, nonce, START_MS + 601_000)));
        expect(claims.filter((claim) => claim === 'new')).toHaveLength(1);
        expect(await store.claimProofNonce(bob.id, nonce, START_MS + 601_000)).toBe('new');

        const old = randomBytes(16).toString('hex');
        expect(await store.claimProofNonce(ada.id, old, START_MS - 1)).toBe('new');
        expect((await store.purgeBefore('proof-nonces', START_MS, 100)).deleted).toBeGreaterThanOrEqual(1);
        expect(await store.claimProofNonce(ada.id, old, START_MS + 601_000)).toBe('new');
        expect(await store.claimProofNonce(ada.id, nonce, START_MS + 601_000)).toBe('replay');
      });
    });

    describe('linked beacons', () => {
      it('lists a shopper\'s own beacons oldest first, and only theirs', async () => {
        const shopper = await givenShopper();
        const other = await givenShopper();
        const later = aLinkedBeacon({ shopperId: shopper.id, kind: 'eddystone-uid', createdAtMs: START_MS + SECOND_MS });
        const earlier = aLinkedBeacon({ shopperId: shopper.id, createdAtMs: START_MS });
        expect(await store.addBeacon(later)).toBe('added');
        expect(await store.addBeacon(earlier)).toBe('added');
        expect(await store.addBeacon(aLinkedBeacon({ shopperId: other.id }))).toBe('added');

        expect(await store.listBeacons(shopper.id)).toEqual([earlier, later]);
        expect(await store.listBeacons(uniqueId('sh'))).toEqual([]);
      });

      it('refuses to link a beacon whose digest is linked already, to the same shopper or another, and keeps the first', async () => {
        const first = await givenShopper();
        const second = await givenShopper();
        const linked = aLinkedBeacon({ shopperId: first.id });
        await store.addBeacon(linked);

        expect(await store.addBeacon(aLinkedBeacon({ shopperId: second.id, identifierDigest: linked.identifierDigest }))).toBe('conflict');
        expect(await store.addBeacon(aLinkedBeacon({ shopperId: first.id, identifierDigest: linked.identifierDigest }))).toBe('conflict');
        expect(await store.listBeacons(first.id)).toEqual([linked]);
        expect(await store.listBeacons(second.id)).toEqual([]);
      });

      it('links a beacon to exactly one of two instances racing to link it', async () => {
        const other = await anotherInstance();
        const shoppers = await Promise.all([givenShopper(), givenShopper()]);
        const digest = randomBytes(32).toString('hex');
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? store : other).addBeacon(aLinkedBeacon({ shopperId: shoppers[i % 2]!.id, identifierDigest: digest }))));
        expect(results.filter((r) => r === 'added')).toHaveLength(1);
        expect((await store.listBeacons(shoppers[0]!.id)).length + (await store.listBeacons(shoppers[1]!.id)).length).toBe(1);
      });

      it('unlinks only the shopper\'s own beacon, after which its identifier can be linked again', async () => {
        const owner = await givenShopper();
        const stranger = await givenShopper();
        const beacon = aLinkedBeacon({ shopperId: owner.id });
        await store.addBeacon(beacon);

        expect(await store.removeBeacon(stranger.id, beacon.id)).toBe(false);
        expect(await store.listBeacons(owner.id)).toEqual([beacon]);
        expect(await store.removeBeacon(owner.id, beacon.id)).toBe(true);
        expect(await store.removeBeacon(owner.id, beacon.id)).toBe(false);
        expect(await store.listBeacons(owner.id)).toEqual([]);
        expect(await store.addBeacon(aLinkedBeacon({ shopperId: stranger.id, identifierDigest: beacon.identifierDigest }))).toBe('added');
      });

      it('resolves only the beacons of shoppers with presence granted who are not erased', async () => {
        const resolvable = await givenShopper({ presence: true });
        const withdrawn = await givenShopper({ presence: true });
        const promotionsOnly = await givenShopper({ promotions: true });
        const erased = await givenShopper({ presence: true }, { erasedAtMs: START_MS });
        const beacons = [resolvable, withdrawn, promotionsOnly, erased].map((s) => aLinkedBeacon({ shopperId: s.id }));
        for (const beacon of beacons) await store.addBeacon(beacon);
        const ours = new Set(beacons.map((b) => b.id));

        expect((await store.listResolvableBeacons()).filter((b) => ours.has(b.id))).toEqual([beacons[0], beacons[1]]
          .sort((a, b) => (a!.id < b!.id ? -1 : 1)));
        await withdraw(store, withdrawn.id, 'presence');
        expect((await store.listResolvableBeacons()).filter((b) => ours.has(b.id))).toEqual([beacons[0]]);
        await regrant(withdrawn.id, 'presence');
        expect((await store.listResolvableBeacons()).filter((b) => ours.has(b.id)).map((b) => b.id)).toContain(beacons[1]!.id);
      });

      it('lists one shopper\'s resolvable beacons alone, by ID, and none for a shopper who may not resolve', async () => {
        const [ada, bob] = [await givenShopper({ presence: true }), await givenShopper({ presence: true })];
        const adas = [aLinkedBeacon({ shopperId: ada.id }), aLinkedBeacon({ shopperId: ada.id })].sort((a, b) => (a.id < b.id ? -1 : 1));
        for (const beacon of [...adas, aLinkedBeacon({ shopperId: bob.id })]) await store.addBeacon(beacon);

        expect(await store.listResolvableBeacons(ada.id)).toEqual(adas);
        await withdraw(store, ada.id, 'presence');
        expect(await store.listResolvableBeacons(ada.id)).toEqual([]);
        expect((await store.listResolvableBeacons(bob.id)).map((b) => b.shopperId)).toEqual([bob.id]);
        expect(await store.listResolvableBeacons(uniqueId('sh'))).toEqual([]);
      });
    });

    describe('consent', () => {
      it('derives the state from the last answer per purpose', async () => {
        const shopper = await givenShopper({});
        await store.appendConsent([
          aConsent({ shopperId: shopper.id, purpose: 'presence', granted: true, serverTimeMs: START_MS }),
          aConsent({ shopperId: shopper.id, purpose: 'analytics', granted: true, serverTimeMs: START_MS, textVersion: '2029-12' }),
        ]);
        const state = await store.appendConsent([aConsent({ shopperId: shopper.id, purpose: 'presence', granted: false, previousGranted: true, serverTimeMs: START_MS + SECOND_MS })]);

        const expected = {
          presence: { granted: false, textVersion: '2030-01', atMs: START_MS + SECOND_MS },
          analytics: { granted: true, textVersion: '2029-12', atMs: START_MS },
        };
        expect(state).toEqual(expected);
        expect(await store.getConsentState(shopper.id)).toEqual(expected);
        expect(await store.getConsentState(uniqueId('sh'))).toEqual({});
      });

      it('replays consent records in order, each keeping the answer it replaced', async () => {
        const shopper = await givenShopper({});
        const records = [
          aConsent({ shopperId: shopper.id, purpose: 'promotions', granted: true, previousGranted: null, clientTimeMs: START_MS - 40 }),
          aConsent({ shopperId: shopper.id, purpose: 'promotions', granted: false, previousGranted: true, serverTimeMs: START_MS + 1, channel: 'console' }),
          aConsent({ shopperId: shopper.id, purpose: 'promotions', granted: true, previousGranted: false, serverTimeMs: START_MS + 2, channel: 'api' }),
        ];
        await store.appendConsent(records.slice(0, 2));
        await store.appendConsent(records.slice(2));

        const replayed = await store.listConsentRecords(shopper.id);
        expect(replayed).toEqual(records);
        expect(replayConsent(replayed)).toEqual(await store.getConsentState(shopper.id));
      });

      it('reads each record\'s previous state in the transaction: racing changes from two instances chain, and their audit entries say the same', async () => {
        const shopper = await givenShopper({});
        const other = await anotherInstance();
        const audit = (records: readonly ConsentRecord[]) => records.map((r) => ({ atMs: r.serverTimeMs, actor: 'shopper', action: 'consent.changed', subject: r.shopperId, details: { purpose: r.purpose, previousGranted: r.previousGranted } }));
        // The callers' idea of the previous state is wrong on purpose (a stale read): the Store ignores it.
        await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).appendConsent(
          [aConsent({ shopperId: shopper.id, purpose: 'analytics', granted: i % 3 !== 0, previousGranted: null, serverTimeMs: START_MS + i })], audit)));

        const records = await store.listConsentRecords(shopper.id);
        expect(records).toHaveLength(20);
        expect(records.map((r) => r.previousGranted)).toEqual([null, ...records.slice(0, -1).map((r) => r.granted)]);
        const entries = (await store.listAudit(1, 100_000)).filter((e) => e.subject === shopper.id);
        expect(entries.map((e) => e.details.previousGranted)).toEqual(records.map((r) => r.previousGranted));
      });

      it.each(['presence', 'promotions'] as const)('cancels pending promotions when %s consent is withdrawn', async (purpose) => {
        const shopper = await givenShopper();
        const pending = aDraft({ shopperId: shopper.id });
        const acked = aDraft({ shopperId: shopper.id, createdAtMs: START_MS + SECOND_MS });
        await store.recordPromotion(pending);
        await store.recordPromotion(acked);
        await store.ackPromotion(shopper.id, acked.message.id, START_MS + 2 * SECOND_MS);

        await withdraw(store, shopper.id, purpose);

        expect(await store.listUnackedPromotions(shopper.id, START_MS)).toEqual([]);
        expect((await current(pending)).status).toBe('cancelled');
        expect((await current(acked)).status).toBe('acked');
      });

      it('keeps pending promotions when only analytics consent is withdrawn', async () => {
        const shopper = await givenShopper({ presence: true, promotions: true, analytics: true });
        const draft = aDraft({ shopperId: shopper.id });
        await store.recordPromotion(draft);

        await withdraw(store, shopper.id, 'analytics');

        expect((await store.listUnackedPromotions(shopper.id, START_MS)).map((p) => p.id)).toEqual([draft.message.id]);
      });
    });

    describe('consent ledger', () => {
      const aText = (overrides: Partial<ConsentText> = {}): ConsentText => {
        const text = overrides.text ?? `Text ${uniqueId('t')}`;
        return { purpose: 'presence', version: uniqueId('v'), locale: 'en', text, sha256: sha256Text(text), ...overrides };
      };
      const allCurrent = (version: string): Record<Purpose, string> => Object.fromEntries(PURPOSES.map((p) => [p, version])) as Record<Purpose, string>;

      /** Every candidate, page by page, kept to the given shoppers (the database is shared). */
      async function candidatesOf(shopperIds: readonly string[], query: Omit<LapseCandidateQuery, 'after' | 'limit'>, limit = 1_000): Promise<LapseCandidate[]> {
        const found: LapseCandidate[] = [];
        let after: LapseCandidateQuery['after'];
        for (;;) {
          const page = await store.listConsentLapseCandidates({ ...query, after, limit });
          found.push(...page);
          const last = page.at(-1);
          if (last === undefined || page.length < limit) break;
          after = { shopperId: last.shopperId, purpose: last.purpose };
        }
        return found.filter((c) => shopperIds.includes(c.shopperId));
      }

      const lapseWrite = (shopperId: string, purpose: Purpose, expected: { textVersion: string; atMs: number }, reason: LapseReason, atMs: number): ConsentLapseWrite => ({
        record: aConsent({ shopperId, purpose, granted: false, previousGranted: true, channel: 'system', reason, textVersion: expected.textVersion, serverTimeMs: atMs }),
        expected,
        audit: { atMs, actor: 'system', action: 'consent.changed', subject: shopperId, details: { purpose, reason } },
      });

      it('archives each text once, by hash, and never changes an archived one', async () => {
        const texts = [aText(), aText({ locale: 'it' })];
        expect(await store.archiveConsentTexts(texts, START_MS)).toBe(2);
        expect(await store.archiveConsentTexts(texts, START_MS + DAY_MS)).toBe(0);
        expect(await store.getConsentText(texts[1]!.sha256)).toEqual({ ...texts[1], archivedAtMs: START_MS });
        expect(await store.getConsentText('0'.repeat(64))).toBeUndefined();
      });

      it('refuses a text changed under an archived version, naming it, and archives none of the call', async () => {
        const archived = aText({ purpose: 'promotions' });
        await store.archiveConsentTexts([archived], START_MS);
        const fresh = aText();
        const edited = aText({ purpose: 'promotions', version: archived.version, text: `${archived.text} (edited)` });
        await expect(store.archiveConsentTexts([fresh, edited], START_MS)).rejects.toThrow(`consent text promotions ${archived.version} en changed`);
        expect(await store.getConsentText(fresh.sha256)).toBeUndefined();
        expect(await store.getConsentText(edited.sha256)).toBeUndefined();
        expect((await store.getConsentText(archived.sha256))?.text).toBe(archived.text);
      });

      it('agrees on one archive when two instances archive the same texts at once', async () => {
        const other = await anotherInstance();
        const texts = [aText(), aText(), aText()];
        const added = await Promise.all([store.archiveConsentTexts(texts, START_MS), other.archiveConsentTexts(texts, START_MS + 1)]);
        expect(added[0] + added[1]).toBe(3);
        for (const text of texts) expect((await other.getConsentText(text.sha256))?.text).toBe(text.text);
      });

      it('keeps a shopper\'s age-gate facts from registration and from a later change', async () => {
        const shopper = await givenShopper({}, { country: 'IT', birthYear: 2001 });
        expect(await store.getShopper(shopper.id)).toMatchObject({ country: 'IT', birthYear: 2001 });
        await store.setShopperAgeFacts(shopper.id, { country: 'DE', birthYear: null });
        expect(await store.getShopper(shopper.id)).toMatchObject({ country: 'DE', birthYear: null });
        expect((await givenShopper({})).country ?? null).toBeNull();
      });

      it('lists the grants that may have lapsed: superseded, old, or age-gated without a safe birth year — page by page', async () => {
        const current = uniqueId('v');
        const grantedAt = START_MS + 100 * DAY_MS;
        const give = async (purpose: Purpose, granted: boolean, textVersion: string, serverTimeMs: number, facts: Partial<ShopperRecord> = {}): Promise<ShopperRecord> => {
          const shopper = await givenShopper({}, facts);
          await store.appendConsent([aConsent({ shopperId: shopper.id, purpose, granted, textVersion, serverTimeMs, locale: 'it', textSha256: 'b'.repeat(64) })]);
          return shopper;
        };
        const fine = await give('presence', true, current, grantedAt);
        const superseded = await give('analytics', true, 'old', grantedAt);
        const old = await give('presence', true, current, START_MS);
        const withdrawn = await give('presence', false, 'old', START_MS);
        const noAge = await give('promotions', true, current, grantedAt, { country: 'DE' });
        const young = await give('personalisation', true, current, grantedAt, { country: 'DE', birthYear: 2015 });
        const adult = await give('promotions', true, current, grantedAt, { country: 'DE', birthYear: 1980 });
        const erased = await give('presence', true, 'old', START_MS, { erasedAtMs: START_MS });
        const ids = [fine, superseded, old, withdrawn, noAge, young, adult, erased].map((s) => s.id);
        const query = { currentVersions: allCurrent(current), grantedBeforeMs: START_MS + DAY_MS, ageGated: { purposes: ['personalisation', 'promotions'] as Purpose[], bornAfterYear: 2000 } };

        const found = await candidatesOf(ids, query);
        expect(new Set(found.map((c) => c.shopperId))).toEqual(new Set([superseded.id, old.id, noAge.id, young.id]));
        expect(found.find((c) => c.shopperId === young.id)).toEqual({
          shopperId: young.id, purpose: 'personalisation', textVersion: current, atMs: grantedAt, textSha256: 'b'.repeat(64), locale: 'it', country: 'DE', birthYear: 2015,
        });
        expect(await candidatesOf(ids, query, 2)).toEqual(found);
      });

      it('appends a lapse only while the state is still the grant it read', async () => {
        const shopper = await givenShopper({ presence: true, promotions: true });
        const pending = aDraft({ shopperId: shopper.id });
        await store.recordPromotion(pending);
        const expected = { textVersion: '2030-01', atMs: START_MS };
        const stale = lapseWrite(shopper.id, 'promotions', { ...expected, atMs: START_MS - 1 }, 'expired', START_MS + DAY_MS);
        const lapse = lapseWrite(shopper.id, 'presence', expected, 'text-superseded', START_MS + DAY_MS);
        const before = await store.listAudit(1, 1_000_000);

        const appended = await store.appendConsentLapses([stale, lapse]);
        expect(appended).toEqual([lapse.record]);
        expect((await store.listConsentRecords(shopper.id)).at(-1)).toEqual({ ...lapse.record, channel: 'system', reason: 'text-superseded' });
        expect(await store.getConsentState(shopper.id)).toMatchObject({ presence: { granted: false, atMs: START_MS + DAY_MS }, promotions: { granted: true } });
        expect((await store.getPromotion(pending.message.id))?.status).toBe('cancelled');
        const audit = (await store.listAudit(1, 1_000_000)).slice(before.length);
        expect(audit.filter((e) => e.subject === shopper.id).map((e) => e.details)).toEqual([{ purpose: 'presence', reason: 'text-superseded' }]);
        // Replayed again (another run, or the shopper answered): the state is no longer that grant.
        expect(await store.appendConsentLapses([lapseWrite(shopper.id, 'presence', expected, 'text-superseded', START_MS + 2 * DAY_MS)])).toEqual([]);
      });

      it('appends each lapse exactly once when two instances run the lapse job at once', async () => {
        const other = await anotherInstance();
        const shoppers = await Promise.all(Array.from({ length: 12 }, () => givenShopper({ presence: true, personalisation: true, promotions: true })));
        const writes = (atMs: number): ConsentLapseWrite[] => shoppers.flatMap((s) =>
          (['presence', 'personalisation', 'promotions'] as const).map((purpose) => lapseWrite(s.id, purpose, { textVersion: '2030-01', atMs: START_MS }, 'expired', atMs)));
        const [mine, theirs] = await Promise.all([store.appendConsentLapses(writes(START_MS + DAY_MS)), other.appendConsentLapses(writes(START_MS + DAY_MS))]);
        expect(mine.length + theirs.length).toBe(36);
        for (const shopper of shoppers) {
          const lapses = (await store.listConsentRecords(shopper.id)).filter((r) => r.channel === 'system');
          expect(lapses.map((r) => r.purpose).sort()).toEqual(['personalisation', 'presence', 'promotions']);
        }
      });

      it('rebuilds the state from the ledger: the same state a replay of any sequence of grants, withdrawals and lapses gives', async () => {
        const op = fc.record({
          shopper: fc.integer({ min: 0, max: 2 }),
          purpose: fc.constantFrom(...PURPOSES),
          kind: fc.constantFrom('grant', 'withdraw', 'text-superseded', 'expired', 'age-gate'),
          version: fc.constantFrom('v1', 'v2'),
        });
        await fc.assert(fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }), async (batches) => {
          const shoppers = await Promise.all([0, 1, 2].map(() => givenShopper({})));
          let atMs = START_MS;
          for (const batch of batches) {
            const records: ConsentRecord[] = batch.map((o) => {
              atMs += SECOND_MS;
              const lapse = o.kind !== 'grant' && o.kind !== 'withdraw';
              return aConsent({
                shopperId: shoppers[o.shopper]!.id, purpose: o.purpose, granted: o.kind === 'grant', textVersion: o.version, serverTimeMs: atMs,
                channel: lapse ? 'system' : 'app', reason: lapse ? (o.kind as LapseReason) : null,
              });
            });
            await store.appendConsent(records);
          }
          const states = await Promise.all(shoppers.map((s) => store.getConsentState(s.id)));
          for (const [i, shopper] of shoppers.entries()) expect(states[i]).toEqual(replayConsent(await store.listConsentRecords(shopper.id)));
          expect(await store.rebuildConsentState()).toBeGreaterThanOrEqual(states.reduce((n, state) => n + Object.keys(state).length, 0));
          expect(await Promise.all(shoppers.map((s) => store.getConsentState(s.id)))).toEqual(states);
        }), { numRuns: 12 });
      });

      it('finds no drift between the state and the ledger when every change went through the port, before and after a rebuild', async () => {
        const shopper = await givenShopper({ presence: true, analytics: false });
        await store.appendConsentLapses([lapseWrite(shopper.id, 'presence', { textVersion: '2030-01', atMs: START_MS }, 'expired', START_MS + DAY_MS)]);
        expect(await store.findConsentStateDrift(100)).toEqual([]);
        await store.rebuildConsentState();
        expect(await store.findConsentStateDrift(100)).toEqual([]);
        expect(await store.getConsentState(shopper.id)).toMatchObject({ presence: { granted: false, atMs: START_MS + DAY_MS }, analytics: { granted: false } });
      });
    });

    describe('campaigns', () => {
      it('round-trips campaigns and lists them per store', async () => {
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Campaigns', timezone: 'UTC' });
        const dwell = aCampaign({
          storeId,
          trigger: { kind: 'dwell', minDwellS: 30 },
          message: { title: 'Hello {{firstName}}', body: 'Ten percent off shoes.', deepLink: 'https://example.com/shoes', validForS: 600 },
          schedule: { from: '2030-01-07T09:00', until: '2030-01-08T09:00' },
          priority: 7,
        });
        const exit = aCampaign({ storeId, trigger: { kind: 'exit' }, status: 'draft' });
        await store.putCampaign(dwell, START_MS);
        await store.putCampaign(exit, START_MS);
        const paused: Campaign = { ...dwell, status: 'paused' };
        await store.putCampaign(paused, START_MS + SECOND_MS);

        const byId = (a: Campaign, b: Campaign): number => (a.id < b.id ? -1 : 1);
        expect(await store.listCampaigns(storeId)).toEqual([paused, exit].sort(byId));
        expect((await store.listCampaigns()).filter((c) => c.placement.level === 'zones' && c.placement.storeId === storeId)).toEqual([paused, exit].sort(byId));
      });

      it('lists a campaign placed in several stores under each of them, and not under another', async () => {
        const [a, b, c] = [uniqueId('st'), uniqueId('st'), uniqueId('st')];
        for (const id of [a, b, c]) await store.upsertStore({ id, name: id, timezone: 'UTC' });
        const wide = aCampaign({ placement: { level: 'stores', storeIds: [a, b] } });
        await store.putCampaign(wide, START_MS);
        expect(await store.listCampaigns(a)).toEqual([wide]);
        expect(await store.listCampaigns(b)).toEqual([wide]);
        expect(await store.listCampaigns(c)).toEqual([]);
      });
    });

    describe('campaign lifecycle', () => {
      const save = (target: Store, campaign: Campaign, expected: { status: Campaign['status']; version: number } | null, actor = 'maker', atMs = START_MS) =>
        target.saveCampaignDefinition({ campaign, definitionSha256: definitionSha256(campaign), expected, actor, atMs });

      /** A draft saved by `maker`, then submitted by them: pending at version 1. */
      async function givenPending(): Promise<Campaign> {
        const campaign = aCampaign({ status: 'draft' });
        expect(await save(store, campaign, null)).toBe(true);
        expect(await store.transitionCampaign({ id: campaign.id, action: 'submit', actor: 'maker', atMs: START_MS + 1 })).toMatchObject({ campaign: { status: 'pending' }, submittedBy: 'maker' });
        return campaign;
      }

      it('saves a new campaign once, with its metadata and its first version', async () => {
        const campaign = aCampaign({ status: 'draft' });
        expect(await save(store, campaign, null, 'maker', START_MS)).toBe(true);
        expect(await save(store, campaign, null, 'other', START_MS + 1)).toBe(false);
        expect(await store.getCampaign(campaign.id)).toEqual({
          campaign, createdAtMs: START_MS, updatedAtMs: START_MS, authoredBy: 'maker', authoredAtMs: START_MS,
          submittedBy: null, submittedAtMs: null, approvedBy: null, approvedAtMs: null, statusChangedBy: 'maker', statusChangedAtMs: START_MS,
        });
        expect(await store.listCampaignVersions(campaign.id)).toEqual([
          { campaignId: campaign.id, version: 1, definition: definitionOf(campaign), definitionSha256: definitionSha256(campaign), authoredBy: 'maker', authoredAtMs: START_MS },
        ]);
        expect(await store.getCampaign('no-such-campaign')).toBeUndefined();
      });

      it('saves a new version only over the status and version read (compare-and-swap), keeping every version', async () => {
        const v1 = aCampaign({ status: 'draft' });
        await save(store, v1, null);
        const v2: Campaign = { ...v1, version: 2, name: 'Second' };
        expect(await save(store, v2, { status: 'draft', version: 1 }, 'editor', START_MS + 5)).toBe(true);
        // A writer that read version 1 too is now stale: nothing is written.
        expect(await save(store, { ...v1, version: 2, name: 'Lost' }, { status: 'draft', version: 1 })).toBe(false);
        expect(await save(store, { ...v1, version: 3 }, { status: 'paused', version: 2 })).toBe(false);
        expect((await store.getCampaign(v1.id))).toMatchObject({ campaign: v2, authoredBy: 'editor', authoredAtMs: START_MS + 5 });
        expect((await store.listCampaignVersions(v1.id)).map((v) => [v.version, v.definition.name, v.authoredBy])).toEqual([[1, v1.name, 'maker'], [2, 'Second', 'editor']]);
      });

      it('moves a campaign along its lifecycle only from the allowed statuses, recording who and when', async () => {
        const campaign = await givenPending();
        expect(await store.transitionCampaign({ id: campaign.id, action: 'pause', actor: 'checker', atMs: START_MS + 2 })).toBeUndefined();
        const approved = await store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'checker', atMs: START_MS + 3, expectedVersion: 1 });
        expect(approved).toMatchObject({ campaign: { status: 'active', version: 1 }, approvedBy: 'checker', approvedAtMs: START_MS + 3, submittedBy: 'maker', statusChangedBy: 'checker' });
        expect(await store.listCampaigns()).toContainEqual({ ...campaign, status: 'active' });
        expect(await store.transitionCampaign({ id: campaign.id, action: 'pause', actor: 'maker', atMs: START_MS + 4 })).toMatchObject({ campaign: { status: 'paused' } });
        expect(await store.transitionCampaign({ id: campaign.id, action: 'resume', actor: 'maker', atMs: START_MS + 5 })).toMatchObject({ campaign: { status: 'active' }, approvedBy: 'checker' });
        expect(await store.transitionCampaign({ id: campaign.id, action: 'end', actor: 'maker', atMs: START_MS + 6 })).toMatchObject({ campaign: { status: 'ended' } });
        expect(await store.transitionCampaign({ id: campaign.id, action: 'end', actor: 'maker', atMs: START_MS + 7 })).toBeUndefined();
        expect(await store.transitionCampaign({ id: 'no-such-campaign', action: 'end', actor: 'maker', atMs: START_MS })).toBeUndefined();
      });

      it('refuses, in the same write, an approval by the author or the submitter, or of another version', async () => {
        const campaign = await givenPending();
        expect(await store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'maker', atMs: START_MS + 2 })).toBeUndefined();
        expect(await store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'checker', atMs: START_MS + 2, expectedVersion: 2 })).toBeUndefined();
        expect((await store.getCampaign(campaign.id))?.campaign.status).toBe('pending');
        const rejected = await store.transitionCampaign({ id: campaign.id, action: 'reject', actor: 'checker', atMs: START_MS + 3 });
        expect(rejected).toMatchObject({ campaign: { status: 'draft' }, submittedBy: null });
      });

      it('clears the submission and approval when a new version is saved', async () => {
        const campaign = await givenPending();
        await store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'checker', atMs: START_MS + 2 });
        await store.transitionCampaign({ id: campaign.id, action: 'pause', actor: 'maker', atMs: START_MS + 3 });
        expect(await save(store, { ...campaign, version: 2 }, { status: 'paused', version: 1 }, 'editor', START_MS + 4)).toBe(true);
        expect(await store.getCampaign(campaign.id)).toMatchObject({
          campaign: { status: 'draft', version: 2 }, authoredBy: 'editor', submittedBy: null, approvedBy: null, approvedAtMs: null,
        });
      });

      /** The audit entries about one campaign: action, actor and the details that prove the change. */
      const auditOf = async (campaignId: string) => (await store.listAudit(0, 100_000)).filter((entry) => entry.subject === campaignId)
        .map(({ action, actor, details }): Record<string, unknown> => ({ action, actor, ...details }));

      it('audits each saved version and each applied action in its own transaction, and nothing that was refused', async () => {
        const campaign = await givenPending();
        expect(await save(store, campaign, null, 'late')).toBe(false);
        expect(await store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'maker', atMs: START_MS + 2 })).toBeUndefined();
        await store.transitionCampaign({ id: campaign.id, action: 'reject', actor: 'checker', atMs: START_MS + 3, reason: 'Wrong aisle' });
        const v2: Campaign = { ...campaign, version: 2, name: 'Second' };
        expect(await save(store, v2, { status: 'draft', version: 1 }, 'maker', START_MS + 4)).toBe(true);
        await store.transitionCampaign({ id: campaign.id, action: 'submit', actor: 'maker', atMs: START_MS + 5 });
        await store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'checker', atMs: START_MS + 6 });
        expect(await auditOf(campaign.id)).toEqual([
          { action: 'campaign.saved', actor: 'maker', from: null, to: 'draft', version: 1, definitionSha256: definitionSha256(campaign), placement: campaign.placement },
          { action: 'campaign.submitted', actor: 'maker', from: 'draft', to: 'pending', version: 1, definitionSha256: definitionSha256(campaign) },
          { action: 'campaign.rejected', actor: 'checker', from: 'pending', to: 'draft', version: 1, definitionSha256: definitionSha256(campaign), reason: 'Wrong aisle' },
          { action: 'campaign.saved', actor: 'maker', from: 'draft', to: 'draft', version: 2, definitionSha256: definitionSha256(v2), placement: campaign.placement },
          { action: 'campaign.submitted', actor: 'maker', from: 'draft', to: 'pending', version: 2, definitionSha256: definitionSha256(v2) },
          { action: 'campaign.approved', actor: 'checker', from: 'pending', to: 'active', version: 2, definitionSha256: definitionSha256(v2), authoredBy: 'maker', submittedBy: 'maker', approvedBy: 'checker' },
        ]);
      });

      it('audits the status it changed, not the one the caller read: an end after a concurrent pause says "from paused"', async () => {
        const campaign = await givenPending();
        await store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'checker', atMs: START_MS + 2 });
        // The caller read "active" at version 1; another instance paused it meanwhile; "end" applies from either.
        await (await anotherInstance()).transitionCampaign({ id: campaign.id, action: 'pause', actor: 'other', atMs: START_MS + 3 });
        expect(await store.transitionCampaign({ id: campaign.id, action: 'end', actor: 'maker', atMs: START_MS + 4, expectedVersion: 1 })).toMatchObject({ campaign: { status: 'ended' } });
        expect((await auditOf(campaign.id)).slice(-2).map((entry) => [entry.action, entry.from, entry.to])).toEqual([['campaign.paused', 'active', 'paused'], ['campaign.ended', 'paused', 'ended']]);
      });

      it('lets exactly one of two instances approve (or otherwise move) the same campaign at once', async () => {
        const other = await anotherInstance();
        for (let round = 0; round < 5; round += 1) {
          const campaign = await givenPending();
          const results = await Promise.all([
            store.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'checker-a', atMs: START_MS + 2, expectedVersion: 1 }),
            other.transitionCampaign({ id: campaign.id, action: 'approve', actor: 'checker-b', atMs: START_MS + 2, expectedVersion: 1 }),
            other.transitionCampaign({ id: campaign.id, action: 'reject', actor: 'checker-c', atMs: START_MS + 2, expectedVersion: 1 }),
          ]);
          expect(results.filter((r) => r !== undefined)).toHaveLength(1);
          const winner = results.find((r) => r !== undefined)!;
          expect(await store.getCampaign(campaign.id)).toEqual(winner);
          // One entry for the one that won, none for the two refused.
          expect((await auditOf(campaign.id)).map((entry) => entry.action)).toEqual(['campaign.saved', 'campaign.submitted', winner.approvedBy === null ? 'campaign.rejected' : 'campaign.approved']);
        }
      });

      it('saves exactly one of two concurrent edits of the same version', async () => {
        const other = await anotherInstance();
        const campaign = aCampaign({ status: 'draft' });
        await save(store, campaign, null);
        const results = await Promise.all([
          save(store, { ...campaign, version: 2, name: 'A' }, { status: 'draft', version: 1 }, 'a'),
          save(other, { ...campaign, version: 2, name: 'B' }, { status: 'draft', version: 1 }, 'b'),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.listCampaignVersions(campaign.id)).toHaveLength(2);
      });

      it('lists campaign records by status and store', async () => {
        const storeId = uniqueId('st');
        await store.upsertStore({ id: storeId, name: 'Lifecycle', timezone: 'UTC' });
        const draft = aCampaign({ storeId, status: 'draft' });
        const active = aCampaign({ storeId });
        await store.putCampaign(draft, START_MS);
        await store.putCampaign(active, START_MS);
        expect((await store.listCampaignRecords({ storeId })).map((r) => r.campaign.id).sort()).toEqual([draft.id, active.id].sort());
        expect((await store.listCampaignRecords({ storeId, status: 'draft' })).map((r) => r.campaign)).toEqual([draft]);
        expect((await store.listCampaignRecords({ status: 'active' })).map((r) => r.campaign.id)).toContain(active.id);
      });
    });

    describe('principals', () => {
      it('finds a principal by its key hash until it is revoked, and keeps it listed', async () => {
        const id = uniqueId('pri');
        const keyHash = randomBytes(32).toString('hex');
        await store.createPrincipal({ id, name: 'Ada', role: 'analyst', keyHash, createdAtMs: START_MS });
        expect(await store.findPrincipalByKeyHash(keyHash)).toEqual({ id, name: 'Ada', role: 'analyst', keyHash, createdAtMs: START_MS, revokedAtMs: null });
        expect(await store.revokePrincipal(id, START_MS + 1)).toBe(true);
        expect(await store.revokePrincipal(id, START_MS + 2)).toBe(false);
        expect(await store.findPrincipalByKeyHash(keyHash)).toBeUndefined();
        expect((await store.listPrincipals()).find((p) => p.id === id)).toMatchObject({ revokedAtMs: START_MS + 1 });
      });
    });

    describe('console users and sessions', () => {
      const IDLE_MS = 30 * 60_000;
      const LOCKOUT = { maxFailures: 3, lockMs: 15 * 60_000 };
      const givenUser = async (role: 'admin' | 'marketer' = 'marketer') => {
        const user = { id: uniqueId('usr'), username: uniqueId('user').toLowerCase(), role, passwordHash: 'scrypt$16$8$1$salt$key', createdAtMs: START_MS };
        expect(await store.createUser(user)).toBe(true);
        return user;
      };
      const newSession = (userId: string, atMs = START_MS) => ({ idHash: randomBytes(32).toString('hex'), userId, createdAtMs: atMs, expiresAtMs: atMs + 12 * 3600_000 });

      it('creates a user once per username, finds and lists it, and disables it', async () => {
        const user = await givenUser();
        expect(await store.createUser({ ...user, id: uniqueId('usr') })).toBe(false);
        expect(await store.findUserByUsername(user.username)).toEqual({ ...user, disabledAtMs: null, failedLogins: 0, lockedUntilMs: null });
        expect(await store.findUserByUsername(`${user.username}-nobody`)).toBeUndefined();
        expect(await store.disableUser(user.id, START_MS + 5)).toBe(true);
        expect(await store.disableUser(user.id, START_MS + 6)).toBe(false);
        expect((await store.listUsers()).find((u) => u.id === user.id)).toMatchObject({ disabledAtMs: START_MS + 5 });
      });

      it('finds an active session, moves its last-seen time, and reports it expired once idle or past its age', async () => {
        const user = await givenUser();
        const active = newSession(user.id);
        await store.createSession(active, IDLE_MS);
        const found = await store.lookupSession(active.idHash, START_MS + 60_000, IDLE_MS);
        expect(found).toMatchObject({ status: 'active', user: { id: user.id, role: 'marketer' }, session: { idHash: active.idHash, lastSeenAtMs: START_MS + 60_000 } });
        // Idle for less than the timeout since the last touch: still active, 31 minutes after creation.
        expect((await store.lookupSession(active.idHash, START_MS + 60_000 + IDLE_MS - 1, IDLE_MS)).status).toBe('active');
        expect((await store.lookupSession(active.idHash, START_MS + 60_000 + 2 * IDLE_MS, IDLE_MS)).status).toBe('expired');
        // A lapsed session is deleted when it is found lapsed.
        expect((await store.lookupSession(active.idHash, START_MS + 60_000 + 2 * IDLE_MS, IDLE_MS)).status).toBe('unknown');

        const old = newSession(user.id);
        await store.createSession({ ...old, expiresAtMs: START_MS + 1_000 }, IDLE_MS);
        expect((await store.lookupSession(old.idHash, START_MS + 1_000, IDLE_MS)).status).toBe('expired');
        expect((await store.lookupSession(randomBytes(32).toString('hex'), START_MS, IDLE_MS)).status).toBe('unknown');
      });

      it('deletes a session on logout, every session of a disabled user, and lapsed sessions when a new one starts', async () => {
        const user = await givenUser();
        const [a, b] = [newSession(user.id), newSession(user.id)];
        await store.createSession(a, IDLE_MS);
        await store.createSession(b, IDLE_MS);
        expect(await store.deleteSession(a.idHash)).toBe(true);
        expect(await store.deleteSession(a.idHash)).toBe(false);
        expect(await store.disableUser(user.id, START_MS + 1)).toBe(true);
        expect((await store.lookupSession(b.idHash, START_MS + 2, IDLE_MS)).status).toBe('unknown');

        const other = await givenUser();
        const stale = newSession(other.id);
        await store.createSession(stale, IDLE_MS);
        await store.createSession(newSession(other.id, START_MS + IDLE_MS + 1), IDLE_MS);
        expect((await store.lookupSession(stale.idHash, START_MS, IDLE_MS)).status).toBe('unknown');
      });

      it('locks an account at the Nth failed login, keeps it locked until the lock lapses, and a success clears the count', async () => {
        const user = await givenUser();
        expect(await store.recordLoginFailure(user.id, START_MS, LOCKOUT)).toEqual({ failedLogins: 1, lockedUntilMs: null });
        await store.recordLoginSuccess(user.id);
        expect(await store.recordLoginFailure(user.id, START_MS + 1, LOCKOUT)).toEqual({ failedLogins: 1, lockedUntilMs: null });
        expect(await store.recordLoginFailure(user.id, START_MS + 2, LOCKOUT)).toEqual({ failedLogins: 2, lockedUntilMs: null });
        const locked = START_MS + 3 + LOCKOUT.lockMs;
        expect(await store.recordLoginFailure(user.id, START_MS + 3, LOCKOUT)).toEqual({ failedLogins: 0, lockedUntilMs: locked });
        expect(await store.recordLoginFailure(user.id, START_MS + 4, LOCKOUT)).toEqual({ failedLogins: 0, lockedUntilMs: locked });
        // After the lock lapses, counting starts again from this failure.
        expect(await store.recordLoginFailure(user.id, locked, LOCKOUT)).toEqual({ failedLogins: 1, lockedUntilMs: null });
        await expect(store.recordLoginFailure(uniqueId('usr'), START_MS, LOCKOUT)).rejects.toThrow(/no user/);
      });

      it('counts every failure of two instances racing, so a guesser cannot outrun the lockout', async () => {
        const user = await givenUser();
        const other = await anotherInstance();
        const many = { maxFailures: 1_000, lockMs: 60_000 };
        await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).recordLoginFailure(user.id, START_MS + i, many)));
        expect((await store.findUserByUsername(user.username))?.failedLogins).toBe(20);
      });
    });

    describe('presence', () => {
      it('records a presence event once and reports a redelivery as a duplicate', async () => {
        const shopper = await givenShopper();
        const event = aPresence({ shopperId: shopper.id, kind: 'dwell', dwellS: 45 });
        const before = await store.counts();

        expect(await store.recordPresence(event, START_MS)).toBe('new');
        expect(await store.recordPresence(event, START_MS + SECOND_MS)).toBe('duplicate');
        expect((await store.counts()).presenceEvents).toBe(before.presenceEvents + 1);
      });
    });

    describe('recording a promotion', () => {
      it('records a promotion when consent is granted and no cap applies', async () => {
        const shopper = await givenShopper();
        const draft = aDraft({ shopperId: shopper.id });

        expect(await store.recordPromotion(draft)).toEqual({
          outcome: 'recorded',
          promotion: {
            id: draft.message.id, campaignId: draft.campaignId, shopperId: shopper.id, eventId: draft.eventId, storeId: draft.storeId, zoneId: draft.zoneId,
            createdAtMs: START_MS, deliveredAtMs: null, ackedAtMs: null, redeemedAtMs: null, status: 'pending', message: draft.message, variant: null, openedAtMs: null, convertedAtMs: null,
          },
        });
      });

      it('returns the stored promotion, not a capped skip, for a redelivered event', async () => {
        const shopper = await givenShopper();
        const campaign = aCampaign({ caps: { ...generousCaps, perShopper: { count: 1, periodS: 3600 } } });
        const first = await store.recordPromotion(aDraft({ shopperId: shopper.id, campaign, eventId: 'ev-1' }));
        // Built again from the same event: same promotion ID, freshly drawn coupon.
        const again = await store.recordPromotion(aDraft({ shopperId: shopper.id, campaign, eventId: 'ev-1', createdAtMs: START_MS + SECOND_MS }));

        expect(first.outcome).toBe('recorded');
        expect(again).toEqual({ outcome: 'duplicate', promotion: first.outcome === 'recorded' ? first.promotion : undefined });
      });

      it.each([
        { missing: 'promotions', consents: { presence: true }, required: ['presence', 'promotions'] },
        { missing: 'presence', consents: { promotions: true, presence: false }, required: ['presence', 'promotions'] },
        { missing: 'personalisation', consents: { presence: true, promotions: true }, required: ['presence', 'promotions', 'personalisation'] },
      ])('skips with no-consent when $missing is not granted at send time', async ({ consents, required }) => {
        const shopper = await givenShopper(consents);
        const result = await store.recordPromotion(aDraft({ shopperId: shopper.id, requiredPurposes: required }));

        expect(result).toEqual({ outcome: 'skipped', reason: 'no-consent' });
        expect(await store.listUnackedPromotions(shopper.id, START_MS)).toEqual([]);
      });

      it('skips an erased or unknown shopper', async () => {
        const erased = await givenShopper(undefined, { erasedAtMs: START_MS });

        expect(await store.recordPromotion(aDraft({ shopperId: erased.id }))).toEqual({ outcome: 'skipped', reason: 'erased' });
        expect(await store.recordPromotion(aDraft({ shopperId: uniqueId('sh') }))).toEqual({ outcome: 'skipped', reason: 'erased' });
      });

      /** Sends `campaign` to the shopper at each offset (ms after START_MS); one outcome per send. */
      async function sendAt(shopperId: string, sends: readonly [Campaign, number][]): Promise<string[]> {
        const outcomes: string[] = [];
        for (const [campaign, offsetMs] of sends) outcomes.push(outcome(await store.recordPromotion(aDraft({ shopperId, campaign, createdAtMs: START_MS + offsetMs }))));
        return outcomes;
      }

      it('caps sends per shopper and campaign to a count per period', async () => {
        const shopper = await givenShopper();
        const campaign = aCampaign({ caps: { ...generousCaps, perShopper: { count: 2, periodS: 3600 } } });

        expect(await sendAt(shopper.id, [[campaign, 0], [campaign, SECOND_MS], [campaign, 2 * SECOND_MS], [campaign, 3600 * SECOND_MS]]))
          .toEqual(['recorded', 'recorded', 'skipped:perShopper', 'recorded']);
      });

      it('keeps the minimum gap between two sends of a campaign', async () => {
        const shopper = await givenShopper();
        const campaign = aCampaign({ caps: { ...generousCaps, minGapS: 60 } });

        expect(await sendAt(shopper.id, [[campaign, 0], [campaign, 59 * SECOND_MS], [campaign, 60 * SECOND_MS]]))
          .toEqual(['recorded', 'skipped:minGapS', 'recorded']);
      });

      it('caps sends per shopper per rolling day across campaigns', async () => {
        const shopper = await givenShopper();
        const [a, b, c] = [1, 2, 3].map(() => aCampaign({ caps: { ...generousCaps, perShopper: { count: 2, periodS: 86_400 }, perShopperDaily: 2 } })) as [Campaign, Campaign, Campaign];

        expect(await sendAt(shopper.id, [[a, 0], [b, SECOND_MS], [c, 2 * SECOND_MS], [c, DAY_MS + 1]]))
          .toEqual(['recorded', 'recorded', 'skipped:perShopperDaily', 'recorded']);
      });

      it('holds every other campaign back during the cooldown after a send', async () => {
        const shopper = await givenShopper();
        const [a, b] = [1, 2].map(() => aCampaign({ caps: { ...generousCaps, cooldownS: 300 } })) as [Campaign, Campaign];

        expect(await sendAt(shopper.id, [[a, 0], [b, 299 * SECOND_MS], [b, 300 * SECOND_MS]]))
          .toEqual(['recorded', 'skipped:cooldownS', 'recorded']);
      });

      it('records a send timed before the latest one when no gap or cooldown is set', async () => {
        const shopper = await givenShopper();
        const campaign = aCampaign();

        expect(await sendAt(shopper.id, [[campaign, 10 * SECOND_MS], [campaign, 5 * SECOND_MS], [aCampaign(), SECOND_MS]]))
          .toEqual(['recorded', 'recorded', 'recorded']);
      });

      it('keeps the gap on both sides of a send recorded out of order', async () => {
        const shopper = await givenShopper();
        const campaign = aCampaign({ caps: { ...generousCaps, minGapS: 60 } });

        expect(await sendAt(shopper.id, [[campaign, 100 * SECOND_MS], [campaign, 50 * SECOND_MS], [campaign, 40 * SECOND_MS]]))
          .toEqual(['recorded', 'skipped:minGapS', 'recorded']);
      });

      it('does not count cancelled promotions toward caps', async () => {
        const shopper = await givenShopper();
        const campaign = aCampaign({ caps: { perShopper: { count: 1, periodS: 3600 }, minGapS: 600, perShopperDaily: 1, cooldownS: 600 } });
        await store.recordPromotion(aDraft({ shopperId: shopper.id, campaign, createdAtMs: START_MS }));
        await withdraw(store, shopper.id, 'promotions');
        await regrant(shopper.id, 'promotions');

        expect(outcome(await store.recordPromotion(aDraft({ shopperId: shopper.id, campaign, createdAtMs: START_MS + SECOND_MS })))).toBe('recorded');
      });
    });

    describe('store hours and shopper attributes', () => {
      it('keeps a store’s opening and quiet hours, and clears them when a PUT leaves them out', async () => {
        const storeId = uniqueId('st');
        const openingHours = [{ days: ['mon' as const, 'tue' as const], from: '08:00', to: '20:00' }];
        const quietHours = [{ days: ['sun' as const], from: '22:00', to: '07:00' }];
        await store.upsertStore({ id: storeId, name: 'Corner', timezone: 'Europe/Rome', openingHours, quietHours });
        expect((await store.listStores()).find((s) => s.id === storeId)).toEqual({ id: storeId, name: 'Corner', timezone: 'Europe/Rome', openingHours, quietHours });
        expect(await store.getStore(storeId)).toEqual({ id: storeId, name: 'Corner', timezone: 'Europe/Rome', openingHours, quietHours });
        await store.upsertStore({ id: storeId, name: 'Corner', timezone: 'Europe/Rome' });
        expect((await store.listStores()).find((s) => s.id === storeId)).toEqual({ id: storeId, name: 'Corner', timezone: 'Europe/Rome' });
      });

      it('sets a shopper’s loyalty tier and interests, and none for an erased shopper', async () => {
        const shopper = await givenShopper();
        expect(await store.getShopper(shopper.id)).toMatchObject({ loyaltyTier: null, interests: [] });
        await store.setShopperAttributes(shopper.id, { loyaltyTier: 'platinum', interests: ['coffee', 'kids-fashion'] });
        expect(await store.getShopper(shopper.id)).toMatchObject({ loyaltyTier: 'platinum', interests: ['coffee', 'kids-fashion'] });
        await store.setShopperAttributes(shopper.id, { loyaltyTier: null, interests: [] });
        expect(await store.getShopper(shopper.id)).toMatchObject({ loyaltyTier: null, interests: [] });
      });
    });

    describe('visit history', () => {
      const MIN = 60_000;

      it('starts a visit on an entry after the gap, extends it with any presence, and counts visits per store', async () => {
        const shopper = await givenShopper({ presence: true, personalisation: true });
        const visit = (atMs: number, startsVisit = true, storeId = 'store-1') => store.recordVisitActivity(storeId, shopper.id, atMs, startsVisit);
        expect(await visit(START_MS)).toEqual({ visitNumber: 1, newVisit: true, pastVisits: 0, previousVisitLastSeenMs: null });
        expect(await visit(START_MS + 20 * MIN, false)).toEqual({ visitNumber: 1, newVisit: false, pastVisits: 0, previousVisitLastSeenMs: null });
        // 29 minutes after the last presence: still the same visit.
        expect(await visit(START_MS + 49 * MIN)).toMatchObject({ visitNumber: 1, newVisit: false });
        // 30 minutes without presence: the next entry starts visit 2; a non-entry event does not.
        expect(await visit(START_MS + 79 * MIN, false)).toEqual({ visitNumber: 1, newVisit: false, pastVisits: 1, previousVisitLastSeenMs: null });
        expect(await visit(START_MS + 80 * MIN)).toEqual({ visitNumber: 2, newVisit: true, pastVisits: 1, previousVisitLastSeenMs: START_MS + 49 * MIN });
        expect(await visit(START_MS + 20 * DAY_MS)).toEqual({ visitNumber: 3, newVisit: true, pastVisits: 2, previousVisitLastSeenMs: START_MS + 80 * MIN });
        // Another store counts its own visits.
        expect(await visit(START_MS + 20 * DAY_MS, true, 'store-2')).toMatchObject({ visitNumber: 1, newVisit: true });
        // An event older than the last presence extends nothing backwards.
        expect(await visit(START_MS + 10 * DAY_MS)).toMatchObject({ visitNumber: 3, newVisit: false });
        // The entry that started visit 3, redelivered, gets the same answer.
        expect(await visit(START_MS + 20 * DAY_MS)).toEqual({ visitNumber: 3, newVisit: true, pastVisits: 2, previousVisitLastSeenMs: START_MS + 80 * MIN });
        expect((await store.readShopperData(shopper.id))!.visits).toEqual([
          { storeId: 'store-1', shopperId: shopper.id, visitCount: 3, visitStartedAtMs: START_MS + 20 * DAY_MS, lastSeenAtMs: START_MS + 20 * DAY_MS, previousVisitLastSeenMs: START_MS + 80 * MIN },
          { storeId: 'store-2', shopperId: shopper.id, visitCount: 1, visitStartedAtMs: START_MS + 20 * DAY_MS, lastSeenAtMs: START_MS + 20 * DAY_MS, previousVisitLastSeenMs: null },
        ]);
      });

      it('writes nothing for an unknown shopper', async () => {
        const unknown = uniqueId('sh');
        expect(await store.recordVisitActivity('store-1', unknown, START_MS, true)).toEqual({ visitNumber: 0, newVisit: false, pastVisits: 0, previousVisitLastSeenMs: null });
        expect(await store.recordVisitActivity('store-1', unknown, START_MS, false)).toMatchObject({ visitNumber: 0 });
      });

      it('starts exactly one visit when two instances record the same entry burst concurrently', async () => {
        const other = await anotherInstance();
        const shopper = await givenShopper({ presence: true, personalisation: true });
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).recordVisitActivity('store-1', shopper.id, START_MS + i * 1000, true)));
        expect(results.filter((r) => r.newVisit)).toHaveLength(1);
        expect(results.every((r) => r.visitNumber === 1)).toBe(true);
        const later = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store : other).recordVisitActivity('store-1', shopper.id, START_MS + DAY_MS + i, true)));
        expect(later.filter((r) => r.newVisit).map((r) => r.visitNumber)).toEqual([2]);
      });

      it('purges visit history 12 months after the last presence (RET-3)', async () => {
        const shopper = await givenShopper({ presence: true, personalisation: true });
        await store.recordVisitActivity('store-1', shopper.id, START_MS, true);
        await store.recordVisitActivity('store-2', shopper.id, START_MS + 100 * DAY_MS, true);
        const purged = await store.purgeBefore('visit-history', START_MS + 1, 1000);
        expect(purged.deleted).toBeGreaterThanOrEqual(1);
        expect((await store.readShopperData(shopper.id))!.visits.map((v) => v.storeId)).toEqual(['store-2']);
      });
    });

    describe('campaign budgets', () => {
      const budgeted = (budget: Campaign['budget']) => aCampaign({ budget, caps: generousCaps });

      it('refuses a send once maxDeliveries promotions are recorded; a cancelled one does not count', async () => {
        const campaign = budgeted({ maxDeliveries: 2 });
        const [ada, bob, cy] = [await givenShopper(), await givenShopper(), await givenShopper()];
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: ada.id, campaign })))).toBe('recorded');
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: bob.id, campaign })))).toBe('recorded');
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: cy.id, campaign })))).toBe('skipped:budget');
        // Bob withdraws before delivery: his promotion is cancelled and frees its place.
        await withdraw(store, bob.id, 'promotions');
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: cy.id, campaign })))).toBe('recorded');
        // Another campaign has its own budget.
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: cy.id, campaign: budgeted({ maxDeliveries: 1 }) })))).toBe('recorded');
      });

      it('refuses a coupon while redeemed plus outstanding coupons reach maxRedemptions; expired ones free their place', async () => {
        const campaign = budgeted({ maxDeliveries: 10, maxRedemptions: 2 });
        const [ada, bob, cy] = [await givenShopper(), await givenShopper(), await givenShopper()];
        const first = aDraft({ shopperId: ada.id, campaign, expiresAtMs: START_MS + 3_600_000 });
        expect(outcome(await store.recordPromotion(first))).toBe('recorded');
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: bob.id, campaign, expiresAtMs: START_MS + 60_000 })))).toBe('recorded');
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: cy.id, campaign })))).toBe('skipped:budget');
        // Ada redeems hers: still counted. Bob's expires unredeemed: its place is free again.
        const redeemed = await store.redeemCoupon({ storeId: first.storeId, couponCode: first.message.couponCode, requestId: null, deviceId: 'till-1', atMs: START_MS + 1000 });
        expect(redeemed.outcome).toBe('redeemed');
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: cy.id, campaign, createdAtMs: START_MS + 30_000 })))).toBe('skipped:budget');
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: cy.id, campaign, createdAtMs: START_MS + 60_000 })))).toBe('recorded');
      });

      it('never exceeds maxDeliveries when two instances race 60 sends to 60 shoppers', async () => {
        const other = await anotherInstance();
        const campaign = budgeted({ maxDeliveries: 7 });
        const shoppers = await Promise.all(Array.from({ length: 60 }, () => givenShopper()));
        const results = await Promise.all(shoppers.map((shopper, i) => (i % 2 === 0 ? store : other).recordPromotion(aDraft({ shopperId: shopper.id, campaign, createdAtMs: START_MS + i }))));
        expect(tally(results)).toEqual({ recorded: 7, 'skipped:budget': 53 });
      });

      it('never exceeds maxRedemptions when two instances race 40 sends', async () => {
        const other = await anotherInstance();
        const campaign = budgeted({ maxRedemptions: 5 });
        const shoppers = await Promise.all(Array.from({ length: 40 }, () => givenShopper()));
        const results = await Promise.all(shoppers.map((shopper, i) => (i % 2 === 0 ? other : store).recordPromotion(aDraft({ shopperId: shopper.id, campaign }))));
        expect(tally(results)).toEqual({ recorded: 5, 'skipped:budget': 35 });
      });
    });

    describe('recording promotions concurrently', () => {
      it('records exactly the capped number when two instances race 50 sends to one shopper', async () => {
        const other = await anotherInstance();
        const shopper = await givenShopper();
        const campaign = aCampaign({ caps: { ...generousCaps, perShopper: { count: 3, periodS: 3600 } } });

        const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? store : other).recordPromotion(aDraft({ shopperId: shopper.id, campaign, eventId: `ev-${i}`, createdAtMs: START_MS + i }))));

        expect(tally(results)).toEqual({ recorded: 3, 'skipped:perShopper': 47 });
        expect(await store.listUnackedPromotions(shopper.id, START_MS)).toHaveLength(3);
      });

      it('records a redelivered event once when two instances race with it', async () => {
        const other = await anotherInstance();
        const shopper = await givenShopper();
        const draft = aDraft({ shopperId: shopper.id });

        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).recordPromotion(draft)));

        expect(tally(results)).toEqual({ recorded: 1, duplicate: 19 });
        const stored = await current(draft);
        for (const result of results) expect(result.outcome === 'skipped' ? undefined : result.promotion).toEqual(stored);
      });

      // Sends decided together — one per presence event in flight — may be recorded together (the PostgreSQL
      // adapter's set-based rounds, SQLite's group commit): each must get the answer it would alone.
      it('gives each of many sends handed in at once the answer it would get alone', async () => {
        const audit = (shopperId: string, action: string) => [{ atMs: START_MS, actor: 'shopper', action, subject: shopperId, details: {} }];
        const plain = await givenShopper();
        const redelivered = await givenShopper();
        const earlier = aDraft({ shopperId: redelivered.id });
        const earlierResult = await store.recordPromotion(earlier);
        const erased = await givenShopper();
        await store.eraseShopper(erased.id, START_MS, () => audit(erased.id, 'shopper.erased')[0]!);
        const restricted = await givenShopper();
        await store.setRestriction(restricted.id, true, START_MS, audit(restricted.id, 'shopper.restricted')[0]!);
        const objected = await givenShopper();
        await store.recordObjection(objected.id, START_MS, [], audit(objected.id, 'shopper.objected'));
        const withoutPromotions = await givenShopper({ presence: true });
        const cooling = await givenShopper();
        const cooldown = aCampaign({ caps: { ...generousCaps, cooldownS: 600 } });
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: cooling.id, campaign: cooldown, createdAtMs: START_MS - 60_000 })))).toBe('recorded');
        // A budget of 2 for 4 sends at once, one of them held out: held-out rows count toward no budget.
        const budgetCampaign = aCampaign({ budget: { maxDeliveries: 2 }, caps: generousCaps });
        const buyers = await Promise.all(Array.from({ length: 4 }, () => givenShopper()));
        const budgetDrafts = buyers.map((buyer, i) => ({ ...aDraft({ shopperId: buyer.id, campaign: budgetCampaign }), ...(i === 0 ? { heldOut: true, variant: 'holdout' } : {}) }));
        const plainDraft = aDraft({ shopperId: plain.id });
        const secondForPlain = aDraft({ shopperId: plain.id, campaign: aCampaign({ caps: { ...generousCaps, cooldownS: 600 } }), createdAtMs: START_MS + 1 });

        const results = await Promise.all([
          store.recordPromotion(plainDraft),
          store.recordPromotion(earlier),
          store.recordPromotion(aDraft({ shopperId: erased.id })),
          store.recordPromotion(aDraft({ shopperId: restricted.id })),
          store.recordPromotion(aDraft({ shopperId: objected.id })),
          store.recordPromotion(aDraft({ shopperId: withoutPromotions.id })),
          store.recordPromotion(aDraft({ shopperId: cooling.id, campaign: cooldown })),
          ...budgetDrafts.map((draft) => store.recordPromotion(draft)),
          // The plain shopper's second send, behind their first: its cooldown sees the first.
          store.recordPromotion(secondForPlain),
        ]);

        expect(results.map(outcome)).toEqual([
          'recorded', 'duplicate', 'skipped:erased', 'skipped:restricted', 'skipped:objected', 'skipped:no-consent', 'skipped:cooldownS',
          'recorded', 'recorded', 'recorded', 'skipped:budget', 'skipped:cooldownS',
        ]);
        expect(results[1]).toEqual(earlierResult.outcome === 'recorded' ? { outcome: 'duplicate', promotion: earlierResult.promotion } : undefined);
        expect(results[0]).toMatchObject({ promotion: { id: plainDraft.message.id, status: 'pending', message: plainDraft.message } });
        expect(results[7]).toMatchObject({ promotion: { status: 'held-out', variant: 'holdout' } });
        expect(await store.listUnackedPromotions(plain.id, START_MS)).toHaveLength(1);
      });

      it('sends nothing once a withdrawal racing 50 sends has committed', async () => {
        const other = await anotherInstance();
        const shopper = await givenShopper();
        const campaign = aCampaign();
        const drafts = Array.from({ length: 60 }, (_, i) => aDraft({ shopperId: shopper.id, campaign, eventId: `ev-${i}`, createdAtMs: START_MS + i * SECOND_MS }));
        const send = (draft: PromotionDraft, i: number): Promise<RecordPromotionResult> => (i % 2 === 0 ? store : other).recordPromotion(draft);

        const racing = drafts.slice(0, 50);
        const early = racing.slice(0, 25).map(send);
        const withdrawal = withdraw(other, shopper.id, 'promotions', START_MS + 25 * SECOND_MS);
        const late = racing.slice(25).map((draft, i) => send(draft, i + 25));
        const [results, state] = await Promise.all([Promise.all([...early, ...late]), withdrawal]);
        const afterwards = await Promise.all(drafts.slice(50).map(send));

        expect(state.promotions?.granted).toBe(false);
        expect(results.map(outcome).filter((o) => o !== 'recorded' && o !== 'skipped:no-consent')).toEqual([]);
        // A send that committed after the withdrawal would still be pending; every recorded one was cancelled by it.
        expect(await store.listUnackedPromotions(shopper.id, START_MS)).toEqual([]);
        const recorded = racing.filter((_, i) => results[i]?.outcome === 'recorded');
        for (const draft of recorded) expect((await current(draft)).status).toBe('cancelled');
        expect(afterwards.map(outcome)).toEqual(Array(10).fill('skipped:no-consent'));
      });
    });

    describe('delivering promotions', () => {
      it('lists pending, unexpired promotions oldest first', async () => {
        const shopper = await givenShopper();
        const nowMs = START_MS + 10 * SECOND_MS;
        const cancelled = aDraft({ shopperId: shopper.id, createdAtMs: START_MS });
        await store.recordPromotion(cancelled);
        await withdraw(store, shopper.id, 'promotions');
        await regrant(shopper.id, 'promotions');
        const late = aDraft({ shopperId: shopper.id, createdAtMs: START_MS + 3 * SECOND_MS });
        const early = aDraft({ shopperId: shopper.id, createdAtMs: START_MS + 2 * SECOND_MS });
        const expired = aDraft({ shopperId: shopper.id, createdAtMs: START_MS + SECOND_MS, expiresAtMs: nowMs });
        const acked = aDraft({ shopperId: shopper.id, createdAtMs: START_MS + 4 * SECOND_MS });
        for (const draft of [late, early, expired, acked]) await store.recordPromotion(draft);
        await store.ackPromotion(shopper.id, acked.message.id, nowMs);

        expect((await store.listUnackedPromotions(shopper.id, nowMs)).map((p) => p.id)).toEqual([early.message.id, late.message.id]);
        expect((await store.listUnackedPromotions(shopper.id, nowMs - 1)).map((p) => p.id)).toEqual([expired.message.id, early.message.id, late.message.id]);
      });

      it('gives each of many shoppers asked about at once their own pending promotions, each at its own time', async () => {
        const shoppers = await Promise.all(Array.from({ length: 5 }, () => givenShopper()));
        const drafts = shoppers.map((shopper, i) => aDraft({ shopperId: shopper.id, createdAtMs: START_MS + i, expiresAtMs: START_MS + 60 * SECOND_MS }));
        for (const draft of drafts) await store.recordPromotion(draft);
        // The third shopper twice, the second time after their promotion expired; the last one has none.
        const asks = [...shoppers.slice(0, 4).map((s) => [s.id, START_MS + SECOND_MS] as const), [shoppers[2]!.id, START_MS + 60 * SECOND_MS] as const, [uniqueId('sh'), START_MS] as const];
        const lists = await Promise.all(asks.map(([id, at]) => store.listUnackedPromotions(id, at)));
        expect(lists.map((list) => list.map((p) => p.id))).toEqual([
          [drafts[0]!.message.id], [drafts[1]!.message.id], [drafts[2]!.message.id], [drafts[3]!.message.id], [], [],
        ]);
      });

      it('reads one promotion by ID, and nothing for an unknown ID', async () => {
        const shopper = await givenShopper();
        const draft = aDraft({ shopperId: shopper.id });
        await store.recordPromotion(draft);

        expect(await store.getPromotion(draft.message.id)).toMatchObject({ id: draft.message.id, shopperId: shopper.id, status: 'pending', message: draft.message });
        expect(await store.getPromotion('pr_unknown')).toBeUndefined();
      });

      it('keeps the first delivery time when a promotion is delivered again', async () => {
        const shopper = await givenShopper();
        const draft = aDraft({ shopperId: shopper.id });
        await store.recordPromotion(draft);

        await store.markPromotionDelivered(draft.message.id, START_MS + SECOND_MS);
        await store.markPromotionDelivered(draft.message.id, START_MS + 2 * SECOND_MS);

        expect(await store.listUnackedPromotions(shopper.id, START_MS)).toEqual([expect.objectContaining({ id: draft.message.id, deliveredAtMs: START_MS + SECOND_MS, status: 'pending' })]);
      });

      it('acknowledges a promotion only for the shopper it was sent to', async () => {
        const owner = await givenShopper();
        const stranger = await givenShopper();
        const draft = aDraft({ shopperId: owner.id });
        await store.recordPromotion(draft);

        expect(await store.ackPromotion(stranger.id, draft.message.id, START_MS + SECOND_MS)).toBe(false);
        expect(await store.ackPromotion(owner.id, uniqueId('pr'), START_MS + SECOND_MS)).toBe(false);
        expect(await store.listUnackedPromotions(owner.id, START_MS)).toHaveLength(1);

        expect(await store.ackPromotion(owner.id, draft.message.id, START_MS + 2 * SECOND_MS)).toBe(true);
        expect(await store.listUnackedPromotions(owner.id, START_MS)).toEqual([]);
        expect(await current(draft)).toMatchObject({ status: 'acked', ackedAtMs: START_MS + 2 * SECOND_MS });
      });

      it('answers each of many deliveries and acks made at once from two instances as if made alone', async () => {
        const other = await anotherInstance();
        const [owner, stranger] = [await givenShopper(), await givenShopper()];
        const campaign = aCampaign();
        const drafts = Array.from({ length: 12 }, (_, i) => aDraft({ shopperId: owner.id, campaign, eventId: uniqueId('ev'), createdAtMs: START_MS + i * SECOND_MS }));
        for (const draft of drafts) await store.recordPromotion(draft);
        const on = (i: number): Store => (i % 2 === 0 ? store : other);
        // Each promotion delivered twice (the first time kept), then acked twice by its shopper and once by another.
        await Promise.all(drafts.flatMap((d, i) => [on(i).markPromotionDelivered(d.message.id, START_MS + 100), on(i + 1).markPromotionDelivered(d.message.id, START_MS + 200)]));
        const acks = await Promise.all(drafts.flatMap((d, i) => [
          on(i).ackPromotion(owner.id, d.message.id, START_MS + 300), on(i + 1).ackPromotion(owner.id, d.message.id, START_MS + 300),
          on(i).ackPromotion(stranger.id, d.message.id, START_MS + 300),
        ]));
        expect(acks).toEqual(drafts.flatMap(() => [true, true, false]));
        for (const draft of drafts) {
          const stored = await current(draft);
          expect(stored.status).toBe('acked');
          expect(stored.ackedAtMs).toBe(START_MS + 300);
          expect([START_MS + 100, START_MS + 200]).toContain(stored.deliveredAtMs);
        }
      });
    });

    describe('expiring undelivered promotions', () => {
      // expireUndelivered is global: these promotions live weeks before START_MS, where no other test's
      // promotion expires, so every sweep below sees only its own test's rows.
      const BASE_MS = START_MS - 60 * DAY_MS;
      let offset = 0;
      /** A fresh window of an hour, after every earlier test's window. */
      const window = (): number => BASE_MS + (offset += 3_600_000);

      it('drops pending promotions that expired before they were ever written, counted per campaign, and nothing else', async () => {
        const t0 = window();
        const nowMs = t0 + 600_000;
        const shopper = await givenShopper();
        const first = aCampaign();
        const second = aCampaign();
        const draft = (campaign: Campaign, expiresAtMs: number) => aDraft({ shopperId: shopper.id, campaign, createdAtMs: t0, expiresAtMs });
        const undelivered = [draft(first, nowMs - 1), draft(first, nowMs), draft(second, t0 + 1)];
        const deliveredUnacked = draft(first, t0 + 1);
        const acked = draft(second, t0 + 1);
        const cancelledShopper = await givenShopper();
        const cancelled = aDraft({ shopperId: cancelledShopper.id, campaign: first, createdAtMs: t0, expiresAtMs: t0 + 1 });
        const stillValid = draft(second, nowMs + 1);
        for (const d of [...undelivered, deliveredUnacked, acked, cancelled, stillValid]) expect((await store.recordPromotion(d)).outcome).toBe('recorded');
        await store.markPromotionDelivered(deliveredUnacked.message.id, t0 + 1);
        await store.markPromotionDelivered(acked.message.id, t0 + 1);
        await store.ackPromotion(shopper.id, acked.message.id, t0 + 1);
        await withdraw(store, cancelledShopper.id, 'promotions', t0);

        expect(await store.expireUndelivered(nowMs, 100)).toEqual({ expired: 3, byCampaign: { [first.id]: 2, [second.id]: 1 } });

        for (const d of undelivered) expect(await store.getPromotion(d.message.id)).toMatchObject({ status: 'expired', deliveredAtMs: null, ackedAtMs: null });
        // Written but not acknowledged: it reached the app, so it is not dropped.
        expect(await store.getPromotion(deliveredUnacked.message.id)).toMatchObject({ status: 'pending', deliveredAtMs: t0 + 1 });
        expect(await store.getPromotion(acked.message.id)).toMatchObject({ status: 'acked' });
        expect(await store.getPromotion(cancelled.message.id)).toMatchObject({ status: 'cancelled' });
        expect(await store.getPromotion(stillValid.message.id)).toMatchObject({ status: 'pending' });
        expect((await store.listUnackedPromotions(shopper.id, t0)).map((p) => p.id).sort()).toEqual([deliveredUnacked.message.id, stillValid.message.id].sort());
        // Each is dropped once: the next sweep finds nothing more.
        expect(await store.expireUndelivered(nowMs, 100)).toEqual({ expired: 0, byCampaign: {} });
        expect(await store.expireUndelivered(nowMs + 1, 100)).toEqual({ expired: 1, byCampaign: { [second.id]: 1 } });
      });

      it('drops at most `limit` per call, earliest expiry first', async () => {
        const t0 = window();
        const shopper = await givenShopper();
        const campaign = aCampaign();
        const drafts = Array.from({ length: 5 }, (_, i) => aDraft({ shopperId: shopper.id, campaign, createdAtMs: t0, expiresAtMs: t0 + 1 + i }));
        for (const d of drafts) await store.recordPromotion(d);

        const batches = [];
        for (let i = 0; i < 4; i++) batches.push((await store.expireUndelivered(t0 + 600_000, 2)).expired);

        expect(batches).toEqual([2, 2, 1, 0]);
        expect(await store.expireUndelivered(t0 + 1, 10)).toEqual({ expired: 0, byCampaign: {} });
      });

      it('counts each promotion once when two instances sweep at the same time', async () => {
        const other = await anotherInstance();
        const t0 = window();
        const nowMs = t0 + 600_000;
        const campaigns = [aCampaign(), aCampaign(), aCampaign()];
        const shoppers = await Promise.all(Array.from({ length: 4 }, () => givenShopper()));
        const expected: Record<string, number> = {};
        for (let i = 0; i < 60; i++) {
          const campaign = campaigns[i % campaigns.length]!;
          await store.recordPromotion(aDraft({ shopperId: shoppers[i % shoppers.length]!.id, campaign, createdAtMs: t0, expiresAtMs: t0 + 1 + (i % 7) }));
          expected[campaign.id] = (expected[campaign.id] ?? 0) + 1;
        }

        const sweepAll = async (instance: Store) => {
          const runs = [];
          for (;;) {
            const run = await instance.expireUndelivered(nowMs, 4);
            if (run.expired === 0) return runs;
            runs.push(run);
          }
        };
        const runs = (await Promise.all([sweepAll(store), sweepAll(other), sweepAll(store), sweepAll(other)])).flat();

        const byCampaign: Record<string, number> = {};
        for (const run of runs) for (const [id, n] of Object.entries(run.byCampaign)) byCampaign[id] = (byCampaign[id] ?? 0) + n;
        expect(runs.reduce((sum, run) => sum + run.expired, 0)).toBe(60);
        expect(byCampaign).toEqual(expected);
        expect(await other.expireUndelivered(nowMs, 100)).toEqual({ expired: 0, byCampaign: {} });
      });

      it('still counts an expired promotion toward the caps: the send was decided and recorded', async () => {
        const t0 = window();
        const shopper = await givenShopper();
        const campaign = aCampaign({ caps: { ...generousCaps, perShopper: { count: 1, periodS: 3600 } } });
        await store.recordPromotion(aDraft({ shopperId: shopper.id, campaign, createdAtMs: t0, expiresAtMs: t0 + 1 }));
        expect((await store.expireUndelivered(t0 + 10, 10)).expired).toBe(1);

        expect(outcome(await store.recordPromotion(aDraft({ shopperId: shopper.id, campaign, createdAtMs: t0 + 20 })))).toBe('skipped:perShopper');
      });

      it('refuses a limit that is not a positive integer, or a time that is not an integer', async () => {
        await expect(store.expireUndelivered(START_MS, 0)).rejects.toThrow(/limit/);
        await expect(store.expireUndelivered(START_MS, 1.5)).rejects.toThrow(/limit/);
        await expect(store.expireUndelivered(Number.NaN, 10)).rejects.toThrow(/nowMs/);
      });
    });

    describe('zone states', () => {
      const withClaim = (previous: ZoneState | undefined, zoneId: string, atMs = START_MS): ZoneState => {
        const base = previous ?? emptyZoneState();
        return { ...base, claims: { ...base.claims, [zoneId]: { rank: 1, atMs } } };
      };

      it('starts empty, then hands each update the state the previous one committed', async () => {
        const shopper = await givenShopper();
        expect(await store.getZoneState('store-1', shopper.id)).toBeUndefined();
        const seen: (ZoneState | undefined)[] = [];
        for (const zoneId of ['a', 'b']) {
          const result = await store.updateZoneState('store-1', shopper.id, (previous) => {
            seen.push(previous);
            return { state: withClaim(previous, zoneId), dueAtMs: null, result: zoneId };
          });
          expect(result).toBe(zoneId);
        }
        expect(seen).toEqual([undefined, withClaim(undefined, 'a')]);
        expect(await store.getZoneState('store-1', shopper.id)).toEqual(withClaim(withClaim(undefined, 'a'), 'b'));
        // Per store: another store's state of the same shopper is another row.
        await store.upsertStore({ id: 'store-2', name: 'Market Square', timezone: 'Europe/London' });
        expect(await store.getZoneState('store-2', shopper.id)).toBeUndefined();
      });

      it('writes nothing when the update returns the state it was given', async () => {
        const shopper = await givenShopper();
        await store.updateZoneState('store-1', shopper.id, (previous) => ({ state: withClaim(previous, 'a'), dueAtMs: null, result: undefined }));
        await store.updateZoneState('store-1', shopper.id, (previous) => ({ state: previous!, dueAtMs: START_MS, result: undefined }));
        expect((await store.listZoneStatesDue(START_MS + DAY_MS, 10_000)).filter((key) => key.shopperId === shopper.id)).toEqual([]);
      });

      it('lists the states that are due, earliest first, up to the limit', async () => {
        const [early, late, never] = [await givenShopper(), await givenShopper(), await givenShopper()];
        const base = START_MS + 10 * DAY_MS;
        for (const [shopper, dueAtMs] of [[late, base + 2_000], [early, base + 1_000], [never, null]] as const) {
          await store.updateZoneState('store-1', shopper.id, (previous) => ({ state: withClaim(previous, 'a'), dueAtMs, result: undefined }));
        }
        const mine = (keys: { shopperId: string }[]): string[] => keys.map((key) => key.shopperId).filter((id) => [early.id, late.id, never.id].includes(id));
        expect(mine(await store.listZoneStatesDue(base + 1_000, 10_000))).toEqual([early.id]);
        expect(mine(await store.listZoneStatesDue(base + 5_000, 10_000))).toEqual([early.id, late.id]);
        expect(await store.listZoneStatesDue(0, 10)).toEqual([]);
        expect((await store.listZoneStatesDue(base + 5_000, 1))).toHaveLength(1);
      });

      it('loses no update when two instances update one shopper concurrently', async () => {
        const shopper = await givenShopper();
        const other = await anotherInstance();
        const zones = Array.from({ length: 40 }, (_, i) => `z${i}`);
        await Promise.all(zones.map((zoneId, i) =>
          (i % 2 === 0 ? store : other).updateZoneState('store-1', shopper.id, (previous) => ({ state: withClaim(previous, zoneId), dueAtMs: null, result: undefined }))));
        const final = await store.getZoneState('store-1', shopper.id);
        expect(Object.keys(final!.claims).sort()).toEqual([...zones].sort());
      });

      it('lets exactly one of many concurrent first claims enter a zone', async () => {
        const shopper = await givenShopper();
        const other = await anotherInstance();
        const entered = await Promise.all(Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? store : other).updateZoneState('store-1', shopper.id, (previous) => {
            const arbitrated = arbitrateZone(previous, { eventId: randomUUID(), zoneId: `z${i % 3}`, kind: 'enter', proximity: 'near', atMs: START_MS });
            return { state: arbitrated.state, dueAtMs: zoneStateDueAtMs(arbitrated.state), result: arbitrated.transitions.filter((t) => t.kind === 'entered').length };
          })));
        expect(entered.reduce((sum, n) => sum + n, 0)).toBe(1);
        const final = await other.getZoneState('store-1', shopper.id);
        expect(Object.keys(final!.claims).sort()).toEqual(['z0', 'z1', 'z2']);
        expect(final!.applied).toHaveLength(16);
      });
    });

    describe('event sequence numbers', () => {
      const claimOf = (target: Store, gatewayId: string, boot: string, seq: number, eventId: string, atMs = START_MS) =>
        target.acceptSequence(gatewayId, boot, seq, eventId, atMs);

      it('accepts a number once, knows the same event again, and refuses it to another event', async () => {
        const [gatewayId, boot] = [uniqueId('gw'), randomUUID()];
        expect(await claimOf(store, gatewayId, boot, 1, 'ev-a')).toBe('new');
        expect(await claimOf(store, gatewayId, boot, 1, 'ev-a')).toBe('redelivery');
        expect(await claimOf(store, gatewayId, boot, 1, 'ev-b')).toBe('replay');
        expect(await claimOf(store, gatewayId, boot, 2, 'ev-b')).toBe('new');
      });

      it('numbers each gateway and each boot apart', async () => {
        const [gatewayId, otherGateway, boot, reboot] = [uniqueId('gw'), uniqueId('gw'), randomUUID(), randomUUID()];
        expect(await claimOf(store, gatewayId, boot, 1, 'ev-a')).toBe('new');
        expect(await claimOf(store, gatewayId, reboot, 1, 'ev-b')).toBe('new');
        expect(await claimOf(store, otherGateway, boot, 1, 'ev-c')).toBe('new');
      });

      it('remembers a claim across instances and restarts', async () => {
        const [gatewayId, boot] = [uniqueId('gw'), randomUUID()];
        const before = await anotherInstance();
        expect(await claimOf(before, gatewayId, boot, 7, 'ev-a')).toBe('new');
        await before.close();
        const after = await anotherInstance();
        expect(await claimOf(after, gatewayId, boot, 7, 'ev-a')).toBe('redelivery');
        expect(await claimOf(after, gatewayId, boot, 7, 'ev-b')).toBe('replay');
      });

      it('gives a number to exactly one of 20 events racing for it from two instances', async () => {
        const other = await anotherInstance();
        const [gatewayId, boot] = [uniqueId('gw'), randomUUID()];
        const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => claimOf(i % 2 === 0 ? store : other, gatewayId, boot, 1, `ev-${i}`)));
        expect(claims.filter((c) => c === 'new')).toHaveLength(1);
        expect(claims.filter((c) => c === 'replay')).toHaveLength(19);
      });

      it('accepts one redelivered event racing from two instances once, and the rest as redeliveries', async () => {
        const other = await anotherInstance();
        const [gatewayId, boot] = [uniqueId('gw'), randomUUID()];
        const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => claimOf(i % 2 === 0 ? store : other, gatewayId, boot, 1, 'ev-same')));
        expect(claims.filter((c) => c === 'new')).toHaveLength(1);
        expect(claims.filter((c) => c === 'redelivery')).toHaveLength(19);
      });

      it('prunes only claims of events timed before the cutoff, which can then be claimed again', async () => {
        const [gatewayId, boot] = [uniqueId('gw'), randomUUID()];
        // Far in the past, so no other test's claims are old enough to be pruned.
        for (const [seq, atMs] of [[1, 1_000], [2, 2_000], [3, 2_500], [4, 3_000]] as const) await claimOf(store, gatewayId, boot, seq, `ev-${seq}`, atMs);

        expect(await store.pruneSequences(2_500)).toBe(2);
        expect(await claimOf(store, gatewayId, boot, 1, 'ev-new')).toBe('new');
        expect(await claimOf(store, gatewayId, boot, 2, 'ev-2')).toBe('new');
        expect(await claimOf(store, gatewayId, boot, 3, 'ev-other')).toBe('replay');
        expect(await claimOf(store, gatewayId, boot, 4, 'ev-4')).toBe('redelivery');
        expect(await store.pruneSequences(2_500)).toBe(0);
      });
    });

    describe('audit log', () => {
      const anAuditDraft = (overrides: Partial<AuditDraft> = {}): AuditDraft => ({
        atMs: START_MS, actor: 'admin', action: 'campaign.changed', subject: uniqueId('cmp'), details: { status: 'active', zoneCount: 2 }, ...overrides,
      });

      /** The stored records whose subjects are these, by seq. Other tests append too, so only these are ours. */
      async function recordsOf(subjects: readonly string[]): Promise<AuditRecord[]> {
        const wanted = new Set(subjects);
        const found: AuditRecord[] = [];
        for (let from = 1; ; ) {
          const page = await store.listAudit(from, 100);
          found.push(...page.filter((record) => wanted.has(record.subject)));
          if (page.length < 100) return found;
          from = page.at(-1)!.seq + 1;
        }
      }

      /** Verifies the chain segment from just before `first` to `last`, anchored on the record before it. */
      async function verifySegment(firstSeq: number, lastSeq: number) {
        const [anchor] = firstSeq > 1 ? await store.listAudit(firstSeq - 1, 1) : [];
        const verifier = createAuditVerifier(anchor);
        const segment = await store.listAudit(firstSeq, lastSeq - firstSeq + 1);
        return { fault: verifier.push(segment), count: verifier.count, segment };
      }

      it('chains each appended entry to the one before it, as the port returned it', async () => {
        const first = await store.appendAudit(anAuditDraft({ details: { zoneCount: 2, status: 'active' } }));
        const second = await store.appendAudit(anAuditDraft({ actor: 'system', action: 'retention.purged', details: { table: 'presence_events', count: 12, cutoffMs: START_MS } }));
        expect(second.seq).toBe(first.seq + 1);
        expect(second.prevHash).toBe(first.hash);
        expect(second.hash).toBe(chainHash(first.hash, second));
        expect(await store.listAudit(first.seq, 2)).toEqual([first, second]);
      });

      it('pages by seq and limit', async () => {
        const appended: AuditRecord[] = [];
        for (let i = 0; i < 5; i += 1) appended.push(await store.appendAudit(anAuditDraft({ details: { i } })));
        expect(await store.listAudit(appended[1]!.seq, 3)).toEqual(appended.slice(1, 4));
        expect(await store.listAudit(appended[4]!.seq + 1_000_000, 10)).toEqual([]);
      });

      it('refuses a malformed entry, naming the field, and stores nothing', async () => {
        const subject = uniqueId('bad');
        await expect(store.appendAudit(anAuditDraft({ subject, action: 'Campaign Changed' }))).rejects.toThrow(/audit entry action/);
        expect(await recordsOf([subject])).toEqual([]);
      });

      it('writes a consent change and its audit entry together, or neither', async () => {
        const shopper = await givenShopper({});
        const record = aConsent({ shopperId: shopper.id, purpose: 'analytics', granted: true });
        const draft = anAuditDraft({ actor: 'shopper', action: 'consent.changed', subject: shopper.id, details: { purpose: 'analytics', granted: true, textVersion: record.textVersion } });
        await store.appendConsent([record], [draft]);
        const [stored] = await recordsOf([shopper.id]);
        expect(stored).toMatchObject({ ...draft });

        // A record for a shopper who does not exist fails the transaction: its audit entry is not kept either.
        const ghost = uniqueId('ghost');
        await expect(store.appendConsent([aConsent({ shopperId: ghost, purpose: 'analytics', granted: true })], [anAuditDraft({ subject: ghost })])).rejects.toThrow();
        expect(await recordsOf([ghost])).toEqual([]);
      });

      it('makes one unbroken chain when two instances append 50 entries each concurrently', async () => {
        const other = await anotherInstance();
        const subjects = Array.from({ length: 100 }, (_, i) => uniqueId(`race-${i}`));
        const returned = await Promise.all(subjects.map((subject, i) => (i % 2 === 0 ? store : other).appendAudit(anAuditDraft({ subject, details: { i } }))));
        const seqs = returned.map((record) => record.seq);
        expect(new Set(seqs).size).toBe(100);
        const ours = await recordsOf(subjects);
        expect(ours).toHaveLength(100);
        const { fault, count } = await verifySegment(Math.min(...seqs), Math.max(...seqs));
        expect(fault).toBeUndefined();
        expect(count).toBeGreaterThanOrEqual(100);
      });
    });

    describe('retention purge', () => {
      // Far before any other test's rows (builders date them from START_MS), so a purge up to CUTOFF
      // removes only this block's old rows — and the odd ancient row of another test, hence ≥ and the
      // checks on each of our own rows.
      const CUTOFF = Date.UTC(2001, 0, 1);
      const purged = async (kind: Parameters<Store['purgeBefore']>[0], batchLimit = 1000) => store.purgeBefore(kind, CUTOFF, batchLimit);

      it('deletes presence events timed before the cutoff, batch by batch, and keeps the rest', async () => {
        const shopper = await givenShopper();
        const old = Array.from({ length: 7 }, (_, i) => aPresence({ shopperId: shopper.id, atS: CUTOFF / 1000 - 1 - i * 3600 }));
        const atCutoff = aPresence({ shopperId: shopper.id, atS: CUTOFF / 1000 });
        const fresh = aPresence({ shopperId: shopper.id });
        for (const event of [...old, atCutoff, fresh]) await store.recordPresence(event, START_MS);

        const result = await purged('presence-events', 3);
        expect(result.deleted).toBeGreaterThanOrEqual(7);
        // Full batches of 3 until one comes back short.
        expect(result.batches).toBe(Math.floor(result.deleted / 3) + 1);
        // recordPresence answers 'duplicate' for an event it still holds, 'new' for one it no longer does.
        for (const event of old) expect(await store.recordPresence(event, START_MS)).toBe('new');
        expect(await store.recordPresence(atCutoff, START_MS)).toBe('duplicate');
        expect(await store.recordPresence(fresh, START_MS)).toBe('duplicate');
      });

      it('deletes finished webhook queue rows last changed before the cutoff, and keeps queued ones however old', async () => {
        const [sent, dead, queued, fresh] = Array.from({ length: 4 }, () => uniqueId('whret'));
        for (const id of [sent, dead, queued]) await store.enqueueWebhookDelivery(id!, CUTOFF - DAY_MS);
        await store.enqueueWebhookDelivery(fresh!, START_MS);
        const claimed = (await store.claimWebhookDeliveries(CUTOFF - DAY_MS, 1, 1000)).filter((r) => r.promotionId === sent || r.promotionId === dead);
        expect(claimed).toHaveLength(2);
        await store.finishWebhookAttempt(sent!, 1, { status: 'sent', atMs: CUTOFF - DAY_MS });
        await store.finishWebhookAttempt(dead!, 1, { status: 'dead', atMs: CUTOFF - 1, error: 'http 410' });
        await store.claimWebhookDeliveries(START_MS, 1, 1000);
        await store.finishWebhookAttempt(fresh!, 1, { status: 'sent', atMs: START_MS });

        expect((await purged('webhook-deliveries')).deleted).toBeGreaterThanOrEqual(2);
        expect(await store.getWebhookDelivery(sent!)).toBeUndefined();
        expect(await store.getWebhookDelivery(dead!)).toBeUndefined();
        // Queued: the worker finishes it first (a purged promotion is dropped as not found), then it ages out.
        expect((await store.getWebhookDelivery(queued!))?.promotionId).toBe(queued);
        expect((await store.getWebhookDelivery(fresh!))?.status).toBe('sent');
      });

      it('deletes delivery records (promotions) created before the cutoff, delivered and acked or not', async () => {
        const shopper = await givenShopper();
        const [acked, pending, fresh] = [aDraft({ shopperId: shopper.id, createdAtMs: CUTOFF - DAY_MS }), aDraft({ shopperId: shopper.id, createdAtMs: CUTOFF - 1 }), aDraft({ shopperId: shopper.id })];
        for (const draft of [acked, pending, fresh]) expect((await store.recordPromotion(draft)).outcome).toBe('recorded');
        await store.markPromotionDelivered(acked.message.id, CUTOFF - DAY_MS + SECOND_MS);
        expect(await store.ackPromotion(shopper.id, acked.message.id, CUTOFF - DAY_MS + 2 * SECOND_MS)).toBe(true);

        expect((await purged('delivery-records')).deleted).toBeGreaterThanOrEqual(2);
        expect(await store.getPromotion(acked.message.id)).toBeUndefined();
        expect(await store.getPromotion(pending.message.id)).toBeUndefined();
        expect(await store.getPromotion(fresh.message.id)).toMatchObject({ id: fresh.message.id, status: 'pending' });
        expect(await store.getShopper(shopper.id)).toBeDefined();
      });

      it('deletes event sequence claims timed before the cutoff, which can then be claimed again', async () => {
        const [gatewayId, boot] = [uniqueId('gw'), randomUUID()];
        await store.acceptSequence(gatewayId, boot, 1, 'ev-old', CUTOFF - 1);
        await store.acceptSequence(gatewayId, boot, 2, 'ev-kept', CUTOFF);

        expect((await purged('event-sequences')).deleted).toBeGreaterThanOrEqual(1);
        expect(await store.acceptSequence(gatewayId, boot, 1, 'ev-other', START_MS)).toBe('new');
        expect(await store.acceptSequence(gatewayId, boot, 2, 'ev-other', START_MS)).toBe('replay');
      });

      it('deletes idle zone states whose latest time is before the cutoff, and no state with something due', async () => {
        const [idleOld, pendingOld, idleFresh, timeless] = [await givenShopper(), await givenShopper(), await givenShopper(), await givenShopper()];
        const left = (atMs: number): ZoneState => ({ ...emptyZoneState(), applied: [{ eventId: randomUUID(), transitions: [{ kind: 'left', zoneId: 'a', atMs, dwellMs: 0 }] }] });
        const states: [ShopperRecord, ZoneState, number | null][] = [
          [idleOld, left(CUTOFF - 1), null],
          // An old claim still to expire (the sweep has not run): due, so kept, however old.
          [pendingOld, { ...emptyZoneState(), claims: { a: { rank: 1, atMs: CUTOFF - DAY_MS } } }, CUTOFF - DAY_MS + 900_001],
          [idleFresh, left(CUTOFF), null],
          [timeless, { ...emptyZoneState(), applied: [{ eventId: randomUUID(), transitions: [] }] }, null],
        ];
        for (const [shopper, state, dueAtMs] of states) await store.updateZoneState('store-1', shopper.id, () => ({ state, dueAtMs, result: undefined }));

        expect((await purged('zone-states')).deleted).toBeGreaterThanOrEqual(1);
        expect(await store.getZoneState('store-1', idleOld.id)).toBeUndefined();
        for (const [shopper, state] of states.slice(1)) expect(await store.getZoneState('store-1', shopper.id)).toEqual(state);
        // Once the claim has expired and the state is idle, it goes too.
        await store.updateZoneState('store-1', pendingOld.id, () => ({ state: left(CUTOFF - DAY_MS), dueAtMs: null, result: undefined }));
        await purged('zone-states');
        expect(await store.getZoneState('store-1', pendingOld.id)).toBeUndefined();
      });

      it('reports an empty purge as nothing deleted in one batch', async () => {
        // Nothing of any test is timed before the epoch.
        for (const kind of ['presence-events', 'zone-states', 'delivery-records', 'event-sequences', 'proof-nonces'] as const) {
          expect(await store.purgeBefore(kind, 0, 10)).toEqual({ deleted: 0, batches: 1 });
        }
      });

      it('lets another instance write while it purges a big backlog in small batches', async () => {
        const shopper = await givenShopper();
        const old = Array.from({ length: 60 }, (_, i) => aPresence({ shopperId: shopper.id, atS: CUTOFF / 1000 - 10 - i }));
        for (const event of old) await store.recordPresence(event, START_MS);
        const other = await anotherInstance();
        const written = aPresence({ shopperId: shopper.id });
        const [result, recorded] = await Promise.all([purged('presence-events', 5), other.recordPresence(written, START_MS)]);
        expect(recorded).toBe('new');
        expect(result.deleted).toBeGreaterThanOrEqual(60);
        expect(result.batches).toBeGreaterThanOrEqual(13);
        expect(await store.recordPresence(written, START_MS)).toBe('duplicate');
      });

      it('refuses a bad argument, naming it', async () => {
        await expect(store.purgeBefore('sightings' as never, CUTOFF, 10)).rejects.toThrow(/unknown kind "sightings"/);
        await expect(store.purgeBefore('presence-events', Number.NaN, 10)).rejects.toThrow(/cutoffMs/);
        await expect(store.purgeBefore('presence-events', CUTOFF, 0)).rejects.toThrow(/batchLimit/);
        await expect(store.purgeBefore('presence-events', CUTOFF, 2.5)).rejects.toThrow(/batchLimit/);
      });
    });

    describe('data-subject rights', () => {
      const digest = (): string => randomBytes(32).toString('hex');
      const auditDraft = (shopperId: string, action: string): AuditDraft => ({ atMs: START_MS, actor: 'shopper', action, subject: shopperId, details: {} });

      /** A shopper with data of every kind: consent, presence, a zone state, a promotion, a beacon, an audit entry. */
      async function givenShopperWithData(overrides: Partial<ShopperRecord> = {}) {
        const shopper = await givenShopper({ presence: true, promotions: true }, overrides);
        await store.recordPresence(aPresence({ shopperId: shopper.id }), START_MS);
        await store.updateZoneState('store-1', shopper.id, () => ({ state: { ...emptyZoneState(), claims: { entrance: { rank: 1, atMs: START_MS } } }, dueAtMs: null, result: undefined }));
        await store.recordVisitActivity('store-1', shopper.id, START_MS, true);
        await store.setShopperAttributes(shopper.id, { loyaltyTier: 'gold', interests: ['coffee'] });
        const draft = aDraft({ shopperId: shopper.id });
        expect((await store.recordPromotion(draft)).outcome).toBe('recorded');
        const beacon = aLinkedBeacon({ shopperId: shopper.id });
        await store.addBeacon(beacon);
        await store.appendAudit(auditDraft(shopper.id, 'consent.changed'));
        return { shopper, draft, beacon };
      }

      it('reads everything held about one shopper, and only theirs', async () => {
        const { shopper, draft, beacon } = await givenShopperWithData({ deviceSecretDigest: digest() });
        await givenShopperWithData();
        const data = (await store.readShopperData(shopper.id))!;
        expect(data.shopper).toEqual({ ...shopper, restricted: false, objectedAtMs: null, loyaltyTier: 'gold', interests: ['coffee'] });
        expect(data.visits).toEqual([{ storeId: 'store-1', shopperId: shopper.id, visitCount: 1, visitStartedAtMs: START_MS, lastSeenAtMs: START_MS, previousVisitLastSeenMs: null }]);
        expect(data.consentRecords.map((r) => r.purpose)).toEqual(['presence', 'promotions']);
        expect(data.consentState).toEqual(replayConsent(data.consentRecords));
        expect(data.presenceEvents).toEqual([expect.objectContaining({ shopperId: shopper.id, receivedAtMs: START_MS })]);
        expect(data.zoneStates).toEqual([{ storeId: 'store-1', shopperId: shopper.id, state: expect.objectContaining({ claims: { entrance: { rank: 1, atMs: START_MS } } }), dueAtMs: null }]);
        expect(data.promotions.map((p) => p.id)).toEqual([draft.message.id]);
        expect(data.beacons).toEqual([beacon]);
        expect(data.audit.map((a) => [a.subject, a.action])).toEqual([[shopper.id, 'consent.changed']]);
        expect(await store.readShopperData(uniqueId('sh'))).toBeUndefined();
      });

      it('erases a shopper in one transaction, keeping only the tombstone, the proof and the audit entry', async () => {
        const { shopper } = await givenShopperWithData({ deviceSecretDigest: digest() });
        const ledger = await store.listConsentRecords(shopper.id);
        const counts = await store.eraseShopper(shopper.id, START_MS + 5, (c) => ({ ...auditDraft(shopper.id, 'shopper.erased'), details: c }));
        expect(counts).toEqual({ consentRecords: 2, consentStates: 2, presenceEvents: 1, zoneStates: 1, visits: 1, promotions: 1, beacons: 1 });

        const tombstone = (await store.getShopper(shopper.id))!;
        expect(tombstone).toMatchObject({ identityKeySealed: null, firstName: null, locale: '', erasedAtMs: START_MS + 5, deviceSecretDigest: null, restricted: false, loyaltyTier: null, interests: [] });
        // Visit history is gone, and a presence resolved just before the erasure starts none.
        expect((await store.recordVisitActivity('store-1', shopper.id, START_MS, false)).visitNumber).toBe(0);
        expect((await store.recordVisitActivity('store-1', shopper.id, START_MS + DAY_MS, true)).visitNumber).toBe(0);
        expect(tombstone.tokenHash).not.toBe(shopper.tokenHash);
        expect(await store.findShopperByTokenHash(shopper.tokenHash)).toBeUndefined();
        expect(await store.readShopperData(shopper.id)).toBeUndefined();
        expect(await store.listConsentRecords(shopper.id)).toEqual([]);
        expect(await store.listBeacons(shopper.id)).toEqual([]);
        expect(await store.getZoneState('store-1', shopper.id)).toBeUndefined();
        expect(await store.getErasureProof(shopper.id)).toEqual(erasureProof(shopper.id, START_MS + 5, ledger, replayConsent(ledger)));
        const audit = await store.listAudit(1, 100_000);
        expect(audit.filter((a) => a.subject === shopper.id).map((a) => a.action)).toEqual(['consent.changed', 'shopper.erased']);
        expect(createAuditVerifier().push(audit)).toBeUndefined();

        // Once only: a second erasure finds nothing and writes nothing.
        expect(await store.eraseShopper(shopper.id, START_MS + 6, (c) => ({ ...auditDraft(shopper.id, 'shopper.erased'), details: c }))).toBeUndefined();
        expect((await store.getErasureProof(shopper.id))!.erasedAtMs).toBe(START_MS + 5);
      });

      it('writes no presence event or zone state for a shopper once erased (an event resolved just before the erasure)', async () => {
        const { shopper } = await givenShopperWithData();
        await store.eraseShopper(shopper.id, START_MS, (c) => ({ ...auditDraft(shopper.id, 'shopper.erased'), details: c }));
        expect(await store.recordPresence(aPresence({ shopperId: shopper.id }), START_MS)).toBe('erased');
        expect(await store.recordPresence(aPresence({ shopperId: uniqueId('sh') }), START_MS)).toBe('erased');
        const result = await store.updateZoneState('store-1', shopper.id, () => ({ state: emptyZoneState(), dueAtMs: START_MS, result: 'ran' }));
        expect(result).toBe('ran');
        expect(await store.getZoneState('store-1', shopper.id)).toBeUndefined();
        expect(await store.listZoneStatesDue(START_MS, 100_000)).not.toContainEqual({ storeId: 'store-1', shopperId: shopper.id });
      });

      it('erases nothing when the audit entry cannot be written (all or nothing)', async () => {
        const { shopper } = await givenShopperWithData();
        await expect(store.eraseShopper(shopper.id, START_MS, () => ({ ...auditDraft(shopper.id, 'NOT A VALID ACTION'), details: {} }))).rejects.toThrow(/action/);
        expect((await store.readShopperData(shopper.id))!.beacons).toHaveLength(1);
        expect(await store.getErasureProof(shopper.id)).toBeUndefined();
      });

      it('records an objection once: withdrawals and audit together, a suppression entry, and no promotion afterwards even if consent says granted', async () => {
        const deviceDigest = digest();
        const { shopper } = await givenShopperWithData({ deviceSecretDigest: deviceDigest });
        const withdrawals = (['promotions', 'personalisation'] as const).map((purpose) => aConsent({ shopperId: shopper.id, purpose, granted: false, serverTimeMs: START_MS + 1 }));
        const result = await store.recordObjection(shopper.id, START_MS + 1, withdrawals, [auditDraft(shopper.id, 'shopper.objected')]);
        expect(result.outcome).toBe('objected');
        expect(result.state).toMatchObject({ presence: { granted: true }, promotions: { granted: false }, personalisation: { granted: false } });
        expect((await store.getShopper(shopper.id))!.objectedAtMs).toBe(START_MS + 1);
        expect(await store.isSuppressed(deviceDigest)).toBe(true);
        expect(await store.isSuppressed(digest())).toBe(false);
        expect((await store.listUnackedPromotions(shopper.id, START_MS)).length).toBe(0);

        const again = await store.recordObjection(shopper.id, START_MS + 2, [aConsent({ shopperId: shopper.id, purpose: 'promotions', granted: false })], []);
        expect(again.outcome).toBe('already-objected');
        expect(await store.listConsentRecords(shopper.id)).toHaveLength(4);

        // A grant of promotions after the objection — a request that passed its check before the objection
        // committed — is refused in the appending transaction, and appends nothing.
        await expect(regrant(shopper.id, 'promotions')).rejects.toBeInstanceOf(ObjectedGrantError);
        expect(await store.listConsentRecords(shopper.id)).toHaveLength(4);
        // And the send path skips an objected shopper whatever a draft requires.
        const refused = await store.recordPromotion(aDraft({ shopperId: shopper.id, createdAtMs: START_MS + DAY_MS, requiredPurposes: ['presence'] }));
        expect(outcome(refused)).toBe('skipped:objected');
      });

      it('keeps the suppression through erasure: a registration with the same digest starts out objected, another does not', async () => {
        const deviceDigest = digest();
        const { shopper } = await givenShopperWithData({ deviceSecretDigest: deviceDigest });
        await store.recordObjection(shopper.id, START_MS, [], []);
        await store.eraseShopper(shopper.id, START_MS + 1, (c) => ({ ...auditDraft(shopper.id, 'shopper.erased'), details: c }));
        expect(await store.isSuppressed(deviceDigest)).toBe(true);

        const returning = aShopper({ deviceSecretDigest: deviceDigest, createdAtMs: START_MS + 2 });
        expect(await store.createShopper(returning)).toEqual({ ...returning, objectedAtMs: START_MS + 2 });
        const fresh = aShopper({ deviceSecretDigest: digest() });
        expect((await store.createShopper(fresh)).objectedAtMs).toBeNull();
        const none = aShopper();
        expect((await store.createShopper(none)).objectedAtMs).toBeNull();
      });

      it('restricts and lifts: skipped by resolution, beacons and promotions, reported as a change, audited once per change', async () => {
        const since = START_MS + 500 * DAY_MS;
        const { shopper, beacon } = await givenShopperWithData();
        const unrelated = await givenShopper({ presence: true });
        const ours = new Set([shopper.id, unrelated.id]);
        expect(await store.setRestriction(shopper.id, true, since, auditDraft(shopper.id, 'shopper.restricted'))).toBe(true);
        expect(await store.setRestriction(shopper.id, true, since + 1, auditDraft(shopper.id, 'shopper.restricted'))).toBe(false);

        expect((await store.listResolvableShoppers()).filter((s) => ours.has(s.id)).map((s) => s.id)).toEqual([unrelated.id]);
        expect((await store.listResolvableBeacons()).map((b) => b.id)).not.toContain(beacon.id);
        expect((await store.listShopperChangesSince(since)).filter((id) => ours.has(id))).toEqual([shopper.id]);
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: shopper.id, createdAtMs: START_MS + DAY_MS })))).toBe('skipped:restricted');
        // Kept: the data is all still there, and the pending promotion was cancelled, not deleted.
        const data = (await store.readShopperData(shopper.id))!;
        expect(data.shopper.restricted).toBe(true);
        expect(data.promotions.map((p) => p.status)).toEqual(['cancelled']);
        expect(data.presenceEvents).toHaveLength(1);

        expect(await store.setRestriction(shopper.id, false, since + 2, auditDraft(shopper.id, 'shopper.unrestricted'))).toBe(true);
        expect((await store.listResolvableShoppers()).map((s) => s.id)).toContain(shopper.id);
        expect((await store.listResolvableBeacons()).map((b) => b.id)).toContain(beacon.id);
        expect((await store.listShopperChangesSince(since + 2)).filter((id) => ours.has(id))).toEqual([shopper.id]);
        expect(outcome(await store.recordPromotion(aDraft({ shopperId: shopper.id, createdAtMs: START_MS + 2 * DAY_MS })))).toBe('recorded');
        const actions = (await store.listAudit(1, 100_000)).filter((a) => a.subject === shopper.id).map((a) => a.action);
        expect(actions).toEqual(['consent.changed', 'shopper.restricted', 'shopper.unrestricted']);
      });

      it('lets a send racing an erasure on another instance either happen before it (and be erased) or be skipped', async () => {
        const { shopper } = await givenShopperWithData();
        const other = await anotherInstance();
        const [, send] = await Promise.all([
          store.eraseShopper(shopper.id, START_MS, (c) => ({ ...auditDraft(shopper.id, 'shopper.erased'), details: c })),
          other.recordPromotion(aDraft({ shopperId: shopper.id, createdAtMs: START_MS + DAY_MS })),
        ]);
        expect(['recorded', 'skipped:erased']).toContain(outcome(send));
        expect(await store.listUnackedPromotions(shopper.id, START_MS)).toEqual([]);
        expect((await store.getShopper(shopper.id))!.erasedAtMs).toBe(START_MS);
      });
    });

    it('counts what it holds', async () => {
      const before = await store.counts();
      const shopper = await givenShopper();
      await store.recordPresence(aPresence({ shopperId: shopper.id }), START_MS);
      const [sent, acked] = [aDraft({ shopperId: shopper.id }), aDraft({ shopperId: shopper.id })];
      await store.recordPromotion(sent);
      await store.recordPromotion(acked);
      await store.ackPromotion(shopper.id, acked.message.id, START_MS);
      await store.insertEpochKey({ keyId: uniqueId('key'), storeId: 'store-1', keySealed: randomBytes(16), notBeforeS: 2_100_000_000, notAfterS: 2_100_000_900 });

      expect(await store.counts()).toEqual({
        shoppers: before.shoppers + 1,
        consentRecords: before.consentRecords + 2,
        presenceEvents: before.presenceEvents + 1,
        promotions: before.promotions + 2,
        exposuresHeldOut: before.exposuresHeldOut,
        promotionsAcked: before.promotionsAcked + 1,
        epochKeys: before.epochKeys + 1,
      });
    });

    describe('point of sale', () => {
      const aDevice = (storeId = 'store-1') => ({ id: uniqueId('pd').toLowerCase(), storeId, name: 'Till 1', tokenHash: randomBytes(32).toString('hex'), createdAtMs: START_MS });

      /** A recorded promotion of store-1 with its coupon, valid for an hour from START_MS. */
      async function givenCoupon(target: Store = store): Promise<{ shopperId: string; promotionId: string; couponCode: string; campaignId: string }> {
        const shopper = await givenShopper();
        const draft = aDraft({ shopperId: shopper.id });
        const result = await target.recordPromotion(draft);
        if (result.outcome !== 'recorded') throw new Error(`expected a recorded promotion, got ${result.outcome}`);
        return { shopperId: shopper.id, promotionId: draft.message.id, couponCode: draft.message.couponCode, campaignId: draft.campaignId };
      }
      const redeem = (target: Store, couponCode: string, overrides: { requestId?: string | null; deviceId?: string; atMs?: number; storeId?: string } = {}) =>
        target.redeemCoupon({ storeId: 'store-1', couponCode, requestId: null, deviceId: 'pd-till', atMs: START_MS + SECOND_MS, ...overrides });

      it('keeps POS devices by store, finds them by token hash until revoked, and revokes once', async () => {
        const device = aDevice();
        await store.createPosDevice(device);
        expect(await store.findPosDeviceByTokenHash(device.tokenHash)).toEqual({ ...device, revokedAtMs: null });
        expect(await store.listPosDevices('store-1')).toContainEqual({ ...device, revokedAtMs: null });
        expect(await store.revokePosDevice('store-2', device.id, START_MS + 1)).toBe(false);
        expect(await store.revokePosDevice('store-1', device.id, START_MS + 1)).toBe(true);
        expect(await store.revokePosDevice('store-1', device.id, START_MS + 2)).toBe(false);
        expect(await store.findPosDeviceByTokenHash(device.tokenHash)).toBeUndefined();
        expect(await store.listPosDevices('store-1')).toContainEqual({ ...device, revokedAtMs: START_MS + 1 });
      });

      it('refuses a second device with the same token hash', async () => {
        const device = aDevice();
        await store.createPosDevice(device);
        await expect(store.createPosDevice({ ...aDevice(), tokenHash: device.tokenHash })).rejects.toThrow();
      });

      it('redeems a coupon once, then says when it was redeemed', async () => {
        const coupon = await givenCoupon();
        const first = await redeem(store, coupon.couponCode, { requestId: randomUUID() });
        expect(first).toEqual({
          outcome: 'redeemed', replayed: false,
          redemption: { couponCode: coupon.couponCode, campaignId: coupon.campaignId, title: 'Fresh coffee', redeemedAtMs: START_MS + SECOND_MS, storeId: 'store-1', zoneId: 'entrance' },
        });
        expect(await redeem(store, coupon.couponCode, { atMs: START_MS + 2 * SECOND_MS })).toEqual({ outcome: 'already-redeemed', redeemedAtMs: START_MS + SECOND_MS });
        expect((await store.getPromotion(coupon.promotionId))?.redeemedAtMs).toBe(START_MS + SECOND_MS);
      });

      it('answers the same device retrying the same requestId with the first redemption, and nobody else', async () => {
        const coupon = await givenCoupon();
        const requestId = randomUUID();
        const first = await redeem(store, coupon.couponCode, { requestId });
        const retry = await redeem(await anotherInstance(), coupon.couponCode, { requestId, atMs: START_MS + 5 * SECOND_MS });
        expect(retry).toEqual({ ...first, replayed: true });
        expect(await redeem(store, coupon.couponCode, { requestId, deviceId: 'pd-other-till' })).toEqual({ outcome: 'already-redeemed', redeemedAtMs: START_MS + SECOND_MS });
        expect(await redeem(store, coupon.couponCode, { requestId: randomUUID() })).toEqual({ outcome: 'already-redeemed', redeemedAtMs: START_MS + SECOND_MS });
      });

      it('does not find an unknown code, nor a code of another store', async () => {
        const coupon = await givenCoupon();
        expect(await redeem(store, 'ZZZZZ-ZZZZZ')).toEqual({ outcome: 'not-found' });
        expect(await redeem(store, coupon.couponCode, { storeId: 'store-2' })).toEqual({ outcome: 'not-found' });
        expect((await store.getPromotion(coupon.promotionId))?.redeemedAtMs).toBeNull();
      });

      it('refuses an expired coupon from its expiry on', async () => {
        const coupon = await givenCoupon();
        const expiresAtMs = (await store.getPromotion(coupon.promotionId))!.message.expiresAtMs;
        expect(await redeem(store, coupon.couponCode, { atMs: expiresAtMs })).toEqual({ outcome: 'expired', expiresAtMs });
        expect((await redeem(store, coupon.couponCode, { atMs: expiresAtMs - 1 })).outcome).toBe('redeemed');
      });

      it('refuses the coupon of a promotion cancelled by a withdrawal', async () => {
        const coupon = await givenCoupon();
        await withdraw(store, coupon.shopperId, 'promotions');
        expect(await redeem(store, coupon.couponCode)).toEqual({ outcome: 'cancelled' });
      });

      it('redeems a coupon exactly once when two instances race 20 redemptions of it', async () => {
        const coupon = await givenCoupon();
        const other = await anotherInstance();
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
          redeem(i % 2 === 0 ? store : other, coupon.couponCode, { requestId: randomUUID(), deviceId: `pd-till-${i}`, atMs: START_MS + SECOND_MS + i })));
        const redeemed = results.filter((r) => r.outcome === 'redeemed');
        expect(redeemed).toHaveLength(1);
        expect(results.filter((r) => r.outcome === 'already-redeemed')).toHaveLength(19);
        const { redeemedAtMs } = (redeemed[0] as Extract<typeof redeemed[0], { outcome: 'redeemed' }>).redemption;
        expect(results.every((r) => r.outcome === 'redeemed' || (r.outcome === 'already-redeemed' && r.redeemedAtMs === redeemedAtMs))).toBe(true);
      });

      it('forgets a redemption with the shopper: erasure deletes the promotion', async () => {
        const coupon = await givenCoupon();
        await redeem(store, coupon.couponCode);
        await store.eraseShopper(coupon.shopperId, START_MS + DAY_MS, () => ({ atMs: START_MS + DAY_MS, actor: 'shopper', action: 'shopper.erased', subject: coupon.shopperId, details: {} }));
        expect(await redeem(store, coupon.couponCode)).toEqual({ outcome: 'not-found' });
      });
    });

    describe('webhook delivery queue', () => {
      const LEASE_MS = 30 * SECOND_MS;
      const mine = (rows: readonly { promotionId: string }[], ids: readonly string[]): string[] => rows.map((r) => r.promotionId).filter((id) => ids.includes(id));

      it('queues a promotion once, and claims it with a lease and a counted attempt', async () => {
        const id = uniqueId('wh');
        expect(await store.enqueueWebhookDelivery(id, START_MS)).toBe(true);
        expect(await store.enqueueWebhookDelivery(id, START_MS + 5)).toBe(false);
        expect(await store.getWebhookDelivery(id)).toEqual({ promotionId: id, attempts: 0, attemptsBeforeReplay: 0, replays: 0, nextAttemptAtMs: START_MS, claimedUntilMs: null, status: 'queued', lastError: null, updatedAtMs: START_MS });
        const claimed = (await store.claimWebhookDeliveries(START_MS + 10, LEASE_MS, 1000)).find((r) => r.promotionId === id);
        expect(claimed).toMatchObject({ attempts: 1, claimedUntilMs: START_MS + 10 + LEASE_MS, status: 'queued' });
        // Leased: not claimable again until the lease runs out.
        expect(mine(await store.claimWebhookDeliveries(START_MS + 10 + LEASE_MS - 1, LEASE_MS, 1000), [id])).toEqual([]);
        const again = (await store.claimWebhookDeliveries(START_MS + 10 + LEASE_MS, LEASE_MS, 1000)).find((r) => r.promotionId === id);
        expect(again?.attempts).toBe(2);
        expect(await store.finishWebhookAttempt(id, 2, { status: 'sent', atMs: START_MS + 20 + LEASE_MS })).toBe(true);
        expect(await store.getWebhookDelivery(id)).toMatchObject({ status: 'sent', claimedUntilMs: null, attempts: 2 });
      });

      it('does not claim a row before it is due', async () => {
        const id = uniqueId('wh');
        await store.enqueueWebhookDelivery(id, START_MS + DAY_MS);
        expect(mine(await store.claimWebhookDeliveries(START_MS + DAY_MS - 1, LEASE_MS, 1000), [id])).toEqual([]);
        expect(mine(await store.claimWebhookDeliveries(START_MS + DAY_MS, LEASE_MS, 1000), [id])).toEqual([id]);
        await store.finishWebhookAttempt(id, 1, { status: 'dropped', atMs: START_MS + DAY_MS, error: 'test' });
      });

      it('reschedules a retry, then refuses the outcome of a claim that is no longer the latest', async () => {
        const id = uniqueId('wh');
        await store.enqueueWebhookDelivery(id, START_MS);
        await store.claimWebhookDeliveries(START_MS, LEASE_MS, 1000);
        expect(await store.finishWebhookAttempt(id, 1, { status: 'queued', atMs: START_MS + 1, nextAttemptAtMs: START_MS + 2 * LEASE_MS, error: 'http 503' })).toBe(true);
        expect(await store.getWebhookDelivery(id)).toMatchObject({ status: 'queued', attempts: 1, nextAttemptAtMs: START_MS + 2 * LEASE_MS, claimedUntilMs: null, lastError: 'http 503' });
        // Attempt 2's lease runs out (a killed worker); attempt 3 is claimed elsewhere and succeeds.
        await store.claimWebhookDeliveries(START_MS + 2 * LEASE_MS, LEASE_MS, 1000);
        const third = (await store.claimWebhookDeliveries(START_MS + 3 * LEASE_MS, LEASE_MS, 1000)).find((r) => r.promotionId === id);
        expect(third?.attempts).toBe(3);
        expect(await store.finishWebhookAttempt(id, 3, { status: 'sent', atMs: START_MS + 3 * LEASE_MS })).toBe(true);
        // The killed worker's late outcome changes nothing.
        expect(await store.finishWebhookAttempt(id, 2, { status: 'dead', atMs: START_MS + 3 * LEASE_MS, error: 'late' })).toBe(false);
        expect(await store.getWebhookDelivery(id)).toMatchObject({ status: 'sent', attempts: 3 });
      });

      it('marks a row dead or dropped for good: no later claim returns it', async () => {
        const dead = uniqueId('wh');
        const dropped = uniqueId('wh');
        await store.enqueueWebhookDelivery(dead, START_MS);
        await store.enqueueWebhookDelivery(dropped, START_MS);
        await store.claimWebhookDeliveries(START_MS, LEASE_MS, 1000);
        expect(await store.finishWebhookAttempt(dead, 1, { status: 'dead', atMs: START_MS, error: 'http 400' })).toBe(true);
        expect(await store.finishWebhookAttempt(dropped, 1, { status: 'dropped', atMs: START_MS, error: 'consent' })).toBe(true);
        expect(mine(await store.claimWebhookDeliveries(START_MS + DAY_MS, LEASE_MS, 1000), [dead, dropped])).toEqual([]);
        expect((await store.getWebhookDelivery(dead))?.status).toBe('dead');
        expect((await store.getWebhookDelivery(dropped))?.lastError).toBe('consent');
      });

      it('lists dead rows by promotion ID in pages, and replays only dead ones, with fresh tries and claim numbers that go on rising', async () => {
        const deadIds = Array.from({ length: 3 }, () => uniqueId('whdead')).sort();
        const sent = uniqueId('whdead');
        for (const id of [...deadIds, sent]) await store.enqueueWebhookDelivery(id, START_MS);
        await store.claimWebhookDeliveries(START_MS, LEASE_MS, 1000);
        for (const id of deadIds) expect(await store.finishWebhookAttempt(id, 1, { status: 'dead', atMs: START_MS + 1, error: 'http 410' })).toBe(true);
        await store.finishWebhookAttempt(sent, 1, { status: 'sent', atMs: START_MS + 1 });
        // Pages: everyone's dead rows (other tests' too), ours among them in promotion-ID order.
        const all: string[] = [];
        for (let after: string | undefined; ;) {
          const page = await store.listDeadWebhookDeliveries(2, after);
          all.push(...page.map((r) => r.promotionId));
          if (page.length < 2) break;
          after = page[page.length - 1]!.promotionId;
        }
        expect(all.filter((id) => id.startsWith('whdead'))).toEqual(deadIds);
        expect([...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(all);

        const auditBefore = (await store.listAudit(1, 100_000)).length;
        const requeued = await store.replayDeadWebhookDeliveries([deadIds[0]!, deadIds[1]!, sent, uniqueId('nowhere')], START_MS + DAY_MS, 'pri_ops');
        expect(requeued).toEqual([deadIds[0], deadIds[1]]);
        expect(await store.getWebhookDelivery(deadIds[0]!)).toMatchObject({ status: 'queued', attempts: 1, attemptsBeforeReplay: 1, replays: 1, nextAttemptAtMs: START_MS + DAY_MS, claimedUntilMs: null, lastError: 'http 410' });
        expect((await store.getWebhookDelivery(sent))?.status).toBe('sent');
        expect((await store.getWebhookDelivery(deadIds[2]!))?.status).toBe('dead');
        // One audit entry, in the same transaction, with the counts.
        const entries = (await store.listAudit(1, 100_000)).slice(auditBefore);
        expect(entries.map((e) => [e.action, e.actor, e.details])).toEqual([['webhook.replayed', 'pri_ops', { requested: 4, requeued: 2 }]]);
        // The next claim is attempt 2: a worker still holding attempt 1 from before the replay can finish nothing.
        const claimed = (await store.claimWebhookDeliveries(START_MS + DAY_MS, LEASE_MS, 1000)).find((r) => r.promotionId === deadIds[0]);
        expect(claimed).toMatchObject({ attempts: 2, attemptsBeforeReplay: 1 });
        expect(await store.finishWebhookAttempt(deadIds[0]!, 1, { status: 'sent', atMs: START_MS + DAY_MS })).toBe(false);
        expect(await store.finishWebhookAttempt(deadIds[0]!, 2, { status: 'sent', atMs: START_MS + DAY_MS })).toBe(true);
        // Replaying rows that are not dead requeues nothing and writes no audit entry.
        expect(await store.replayDeadWebhookDeliveries([deadIds[0]!, sent], START_MS + DAY_MS, 'pri_ops')).toEqual([]);
        expect((await store.listAudit(1, 100_000)).length).toBe(auditBefore + 1);
        await expect(store.replayDeadWebhookDeliveries([], START_MS, 'pri_ops')).rejects.toThrow(/promotionIds/);
        await expect(store.listDeadWebhookDeliveries(0)).rejects.toThrow(/limit/);
      });

      it('requeues each dead row once when two instances replay the same rows at once', async () => {
        const other = await anotherInstance();
        const ids = Array.from({ length: 20 }, () => uniqueId('whrace'));
        for (const id of ids) await store.enqueueWebhookDelivery(id, START_MS);
        await store.claimWebhookDeliveries(START_MS, LEASE_MS, 1000);
        for (const id of ids) await store.finishWebhookAttempt(id, 1, { status: 'dead', atMs: START_MS, error: 'timeout' });
        const [a, b] = await Promise.all([store.replayDeadWebhookDeliveries(ids, START_MS + DAY_MS, 'pri_a'), other.replayDeadWebhookDeliveries(ids, START_MS + DAY_MS, 'pri_b')]);
        expect([...a, ...b].sort()).toEqual([...ids].sort());
        for (const id of ids) expect((await store.getWebhookDelivery(id))?.replays).toBe(1);
      });

      it('keeps one sealed push target per shopper, replaced by the next, refused for an unknown shopper', async () => {
        const shopper = await givenShopper();
        expect(await store.getPushTargetSealed(shopper.id)).toBeUndefined();
        expect(await store.putPushTarget(shopper.id, Buffer.from('first'), START_MS)).toBe(true);
        expect(await store.putPushTarget(shopper.id, Buffer.from('second'), START_MS + 1)).toBe(true);
        expect((await store.getPushTargetSealed(shopper.id))?.toString()).toBe('second');
        expect(await store.putPushTarget(uniqueId('sh'), Buffer.from('x'), START_MS)).toBe(false);
      });

      it('deletes a push target once; a second delete finds none', async () => {
        const shopper = await givenShopper();
        await store.putPushTarget(shopper.id, Buffer.from('sealed'), START_MS);
        expect(await store.deletePushTarget(shopper.id)).toBe(true);
        expect(await store.getPushTargetSealed(shopper.id)).toBeUndefined();
        expect(await store.deletePushTarget(shopper.id)).toBe(false);
      });

      it('erasure deletes the push target and the queued webhook rows of the shopper\'s promotions', async () => {
        const shopper = await givenShopper();
        await store.putPushTarget(shopper.id, Buffer.from('sealed'), START_MS);
        const recorded = await store.recordPromotion(aDraft({ shopperId: shopper.id }));
        if (recorded.outcome !== 'recorded') throw new Error(recorded.outcome);
        await store.enqueueWebhookDelivery(recorded.promotion.id, START_MS);
        await store.eraseShopper(shopper.id, START_MS + DAY_MS, () => ({ atMs: START_MS + DAY_MS, actor: 'shopper', action: 'shopper.erased', subject: shopper.id, details: {} }));
        expect(await store.getPushTargetSealed(shopper.id)).toBeUndefined();
        expect(await store.getWebhookDelivery(recorded.promotion.id)).toBeUndefined();
        expect(await store.putPushTarget(shopper.id, Buffer.from('again'), START_MS + DAY_MS)).toBe(false);
      });

      it('claims each row once when two instances claim concurrently', async () => {
        const other = await anotherInstance();
        const atMs = START_MS + 2 * DAY_MS;
        const ids = Array.from({ length: 40 }, () => uniqueId('wh'));
        for (const id of ids) await store.enqueueWebhookDelivery(id, atMs);
        const claimAll = async (target: Store): Promise<string[]> => {
          const got: string[] = [];
          for (;;) {
            const batch = await target.claimWebhookDeliveries(atMs, DAY_MS, 3);
            expect(batch.length).toBeLessThanOrEqual(3); // the limit holds under concurrency too
            if (batch.length === 0) return got;
            got.push(...batch.map((r) => r.promotionId));
          }
        };
        const [a, b, c, d] = await Promise.all([claimAll(store), claimAll(other), claimAll(store), claimAll(other)]);
        const claimed = mine([...a!, ...b!, ...c!, ...d!].map((promotionId) => ({ promotionId })), ids);
        expect(claimed.sort()).toEqual([...ids].sort());
        expect(new Set(claimed).size).toBe(ids.length);
      });
    });
  });
}
