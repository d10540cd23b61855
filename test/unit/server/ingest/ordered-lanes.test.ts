import { describe, expect, it } from 'vitest';
import { createOrderedLanes } from '#server/ingest/ordered-lanes.ts';

// The ingress's lanes: one key's work in the order handed in, one at a time; other keys meanwhile.

type Gate = { promise: Promise<void>; open(): void };
const gate = (): Gate => {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
};

describe('ordered lanes', () => {
  it('runs one key one task at a time, in the order handed in, while another key runs meanwhile', async () => {
    const lanes = createOrderedLanes();
    const log: string[] = [];
    const first = gate();
    const a1 = lanes.run('a', async () => {
      log.push('a1 start');
      await first.promise;
      log.push('a1 end');
    });
    const a2 = lanes.run('a', async () => void log.push('a2'));
    // 'b' is not held up behind 'a': it finishes while a1 is still running.
    await lanes.run('b', async () => void log.push('b1'));
    expect(log).toEqual(['a1 start', 'b1']);
    first.open();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('goes on with a key after one of its tasks fails, and hands the failure to that task\'s caller only', async () => {
    const lanes = createOrderedLanes();
    const failed = lanes.run('a', async () => {
      throw new Error('store down');
    });
    const next = lanes.run('a', async () => 'handled');
    await expect(failed).rejects.toThrow('store down');
    await expect(next).resolves.toBe('handled');
  });

  it('forgets a key once its last task has settled', async () => {
    const lanes = createOrderedLanes();
    const held = gate();
    const running = lanes.run('a', () => held.promise);
    expect(lanes.size()).toBe(1);
    held.open();
    await running;
    await expect.poll(() => lanes.size()).toBe(0);
  });
});
