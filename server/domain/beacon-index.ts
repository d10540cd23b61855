import { pseudonymise, type Pseudonym } from '#gateway/protocol/index.ts';
import type { LinkedBeaconKind } from './beacon-identifier.ts';
import type { LiveEpochKey, Resolution } from './resolver-index.ts';

// The loyalty-beacon half of resolution: pseudonym → (shopper, store) for every linked beacon of a
// resolvable shopper (presence granted, not erased) under every live epoch key. A beacon's identifier
// does not rotate, so the table changes only when keys or the linked beacons do, and is rebuilt
// whole then: beacons × keys HMACs. The same pseudonyms, per store, are what a store's gateways
// receive as registeredBeacons (MIN-2: a gateway forwards a beacon only if it is listed).

export type IndexedBeacon = { shopperId: string; kind: LinkedBeaconKind; identifier: Buffer };

export type BeaconIndex = {
  /** Replaces the keys and the beacons; everything is recomputed. */
  rebuild(keys: readonly LiveEpochKey[], beacons: readonly IndexedBeacon[]): void;
  resolve(pseudonym: Pseudonym): Resolution | undefined;
  size(): { beacons: number; pseudonyms: number };
};

/** The pseudonyms of the beacons under each of the keys, as a gateway computes them. */
export function beaconPseudonyms(keys: readonly Uint8Array[], beacons: readonly IndexedBeacon[]): Pseudonym[] {
  return keys.flatMap((key) => beacons.map((beacon) => pseudonymise(key, beacon.kind, beacon.identifier)));
}

export function createBeaconIndex(): BeaconIndex {
  let byPseudonym = new Map<Pseudonym, Resolution>();
  let beaconCount = 0;
  return {
    rebuild(keys, beacons) {
      const next = new Map<Pseudonym, Resolution>();
      for (const key of keys) {
        for (const beacon of beacons) next.set(pseudonymise(key.key, beacon.kind, beacon.identifier), { shopperId: beacon.shopperId, storeId: key.storeId });
      }
      byPseudonym = next;
      beaconCount = beacons.length;
    },
    resolve: (pseudonym) => byPseudonym.get(pseudonym),
    size: () => ({ beacons: beaconCount, pseudonyms: byPseudonym.size }),
  };
}
