import { hkdfSync, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pseudonym } from '#gateway/protocol/index.ts';
import {
  beaconDigest, beaconIdentifierBytes, beaconIdentifierFromBytes, beaconIdentifierLabel, type BeaconIdentifier,
} from './domain/beacon-identifier.ts';
import { beaconPseudonyms, createBeaconIndex, type IndexedBeacon } from './domain/beacon-index.ts';
import type { LiveEpochKey, Resolution } from './domain/resolver-index.ts';
import type { Sealer } from './domain/sealing.ts';
import type { Store } from './store/store.ts';

// Loyalty beacons: a shopper links a physical beacon they carry, with presence consent, and it then
// resolves to them through the same pseudonym path as their app's tokens. The service keeps the pure
// beacon index (domain/beacon-index.ts) in step with the Store — only beacons of resolvable shoppers,
// opened from their sealed form in memory — and gives the epoch key service each store's
// registeredBeacons. A beacon identifier is never logged.

export type LinkedBeacon = BeaconIdentifier & { id: string; createdAtMs: number };

export type BeaconService = {
  /** Links a beacon to the shopper; 'conflict' if that beacon is linked already (to anyone). */
  link(shopperId: string, beacon: BeaconIdentifier): Promise<{ outcome: 'added'; id: string } | { outcome: 'conflict' }>;
  /** The shopper's own beacons, with their identifiers. */
  list(shopperId: string): Promise<LinkedBeacon[]>;
  unlink(shopperId: string, beaconId: string): Promise<boolean>;
  /** Re-reads the resolvable beacons; true if the set changed (gateway configs are then out of date). */
  sync(): Promise<boolean>;
  setKeys(keys: readonly LiveEpochKey[]): void;
  resolve(pseudonym: Pseudonym): Resolution | undefined;
  /** The pseudonyms gateways must forward: every resolvable beacon under each of these (one store's) keys. */
  registeredBeacons(keys: readonly Uint8Array[]): Pseudonym[];
  size(): { beacons: number; pseudonyms: number };
};

/** The digest key, derived from the master key (HKDF-SHA-256), so every instance computes the same digests. */
export function deriveBeaconDigestKey(masterKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'vicino beacon identifier digest v1', 32));
}

export function createBeaconService(options: { store: Store; sealer: Sealer; digestKey: Uint8Array; now: () => number; logger: Logger }): BeaconService {
  const { store, sealer, digestKey, now, logger } = options;
  const index = createBeaconIndex();
  let keys: LiveEpochKey[] = [];
  let syncing: Promise<unknown> = Promise.resolve();
  /** The read waiting for the running one to finish, if any. */
  let queued: Promise<boolean> | undefined;
  let beacons: IndexedBeacon[] = [];
  let signature = '';

  const syncNow = async (): Promise<boolean> => {
    const records = await store.listResolvableBeacons();
    const next = records.map((r) => r.id).join(',');
    if (next === signature) return false;
    signature = next;
    beacons = records.map((r) => ({ shopperId: r.shopperId, kind: r.kind, identifier: sealer.open(r.identifierSealed, beaconIdentifierLabel(r.id)) }));
    index.rebuild(keys, beacons);
    logger.debug({ beacons: beacons.length }, 'beacon index synchronised with the store');
    return true;
  };

  return {
    async link(shopperId, beacon) {
      const id = `bc_${randomBytes(12).toString('hex')}`;
      const identifier = beaconIdentifierBytes(beacon);
      const outcome = await store.addBeacon({
        id, shopperId, kind: beacon.kind, identifierSealed: sealer.seal(identifier, beaconIdentifierLabel(id)),
        identifierDigest: beaconDigest(digestKey, beacon.kind, identifier), createdAtMs: now(),
      });
      return outcome === 'added' ? { outcome, id } : { outcome };
    },
    async list(shopperId) {
      return (await store.listBeacons(shopperId)).map((record) => ({
        ...beaconIdentifierFromBytes(record.kind, sealer.open(record.identifierSealed, beaconIdentifierLabel(record.id))),
        id: record.id, createdAtMs: record.createdAtMs,
      }));
    },
    unlink: (shopperId, beaconId) => store.removeBeacon(shopperId, beaconId),
    sync() {
      // One at a time, each reading the Store after the one before it finished: two links at once
      // (two shoppers) could otherwise read in one order and finish in the other, leaving the older
      // list in place — and that list in every gateway's registeredBeacons until the minute resync.
      // Calls made while a read waits its turn share that read: it starts after every one of them, so it
      // sees what each was told of. (A burst of consent changes — a store's opening, a bench — made one
      // full read of the resolvable beacons each; now a burst makes two.)
      if (queued !== undefined) return queued;
      const start = (): Promise<boolean> => {
        queued = undefined;
        return syncNow();
      };
      const run = syncing.then(start, start);
      queued = run;
      syncing = run.catch(() => undefined);
      return run;
    },
    setKeys(next) {
      keys = [...next];
      index.rebuild(keys, beacons);
    },
    resolve: (pseudonym) => index.resolve(pseudonym),
    registeredBeacons: (storeKeys) => beaconPseudonyms(storeKeys, beacons),
    size: () => index.size(),
  };
}
