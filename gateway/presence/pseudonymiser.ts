import { pseudonymise, type IdentifierKind, type Pseudonym } from '../protocol/index.ts';

// Turns a decoded identifier into a pseudonym under the live epoch key. The HMAC is half the hot
// path's cost (shared/reference/performance-notes.md), and a token repeats ~10 times a second, so
// results are cached — in two generations swapped every half of maxCacheAgeMs, so no identifier
// stays in memory longer than maxCacheAgeMs (RET-1: raw sightings live ≤ 60 s).

export type EpochKey = { keyId: string; key: Buffer; notBeforeS: number; notAfterS: number };

export type PseudonymResult = { keyId: string; pseudonym: Pseudonym };

export type Pseudonymiser = {
  setKeys(keys: readonly EpochKey[]): void;
  /** The key in force at nowMs: the newest whose validity covers it. */
  activeKeyId(nowMs: number): string | undefined;
  pseudonym(kind: IdentifierKind, identifier: Uint8Array, nowMs: number): PseudonymResult | undefined;
  /** Time passing with no sightings: ages the cache, so a quiet radio does not keep identifiers (RET-1). */
  expire(nowMs: number): void;
  cacheSize(): number;
};

export function createPseudonymiser(options: { maxCacheEntries?: number; maxCacheAgeMs?: number } = {}): Pseudonymiser {
  const maxEntries = options.maxCacheEntries ?? 20_000;
  const halfAgeMs = (options.maxCacheAgeMs ?? 60_000) / 2;
  let keys: EpochKey[] = [];
  let current = new Map<string, PseudonymResult>();
  let previous = new Map<string, PseudonymResult>();
  let generationStartMs = -Infinity;

  const activeKey = (nowMs: number): EpochKey | undefined => {
    const nowS = Math.floor(nowMs / 1000);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i]!;
      if (key.notBeforeS <= nowS && nowS < key.notAfterS) return key;
    }
    return undefined;
  };

  const age = (nowMs: number): void => {
    if (nowMs - generationStartMs >= halfAgeMs || current.size >= maxEntries / 2) {
      previous = current;
      current = new Map();
      generationStartMs = nowMs;
    }
  };

  return {
    setKeys(next) {
      keys = [...next].sort((a, b) => a.notBeforeS - b.notBeforeS);
      current = new Map();
      previous = new Map();
    },
    activeKeyId: (nowMs) => activeKey(nowMs)?.keyId,
    pseudonym(kind, identifier, nowMs) {
      const key = activeKey(nowMs);
      if (key === undefined) return undefined;
      age(nowMs);
      if (maxEntries === 0) return { keyId: key.keyId, pseudonym: pseudonymise(key.key, kind, identifier) };
      const cacheKey = `${key.keyId}:${kind}:${Buffer.from(identifier.buffer, identifier.byteOffset, identifier.byteLength).toString('base64')}`;
      // A hit in the previous generation is not promoted: every entry dies within maxCacheAgeMs.
      const hit = current.get(cacheKey) ?? previous.get(cacheKey);
      if (hit !== undefined) return hit;
      const result = { keyId: key.keyId, pseudonym: pseudonymise(key.key, kind, identifier) };
      current.set(cacheKey, result);
      return result;
    },
    expire: age,
    cacheSize: () => current.size + previous.size,
  };
}
