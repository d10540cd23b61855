// The resolver index as it was before the compact table (server/domain/resolver-index.ts as of commit d260077),
// kept verbatim so that `vicino bench` can measure before and after side by side in one run.
// It is benchmark code only: nothing in server/ imports it.

import { createEidGenerator, pseudonymise, windowStart, type IdentifierKind, type Pseudonym } from '#gateway/protocol/index.ts';

// The resolver's lookup table: pseudonym → shopper, for consenting shoppers only (ID-2).
// For each shopper it precomputes the EIDs of the current window ± tolerance and their pseudonyms
// under every live epoch key, so resolving an event is one map lookup. It is rebuilt per shopper
// incrementally as windows roll; removing a shopper (withdrawal, erasure) is immediate.

export type ResolvableShopper = { shopperId: string; identityKey: Buffer; rotationExponent: number };
export type LiveEpochKey = { keyId: string; storeId: string; key: Buffer };
export type Resolution = { shopperId: string; storeId: string };

export type ResolverIndex = {
  setKeys(keys: readonly LiveEpochKey[], nowS: number): void;
  upsert(shopper: ResolvableShopper, nowS: number): void;
  remove(shopperId: string): void;
  /** Recomputes shoppers whose window has moved since their last computation. */
  roll(nowS: number): number;
  resolve(pseudonym: Pseudonym): Resolution | undefined;
  has(shopperId: string): boolean;
  shopperIds(): string[];
  size(): { shoppers: number; pseudonyms: number };
};

type Entry = { shopper: ResolvableShopper; eid: (timeS: number) => Buffer; windowStartS: number; pseudonyms: Pseudonym[] };

export function createResolverIndex(options: { toleranceWindows?: number } = {}): ResolverIndex {
  const tolerance = options.toleranceWindows ?? 1;
  const byPseudonym = new Map<Pseudonym, Resolution>();
  const byShopper = new Map<string, Entry>();
  let keys: LiveEpochKey[] = [];

  const drop = (entry: Entry): void => {
    for (const pseudonym of entry.pseudonyms) {
      if (byPseudonym.get(pseudonym)?.shopperId === entry.shopper.shopperId) byPseudonym.delete(pseudonym);
    }
    entry.pseudonyms = [];
  };

  const compute = (entry: Entry, nowS: number): void => {
    drop(entry);
    const k = entry.shopper.rotationExponent;
    const period = 2 ** k;
    entry.windowStartS = windowStart(nowS, k);
    for (let w = -tolerance; w <= tolerance; w += 1) {
      const t = entry.windowStartS + w * period;
      if (t < 0 || t > 0xffffffff) continue;
      const eid = entry.eid(t);
      for (const key of keys) {
        const pseudonym = pseudonymise(key.key, 'eddystone-eid' satisfies IdentifierKind, eid);
        byPseudonym.set(pseudonym, { shopperId: entry.shopper.shopperId, storeId: key.storeId });
        entry.pseudonyms.push(pseudonym);
      }
    }
  };

  return {
    setKeys(next, nowS) {
      keys = [...next];
      for (const entry of byShopper.values()) compute(entry, nowS);
    },
    upsert(shopper, nowS) {
      const existing = byShopper.get(shopper.shopperId);
      if (existing) drop(existing);
      const entry: Entry = { shopper, eid: createEidGenerator(shopper.identityKey, shopper.rotationExponent), windowStartS: -1, pseudonyms: [] };
      byShopper.set(shopper.shopperId, entry);
      compute(entry, nowS);
    },
    remove(shopperId) {
      const entry = byShopper.get(shopperId);
      if (entry === undefined) return;
      drop(entry);
      entry.shopper.identityKey.fill(0);
      byShopper.delete(shopperId);
    },
    roll(nowS) {
      let recomputed = 0;
      for (const entry of byShopper.values()) {
        if (windowStart(nowS, entry.shopper.rotationExponent) !== entry.windowStartS) {
          compute(entry, nowS);
          recomputed += 1;
        }
      }
      return recomputed;
    },
    resolve: (pseudonym) => byPseudonym.get(pseudonym),
    has: (shopperId) => byShopper.has(shopperId),
    shopperIds: () => [...byShopper.keys()],
    size: () => ({ shoppers: byShopper.size, pseudonyms: byPseudonym.size }),
  };
}
