import { describe, expect, it } from 'vitest';
import { createPresenceScorer, truthVisits, type Transition } from '#simulator/world/presence-scoring.ts';

const instrumented = new Set(['bakery', 'dairy']);
const options = { toleranceS: 5, minVisitS: 20, flapWindowS: 60, instrumented };
const START_S = 1_000;

/** A truth timeline from runs: [zone, seconds]. */
const truthOf = (...runs: [string | null, number][]): (string | null)[] => runs.flatMap(([zone, n]) => Array<string | null>(n).fill(zone));
const entered = (zoneId: string, atS: number): Transition => ({ kind: 'entered', zoneId, atMs: atS * 1000 });
const left = (zoneId: string, atS: number): Transition => ({ kind: 'left', zoneId, atMs: atS * 1000 });

describe('truthVisits', () => {
  it('keeps stays of at least the minimum visit in instrumented zones only', () => {
    const truth = truthOf([null, 10], ['bakery', 30], ['aisle', 40], ['dairy', 19], [null, 5]);
    expect(truthVisits(truth, START_S, options)).toEqual([{ zoneId: 'bakery', fromS: 1_010, toS: 1_040 }]);
  });
});

describe('createPresenceScorer', () => {
  it('scores a perfect detection as precision, recall and zone accuracy of 1', () => {
    const scorer = createPresenceScorer(options);
    scorer.add({ startS: START_S, truth: truthOf([null, 10], ['bakery', 60], [null, 10]), transitions: [entered('bakery', 1_012), left('bakery', 1_071)] });
    const { presence, visits } = scorer.result(80 / 3_600);
    expect(presence.enters).toEqual({ truth: 1, detected: 1, matched: 1, precision: 1, recall: 1 });
    expect(presence.exits).toEqual({ truth: 1, detected: 1, matched: 1, precision: 1, recall: 1 });
    expect(presence.zoneAccuracy).toBe(1);
    // Seconds 1012..1070 placed in the bakery: 59.
    expect(presence.zoneSeconds.detected).toBe(59);
    expect(presence.enterLatencyS).toEqual({ p50: 2, p99: 2, samples: 1 });
    expect(presence.exitLatencyS).toEqual({ p50: 1, p99: 1, samples: 1 });
    expect(presence.flaps).toBe(0);
    expect(visits.get('bakery')).toEqual({ truth: 1, detected: 1 });
  });

  it('counts the wrong zone, no zone, and late detections outside the tolerance as errors', () => {
    const scorer = createPresenceScorer(options);
    // Truly in the bakery 1010–1069; the system says dairy for 20 s, then nothing, then bakery after the shopper left.
    scorer.add({
      startS: START_S, truth: truthOf([null, 10], ['bakery', 60], [null, 30]),
      transitions: [entered('dairy', 1_020), left('dairy', 1_040), entered('bakery', 1_080), left('bakery', 1_090)],
    });
    const { presence } = scorer.result(1);
    expect(presence.zoneSeconds).toEqual({ detected: 30, correct: 0, wrongZone: 20, notInAnyZone: 10, missed: 30 });
    expect(presence.zoneAccuracy).toBe(0);
    expect(presence.enters).toMatchObject({ truth: 1, detected: 2, matched: 0, precision: 0, recall: 0 });
  });

  it('counts a detected leave-and-return the shopper never made as a flap, and a real one not', () => {
    const flapping = createPresenceScorer(options);
    flapping.add({
      startS: START_S, truth: truthOf(['bakery', 120]),
      transitions: [entered('bakery', 1_001), left('bakery', 1_040), entered('bakery', 1_070), left('bakery', 1_121)],
    });
    expect(flapping.result(2).presence).toMatchObject({ flaps: 1, flapsPerShopperHour: 0.5 });

    const real = createPresenceScorer(options);
    real.add({
      startS: START_S, truth: truthOf(['bakery', 40], ['aisle', 30], ['bakery', 50]),
      transitions: [entered('bakery', 1_001), left('bakery', 1_042), entered('bakery', 1_072), left('bakery', 1_121)],
    });
    expect(real.result(2).presence.flaps).toBe(0);
  });

  it('matches each true edge once, to the nearest detection of its zone', () => {
    const scorer = createPresenceScorer(options);
    scorer.add({ startS: START_S, truth: truthOf(['bakery', 100]), transitions: [entered('bakery', 998), entered('bakery', 1_003)] });
    const { presence } = scorer.result(1);
    expect(presence.enters).toMatchObject({ truth: 1, detected: 2, matched: 1, precision: 0.5, recall: 1 });
    expect(presence.enterLatencyS.p50).toBe(-2);
  });

  it('reports no ratio rather than a made-up one when there is nothing to divide', () => {
    const { presence } = createPresenceScorer(options).result(0);
    expect(presence.zoneAccuracy).toBeNull();
    expect(presence.enters.precision).toBeNull();
    expect(presence.flapsPerShopperHour).toBeNull();
  });
});
