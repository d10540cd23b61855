import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOutbox } from '#gateway/publisher/outbox.ts';

const drain = <T>(outbox: { shift(): T | undefined; readonly size: number }): T[] => {
  const out: T[] = [];
  while (outbox.size > 0) out.push(outbox.shift()!);
  return out;
};

describe('outbox', () => {
  it('hands items out first in, first out', () => {
    const outbox = createOutbox<number>(5);
    for (const n of [1, 2, 3]) expect(outbox.push(n)).toBeUndefined();
    expect(outbox.size).toBe(3);
    expect(drain(outbox)).toEqual([1, 2, 3]);
    expect(outbox.shift()).toBeUndefined();
    expect(outbox.size).toBe(0);
  });

  it('evicts and returns the oldest item when full', () => {
    const outbox = createOutbox<string>(3);
    outbox.push('a');
    outbox.push('b');
    outbox.push('c');
    expect(outbox.push('d')).toBe('a');
    expect(outbox.push('e')).toBe('b');
    expect(outbox.size).toBe(3);
    expect(drain(outbox)).toEqual(['c', 'd', 'e']);
  });

  it('puts an item back at the front', () => {
    const outbox = createOutbox<string>(3);
    outbox.push('b');
    outbox.push('c');
    const first = outbox.shift()!;
    outbox.unshift(first);
    outbox.unshift('a');
    expect(drain(outbox)).toEqual(['a', 'b', 'c']);
  });

  it('drops an item put back when full, keeping what is queued', () => {
    const outbox = createOutbox<string>(2);
    outbox.push('a');
    outbox.push('b');
    outbox.unshift('z');
    expect(outbox.size).toBe(2);
    expect(drain(outbox)).toEqual(['a', 'b']);
  });

  it('keeps working after wrapping around its buffer many times', () => {
    const outbox = createOutbox<number>(3);
    for (let n = 0; n < 100; n += 1) {
      outbox.push(n);
      if (n % 2 === 0) outbox.shift();
    }
    expect(drain(outbox)).toEqual([97, 98, 99]);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses a capacity of %s', (capacity) => {
    expect(() => createOutbox(capacity)).toThrow(RangeError);
    expect(() => createOutbox(capacity)).toThrow(/outbox capacity must be a positive integer/);
  });

  it('behaves like a bounded array for any sequence of operations', () => {
    type Op = { op: 'push'; value: number } | { op: 'unshift'; value: number } | { op: 'shift' };
    const ops = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('push' as const), value: fc.integer() }),
        fc.record({ op: fc.constant('unshift' as const), value: fc.integer() }),
        fc.record({ op: fc.constant('shift' as const) }),
      ) as fc.Arbitrary<Op>,
      { maxLength: 200 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), ops, (capacity, sequence) => {
        const outbox = createOutbox<number>(capacity);
        const model: number[] = [];
        for (const step of sequence) {
          if (step.op === 'push') {
            const evicted = model.length === capacity ? model.shift() : undefined;
            model.push(step.value);
            expect(outbox.push(step.value)).toBe(evicted);
          } else if (step.op === 'unshift') {
            if (model.length < capacity) model.unshift(step.value);
            outbox.unshift(step.value);
          } else {
            expect(outbox.shift()).toBe(model.shift());
          }
          expect(outbox.size).toBe(model.length);
        }
        expect(drain(outbox)).toEqual(model);
      }),
    );
  });
});
