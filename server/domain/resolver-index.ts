import { decodePseudonym, IDENTITY_KEY_BYTES, MAX_ROTATION_EXPONENT, pseudonymBytes, PSEUDONYM_BYTES, type Pseudonym } from '#gateway/protocol/index.ts';
import { createPseudonymTable } from './pseudonym-table.ts';
import { createShopperSlots } from './shopper-slots.ts';

// The resolver's lookup table: pseudonym → shopper, for consenting shoppers only (ID-2).
// For each shopper it precomputes the EIDs of the current window ± tolerance and their pseudonyms
// under every live epoch key, so resolving an event is one hash-table lookup.
//
// Scale (issue 3, point 5; docs/benchmarks.md): a million shoppers hold 3–8 M pseudonyms, so they live
// in a compact table keyed on the 16 raw pseudonym bytes (pseudonym-table.ts), each entry pointing at
// a shopper slot in typed arrays. Every K = 10 shopper's window ends at the same instant (windows
// start on multiples of 2^K), so the work is spread: in the last quarter of its window a shopper's
// next window is computed ahead (stored, not yet resolvable); at the boundary only its current window
// moves (a swap); the window that fell out is dropped by a sweep of the table. rollStep() does a
// bounded slice of this, so a caller can yield to the event loop between slices; roll() does it all.
// Entries carry their window and key, and resolve() checks both against the shopper's current
// window and the live keys, so what resolves is always exactly the current window ± tolerance.

export type ResolvableShopper = { shopperId: string; identityKey: Buffer; rotationExponent: number };
export type LiveEpochKey = { keyId: string; storeId: string; key: Buffer };
export type Resolution = { shopperId: string; storeId: string };
/** rolled: shoppers whose window moved in this call; done: nothing is due at nowS. */
export type RollProgress = { rolled: number; done: boolean };

export type ResolverIndex = {
  /**
   * Keys no longer given stop resolving at once. A new key's pseudonyms are computed now, or with a
   * budget only that much of them, the rest by rollStep() (see its budget).
   */
  setKeys(keys: readonly LiveEpochKey[], nowS: number, budget?: number): void;
  /** Sizes the table for this many shoppers at their peak (every window held, two keys a store), so adding them never stops to rehash. */
  reserve(shoppers: number): void;
  /** Takes the identity key: it is copied into the index and the given buffer is zeroed. */
  upsert(shopper: ResolvableShopper, nowS: number): void;
  remove(shopperId: string): void;
  /** Does all due work at nowS; returns how many shoppers' windows moved. */
  roll(nowS: number): number;
  /**
   * Does at most `budget` units of due work: one unit is one pseudonym computed (an HMAC, after an
   * AES block for its EID), a shopper visited with nothing to do costs 1/64, a table slot swept 1/256.
   */
  rollStep(nowS: number, budget: number): RollProgress;
  resolve(pseudonym: Pseudonym): Resolution | undefined;
  has(shopperId: string): boolean;
  shopperIds(): string[];
  /** pseudonyms: entries held, including next windows computed ahead and any not yet swept. */
  size(): { shoppers: number; pseudonyms: number };
};

type KeySlot = { keyId: string; storeId: string; key: Buffer; addedGeneration: number };

// A table entry's tag: key slot (12 bits) ‖ window index mod 2^20. A dropped window is swept long
// before 2^20 windows pass (12 days at K = 0, 34 years at K = 10), so the low bits identify it.
const WINDOW_BITS = 20;
const WINDOW_MASK = (1 << WINDOW_BITS) - 1;
const MAX_KEY_SLOTS = 1 << (32 - WINDOW_BITS);
const MAX_TIME_S = 0xffffffff; // EID time is a u32 of seconds
// rollStep costs, in 1/256 of a unit.
const COST_PSEUDONYM = 256;
const COST_VISIT = 4;
const COST_SLOT_SWEPT = 1;

export function createResolverIndex(options: { toleranceWindows?: number } = {}): ResolverIndex {
  const tolerance = options.toleranceWindows ?? 1;
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 64) throw new RangeError(`toleranceWindows must be an integer 0–64, got ${tolerance}`);

  const shoppers = createShopperSlots();

  // Epoch keys, by slot; a slot's number is part of every entry's tag.
  const keySlots: (KeySlot | undefined)[] = [];
  const freeKeySlots: number[] = [];
  let liveKeys: { slot: number; key: KeySlot }[] = [];
  let generation = 0;
  // The table is sized for the most entries it will hold: current ± tolerance and the window computed
  // ahead, under two keys per store (a rotation overlaps today's and tomorrow's). It reaches that
  // every day anyway, and sized so, neither a roll nor a rotation stops the event loop to rehash.
  let peakKeys = 2;
  const peakEntries = (count: number): number => count * (2 * tolerance + 2) * peakKeys;

  // A dead shopper or key slot may still have entries until a sweep pass started after its death has
  // completed; only then is it reused, so a stale entry can never point at someone else.
  const keyQuarantine: { slot: number; pass: number }[] = [];
  let sweepPass = 0; // passes started
  let sweptPass = 0; // passes (or rehashes) completed: entries dead before its start are gone
  let sweepCursor = -1;
  let garbage = false;

  // The scan that brings shoppers up to date; nextDueS is the earliest time any shopper needs work.
  let scanCursor = -1;
  let nextDueS = Number.POSITIVE_INFINITY;
  let scanDueS = Number.POSITIVE_INFINITY;
  let lastNowS = Number.NEGATIVE_INFINITY;
  const everyoneDue = (): void => {
    nextDueS = Number.NEGATIVE_INFINITY;
    scanDueS = Number.NEGATIVE_INFINITY; // a scan under way runs again for those it has passed
  };
  /** Due times assume time moves forward: if it went back (a clock step), every shopper is due. */
  const observe = (nowS: number): void => {
    if (nowS < lastNowS) everyoneDue();
    lastNowS = nowS;
  };

  const offsetFrom = (window: number, slot: number): number => {
    const d = (window - shoppers.currentWindow[slot]!) & WINDOW_MASK;
    return d >= 1 << (WINDOW_BITS - 1) ? d - (1 << WINDOW_BITS) : d;
  };
  /** Entries worth keeping: a live shopper and key, a window from current − tolerance up to what is built. */
  const keep = (slot: number, tag: number): boolean => {
    if (shoppers.idAt(slot) === undefined || keySlots[tag >>> WINDOW_BITS] === undefined) return false;
    const offset = offsetFrom(tag & WINDOW_MASK, slot);
    return offset >= -tolerance && offset <= shoppers.builtUpTo[slot]! - shoppers.currentWindow[slot]!;
  };
  const table = createPseudonymTable({
    keep,
    onRehash: () => {
      // A rehash copies only what keep() accepts: it completes a pass.
      sweepPass += 1;
      sweptPass = sweepPass;
      sweepCursor = -1;
    },
  });

  /** Quarantined slots whose entries a completed pass (or rehash) has swept are free again. */
  const releaseQuarantine = (): void => {
    shoppers.reusableBefore(sweptPass);
    while (keyQuarantine.length > 0 && keyQuarantine[0]!.pass < sweptPass) freeKeySlots.push(keyQuarantine.shift()!.slot);
  };

  /** The window's start time, or undefined outside the u32 range of EID time. */
  const windowTime = (slot: number, window: number): number | undefined => {
    const timeS = window * 2 ** shoppers.exponents[slot]!;
    return timeS < 0 || timeS > MAX_TIME_S ? undefined : timeS;
  };

  /** Adds the window's pseudonyms under the live keys added after `afterGeneration`; returns how many. */
  const build = (slot: number, window: number, afterGeneration: number): number => {
    const timeS = windowTime(slot, window);
    if (timeS === undefined) return 0;
    let eid: Buffer | undefined;
    let built = 0;
    for (const { slot: keySlot, key } of liveKeys) {
      if (key.addedGeneration <= afterGeneration) continue;
      eid ??= shoppers.eidAt(slot, timeS);
      table.set(pseudonymBytes(key.key, 'eddystone-eid', eid), 0, slot, (keySlot << WINDOW_BITS) | (window & WINDOW_MASK));
      built += 1;
    }
    return built;
  };

  /**
   * Brings one shopper to nowS: moves its current window (a swap), adds pseudonyms under keys added
   * since it was built, and builds windows up to current + tolerance, plus the next one ahead in the
   * last quarter of the window. Returns the pseudonyms computed; `moved` reports a swap.
   */
  const bringUpToDate = (slot: number, nowS: number, moved: { count: number }): number => {
    const { currentWindow, builtUpTo, keyGeneration } = shoppers;
    const period = 2 ** shoppers.exponents[slot]!;
    const window = Math.floor(nowS / period);
    const lowest = window - tolerance;
    let computed = 0;
    if (window !== currentWindow[slot]) {
      // Time went back, or jumped past what is built: start again from the lowest window needed.
      if (window < currentWindow[slot]! || builtUpTo[slot]! < lowest - 1) builtUpTo[slot] = lowest - 1;
      currentWindow[slot] = window;
      moved.count += 1;
      garbage = true;
    }
    if (keyGeneration[slot] !== generation) {
      for (let w = lowest; w <= builtUpTo[slot]!; w += 1) computed += build(slot, w, keyGeneration[slot]!);
      keyGeneration[slot] = generation;
    }
    const endS = (window + 1) * period;
    const aheadFromS = endS - Math.max(1, period / 4);
    const wanted = window + tolerance + (nowS >= aheadFromS ? 1 : 0);
    while (builtUpTo[slot]! < wanted) {
      // Marked built first: a rehash during build() keeps only what keep() accepts.
      builtUpTo[slot] = builtUpTo[slot]! + 1;
      computed += build(slot, builtUpTo[slot]!, -1);
    }
    const dueS = nowS >= aheadFromS ? endS : aheadFromS;
    if (dueS < nextDueS) nextDueS = dueS;
    if (dueS < scanDueS) scanDueS = dueS;
    return computed;
  };

  /** Removes a shopper's built pseudonyms now (older ones go with the sweep) and quarantines the slot. */
  const release = (slot: number): void => {
    for (let w = shoppers.currentWindow[slot]! - tolerance; w <= shoppers.builtUpTo[slot]!; w += 1) {
      const timeS = windowTime(slot, w);
      if (timeS === undefined) continue;
      const eid = shoppers.eidAt(slot, timeS);
      for (const { key } of liveKeys) {
        if (key.addedGeneration > shoppers.keyGeneration[slot]!) continue;
        const at = table.find(pseudonymBytes(key.key, 'eddystone-eid', eid), 0);
        if (at >= 0 && table.valueAt(at) === slot) table.deleteAt(at);
      }
    }
    shoppers.release(slot, sweepPass);
    garbage = true;
  };

  const rollStep = (nowS: number, budget: number): RollProgress => {
    observe(nowS);
    let credit = budget * COST_PSEUDONYM;
    const moved = { count: 0 };
    while (credit > 0) {
      if (scanCursor < 0) {
        if (nowS < nextDueS) break;
        scanCursor = 0;
        scanDueS = Number.POSITIVE_INFINITY;
      }
      if (scanCursor >= shoppers.used()) {
        scanCursor = -1;
        nextDueS = scanDueS;
        continue;
      }
      if (shoppers.idAt(scanCursor) !== undefined) credit -= bringUpToDate(scanCursor, nowS, moved) * COST_PSEUDONYM;
      credit -= COST_VISIT;
      scanCursor += 1;
    }
    // The sweep: after the scan, so a swap's dropped window goes in the same pass.
    while (credit > 0 && scanCursor < 0 && (sweepCursor >= 0 || garbage)) {
      if (sweepCursor < 0) {
        sweepCursor = 0;
        sweepPass += 1;
        garbage = false;
      }
      const slots = Math.min(table.capacity() - sweepCursor, Math.max(1, Math.floor(credit / COST_SLOT_SWEPT)));
      sweepCursor = table.sweep(sweepCursor, slots, keep);
      credit -= slots * COST_SLOT_SWEPT;
      if (sweepCursor >= table.capacity()) {
        sweepCursor = -1;
        sweptPass = sweepPass;
        releaseQuarantine();
      }
    }
    const done = scanCursor < 0 && nowS < nextDueS && sweepCursor < 0 && !garbage;
    return { rolled: moved.count, done };
  };

  const roll = (nowS: number): number => {
    let rolled = 0;
    for (;;) {
      const step = rollStep(nowS, Number.POSITIVE_INFINITY);
      rolled += step.rolled;
      if (step.done) return rolled;
    }
  };

  const scratch = new Uint8Array(PSEUDONYM_BYTES);
  const sameKey = (a: KeySlot, b: LiveEpochKey): boolean => a.keyId === b.keyId && a.storeId === b.storeId && a.key.equals(b.key);

  return {
    setKeys(next, nowS, budget = Number.POSITIVE_INFINITY) {
      for (const { slot, key } of liveKeys) {
        if (next.some((k) => sameKey(key, k))) continue;
        keySlots[slot] = undefined;
        keyQuarantine.push({ slot, pass: sweepPass });
        garbage = true;
      }
      let added = false;
      for (const k of next) {
        if (keySlots.some((held) => held !== undefined && sameKey(held, k))) continue;
        releaseQuarantine();
        const slot = freeKeySlots.pop() ?? keySlots.length;
        if (slot >= MAX_KEY_SLOTS) throw new RangeError(`at most ${MAX_KEY_SLOTS} epoch keys can be live at once`);
        generation += 1;
        keySlots[slot] = { keyId: k.keyId, storeId: k.storeId, key: k.key, addedGeneration: generation };
        added = true;
      }
      liveKeys = keySlots.flatMap((key, slot) => (key === undefined ? [] : [{ slot, key }]));
      peakKeys = Math.max(liveKeys.length, 2 * new Set(liveKeys.map(({ key }) => key.storeId)).size, 2);
      table.reserve(peakEntries(shoppers.count()));
      if (added) everyoneDue(); // every shopper needs the new keys
      if (budget === Number.POSITIVE_INFINITY) roll(nowS);
      else rollStep(nowS, budget);
    },
    reserve(count) {
      table.reserve(peakEntries(count));
    },
    upsert(shopper, nowS) {
      const k = shopper.rotationExponent;
      if (shopper.identityKey.length !== IDENTITY_KEY_BYTES) throw new RangeError(`identity key must be ${IDENTITY_KEY_BYTES} bytes, got ${shopper.identityKey.length}`);
      if (!Number.isInteger(k) || k < 0 || k > MAX_ROTATION_EXPONENT) throw new RangeError(`rotation exponent K must be an integer 0–${MAX_ROTATION_EXPONENT}, got ${k}`);
      observe(nowS);
      const existing = shoppers.slotOf(shopper.shopperId);
      if (existing !== undefined) release(existing);
      releaseQuarantine();
      table.reserve(peakEntries(shoppers.count() + 1));
      const slot = shoppers.add(shopper.shopperId, shopper.identityKey, k);
      const window = Math.floor(nowS / 2 ** k);
      shoppers.currentWindow[slot] = window;
      shoppers.builtUpTo[slot] = window - tolerance - 1;
      shoppers.keyGeneration[slot] = generation;
      bringUpToDate(slot, nowS, { count: 0 });
    },
    remove(shopperId) {
      const slot = shoppers.slotOf(shopperId);
      if (slot !== undefined) release(slot);
    },
    roll,
    rollStep,
    resolve(pseudonym) {
      if (!decodePseudonym(pseudonym, scratch)) return undefined;
      const at = table.find(scratch, 0);
      if (at < 0) return undefined;
      const slot = table.valueAt(at);
      const tag = table.tagAt(at);
      const shopperId = shoppers.idAt(slot);
      const key = keySlots[tag >>> WINDOW_BITS];
      if (shopperId === undefined || key === undefined) return undefined;
      const offset = offsetFrom(tag & WINDOW_MASK, slot);
      return offset >= -tolerance && offset <= tolerance ? { shopperId, storeId: key.storeId } : undefined;
    },
    has: (shopperId) => shoppers.slotOf(shopperId) !== undefined,
    shopperIds: () => shoppers.ids(),
    size: () => ({ shoppers: shoppers.count(), pseudonyms: table.size() }),
  };
}
