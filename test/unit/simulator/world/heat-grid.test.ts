import { describe, expect, it } from 'vitest';
import { createHeat } from '#simulator/world/heat-grid.ts';

describe('createHeat', () => {
  it('sums shopper-seconds per cell and leaves blank a cell fewer than minShoppers distinct shoppers stood in', () => {
    const heat = createHeat(4, 2, 3);
    // Cell (0, 0): one shopper for 100 s — an individual's trace, suppressed however long they stood.
    for (let s = 0; s < 100; s += 1) heat.add({ x: 0.5, y: 0.5 }, 7);
    // Cell (1, 0): three shoppers, a few seconds each.
    for (const shopper of [1, 2, 3]) for (let s = 0; s < 2; s += 1) heat.add({ x: 1.5, y: 0.2 }, shopper);
    const grid = heat.grid();
    expect(grid).toMatchObject({ cellM: 1, columns: 4, rows: 2, minShoppers: 3 });
    expect(grid.seconds[0]).toBeNull();
    expect(grid.seconds[1]).toBe(6);
    expect(grid.seconds.filter((s) => s !== null)).toEqual([6]);
  });

  it('counts a shopper once per cell however often they come back, and keeps positions off the floor in its edge cells', () => {
    const heat = createHeat(2, 1, 2);
    for (let s = 0; s < 10; s += 1) heat.add({ x: 0.2, y: 0.2 }, 1);
    expect(heat.grid().seconds[0]).toBeNull();
    heat.add({ x: -3, y: 9 }, 2);
    expect(heat.grid().seconds[0]).toBe(11);
  });
});
