import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Pseudonym } from '#gateway/protocol/index.ts';
import { isGranted, type ConsentState } from './domain/consent.ts';
import { createResolverIndex, type LiveEpochKey, type Resolution } from './domain/resolver-index.ts';
import type { Sealer } from './domain/sealing.ts';
import type { Store } from './store/store.ts';

// The resolver service: keeps the pure index in step with the store. It indexes only shoppers whose
// presence consent is active (ID-2); a withdrawal or erasure removes the shopper before the API call
// returns. An unresolved pseudonym is only counted — never logged, never stored.
//
// Rolling a million shoppers' windows, or adding a new epoch key for all of them, is seconds of CPU
// (docs/benchmarks.md). rollInSlices() does it in slices of SLICE_BUDGET and yields to the event loop
// between them, so ingest and HTTP keep running; setKeys() does one slice at once and the rest so.

export type Resolver = {
  /** Brings the index in line with the Store: adds consenting shoppers, drops everyone else. */
  sync(): Promise<void>;
  /**
   * Re-reads only the shoppers whose presence consent changed, or who were erased, since `sinceMs`
   * (the safety net under the server bus, every minute). Returns how many it re-read.
   */
  syncChangesSince(sinceMs: number): Promise<number>;
  setKeys(keys: readonly LiveEpochKey[]): void;
  /** Re-reads one shopper after a consent change or erasure. */
  refresh(shopperId: string, state?: ConsentState): Promise<void>;
  /** Does everything due now, in one go; returns how many shoppers' windows moved. */
  roll(): number;
  /** Does everything due in slices, yielding to the event loop between them (the server's roll timer). */
  rollInSlices(): Promise<number>;
  resolve(pseudonym: Pseudonym): Resolution | undefined;
  size(): { shoppers: number; pseudonyms: number };
};

/**
 * index.rollStep's budget per slice: 500 pseudonyms at ~10 µs each (an AES block and an HMAC), so a slice blocks the
 * event loop ~5 ms, and up to ~30 ms with a collector pause (p99 17–19 ms measured at 1M shoppers, docs/benchmarks.md).
 */
export const SLICE_BUDGET = 500;

/** Shoppers indexed per slice when syncing with the Store (~25 µs each: a slice blocks ~5 ms). */
export const SYNC_SLICE = 200;

export const identityKeyLabel = (shopperId: string): string => `identity-key:${shopperId}`;

export function createResolver(options: {
  store: Store; sealer: Sealer; now: () => number; logger: Logger; toleranceWindows?: number;
  /** Shoppers indexed between event-loop turns in sync(); SYNC_SLICE by default. */
  syncSlice?: number;
}): Resolver {
  const { store, sealer, now, logger } = options;
  const syncSlice = options.syncSlice ?? SYNC_SLICE;
  const index = createResolverIndex({ toleranceWindows: options.toleranceWindows });
  const nowS = (): number => Math.floor(now() / 1000);
  let draining: Promise<number> | undefined;
  const syncsInFlight = new Set<Set<string>>();

  const drain = async (): Promise<number> => {
    let rolled = 0;
    for (;;) {
      await nextTurn(); // first, too: a caller never runs a slice inline, and `draining` is set before this ends
      const step = index.rollStep(nowS(), SLICE_BUDGET);
      rolled += step.rolled;
      if (step.done) return rolled;
    }
  };
  const rollInSlices = (): Promise<number> => {
    draining ??= drain().finally(() => {
      draining = undefined;
    });
    return draining;
  };

  const refresh = async (shopperId: string, state?: ConsentState): Promise<void> => {
    for (const touched of syncsInFlight) touched.add(shopperId);
    const shopper = await store.getShopper(shopperId);
    const consent = state ?? (await store.getConsentState(shopperId));
    // DSR-4: a restricted shopper is kept out of the index, as an erased or non-consenting one is.
    if (shopper && shopper.erasedAtMs === null && !shopper.restricted && shopper.identityKeySealed && isGranted(consent, 'presence')) {
      index.upsert({ shopperId, identityKey: sealer.open(shopper.identityKeySealed, identityKeyLabel(shopperId)), rotationExponent: shopper.rotationExponent }, nowS());
    } else {
      index.remove(shopperId);
    }
  };

  return {
    async sync() {
      // A refresh() while this sync runs knows better than the list read at its start (a withdrawal
      // must stay removed): such shoppers are left as refresh() set them.
      const touched = new Set<string>();
      syncsInFlight.add(touched);
      try {
        const shoppers = await store.listResolvableShoppers();
        index.reserve(shoppers.length);
        const missing = shoppers.filter((s) => !index.has(s.id));
        // Ids are the Store's keys, so unique: once the missing are added, the index holds more than the
        // list only if it holds someone no longer listed. Only then is the (costly, at 1M) set built.
        if (index.size().shoppers + missing.length !== shoppers.length) {
          const listed = new Set(shoppers.map((s) => s.id));
          for (const shopperId of index.shopperIds()) if (!listed.has(shopperId) && !touched.has(shopperId)) index.remove(shopperId);
        }
        // Indexing a shopper costs ~25 µs (their tokens under every live key): in slices, so that a start
        // on a million shoppers does not stall ingest and HTTP for the ~25 s it takes in all.
        for (let i = 0; i < missing.length; i += 1) {
          if (i > 0 && i % syncSlice === 0) await nextTurn();
          const s = missing[i]!;
          if (touched.has(s.id)) continue;
          index.upsert({ shopperId: s.id, identityKey: sealer.open(s.identityKeySealed, identityKeyLabel(s.id)), rotationExponent: s.rotationExponent }, nowS());
        }
        logger.debug({ shoppers: shoppers.length }, 'resolver synchronised with the store');
      } finally {
        syncsInFlight.delete(touched);
      }
    },
    async syncChangesSince(sinceMs) {
      const changed = await store.listShopperChangesSince(sinceMs);
      for (const [i, shopperId] of changed.entries()) {
        if (i > 0 && i % syncSlice === 0) await nextTurn();
        await refresh(shopperId);
      }
      return changed.length;
    },
    setKeys(keys) {
      index.setKeys(keys, nowS(), SLICE_BUDGET);
      rollInSlices().catch((error: Error) => logger.error({ err: error.message }, 'resolver roll failed'));
    },
    refresh,
    roll: () => index.roll(nowS()),
    rollInSlices,
    resolve: (pseudonym) => index.resolve(pseudonym),
    size: () => index.size(),
  };
}
