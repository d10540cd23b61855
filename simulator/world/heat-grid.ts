import type { HeatGrid } from './store-report.ts';

// Occupancy heat for a report: shopper-seconds per cell of the floor plan. Aggregate only: a cell that
// fewer than minShoppers distinct shoppers visited is suppressed, so no one's path can be read off it.

/** Shopper-seconds per cell, with the count of distinct shoppers per cell for suppression. */
export function createHeat(widthM: number, heightM: number, minShoppers: number): { add(p: { x: number; y: number }, shopper: number): void; grid(): HeatGrid } {
  // About 10,000 cells at most: 1 m in a shop, coarser in a mall.
  const cellM = Math.max(1, Math.ceil(Math.sqrt((widthM * heightM) / 10_000)));
  const columns = Math.max(1, Math.ceil(widthM / cellM));
  const rows = Math.max(1, Math.ceil(heightM / cellM));
  const seconds = new Float64Array(columns * rows);
  // The first minShoppers distinct shoppers of each cell: exact, and enough to decide suppression.
  const seen = new Int32Array(columns * rows * minShoppers).fill(-1);
  const shoppers = new Uint8Array(columns * rows);
  return {
    add(p, shopper) {
      const cell = Math.min(rows - 1, Math.max(0, Math.floor(p.y / cellM))) * columns + Math.min(columns - 1, Math.max(0, Math.floor(p.x / cellM)));
      seconds[cell] = seconds[cell]! + 1;
      const count = shoppers[cell]!;
      if (count >= minShoppers) return;
      const base = cell * minShoppers;
      for (let i = 0; i < count; i += 1) if (seen[base + i] === shopper) return;
      seen[base + count] = shopper;
      shoppers[cell] = count + 1;
    },
    grid: () => ({ cellM, columns, rows, minShoppers, seconds: [...seconds].map((s, i) => (shoppers[i]! >= minShoppers ? s : null)) }),
  };
}
