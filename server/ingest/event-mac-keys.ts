import { deriveEventMacKey } from '#gateway/protocol/index.ts';
import type { Sealer } from '../domain/sealing.ts';
import type { GatewayRecord } from '../store/store.ts';

// The event MAC key (K_msg, gateway/protocol/event-auth.ts) of each gateway, derived from its sealed
// secret. Opening the seal and running HKDF for every message would be wasted work, so a derived key
// is kept for a short while — and only while the gateway's sealed secret is the one it came from, so
// a rotated secret takes effect on the next message, on every instance.

export const EVENT_MAC_KEY_TTL_MS = 60_000;

export type EventMacKeys = {
  /** K_msg for this gateway record, to use at once (not to keep). Throws if its secret does not open with this server's master key. */
  keyFor(gateway: GatewayRecord): Buffer;
};

export function createEventMacKeys(deps: { sealer: Sealer; now: () => number; ttlMs?: number }): EventMacKeys {
  const { sealer, now } = deps;
  const ttlMs = deps.ttlMs ?? EVENT_MAC_KEY_TTL_MS;
  const cache = new Map<string, { secretSealed: Buffer; key: Buffer; expiresAtMs: number }>();
  return {
    keyFor(gateway) {
      const nowMs = now();
      const cached = cache.get(gateway.id);
      if (cached !== undefined && cached.expiresAtMs > nowMs && cached.secretSealed.equals(gateway.secretSealed)) return cached.key;
      // Keys are used synchronously, so the one being replaced can be wiped now.
      cached?.key.fill(0);
      const secret = sealer.open(gateway.secretSealed, `gateway-secret:${gateway.id}`);
      const key = deriveEventMacKey(secret, gateway.id);
      secret.fill(0);
      cache.set(gateway.id, { secretSealed: Buffer.from(gateway.secretSealed), key, expiresAtMs: nowMs + ttlMs });
      return key;
    },
  };
}
