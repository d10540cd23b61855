import { randomBytes } from 'node:crypto';
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
});
