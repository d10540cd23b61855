import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { computeEid } from '#gateway/protocol/index.ts';
import { createShopperSlots } from '#server/domain/shopper-slots.ts';

const T_S = 1_894_006_800;

describe('createShopperSlots', () => {
  it('computes the EID of the identity key it took, and zeroes the buffer it was given', () => {
    const slots = createShopperSlots();
    const identityKey = randomBytes(16);
    const given = Buffer.from(identityKey);
    const slot = slots.add('sh-ada', given, 10);
    expect(given.every((byte) => byte === 0)).toBe(true);
    expect(slots.eidAt(slot, T_S)).toEqual(computeEid(identityKey, 10, T_S));
    // Across a temporary-key boundary (every 65,536 s) too.
    expect(slots.eidAt(slot, T_S + 65_536)).toEqual(computeEid(identityKey, 10, T_S + 65_536));
  });

  it('zeroes the identity key and the cached temporary key of a released slot', () => {
    const slots = createShopperSlots();
    const slot = slots.add('sh-ada', randomBytes(16), 10);
    slots.eidAt(slot, T_S);
    slots.release(slot, 0);
    expect(slots.slotOf('sh-ada')).toBeUndefined();
    expect(slots.idAt(slot)).toBeUndefined();
    // What is left in the slot computes the EID of an all-zero key: nothing of the shopper's remains.
    expect(slots.eidAt(slot, T_S)).toEqual(computeEid(Buffer.alloc(16), 10, T_S));
  });

  it('reuses a released slot only once told that entries from before its release are gone', () => {
    const slots = createShopperSlots();
    const ada = slots.add('sh-ada', randomBytes(16), 10);
    slots.release(ada, 3);
    slots.reusableBefore(3);
    expect(slots.add('sh-bob', randomBytes(16), 10)).not.toBe(ada);
    slots.reusableBefore(4);
    expect(slots.add('sh-cy', randomBytes(16), 10)).toBe(ada);
    expect(slots.ids().sort()).toEqual(['sh-bob', 'sh-cy']);
    expect(slots.count()).toBe(2);
    expect(slots.used()).toBe(2);
  });

  it('keeps every shopper through growth', () => {
    const slots = createShopperSlots();
    const keys = Array.from({ length: 3000 }, () => randomBytes(16));
    keys.forEach((key, i) => slots.add(`sh-${i}`, Buffer.from(key), 10));
    for (const i of [0, 1023, 1024, 2999]) expect(slots.eidAt(slots.slotOf(`sh-${i}`)!, T_S)).toEqual(computeEid(keys[i]!, 10, T_S));
    expect(slots.count()).toBe(3000);
  });
});
