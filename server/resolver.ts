import type { Logger } from 'pino';
import type { Pseudonym } from '#gateway/protocol/index.ts';
import { isGranted, type ConsentState } from './domain/consent.ts';
import { createResolverIndex, type LiveEpochKey, type Resolution } from './domain/resolver-index.ts';
import type { Sealer } from './domain/sealing.ts';
import type { Store } from './store/store.ts';

// The resolver service: keeps the pure index in step with the store. It indexes only shoppers whose
// presence consent is active (ID-2); a withdrawal or erasure removes the shopper before the API call
// returns. An unresolved pseudonym is only counted — never logged, never stored.

export type Resolver = {
  /** Brings the index in line with the Store: adds consenting shoppers, drops everyone else. */
  sync(): Promise<void>;
  setKeys(keys: readonly LiveEpochKey[]): void;
  /** Re-reads one shopper after a consent change or erasure. */
  refresh(shopperId: string, state?: ConsentState): Promise<void>;
  roll(): number;
  resolve(pseudonym: Pseudonym): Resolution | undefined;
  size(): { shoppers: number; pseudonyms: number };
};

export const identityKeyLabel = (shopperId: string): string => `identity-key:${shopperId}`;

export function createResolver(options: { store: Store; sealer: Sealer; now: () => number; logger: Logger; toleranceWindows?: number }): Resolver {
  const { store, sealer, now, logger } = options;
  const index = createResolverIndex({ toleranceWindows: options.toleranceWindows });
  const nowS = (): number => Math.floor(now() / 1000);

  return {
    async sync() {
      const shoppers = await store.listResolvableShoppers();
      const keep = new Set(shoppers.map((s) => s.id));
      for (const shopperId of index.shopperIds()) if (!keep.has(shopperId)) index.remove(shopperId);
      for (const s of shoppers) {
        if (index.has(s.id)) continue;
        index.upsert({ shopperId: s.id, identityKey: sealer.open(s.identityKeySealed, identityKeyLabel(s.id)), rotationExponent: s.rotationExponent }, nowS());
      }
      logger.debug({ shoppers: shoppers.length }, 'resolver synchronised with the store');
    },
    setKeys(keys) {
      index.setKeys(keys, nowS());
    },
    async refresh(shopperId, state) {
      const shopper = await store.getShopper(shopperId);
      const consent = state ?? (await store.getConsentState(shopperId));
      if (shopper && shopper.erasedAtMs === null && shopper.identityKeySealed && isGranted(consent, 'presence')) {
        index.upsert({ shopperId, identityKey: sealer.open(shopper.identityKeySealed, identityKeyLabel(shopperId)), rotationExponent: shopper.rotationExponent }, nowS());
      } else {
        index.remove(shopperId);
      }
    },
    roll: () => index.roll(nowS()),
    resolve: (pseudonym) => index.resolve(pseudonym),
    size: () => index.size(),
  };
}
