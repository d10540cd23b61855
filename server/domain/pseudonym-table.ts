// A hash table from 16-byte pseudonyms to two uint32 values, in one typed array: open addressing
// with linear probing, deletion by backward shift (Knuth, TAOCP vol. 3, §6.4, Algorithm R), so no
// tombstones accumulate and a freed slot is reused by the next insert. Each slot is 6 words: the
// pseudonym as four little-endian 32-bit words, value + 1 (0 marks an empty slot) and a tag. The Map
// of 32-character hex strings to objects it replaces held ~450 bytes a pseudonym at a million
// shoppers (docs/benchmarks.md); a slot is 24 bytes, at a load of at most 0.8.

export type PseudonymTable = {
  /** The slot holding key[offset, offset + 16), or −1. */
  find(key: Uint8Array, offset: number): number;
  valueAt(slot: number): number;
  tagAt(slot: number): number;
  /** Inserts or overwrites. value < 2^32 − 1, tag < 2^32. Grows (and rehashes) past the maximum load. */
  set(key: Uint8Array, offset: number, value: number, tag: number): void;
  delete(key: Uint8Array, offset: number): boolean;
  /** Grows at once (if needed) so that `entries` fit without a rehash. */
  reserve(entries: number): void;
  deleteAt(slot: number): void;
  /**
   * Visits slots [from, from + slots), deleting each entry for which keep(value, tag) is false, and
   * returns where to continue (≥ capacity() once the pass is over). A pass from 0 to capacity() with
   * no rehash in between examines every entry present at its start; entries inserted meanwhile may be missed.
   */
  sweep(from: number, slots: number, keep: (value: number, tag: number) => boolean): number;
  size(): number;
  capacity(): number;
  /** Bytes held by the slot array. */
  byteLength(): number;
};

export type PseudonymTableOptions = {
  initialCapacity?: number;
  /** Grow when size would pass this fraction of the capacity. Default 0.8. */
  maxLoad?: number;
  /** Consulted when the table grows: entries it rejects are dropped rather than copied. */
  keep?: (value: number, tag: number) => boolean;
  /** Called after every rehash (which examined every entry with keep). */
  onRehash?: () => void;
};

const WORDS = 6;
const VALUE = 4;
const TAG = 5;
const GROWTH = 1.5;
const TWO_POW_32 = 4_294_967_296;

// Words are kept as int32: V8 handles those unboxed, where uint32 above 2^31 would become heap numbers.
const word = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);

/** Home slot of a key: its words mixed (murmur3's fmix32) and mapped onto [0, capacity) by multiplication (Lemire's fastrange). */
function home(w0: number, w1: number, w2: number, w3: number, capacity: number): number {
  let h = w0 ^ Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca6b) ^ Math.imul(w3, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return Math.floor((h * capacity) / TWO_POW_32);
}

export function createPseudonymTable(options: PseudonymTableOptions = {}): PseudonymTable {
  const maxLoad = options.maxLoad ?? 0.8;
  if (!(maxLoad > 0 && maxLoad < 1)) throw new RangeError(`maxLoad must be in (0, 1), got ${maxLoad}`);
  const keep = options.keep ?? (() => true);
  let capacity = Math.max(8, Math.ceil(options.initialCapacity ?? 1024));
  let slots = new Int32Array(capacity * WORDS);
  let size = 0;

  const homeOfSlot = (slot: number): number => {
    const b = slot * WORDS;
    return home(slots[b]!, slots[b + 1]!, slots[b + 2]!, slots[b + 3]!, capacity);
  };

  const find = (key: Uint8Array, offset: number): number => {
    const w0 = word(key, offset);
    const w1 = word(key, offset + 4);
    const w2 = word(key, offset + 8);
    const w3 = word(key, offset + 12);
    let slot = home(w0, w1, w2, w3, capacity);
    for (;;) {
      const b = slot * WORDS;
      if (slots[b + VALUE] === 0) return -1;
      if (slots[b] === w0 && slots[b + 1] === w1 && slots[b + 2] === w2 && slots[b + 3] === w3) return slot;
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
  };

  /** Places words into the first free slot from their home; the key must not be present. */
  const place = (into: Int32Array, cap: number, w0: number, w1: number, w2: number, w3: number, storedValue: number, tag: number): void => {
    let slot = home(w0, w1, w2, w3, cap);
    while (into[slot * WORDS + VALUE] !== 0) slot = slot + 1 === cap ? 0 : slot + 1;
    const b = slot * WORDS;
    into[b] = w0;
    into[b + 1] = w1;
    into[b + 2] = w2;
    into[b + 3] = w3;
    into[b + VALUE] = storedValue;
    into[b + TAG] = tag;
  };

  /** Rehashes into at least `atLeast` slots (it never shrinks), copying only what keep() accepts. */
  const rehash = (atLeast: number): void => {
    const old = slots;
    const oldCapacity = capacity;
    capacity = Math.max(oldCapacity, Math.ceil(atLeast));
    slots = new Int32Array(capacity * WORDS);
    size = 0;
    for (let slot = 0; slot < oldCapacity; slot += 1) {
      const b = slot * WORDS;
      const storedValue = old[b + VALUE]!;
      if (storedValue === 0 || !keep((storedValue >>> 0) - 1, old[b + TAG]! >>> 0)) continue;
      place(slots, capacity, old[b]!, old[b + 1]!, old[b + 2]!, old[b + 3]!, storedValue, old[b + TAG]!);
      size += 1;
    }
    options.onRehash?.();
  };

  const deleteAt = (slot: number): void => {
    let hole = slot;
    let next = slot;
    for (;;) {
      next = next + 1 === capacity ? 0 : next + 1;
      const nb = next * WORDS;
      if (slots[nb + VALUE] === 0) break;
      const h = homeOfSlot(next);
      // The entry at `next` may fill the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? h > hole && h <= next : h > hole || h <= next;
      if (stays) continue;
      slots.copyWithin(hole * WORDS, nb, nb + WORDS);
      hole = next;
    }
    slots.fill(0, hole * WORDS, hole * WORDS + WORDS);
    size -= 1;
  };

  return {
    find,
    valueAt: (slot) => (slots[slot * WORDS + VALUE]! >>> 0) - 1,
    tagAt: (slot) => slots[slot * WORDS + TAG]! >>> 0,
    set(key, offset, value, tag) {
      if (!(Number.isInteger(value) && value >= 0 && value < 0xffffffff)) throw new RangeError(`value must be a uint32 below 2^32 − 1, got ${value}`);
      if (key.length < offset + 16) throw new RangeError(`a pseudonym is 16 bytes; ${key.length - offset} from offset ${offset}`);
      const existing = find(key, offset);
      if (existing >= 0) {
        slots[existing * WORDS + VALUE] = value + 1;
        slots[existing * WORDS + TAG] = tag;
        return;
      }
      if (size + 1 > maxLoad * capacity) rehash(capacity * GROWTH);
      place(slots, capacity, word(key, offset), word(key, offset + 4), word(key, offset + 8), word(key, offset + 12), value + 1, tag);
      size += 1;
    },
    delete(key, offset) {
      const slot = find(key, offset);
      if (slot < 0) return false;
      deleteAt(slot);
      return true;
    },
    deleteAt,
    reserve(entries) {
      if (entries > maxLoad * capacity) rehash(Math.max(entries / maxLoad, capacity * GROWTH));
    },
    sweep(from, count, keepEntry) {
      const end = Math.min(capacity, from + count);
      let slot = Math.max(0, from);
      while (slot < end) {
        const b = slot * WORDS;
        // Backward shift may move a later (or, wrapping, an already examined) entry into this slot: look again.
        if (slots[b + VALUE] !== 0 && !keepEntry((slots[b + VALUE]! >>> 0) - 1, slots[b + TAG]! >>> 0)) deleteAt(slot);
        else slot += 1;
      }
      return slot;
    },
    size: () => size,
    capacity: () => capacity,
    byteLength: () => slots.byteLength,
  };
}
