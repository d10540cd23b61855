import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { createPseudonymiser, type EpochKey } from '#gateway/presence/pseudonymiser.ts';
import { pseudonymise } from '#gateway/protocol/pseudonym.ts';

const EID = Buffer.from('a9b76a71c5f89290', 'hex');
const OTHER_EID = Buffer.from('4144413e45fefa58', 'hex');
const key = (keyId: string, fill: number, notBeforeS: number, notAfterS: number): EpochKey => ({ keyId, key: Buffer.alloc(32, fill), notBeforeS, notAfterS });
const MONDAY = key('k-mon', 1, 0, 200);
const TUESDAY = key('k-tue', 2, 100, 300);

describe('pseudonymiser', () => {
  it('gives no pseudonym before any key is set', () => {
    const pseudonymiser = createPseudonymiser();
    expect(pseudonymiser.pseudonym('eddystone-eid', EID, 0)).toBeUndefined();
    expect(pseudonymiser.activeKeyId(0)).toBeUndefined();
    expect(pseudonymiser.cacheSize()).toBe(0);
  });

  it('gives no pseudonym outside every key\'s validity', () => {
    const pseudonymiser = createPseudonymiser();
    pseudonymiser.setKeys([key('k-later', 1, 100, 200)]);
    expect(pseudonymiser.pseudonym('eddystone-eid', EID, 99_999)).toBeUndefined();
    expect(pseudonymiser.pseudonym('eddystone-eid', EID, 200_000)).toBeUndefined(); // notAfterS is exclusive
    expect(pseudonymiser.pseudonym('eddystone-eid', EID, 100_000)).toBeDefined();
  });

  it('uses the newest key valid at the time, whatever order the keys came in', () => {
    const pseudonymiser = createPseudonymiser();
    pseudonymiser.setKeys([TUESDAY, MONDAY]);
    expect(pseudonymiser.activeKeyId(50_000)).toBe('k-mon');
    expect(pseudonymiser.activeKeyId(150_000)).toBe('k-tue'); // both valid: the newer wins
    expect(pseudonymiser.activeKeyId(250_000)).toBe('k-tue');
    expect(pseudonymiser.activeKeyId(300_000)).toBeUndefined();
    expect(pseudonymiser.pseudonym('eddystone-eid', EID, 150_000)).toEqual({ keyId: 'k-tue', pseudonym: pseudonymise(TUESDAY.key, 'eddystone-eid', EID) });
    expect(pseudonymiser.pseudonym('eddystone-eid', EID, 50_000)).toEqual({ keyId: 'k-mon', pseudonym: pseudonymise(MONDAY.key, 'eddystone-eid', EID) });
  });

  it('answers a repeated identifier from its cache', () => {
    const pseudonymiser = createPseudonymiser();
    pseudonymiser.setKeys([MONDAY]);
    const first = pseudonymiser.pseudonym('eddystone-eid', EID, 1_000);
    const again = pseudonymiser.pseudonym('eddystone-eid', Buffer.from(EID), 1_100);
    expect(again).toBe(first);
    expect(pseudonymiser.cacheSize()).toBe(1);
  });

  it('keys the cache by identifier kind and by a view\'s own bytes', () => {
    const pseudonymiser = createPseudonymiser();
    pseudonymiser.setKeys([MONDAY]);
    const backing = Buffer.concat([OTHER_EID, EID]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, 8);
    expect(pseudonymiser.pseudonym('eddystone-eid', view, 1_000)?.pseudonym).toBe(pseudonymise(MONDAY.key, 'eddystone-eid', EID));
    expect(pseudonymiser.pseudonym('ibeacon', EID, 1_000)?.pseudonym).toBe(pseudonymise(MONDAY.key, 'ibeacon', EID));
    expect(pseudonymiser.cacheSize()).toBe(2);
  });

  it('keeps no identifier longer than maxCacheAgeMs', () => {
    const pseudonymiser = createPseudonymiser({ maxCacheAgeMs: 60_000 });
    pseudonymiser.setKeys([MONDAY]);
    const first = pseudonymiser.pseudonym('eddystone-eid', EID, 1_000);
    pseudonymiser.pseudonym('eddystone-eid', OTHER_EID, 31_000);
    expect(pseudonymiser.cacheSize()).toBe(2); // half-way: both still held
    pseudonymiser.pseudonym('eddystone-eid', OTHER_EID, 61_000);
    expect(pseudonymiser.cacheSize()).toBe(1); // EID has gone, only OTHER_EID (seen at 31 s) is left
    // Nothing changed but time, and the same identifier is computed afresh: it was no longer held.
    const later = pseudonymiser.pseudonym('eddystone-eid', EID, 61_000);
    expect(later).toEqual(first);
    expect(later).not.toBe(first);
  });

  it('forgets identifiers as time passes even when nothing more is heard (RET-1)', () => {
    const pseudonymiser = createPseudonymiser({ maxCacheAgeMs: 60_000 });
    pseudonymiser.setKeys([MONDAY]);
    pseudonymiser.pseudonym('eddystone-eid', EID, 1_000);
    for (let nowMs = 2_000; nowMs <= 60_000; nowMs += 1_000) pseudonymiser.expire(nowMs);
    expect(pseudonymiser.cacheSize()).toBe(1);
    pseudonymiser.expire(61_000);
    expect(pseudonymiser.cacheSize()).toBe(0);
  });

  it('bounds the cache by maxCacheEntries', () => {
    const pseudonymiser = createPseudonymiser({ maxCacheEntries: 10 });
    pseudonymiser.setKeys([MONDAY]);
    for (let i = 0; i < 100; i += 1) pseudonymiser.pseudonym('ibeacon', Buffer.of(i), 1_000);
    expect(pseudonymiser.cacheSize()).toBeLessThanOrEqual(10);
  });

  it('clears the cache when keys change', () => {
    const pseudonymiser = createPseudonymiser();
    pseudonymiser.setKeys([MONDAY]);
    pseudonymiser.pseudonym('eddystone-eid', EID, 1_000);
    pseudonymiser.setKeys([MONDAY]);
    expect(pseudonymiser.cacheSize()).toBe(0);
  });

  it('caches nothing with maxCacheEntries 0 yet gives the same pseudonyms', () => {
    const cached = createPseudonymiser();
    const uncached = createPseudonymiser({ maxCacheEntries: 0 });
    cached.setKeys([MONDAY, TUESDAY]);
    uncached.setKeys([MONDAY, TUESDAY]);
    for (const [nowMs, id] of [[1_000, EID], [1_100, EID], [150_000, OTHER_EID], [150_100, EID]] as const) {
      expect(uncached.pseudonym('eddystone-eid', id, nowMs)).toEqual(cached.pseudonym('eddystone-eid', id, nowMs));
    }
    expect(uncached.cacheSize()).toBe(0);
    expect(cached.cacheSize()).toBeGreaterThan(0);
  });
});
