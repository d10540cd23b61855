import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeEid, pseudonymise, windowStart, type Pseudonym } from '#gateway/protocol/index.ts';
import { createResolverIndex, type LiveEpochKey, type ResolvableShopper } from '#server/domain/resolver-index.ts';
import { START_MS } from '#test/helpers/builders.ts';

const K = 10;
const PERIOD_S = 2 ** K;
/** The middle of a window, so ±1 window is unambiguous. */
const NOW_S = windowStart(START_MS / 1000, K) + PERIOD_S / 2;

const key = (storeId: string, period = 0): LiveEpochKey => ({ keyId: `${storeId}-${period}`, storeId, key: randomBytes(32) });
const aResolvable = (shopperId: string, rotationExponent = K): ResolvableShopper => ({ shopperId, identityKey: randomBytes(16), rotationExponent });

/** The pseudonym a gateway would publish for this shopper's app at timeS, under an epoch key. */
const seen = (shopper: ResolvableShopper, epochKey: LiveEpochKey, timeS: number): Pseudonym =>
  pseudonymise(epochKey.key, 'eddystone-eid', computeEid(shopper.identityKey, shopper.rotationExponent, timeS));

/** The index may zero the key it was given; tests keep their own copy to compute what the app sends. */
const given = (shopper: ResolvableShopper): ResolvableShopper => ({ ...shopper, identityKey: Buffer.from(shopper.identityKey) });

describe('createResolverIndex', () => {
  it('resolves a shopper’s EID pseudonyms for the previous, current and next window', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    for (const w of [-1, 0, 1]) expect(index.resolve(seen(ada, store1, NOW_S + w * PERIOD_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-1' });
  });

  it('does not resolve two windows away, on either side', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    expect(index.resolve(seen(ada, store1, NOW_S - 2 * PERIOD_S))).toBeUndefined();
    expect(index.resolve(seen(ada, store1, NOW_S + 2 * PERIOD_S))).toBeUndefined();
  });

  it('resolves nothing for a shopper it was never given, or under a key it does not hold', () => {
    const index = createResolverIndex();
    const store1 = key('store-1');
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    expect(index.resolve(seen(aResolvable('sh-stranger'), store1, NOW_S))).toBeUndefined();
    expect(index.resolve(seen(ada, key('store-1'), NOW_S))).toBeUndefined();
  });

  it('forgets a removed shopper at once (withdrawal, erasure) and zeroes the key it held', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    const held = given(ada);
    const bob = aResolvable('sh-bob');
    index.upsert(held, NOW_S);
    index.upsert(given(bob), NOW_S);
    index.remove('sh-ada');
    expect(index.has('sh-ada')).toBe(false);
    for (const w of [-1, 0, 1]) expect(index.resolve(seen(ada, store1, NOW_S + w * PERIOD_S))).toBeUndefined();
    expect(held.identityKey.every((byte) => byte === 0)).toBe(true);
    expect(index.resolve(seen(bob, store1, NOW_S))).toEqual({ shopperId: 'sh-bob', storeId: 'store-1' });
    index.remove('sh-nobody');
    expect(index.size().shoppers).toBe(1);
  });

  it('resolves under every store key once a second key is set, and reports which store', () => {
    const store1 = key('store-1');
    const store2 = key('store-2');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    expect(index.resolve(seen(ada, store2, NOW_S))).toBeUndefined();
    index.setKeys([store1, store2], NOW_S);
    expect(index.resolve(seen(ada, store1, NOW_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-1' });
    expect(index.resolve(seen(ada, store2, NOW_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-2' });
  });

  it('stops resolving under a key that is no longer live (ID-3)', () => {
    const today = key('store-1', 1);
    const tomorrow = key('store-1', 2);
    const index = createResolverIndex();
    index.setKeys([today, tomorrow], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    index.setKeys([tomorrow], NOW_S);
    expect(index.resolve(seen(ada, today, NOW_S))).toBeUndefined();
    expect(index.resolve(seen(ada, tomorrow, NOW_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-1' });
  });

  it('recomputes on roll() only once a shopper’s window has moved', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    const windowEndS = windowStart(NOW_S, K) + PERIOD_S;
    expect(index.roll(NOW_S)).toBe(0);
    expect(index.roll(windowEndS - 1)).toBe(0);
    expect(index.resolve(seen(ada, store1, NOW_S + 2 * PERIOD_S))).toBeUndefined();

    expect(index.roll(windowEndS)).toBe(1);
    expect(index.roll(windowEndS + 10)).toBe(0);
    // The window moved on by one: +2 from the old window is now +1, and −1 is now −2.
    expect(index.resolve(seen(ada, store1, NOW_S + 2 * PERIOD_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-1' });
    expect(index.resolve(seen(ada, store1, NOW_S - PERIOD_S))).toBeUndefined();
    expect(index.resolve(seen(ada, store1, NOW_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-1' });
  });

  it('rolls each shopper on their own rotation period', () => {
    const index = createResolverIndex();
    index.setKeys([key('store-1')], NOW_S);
    const startS = windowStart(NOW_S, K);
    index.upsert(given(aResolvable('sh-fast', K - 2)), startS);
    index.upsert(given(aResolvable('sh-slow', K)), startS);
    expect(index.roll(startS + PERIOD_S / 4)).toBe(1);
    expect(index.roll(startS + PERIOD_S)).toBe(2);
  });

  it('replaces a shopper on upsert rather than adding a second entry', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const before = aResolvable('sh-ada');
    index.upsert(given(before), NOW_S);
    const after = aResolvable('sh-ada');
    index.upsert(given(after), NOW_S);
    expect(index.size()).toEqual({ shoppers: 1, pseudonyms: 3 });
    expect(index.resolve(seen(before, store1, NOW_S))).toBeUndefined();
    expect(index.resolve(seen(after, store1, NOW_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-1' });
  });

  it('counts shoppers and pseudonyms: one per window per live key', () => {
    const index = createResolverIndex();
    expect(index.size()).toEqual({ shoppers: 0, pseudonyms: 0 });
    index.upsert(given(aResolvable('sh-1')), NOW_S);
    expect(index.size()).toEqual({ shoppers: 1, pseudonyms: 0 });
    index.setKeys([key('store-1'), key('store-2')], NOW_S);
    index.upsert(given(aResolvable('sh-2')), NOW_S);
    expect(index.size()).toEqual({ shoppers: 2, pseudonyms: 2 * 3 * 2 });
    expect(createResolverIndex({ toleranceWindows: 2 }).size()).toEqual({ shoppers: 0, pseudonyms: 0 });
  });

  it('widens the accepted windows with toleranceWindows', () => {
    const store1 = key('store-1');
    const index = createResolverIndex({ toleranceWindows: 2 });
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    expect(index.resolve(seen(ada, store1, NOW_S + 2 * PERIOD_S))).toBeDefined();
    expect(index.resolve(seen(ada, store1, NOW_S + 3 * PERIOD_S))).toBeUndefined();
    expect(index.size().pseudonyms).toBe(5);
  });

  it('needs only a swap at the boundary: the next window was computed ahead in the last quarter', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const shoppers = ['sh-1', 'sh-2', 'sh-3'].map((id) => aResolvable(id));
    for (const shopper of shoppers) index.upsert(given(shopper), NOW_S);
    const windowEndS = windowStart(NOW_S, K) + PERIOD_S;
    expect(index.roll(windowEndS - PERIOD_S / 4)).toBe(0);
    expect(index.size().pseudonyms).toBe(3 * 4);
    // A budget of one pseudonym pays for 64 visits that compute nothing: the three swaps.
    expect(index.rollStep(windowEndS, 1).rolled).toBe(3);
    for (const shopper of shoppers) {
      expect(index.resolve(seen(shopper, store1, windowEndS + PERIOD_S))?.shopperId).toBe(shopper.shopperId);
      expect(index.resolve(seen(shopper, store1, windowEndS - 2 * PERIOD_S))).toBeUndefined();
    }
    expect(index.roll(windowEndS)).toBe(0);
    expect(index.size().pseudonyms).toBe(3 * 3); // the window that fell out is swept
  });

  it('computes a new key in slices when given a budget, and keeps resolving the live key throughout', () => {
    const store1 = key('store-1', 1);
    const next = key('store-1', 2);
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const shoppers = Array.from({ length: 20 }, (_, i) => aResolvable(`sh-${i}`));
    for (const shopper of shoppers) index.upsert(given(shopper), NOW_S);
    index.setKeys([store1, next], NOW_S, 6);
    let slices = 1;
    for (;;) {
      for (const shopper of shoppers) expect(index.resolve(seen(shopper, store1, NOW_S))?.shopperId).toBe(shopper.shopperId);
      if (index.rollStep(NOW_S, 6).done) break;
      slices += 1;
    }
    expect(slices).toBeGreaterThanOrEqual(10); // 20 shoppers × 3 windows, 6 pseudonyms a slice
    for (const shopper of shoppers) expect(index.resolve(seen(shopper, next, NOW_S))).toEqual({ shopperId: shopper.shopperId, storeId: 'store-1' });
    expect(index.size().pseudonyms).toBe(20 * 3 * 2);
  });

  it('never lets a removed shopper\'s leftover pseudonyms resolve to the shopper who takes its place', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    for (let i = 0; i < 99; i += 1) index.upsert(given(aResolvable(`sh-${i}`)), NOW_S);
    const nextWindowS = windowStart(NOW_S, K) + PERIOD_S;
    index.roll(nextWindowS - 1); // the next windows, computed ahead
    // Ada's window moves on. A budget of one pseudonym pays for 64 visits: the scan is not over, so
    // nothing is swept yet, and the window that fell out is still in the table.
    expect(index.rollStep(nextWindowS, 1)).toEqual({ rolled: 64, done: false });
    index.remove('sh-ada');
    // The clock steps back a window, and Bob arrives: the fallen-out window is inside his ± 1.
    const bob = aResolvable('sh-bob');
    index.upsert(given(bob), NOW_S - PERIOD_S);
    expect(index.resolve(seen(ada, store1, NOW_S - PERIOD_S))).toBeUndefined();
    expect(index.resolve(seen(bob, store1, NOW_S - PERIOD_S))).toEqual({ shopperId: 'sh-bob', storeId: 'store-1' });
    index.roll(NOW_S - PERIOD_S);
    expect(index.resolve(seen(ada, store1, NOW_S - PERIOD_S))).toBeUndefined();
  });

  it('takes the identity key it is given: the caller\'s buffer is zeroed at once', () => {
    const index = createResolverIndex();
    const ada = given(aResolvable('sh-ada'));
    index.upsert(ada, NOW_S);
    expect(ada.identityKey.every((byte) => byte === 0)).toBe(true);
  });

  it('rejects an identity key that is not 16 bytes, or a bad rotation exponent, and keeps what it had', () => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    expect(() => index.upsert({ shopperId: 'sh-ada', identityKey: randomBytes(15), rotationExponent: K }, NOW_S)).toThrow(RangeError);
    expect(() => index.upsert({ shopperId: 'sh-ada', identityKey: randomBytes(16), rotationExponent: 16 }, NOW_S)).toThrow(RangeError);
    expect(() => index.upsert({ shopperId: 'sh-ada', identityKey: randomBytes(16), rotationExponent: 2.5 }, NOW_S)).toThrow(RangeError);
    expect(index.resolve(seen(ada, store1, NOW_S))).toEqual({ shopperId: 'sh-ada', storeId: 'store-1' });
    expect(index.size()).toEqual({ shoppers: 1, pseudonyms: 3 });
  });

  it.each([
    ['uppercase hex', (p: string) => p.toUpperCase()],
    ['31 characters', (p: string) => p.slice(1)],
    ['33 characters', (p: string) => `${p}0`],
    ['a non-hex character', (p: string) => `${p.slice(0, 31)}g`],
    ['a non-ASCII character', (p: string) => `${p.slice(0, 31)}é`],
    ['the empty string', () => ''],
  ])('resolves nothing for %s', (_name, poison) => {
    const store1 = key('store-1');
    const index = createResolverIndex();
    index.setKeys([store1], NOW_S);
    const ada = aResolvable('sh-ada');
    index.upsert(given(ada), NOW_S);
    const pseudonym = seen(ada, store1, NOW_S);
    expect(index.resolve(poison(pseudonym) as Pseudonym)).toBeUndefined();
    expect(index.resolve(pseudonym)).toBeDefined();
  });

  it('agrees with a naive recomputation across window boundaries, slices, removals and key changes', () => {
    const IDS = ['sh-0', 'sh-1', 'sh-2', 'sh-3', 'sh-4'];
    const KEYS = [key('store-1', 1), key('store-1', 2), key('store-2', 1)];
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('upsert' as const), id: fc.constantFrom(...IDS), k: fc.integer({ min: 7, max: 10 }), ik: fc.uint8Array({ minLength: 16, maxLength: 16 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom(...IDS) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), s: fc.integer({ min: -200, max: 1500 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('step' as const), budget: fc.integer({ min: 1, max: 8 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('roll' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('keys' as const), keys: fc.subarray(KEYS), budget: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }) }) },
    );
    type Held = { shopperId: string; identityKey: Buffer; rotationExponent: number };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(op, { minLength: 1, maxLength: 30 }), (tolerance, ops) => {
        const index = createResolverIndex({ toleranceWindows: tolerance });
        let nowS = NOW_S;
        let live: LiveEpochKey[] = [KEYS[0]!];
        index.setKeys(live, nowS);
        const current = new Map<string, Held>();
        const everyone: Held[] = [];
        const pseudonymsOf = (shopper: Held, epochKey: LiveEpochKey, window: number): Pseudonym =>
          pseudonymise(epochKey.key, 'eddystone-eid', computeEid(shopper.identityKey, shopper.rotationExponent, window * 2 ** shopper.rotationExponent));

        /** Whatever resolves is right: a live shopper's own identity, under a live key of the right store. */
        const checkSound = (): void => {
          for (const shopper of everyone) {
            const window = Math.floor(nowS / 2 ** shopper.rotationExponent);
            for (const epochKey of KEYS) {
              for (let w = window - tolerance - 3; w <= window + tolerance + 3; w += 1) {
                const resolved = index.resolve(pseudonymsOf(shopper, epochKey, w));
                if (resolved === undefined) continue;
                expect(current.get(resolved.shopperId)).toBe(shopper);
                expect(live).toContain(epochKey);
                expect(resolved.storeId).toBe(epochKey.storeId);
              }
            }
          }
        };
        /** After a full roll: exactly the current window ± tolerance resolves, for live shoppers under live keys. */
        const checkExact = (): void => {
          for (const shopper of everyone) {
            const window = Math.floor(nowS / 2 ** shopper.rotationExponent);
            for (const epochKey of KEYS) {
              for (let w = window - tolerance - 2; w <= window + tolerance + 2; w += 1) {
                const expected = current.get(shopper.shopperId) === shopper && live.includes(epochKey) && Math.abs(w - window) <= tolerance
                  ? { shopperId: shopper.shopperId, storeId: epochKey.storeId } : undefined;
                expect(index.resolve(pseudonymsOf(shopper, epochKey, w))).toEqual(expected);
              }
            }
          }
          expect(index.size().shoppers).toBe(current.size);
        };

        for (const [i, o] of ops.entries()) {
          if (o.kind === 'upsert') {
            // Identity keys are 128-bit ECDH outputs: never equal. Keep the generated ones distinct too.
            const identityKey = Buffer.from(o.ik);
            identityKey.writeUInt32BE(i, 0);
            const shopper = { shopperId: o.id, identityKey, rotationExponent: o.k };
            index.upsert(given(shopper), nowS);
            current.set(o.id, shopper);
            everyone.push(shopper);
          } else if (o.kind === 'remove') {
            index.remove(o.id);
            current.delete(o.id);
          } else if (o.kind === 'advance') {
            nowS = Math.max(0, nowS + o.s);
          } else if (o.kind === 'step') {
            index.rollStep(nowS, o.budget);
          } else if (o.kind === 'keys') {
            live = [...o.keys];
            index.setKeys(live, nowS, o.budget);
          } else {
            index.roll(nowS);
            checkExact();
          }
          checkSound();
        }
        index.roll(nowS);
        checkExact();
      }),
      { numRuns: 60 },
    );
  });
});
