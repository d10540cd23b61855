import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPseudonymTable, type PseudonymTable } from '#server/domain/pseudonym-table.ts';

const KEY_BYTES = 16;
const hex = (key: Uint8Array): string => Buffer.from(key).toString('hex');
/** Keys are read at an offset inside a larger buffer, as the index reads them from scratch space. */
const OFFSET = 3;
const framed = (key: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(OFFSET + KEY_BYTES + 5).fill(0xee);
  frame.set(key, OFFSET);
  return frame;
};

type Entry = { value: number; tag: number };
const lookup = (table: PseudonymTable, key: Uint8Array): Entry | undefined => {
  const slot = table.find(framed(key), OFFSET);
  return slot < 0 ? undefined : { value: table.valueAt(slot), tag: table.tagAt(slot) };
};

const keyArb = fc.uint8Array({ minLength: KEY_BYTES, maxLength: KEY_BYTES });
// A small pool, so sets overwrite, deletes hit, and home slots collide in a small table.
const poolArb = fc.uniqueArray(keyArb, { minLength: 1, maxLength: 60, selector: hex });
const opArb = (poolSize: number) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.nat(poolSize - 1), value: fc.nat(0xfffffffe), tag: fc.nat(0xffffffff) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(poolSize - 1) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), modulus: fc.integer({ min: 2, max: 4 }), remainder: fc.nat(3) }) },
  );

describe('createPseudonymTable', () => {
  it('behaves like a Map under random sets, deletes, whole-table sweeps and lookups, through growth and wrap-around', () => {
    fc.assert(
      fc.property(
        poolArb.chain((pool) => fc.tuple(fc.constant(pool), fc.array(opArb(pool.length), { maxLength: 200 }), fc.integer({ min: 8, max: 40 }))),
        ([pool, ops, initialCapacity]) => {
          const table = createPseudonymTable({ initialCapacity });
          const model = new Map<string, Entry>();
          for (const op of ops) {
            if (op.kind === 'set') {
              table.set(framed(pool[op.key]!), OFFSET, op.value, op.tag);
              model.set(hex(pool[op.key]!), { value: op.value, tag: op.tag });
            } else if (op.kind === 'delete') {
              expect(table.delete(framed(pool[op.key]!), OFFSET)).toBe(model.delete(hex(pool[op.key]!)));
            } else {
              const keep = (value: number): boolean => value % op.modulus !== op.remainder;
              expect(table.sweep(0, table.capacity(), keep)).toBe(table.capacity());
              for (const [key, entry] of model) if (!keep(entry.value)) model.delete(key);
            }
            expect(table.size()).toBe(model.size);
            expect(table.size()).toBeLessThanOrEqual(0.8 * table.capacity());
            for (const key of pool) expect(lookup(table, key)).toEqual(model.get(hex(key)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sweeps in slices: a pass deletes every rejected entry present at its start, whatever is inserted between slices', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(keyArb, { minLength: 2, maxLength: 80, selector: hex }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 13 }),
        (keys, sliceSlots, insertEvery) => {
          const half = Math.ceil(keys.length / 2);
          const before = keys.slice(0, half);
          const during = keys.slice(half);
          const table = createPseudonymTable({ initialCapacity: 8 });
          before.forEach((key, i) => table.set(key, 0, i, 0));
          // Odd values are rejected; the keys inserted during the pass are all kept (tag 1).
          const keep = (value: number, tag: number): boolean => tag === 1 || value % 2 === 0;
          const capacity = table.capacity();
          let cursor = 0;
          let slices = 0;
          while (cursor < table.capacity()) {
            cursor = table.sweep(cursor, sliceSlots, keep);
            slices += 1;
            if (slices % insertEvery === 0 && during.length > 0 && table.size() + 1 <= 0.8 * capacity) table.set(during.pop()!, 0, 1, 1);
          }
          before.forEach((key, i) => expect(lookup(table, key)).toEqual(i % 2 === 0 ? { value: i, tag: 0 } : undefined));
          for (const key of keys.slice(half)) if (!during.includes(key)) expect(lookup(table, key)).toEqual({ value: 1, tag: 1 });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('drops what keep() rejects when it grows, and says it rehashed', () => {
    let rehashes = 0;
    const table = createPseudonymTable({ initialCapacity: 8, keep: (value) => value < 100, onRehash: () => (rehashes += 1) });
    const keys = Array.from({ length: 40 }, () => randomBytes(KEY_BYTES));
    keys.forEach((key, i) => table.set(key, 0, i % 2 === 0 ? i : 1000 + i, 0));
    expect(rehashes).toBeGreaterThan(0);
    expect(lookup(table, keys[38]!)).toEqual({ value: 38, tag: 0 });
    // Every odd key (value ≥ 100) inserted before the last rehash is gone; those after it are still there.
    expect(table.size()).toBeLessThan(keys.length);
    for (const [i, key] of keys.entries()) if (i % 2 === 0) expect(lookup(table, key)?.value).toBe(i);
  });

  it('reuses freed slots: churn through many distinct keys never grows the table past what the live entries need', () => {
    const table = createPseudonymTable({ initialCapacity: 64 });
    const live: Buffer[] = [];
    for (let i = 0; i < 20_000; i += 1) {
      const key = randomBytes(KEY_BYTES);
      table.set(key, 0, i, 0);
      live.push(key);
      if (live.length > 40) expect(table.delete(live.shift()!, 0)).toBe(true);
    }
    expect(table.size()).toBe(40);
    expect(table.capacity()).toBe(64);
    for (const key of live) expect(lookup(table, key)).toBeDefined();
  });

  it('makes room for a reserved number of entries in one rehash, and keeps what it holds', () => {
    let rehashes = 0;
    const table = createPseudonymTable({ initialCapacity: 8, onRehash: () => (rehashes += 1) });
    const first = randomBytes(KEY_BYTES);
    table.set(first, 0, 7, 9);
    table.reserve(1000);
    expect(rehashes).toBe(1);
    expect(table.capacity()).toBeGreaterThanOrEqual(1000 / 0.8);
    for (let i = 1; i < 1000; i += 1) table.set(randomBytes(KEY_BYTES), 0, i, 0);
    expect(rehashes).toBe(1);
    table.reserve(10);
    expect(rehashes).toBe(1);
    expect(lookup(table, first)).toEqual({ value: 7, tag: 9 });
    expect(table.size()).toBe(1000);
  });

  it('keeps 24 bytes a slot', () => {
    const table = createPseudonymTable({ initialCapacity: 1000 });
    expect(table.byteLength()).toBe(24 * table.capacity());
  });

  it('rejects a value it cannot store and a key shorter than 16 bytes', () => {
    const table = createPseudonymTable();
    expect(() => table.set(randomBytes(16), 0, 0xffffffff, 0)).toThrow(RangeError);
    expect(() => table.set(randomBytes(16), 0, -1, 0)).toThrow(RangeError);
    expect(() => table.set(randomBytes(16), 0, 1.5, 0)).toThrow(RangeError);
    expect(() => table.set(randomBytes(20), 5, 1, 0)).toThrow('a pseudonym is 16 bytes; 15 from offset 5');
    expect(() => createPseudonymTable({ maxLoad: 1 })).toThrow(RangeError);
    expect(table.size()).toBe(0);
  });
});
