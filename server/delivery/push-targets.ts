import type { Sealer } from '../domain/sealing.ts';
import { PushTargetSchema, type PushTarget, type PushTargets } from '../domain/push-target.ts';
import type { Store } from '../store/store.ts';

// Push targets at rest: sealed under the master key with a per-shopper label (as beacon identifiers
// are), so a database dump reveals no device address and one shopper's sealed value does not open as another's.

export const pushTargetLabel = (shopperId: string): string => `push-target:${shopperId}`;

export function createSealedPushTargets(deps: { store: Store; sealer: Sealer }): PushTargets & { put(shopperId: string, target: PushTarget, atMs: number): Promise<boolean> } {
  const { store, sealer } = deps;
  return {
    put: (shopperId, target, atMs) => store.putPushTarget(shopperId, sealer.seal(Buffer.from(JSON.stringify(target)), pushTargetLabel(shopperId)), atMs),
    async get(shopperId) {
      const sealed = await store.getPushTargetSealed(shopperId);
      if (sealed === undefined) return undefined;
      try {
        return PushTargetSchema.parse(JSON.parse(sealer.open(sealed, pushTargetLabel(shopperId)).toString('utf8')));
      } catch {
        // The sealer's message names the label, which holds the shopper ID: not for a log line.
        throw new Error('stored push target does not open or parse (master key changed?)');
      }
    },
  };
}
