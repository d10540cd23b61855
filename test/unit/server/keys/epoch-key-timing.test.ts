import { describe, expect, it } from 'vitest';
import { defaultGraceS, maintenanceIntervalMs } from '#server/keys/epoch-keys.ts';

// The grace around a key's period and how often keys are maintained follow the period, so a short
// proof period (`vicino demo --epoch-rotation 4s`) rotates and destroys keys as a daily one does.

describe('epoch key timing', () => {
  it('gives daily keys five minutes of grace and maintains them every minute', () => {
    expect(defaultGraceS(86_400)).toBe(300);
    expect(maintenanceIntervalMs(86_400)).toBe(60_000);
  });

  it('never lets the grace exceed a quarter of the period, so keys still die within a short run', () => {
    expect(defaultGraceS(600)).toBe(150);
    expect(defaultGraceS(4)).toBe(1);
  });

  it('maintains often enough that the next key exists before the current one ends', () => {
    for (const rotationS of [4, 10, 60, 600, 3_600, 86_400]) {
      // The next key is created 2 × grace before the boundary: at least two maintenance passes fit in that lead.
      expect(maintenanceIntervalMs(rotationS) * 2).toBeLessThanOrEqual(Math.max(500, defaultGraceS(rotationS) * 2 * 1000));
    }
  });
});
