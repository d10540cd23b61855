import { computeEidWithTemporaryKey, IDENTITY_KEY_BYTES, temporaryKey } from '#gateway/protocol/index.ts';

// The resolver index's shoppers, one numbered slot each, in typed arrays (a million shoppers would
// otherwise be a million objects, closures and Buffers). Index entries point at slots, so a freed
// slot is quarantined: it is reused only once its holder says the entries pointing at it are gone.

export type ShopperSlots = {
  /** Columns by slot. They are replaced when the slots grow: read them through this object. */
  exponents: Uint8Array;
  /** Window index (T >>> K) that the shopper's ± tolerance is built around. */
  currentWindow: Float64Array;
  /** Highest window index whose pseudonyms are in the table. */
  builtUpTo: Float64Array;
  /** The key generation the shopper's windows are built for. */
  keyGeneration: Float64Array;
  idAt(slot: number): string | undefined;
  slotOf(shopperId: string): number | undefined;
  ids(): string[];
  count(): number;
  /** Slots ever used: every live slot is below this. */
  used(): number;
  /** Takes a slot: the identity key is copied in and the given buffer zeroed, so one copy stays in memory. */
  add(shopperId: string, identityKey: Uint8Array, rotationExponent: number): number;
  /** The EID at timeS, with the temporary key cached for its 65,536-second life. */
  eidAt(slot: number, timeS: number): Buffer;
  /** Zeroes the slot's keys and forgets its shopper. The slot is reused after reusableBefore(e), e > epoch. */
  release(slot: number, epoch: number): void;
  reusableBefore(epoch: number): void;
};

export function createShopperSlots(): ShopperSlots {
  let capacity = 0;
  let identityKeys = new Uint8Array(0);
  let temporaryKeys = new Uint8Array(0);
  let temporaryKeyHigh = new Int32Array(0); // T[31:16] the cached TK is for; −1: none
  const ids: (string | undefined)[] = [];
  const slotOf = new Map<string, number>();
  const free: number[] = [];
  const quarantine: { slot: number; epoch: number }[] = [];
  let used = 0;

  const keyAt = (keys: Uint8Array, slot: number): Uint8Array => keys.subarray(slot * IDENTITY_KEY_BYTES, (slot + 1) * IDENTITY_KEY_BYTES);

  const slots: ShopperSlots = {
    exponents: new Uint8Array(0),
    currentWindow: new Float64Array(0),
    builtUpTo: new Float64Array(0),
    keyGeneration: new Float64Array(0),
    idAt: (slot) => ids[slot],
    slotOf: (shopperId) => slotOf.get(shopperId),
    ids: () => [...slotOf.keys()],
    count: () => slotOf.size,
    used: () => used,
    add(shopperId, identityKey, rotationExponent) {
      let slot = free.pop();
      if (slot === undefined) {
        if (used === capacity) grow();
        slot = used++;
      }
      identityKeys.set(identityKey, slot * IDENTITY_KEY_BYTES);
      identityKey.fill(0);
      temporaryKeyHigh[slot] = -1;
      slots.exponents[slot] = rotationExponent;
      ids[slot] = shopperId;
      slotOf.set(shopperId, slot);
      return slot;
    },
    eidAt(slot, timeS) {
      const high = timeS >>> 16;
      if (temporaryKeyHigh[slot] !== high) {
        const tk = temporaryKey(keyAt(identityKeys, slot), timeS);
        temporaryKeys.set(tk, slot * IDENTITY_KEY_BYTES);
        tk.fill(0);
        temporaryKeyHigh[slot] = high;
      }
      return computeEidWithTemporaryKey(keyAt(temporaryKeys, slot), slots.exponents[slot]!, timeS);
    },
    release(slot, epoch) {
      keyAt(identityKeys, slot).fill(0);
      keyAt(temporaryKeys, slot).fill(0);
      temporaryKeyHigh[slot] = -1;
      slotOf.delete(ids[slot]!);
      ids[slot] = undefined;
      quarantine.push({ slot, epoch });
    },
    reusableBefore(epoch) {
      let released = 0;
      while (released < quarantine.length && quarantine[released]!.epoch < epoch) free.push(quarantine[released++]!.slot);
      quarantine.splice(0, released);
    },
  };

  function grow(): void {
    const next = Math.max(1024, capacity * 2);
    const widen = <T extends Uint8Array | Int32Array | Float64Array>(old: T, fresh: T): T => {
      fresh.set(old);
      return fresh;
    };
    const moveKeys = (old: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> => {
      const fresh = widen(old, new Uint8Array(next * IDENTITY_KEY_BYTES));
      old.fill(0); // no copy of a key is left behind for the collector
      return fresh;
    };
    identityKeys = moveKeys(identityKeys);
    temporaryKeys = moveKeys(temporaryKeys);
    temporaryKeyHigh = widen(temporaryKeyHigh, new Int32Array(next));
    slots.exponents = widen(slots.exponents, new Uint8Array(next));
    slots.currentWindow = widen(slots.currentWindow, new Float64Array(next));
    slots.builtUpTo = widen(slots.builtUpTo, new Float64Array(next));
    slots.keyGeneration = widen(slots.keyGeneration, new Float64Array(next));
    capacity = next;
  }

  return slots;
}
