import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pseudonymise } from '#gateway/protocol/index.ts';
import { beaconPseudonyms, createBeaconIndex, type IndexedBeacon } from '#server/domain/beacon-index.ts';

const key = (storeId: string, keyId = `${storeId}-1`) => ({ keyId, storeId, key: randomBytes(32) });
const beacon = (shopperId: string, kind: IndexedBeacon['kind'] = 'ibeacon'): IndexedBeacon =>
  ({ shopperId, kind, identifier: randomBytes(kind === 'ibeacon' ? 20 : 16) });

describe('beacon index', () => {
  it('resolves a linked beacon\'s pseudonym under every live key to its shopper and that key\'s store', () => {
    const index = createBeaconIndex();
    const [a1, a2, b1] = [key('a', 'a-1'), key('a', 'a-2'), key('b')];
    const ada = beacon('sh_ada');
    index.rebuild([a1, a2, b1], [ada, beacon('sh_bob', 'eddystone-uid')]);

    expect(index.resolve(pseudonymise(a1.key, 'ibeacon', ada.identifier))).toEqual({ shopperId: 'sh_ada', storeId: 'a' });
    expect(index.resolve(pseudonymise(a2.key, 'ibeacon', ada.identifier))).toEqual({ shopperId: 'sh_ada', storeId: 'a' });
    expect(index.resolve(pseudonymise(b1.key, 'ibeacon', ada.identifier))).toEqual({ shopperId: 'sh_ada', storeId: 'b' });
    expect(index.size()).toEqual({ beacons: 2, pseudonyms: 6 });
  });

  it('resolves nothing for the same bytes under another kind, an unknown key or an unlinked beacon', () => {
    const index = createBeaconIndex();
    const live = key('a');
    const ada = beacon('sh_ada');
    index.rebuild([live], [ada]);

    expect(index.resolve(pseudonymise(live.key, 'altbeacon', ada.identifier))).toBeUndefined();
    expect(index.resolve(pseudonymise(randomBytes(32), 'ibeacon', ada.identifier))).toBeUndefined();
    expect(index.resolve(pseudonymise(live.key, 'ibeacon', randomBytes(20)))).toBeUndefined();
  });

  it('forgets beacons and keys that a rebuild leaves out', () => {
    const index = createBeaconIndex();
    const [old, current] = [key('a', 'a-1'), key('a', 'a-2')];
    const [ada, bob] = [beacon('sh_ada'), beacon('sh_bob')];
    index.rebuild([old, current], [ada, bob]);
    index.rebuild([current], [bob]);

    expect(index.resolve(pseudonymise(current.key, 'ibeacon', ada.identifier))).toBeUndefined();
    expect(index.resolve(pseudonymise(old.key, 'ibeacon', bob.identifier))).toBeUndefined();
    expect(index.resolve(pseudonymise(current.key, 'ibeacon', bob.identifier))).toEqual({ shopperId: 'sh_bob', storeId: 'a' });
  });

  it('lists for a gateway the pseudonyms of every beacon under each of its store\'s keys', () => {
    const keys = [randomBytes(32), randomBytes(32)];
    const beacons = [beacon('sh_ada'), beacon('sh_bob', 'eddystone-uid')];
    const listed = beaconPseudonyms(keys, beacons);
    expect(listed).toHaveLength(4);
    expect(new Set(listed)).toEqual(new Set(keys.flatMap((k) => beacons.map((b) => pseudonymise(k, b.kind, b.identifier)))));
  });
});
