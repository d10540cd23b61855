import { hkdfSync, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pseudonym } from '#gateway/protocol/index.ts';
import {
  beaconDigest, beaconIdentifierBytes, beaconIdentifierFromBytes, beaconIdentifierLabel, type BeaconIdentifier,
} from './domain/beacon-identifier.ts';
import { beaconPseudonyms, createBeaconIndex, type IndexedBeacon } from './domain/beacon-index.ts';
import type { LiveEpochKey, Resolution } from './domain/resolver-index.ts';
import type { Sealer } from './domain/sealing.ts';
import type { LinkedBeaconRecord, Store } from './store/store.ts';

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
  /**
   * Re-reads the resolvable beacons — all of them, or only one shopper's after a change of theirs (consent, erasure,
   * restriction, a link): a read of their rows instead of every shopper's. True if the set changed (gateway configs
   * are then out of date).
   */
  sync(shopperId?: string): Promise<boolean>;
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
  /** The full read waiting for the running one to finish, if any. */
  let queuedAll: Promise<boolean> | undefined;
  /** The resolvable beacons by ID, opened; `beacons` is their list, as the index and the gateway configs take it. */
  let byId = new Map<string, IndexedBeacon>();
  let beacons: IndexedBeacon[] = [];

  const open = (r: LinkedBeaconRecord): IndexedBeacon => ({ shopperId: r.shopperId, kind: r.kind, identifier: sealer.open(r.identifierSealed, beaconIdentifierLabel(r.id)) });
  const install = (next: Map<string, IndexedBeacon>): void => {
    byId = next;
    beacons = [...next.keys()].sort().map((id) => next.get(id)!);
    index.rebuild(keys, beacons);
    logger.debug({ beacons: beacons.length }, 'beacon index synchronised with the store');
  };
  const sameIds = (a: Iterable<string>, b: Iterable<string>): boolean => [...a].sort().join(',') === [...b].sort().join(',');

  const syncAll = async (): Promise<boolean> => {
    const records = await store.listResolvableBeacons();
    if (sameIds(byId.keys(), records.map((r) => r.id))) return false;
    install(new Map(records.map((r) => [r.id, byId.get(r.id) ?? open(r)])));
    return true;
  };
  const syncShopper = async (shopperId: string): Promise<boolean> => {
    const records = await store.listResolvableBeacons(shopperId);
    const held = [...byId].filter(([, beacon]) => beacon.shopperId === shopperId).map(([id]) => id);
    if (sameIds(held, records.map((r) => r.id))) return false;
    const next = new Map([...byId].filter(([, beacon]) => beacon.shopperId !== shopperId));
    for (const r of records) next.set(r.id, byId.get(r.id) ?? open(r));
    install(next);
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
    sync(shopperId) {
      // One at a time, each reading the Store after the one before it finished: two links at once
      // (two shoppers) could otherwise read in one order and finish in the other, leaving the older
      // list in place — and that list in every gateway's registeredBeacons until the minute resync.
      // Calls made while a full read waits its turn share that read: it starts after every one of them, so it
      // sees what each was told of (a burst of consent changes made one full read each). A shopper's read is
      // covered by a full one waiting; otherwise it queues a read of that shopper's rows alone.
      if (queuedAll !== undefined) return queuedAll;
      const start = (): Promise<boolean> => {
        if (shopperId !== undefined) return syncShopper(shopperId);
        queuedAll = undefined;
        return syncAll();
      };
      const run = syncing.then(start, start);
      if (shopperId === undefined) queuedAll = run;
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
