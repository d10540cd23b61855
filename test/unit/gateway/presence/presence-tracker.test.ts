import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PRESENCE_CONFIG,
  createPresenceTracker as createTracker,
  resolvePresenceConfig,
  type PresenceOverrides,
  type PresenceTracker,
  type PresenceTransition,
} from '#gateway/presence/presence-tracker.ts';
import type { Pseudonym } from '#gateway/protocol/pseudonym.ts';

// These tests start at t = 0, an app-token rotation boundary; the rotation grace has its own tests below.
const createPresenceTracker = (overrides: PresenceOverrides = {}): PresenceTracker => createTracker({ rotationGraceMs: 0, ...overrides });

const pseudonym = (n: number): Pseudonym => n.toString(16).padStart(32, '0') as Pseudonym;
const ALICE = pseudonym(0xa11ce);
const BOB = pseudonym(0xb0b);
const { enterRssiDbm, exitRssiDbm, awayTimeoutMs } = DEFAULT_PRESENCE_CONFIG;
const PACKET_MS = 100;
const STRONG = -60;
const WEAK = -100;

const see = (tracker: PresenceTracker, who: Pseudonym, rssiDbm: number, atMs: number, measuredPowerDbm?: number): PresenceTransition[] =>
  tracker.observe(who, 'eddystone-eid', 'k-1', rssiDbm, atMs, measuredPowerDbm);

/** Packets every PACKET_MS from fromMs (inclusive) to toMs (exclusive); returns every transition. */
const stream = (tracker: PresenceTracker, who: Pseudonym, rssiDbm: number, fromMs: number, toMs: number, everyMs = PACKET_MS): PresenceTransition[] => {
  const out: PresenceTransition[] = [];
  for (let atMs = fromMs; atMs < toMs; atMs += everyMs) out.push(...see(tracker, who, rssiDbm, atMs));
  return out;
};

/** Ticks every second from fromMs to toMs (inclusive), collecting transitions. */
const ticks = (tracker: PresenceTracker, fromMs: number, toMs: number): PresenceTransition[] => {
  const out: PresenceTransition[] = [];
  for (let nowMs = fromMs; nowMs <= toMs; nowMs += 1_000) out.push(...tracker.tick(nowMs));
  return out;
};

/** A tracker with ALICE present since 100 ms (entered on her second packet). */
const withAlicePresent = (overrides: PresenceOverrides = {}): PresenceTracker => {
  const tracker = createPresenceTracker(overrides);
  const [enter, ...rest] = stream(tracker, ALICE, STRONG, 0, 1_000);
  expect(enter).toMatchObject({ kind: 'enter', atMs: 100 });
  expect(rest).toEqual([]);
  return tracker;
};

describe('presence tracker: enter', () => {
  it('enters once minSightings packets were heard and the estimate reaches enterRssiDbm', () => {
    const tracker = createPresenceTracker({ minSightings: 3 });
    expect(see(tracker, ALICE, STRONG, 0)).toEqual([]);
    expect(see(tracker, ALICE, STRONG, 100)).toEqual([]);
    const [enter] = see(tracker, ALICE, STRONG, 200);
    expect(enter).toEqual({
      pseudonym: ALICE, idKind: 'eddystone-eid', keyId: 'k-1', kind: 'enter', atMs: 200, dwellMs: 0, proximity: 'near', causedByMs: 200,
    });
    expect(tracker.presentCount()).toBe(1);
    expect([...tracker.present()]).toEqual([ALICE]);
  });

  it('does not enter on a single strong packet', () => {
    const tracker = createPresenceTracker();
    expect(see(tracker, ALICE, -30, 0)).toEqual([]);
    expect(tracker.presentCount()).toBe(0);
    expect(tracker.tick(awayTimeoutMs)).toEqual([]); // forgotten without an exit
    expect(tracker.size()).toBe(0);
  });

  it.each([[100, '10 Hz'], [1_000, '1 Hz']])('does not enter on one stray strong packet among weak ones at %i ms (%s)', (everyMs) => {
    // A window needs most of its packets strong; a Kalman filter at 1 Hz moves ~40 % of the way to one outlier.
    const tracker = createPresenceTracker();
    expect(stream(tracker, ALICE, -95, 0, 10_000, everyMs)).toEqual([]);
    expect(see(tracker, ALICE, -50, 10_000)).toEqual([]);
    expect(stream(tracker, ALICE, -95, 10_000 + everyMs, 20_000, everyMs)).toEqual([]);
  });

  it('never enters while the signal stays below enterRssiDbm', () => {
    const tracker = createPresenceTracker();
    expect(stream(tracker, ALICE, enterRssiDbm - 1, 0, 10_000)).toEqual([]);
    expect(tracker.size()).toBe(1);
  });

  it('applies rssiOffsetDb to every packet before the thresholds', () => {
    // −83 dBm heard is −79 dBm calibrated: above the −80 dBm threshold.
    const calibrated = createPresenceTracker({ rssiOffsetDb: 4 });
    expect(stream(calibrated, ALICE, enterRssiDbm - 3, 0, 1_000).map((t) => t.kind)).toEqual(['enter']);
    const uncalibrated = createPresenceTracker();
    expect(stream(uncalibrated, ALICE, enterRssiDbm - 3, 0, 1_000)).toEqual([]);
  });

  it('enters each pseudonym on its own', () => {
    const tracker = createPresenceTracker();
    expect(see(tracker, ALICE, STRONG, 0)).toEqual([]);
    expect(see(tracker, BOB, STRONG, 50)).toEqual([]);
    expect(see(tracker, ALICE, STRONG, 100).map((t) => t.pseudonym)).toEqual([ALICE]);
    expect(see(tracker, BOB, STRONG, 150).map((t) => t.pseudonym)).toEqual([BOB]);
    expect(tracker.presentCount()).toBe(2);
  });

  it('reports the advertisement time as causedByMs of an enter', () => {
    const tracker = createPresenceTracker({ minSightings: 1 });
    const [enter] = see(tracker, ALICE, STRONG, 12_345);
    expect(enter).toMatchObject({ kind: 'enter', atMs: 12_345, causedByMs: 12_345 });
  });
});

describe('presence tracker: proximity from the frame\'s measured power', () => {
  it.each([
    // d = 10^((RSSI at 1 m − RSSI) / (10 · 2.5))
    [-50, -59, 'immediate'], // 0.44 m
    [-60, -59, 'near'], // 1.1 m
    [-72, -59, 'far'], // 3.3 m
    [-72, -75, 'near'], // a weaker transmitter heard as strongly is nearer: 0.76 m
    [-72, -50, 'far'], // a stronger one, farther: 7.6 m
  ] as const)('puts %d dBm from a transmitter of %d dBm at 1 m in the %s band', (rssiDbm, at1mDbm, band) => {
    const tracker = createPresenceTracker({ minSightings: 1, enterRssiDbm: -90, exitRssiDbm: -95 });
    expect(see(tracker, ALICE, rssiDbm, 0, at1mDbm)[0]?.proximity).toBe(band);
  });

  it('uses defaultMeasuredPowerDbm when the frame carries none, and the path-loss exponent and band limits given', () => {
    const tracker = createPresenceTracker({ minSightings: 1, enterRssiDbm: -90, exitRssiDbm: -95, defaultMeasuredPowerDbm: -65, pathLossExponent: 2, immediateMaxM: 1, nearMaxM: 5 });
    // −70 dBm at −65 dBm/1 m with n = 2: 1.8 m → near; −80 dBm: 5.6 m → far.
    expect(see(tracker, ALICE, -70, 0)[0]?.proximity).toBe('near');
    expect(see(tracker, BOB, -80, 0)[0]?.proximity).toBe('far');
  });
});

describe('presence tracker: exit', () => {
  it('exits awayTimeoutMs after the last packet, on tick, dated at that last packet', () => {
    const tracker = withAlicePresent();
    const lastSeenMs = 900;
    expect(tracker.tick(lastSeenMs + awayTimeoutMs - 1)).toEqual([]);
    const [exit, ...rest] = tracker.tick(lastSeenMs + awayTimeoutMs);
    expect(rest).toEqual([]);
    expect(exit).toMatchObject({ pseudonym: ALICE, kind: 'exit', atMs: lastSeenMs, dwellMs: lastSeenMs - 100, causedByMs: lastSeenMs });
    expect(tracker.presentCount()).toBe(0);
    expect(tracker.size()).toBe(0);
  });

  it('counts weak packets (below exitRssiDbm) as away: exits awayTimeoutMs after the last strong estimate while they keep arriving', () => {
    const tracker = withAlicePresent();
    const weakFromMs = 1_000;
    // Nothing within awayTimeoutMs of the first weak packet (the estimate only turns weak after it).
    expect(stream(tracker, ALICE, WEAK, weakFromMs, weakFromMs + awayTimeoutMs)).toEqual([]);
    const transitions = stream(tracker, ALICE, WEAK, weakFromMs + awayTimeoutMs, weakFromMs + awayTimeoutMs + 5_000);
    expect(transitions.map((t) => t.kind)).toEqual(['exit']);
    const exit = transitions[0]!;
    // Dated at the last packet whose estimate was still inside: the 4 s window turns weak within ~2 s.
    expect(exit.atMs).toBeGreaterThanOrEqual(weakFromMs);
    expect(exit.atMs).toBeLessThan(weakFromMs + 3_000);
    expect(exit.proximity).toBe('far');
  });

  it('exits on tick when weak packets stop, awayTimeoutMs after the last strong estimate', () => {
    const tracker = withAlicePresent();
    expect(stream(tracker, ALICE, WEAK, 1_000, 5_000)).toEqual([]);
    expect(ticks(tracker, 5_000, 1_000 + awayTimeoutMs - 1)).toEqual([]);
    const exits = ticks(tracker, 1_000 + awayTimeoutMs, 30_000).filter((t) => t.kind === 'exit');
    expect(exits).toHaveLength(1);
    expect(exits[0]!.atMs).toBeGreaterThanOrEqual(900);
    expect(exits[0]!.atMs).toBeLessThan(4_900);
  });

  it('dates a dwell at the last moment inside, so no event of a presence is later than its exit', () => {
    const tracker = createPresenceTracker({ dwellMarksMs: [5_000], dwellIntervalMs: 0 });
    stream(tracker, ALICE, STRONG, 0, 3_000);
    // Weak from 3 s: the estimate falls below exitRssiDbm within ~2 s, so the dwell due at 5.1 s finds her away.
    expect(stream(tracker, ALICE, WEAK, 3_000, 5_100)).toEqual([]);
    const [dwell] = tracker.tick(5_100);
    expect(dwell).toMatchObject({ kind: 'dwell', dwellMs: 5_000 });
    expect(dwell!.atMs).toBeLessThan(5_100);
    expect(dwell!.atMs).toBeGreaterThanOrEqual(2_900);
    const [exit] = ticks(tracker, 6_000, 30_000).filter((t) => t.kind === 'exit');
    expect(exit!.atMs).toBeGreaterThanOrEqual(dwell!.atMs);
  });

  it('forgives a weak spell shorter than awayTimeoutMs', () => {
    const tracker = withAlicePresent();
    expect(stream(tracker, ALICE, WEAK, 1_000, 1_000 + awayTimeoutMs / 2)).toEqual([]);
    const after = stream(tracker, ALICE, STRONG, 1_000 + awayTimeoutMs / 2, 1_000 + awayTimeoutMs * 3);
    expect(after.filter((t) => t.kind === 'exit')).toEqual([]);
    expect(tracker.presentCount()).toBe(1);
  });

  it('does not flap when RSSI hovers between exitRssiDbm and enterRssiDbm while packets keep arriving', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            rssiDbm: fc.double({ min: exitRssiDbm, max: enterRssiDbm, noNaN: true }),
            gapMs: fc.integer({ min: 1, max: awayTimeoutMs - 1 }),
            tickAfterMs: fc.option(fc.integer({ min: 0, max: awayTimeoutMs - 1 })),
          }),
          { minLength: 1, maxLength: 200 },
        ),
        (packets) => {
          const tracker = withAlicePresent();
          let atMs = 900;
          const transitions: PresenceTransition[] = [];
          for (const { rssiDbm, gapMs, tickAfterMs } of packets) {
            atMs += gapMs;
            transitions.push(...see(tracker, ALICE, rssiDbm, atMs));
            if (tickAfterMs !== null) transitions.push(...tracker.tick(atMs + Math.min(tickAfterMs, gapMs)));
          }
          // No enter or exit; the band falls from near to far once, at most one 'move' (presence-band-change.test.ts).
          expect(transitions.filter((t) => t.kind === 'enter' || t.kind === 'exit')).toEqual([]);
          expect(transitions.filter((t) => t.kind === 'move').length).toBeLessThanOrEqual(1);
          expect(tracker.presentCount()).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('presence tracker: dwell', () => {
  const dwellsOver = (tracker: PresenceTracker, untilMs: number): PresenceTransition[] => {
    const out: PresenceTransition[] = [];
    for (let nowMs = 1_000; nowMs <= untilMs; nowMs += 500) {
      see(tracker, ALICE, STRONG, nowMs);
      out.push(...tracker.tick(nowMs));
    }
    return out;
  };

  it('emits a dwell at each configured mark of time in the zone, then every dwellIntervalMs', () => {
    const tracker = createPresenceTracker({ minSightings: 1, dwellMarksMs: [30_000, 120_000, 300_000], dwellIntervalMs: 600_000 });
    expect(see(tracker, ALICE, STRONG, 0).map((t) => t.kind)).toEqual(['enter']);
    const dwells = dwellsOver(tracker, 1_500_000);
    expect(dwells.map((t) => [t.kind, t.atMs, t.dwellMs])).toEqual([
      ['dwell', 30_000, 30_000], ['dwell', 120_000, 120_000], ['dwell', 300_000, 300_000], ['dwell', 900_000, 900_000], ['dwell', 1_500_000, 1_500_000],
    ]);
    expect(dwells.every((t) => t.pseudonym === ALICE && t.proximity === 'near')).toBe(true);
  });

  it('uses the default marks: 30 s, 2 min, 5 min, then a heartbeat every 5 min', () => {
    const tracker = createPresenceTracker({ minSightings: 1 });
    see(tracker, ALICE, STRONG, 0);
    expect(dwellsOver(tracker, 900_000).map((t) => t.dwellMs)).toEqual([30_000, 120_000, 300_000, 600_000, 900_000]);
  });

  it('stops after the last mark when dwellIntervalMs is 0', () => {
    const tracker = createPresenceTracker({ minSightings: 1, dwellMarksMs: [10_000], dwellIntervalMs: 0 });
    see(tracker, ALICE, STRONG, 0);
    expect(dwellsOver(tracker, 200_000).map((t) => t.dwellMs)).toEqual([10_000]);
  });

  it('falls back to dwellIntervalMs alone with no marks', () => {
    const tracker = createPresenceTracker({ minSightings: 1, dwellMarksMs: [], dwellIntervalMs: 20_000 });
    see(tracker, ALICE, STRONG, 0);
    expect(dwellsOver(tracker, 65_000).map((t) => t.dwellMs)).toEqual([20_000, 40_000, 60_000]);
  });

  it('keeps the marks on the enter time when ticks run late, one dwell per tick', () => {
    const tracker = createPresenceTracker({ minSightings: 1, awayTimeoutMs: 1_000_000, dwellMarksMs: [30_000, 60_000, 90_000], dwellIntervalMs: 0 });
    see(tracker, ALICE, STRONG, 0);
    const [first, ...rest] = tracker.tick(75_000);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ kind: 'dwell', dwellMs: 75_000 });
    expect(tracker.tick(89_999)).toEqual([]);
    expect(tracker.tick(90_000)).toEqual([expect.objectContaining({ kind: 'dwell', dwellMs: 90_000 })]);
  });

  it('emits no dwell for a candidate that never entered', () => {
    const tracker = createPresenceTracker();
    stream(tracker, ALICE, -95, 0, 1_000);
    expect(tracker.tick(30_500)).toEqual([]);
  });
});

describe('presence tracker: bounds, flush and settings', () => {
  it('keeps at most maxTracked pseudonyms and exits the present ones it evicts', () => {
    const maxTracked = 10;
    const tracker = createPresenceTracker({ maxTracked, minSightings: 2 });
    const entered = new Set<Pseudonym>();
    const exited: Pseudonym[] = [];
    for (let i = 0; i < 10 * maxTracked; i += 1) {
      const who = pseudonym(i);
      for (const t of [...see(tracker, who, STRONG, i * 10), ...see(tracker, who, STRONG, i * 10 + 5)]) {
        if (t.kind === 'enter') entered.add(t.pseudonym);
        if (t.kind === 'exit') exited.push(t.pseudonym);
      }
      expect(tracker.size()).toBeLessThanOrEqual(maxTracked);
    }
    expect(entered.size).toBe(10 * maxTracked);
    expect(exited).toEqual(Array.from({ length: 9 * maxTracked }, (_, i) => pseudonym(i)));
    expect(tracker.presentCount()).toBe(maxTracked);
  });

  it('evicts the least recently seen, not the first inserted', () => {
    const tracker = createPresenceTracker({ maxTracked: 2, minSightings: 1 });
    see(tracker, ALICE, STRONG, 0);
    see(tracker, BOB, STRONG, 10);
    see(tracker, ALICE, STRONG, 20);
    const evicted = see(tracker, pseudonym(3), STRONG, 30).filter((t) => t.kind === 'exit');
    expect(evicted.map((t) => t.pseudonym)).toEqual([BOB]);
  });

  it('flush exits everything present and forgets candidates too', () => {
    const tracker = createPresenceTracker();
    stream(tracker, ALICE, STRONG, 0, 500);
    stream(tracker, BOB, STRONG, 0, 500);
    see(tracker, pseudonym(3), STRONG, 400);
    const exits = tracker.flush();
    // Each dated at its last packet inside (400 ms), not at the flush.
    expect(exits.map((t) => [t.pseudonym, t.kind, t.atMs])).toEqual(expect.arrayContaining([[ALICE, 'exit', 400], [BOB, 'exit', 400]]));
    expect(exits).toHaveLength(2);
    expect(tracker.presentCount()).toBe(0);
    expect(tracker.size()).toBe(0);
    expect(tracker.flush()).toEqual([]);
  });

  it.each([
    [{ enterRssiDbm: -80, exitRssiDbm: -70 }, /exitRssiDbm.*hysteresis/],
    [{ minSightings: 0 }, /minSightings/],
    [{ awayTimeoutMs: 500 }, /awayTimeoutMs/],
    [{ dwellMarksMs: [60_000, 30_000] }, /dwellMarksMs\[1\]/],
    [{ dwellIntervalMs: 10 }, /dwellIntervalMs/],
    [{ maxTracked: 0 }, /maxTracked/],
    [{ pathLossExponent: 0.5 }, /pathLossExponent/],
    [{ rssiOffsetDb: 99 }, /rssiOffsetDb/],
    [{ immediateMaxM: 5, nearMaxM: 2 }, /nearMaxM/],
    [{ estimator: { windowMs: 10 } }, /estimator\.windowMs/],
    [{ estimator: { trimFraction: 0.5 } }, /estimator\.trimFraction/],
  ] as [PresenceOverrides, RegExp][])('refuses %o, naming the field', (overrides, message) => {
    expect(() => createPresenceTracker(overrides)).toThrow(message);
  });

  it('merges estimator overrides into the default estimator', () => {
    const config = resolvePresenceConfig({ estimator: { robust: 'median' } });
    expect(config.estimator).toEqual({ ...DEFAULT_PRESENCE_CONFIG.estimator, robust: 'median' });
  });
});

describe('presence tracker over random event streams', () => {
  type Op = { kind: 'observe'; who: number; rssiDbm: number; gapMs: number } | { kind: 'tick'; gapMs: number } | { kind: 'flush'; gapMs: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('observe' as const), who: fc.integer({ min: 0, max: 5 }), rssiDbm: fc.integer({ min: -105, max: -40 }), gapMs: fc.integer({ min: 0, max: 3_000 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), gapMs: fc.integer({ min: 0, max: 20_000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const), gapMs: fc.integer({ min: 0, max: 1_000 }) }) },
  );

  it('emits (enter dwell* exit)* per pseudonym in time order, and presentCount() counts the open enters', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 300 }),
        fc.record({
          minSightings: fc.integer({ min: 1, max: 4 }), maxTracked: fc.integer({ min: 1, max: 8 }), awayTimeoutMs: fc.integer({ min: 1_000, max: 20_000 }),
          dwellMarksMs: fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 3 }).map((marks) => marks.sort((a, b) => a - b).map((s) => s * 1_000)),
          dwellIntervalMs: fc.constantFrom(0, 1_000, 30_000),
          robust: fc.constantFrom('median', 'trimmed-mean', 'last') as fc.Arbitrary<'median' | 'trimmed-mean' | 'last'>,
        }),
        (ops, { robust, ...config }) => {
          const tracker = createPresenceTracker({ ...config, estimator: { robust } });
          const open = new Map<Pseudonym, boolean>();
          const lastAtMs = new Map<Pseudonym, number>();
          let nowMs = 0;
          for (const next of ops) {
            nowMs += next.gapMs;
            const transitions = next.kind === 'observe'
              ? see(tracker, pseudonym(next.who), next.rssiDbm, nowMs)
              : next.kind === 'tick' ? tracker.tick(nowMs) : tracker.flush();
            for (const t of transitions) {
              const isOpen = open.get(t.pseudonym) ?? false;
              expect(t.kind === 'enter' ? !isOpen : isOpen, `${t.kind} while ${isOpen ? 'present' : 'absent'}`).toBe(true);
              open.set(t.pseudonym, t.kind !== 'exit');
              expect(t.atMs).toBeGreaterThanOrEqual(lastAtMs.get(t.pseudonym) ?? 0);
              lastAtMs.set(t.pseudonym, t.atMs);
              expect(t.atMs).toBeLessThanOrEqual(nowMs);
              expect(t.dwellMs).toBeGreaterThanOrEqual(0);
            }
            expect(tracker.presentCount()).toBe([...open.values()].filter(Boolean).length);
            expect([...tracker.present()].sort()).toEqual([...open].filter(([, isOpen]) => isOpen).map(([p]) => p).sort());
            expect(tracker.size()).toBeLessThanOrEqual(config.maxTracked);
            expect(tracker.presentCount()).toBeLessThanOrEqual(tracker.size());
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('presence tracker: app-token rotation', () => {
  const ROTATION_MS = DEFAULT_PRESENCE_CONFIG.eidRotationS * 1_000;
  const BOUNDARY_MS = 1_000 * ROTATION_MS; // a multiple of 2^K s, as every app token's change is
  /** Between the thresholds: keeps a present device in, but does not bring a new one in. */
  const BETWEEN = (enterRssiDbm + exitRssiDbm) / 2;

  it('lets a token first heard just after a rotation boundary enter at exitRssiDbm: the hysteresis carries across the rotation', () => {
    const tracker = createTracker();
    const transitions = stream(tracker, BOB, BETWEEN, BOUNDARY_MS + 200, BOUNDARY_MS + 2_000);
    expect(transitions.map((t) => t.kind)).toEqual(['enter']);
  });

  it('allows the grace on either side of the boundary: a phone whose clock runs a little fast rotates early', () => {
    const tracker = createTracker();
    expect(stream(tracker, BOB, BETWEEN, BOUNDARY_MS - 3_000, BOUNDARY_MS - 1_000).map((t) => t.kind)).toEqual(['enter']);
  });

  it('still asks enterRssiDbm of a token first heard after the grace, or of a beacon, which does not rotate', () => {
    const late = createTracker();
    expect(stream(late, BOB, BETWEEN, BOUNDARY_MS + DEFAULT_PRESENCE_CONFIG.rotationGraceMs, BOUNDARY_MS + 60_000)).toEqual([]);
    const beacon = createTracker();
    const heard: PresenceTransition[] = [];
    for (let atMs = BOUNDARY_MS; atMs < BOUNDARY_MS + 60_000; atMs += PACKET_MS) heard.push(...beacon.observe(BOB, 'ibeacon', 'k-1', BETWEEN, atMs));
    expect(heard).toEqual([]);
  });

  it('keeps a shopper standing between the thresholds in the zone across the rotation: the new token enters at once, and the old token\'s exit is dated before that enter', () => {
    const tracker = createTracker();
    // Alice came close, then stood between the thresholds; her app's token changes at the boundary.
    stream(tracker, ALICE, STRONG, BOUNDARY_MS - 60_000, BOUNDARY_MS - 50_000);
    const edges = (transitions: PresenceTransition[]) => transitions.filter((t) => t.kind === 'enter' || t.kind === 'exit');
    expect(edges(stream(tracker, ALICE, BETWEEN, BOUNDARY_MS - 50_000, BOUNDARY_MS))).toEqual([]);
    const after = edges([...stream(tracker, BOB, BETWEEN, BOUNDARY_MS, BOUNDARY_MS + 30_000), ...ticks(tracker, BOUNDARY_MS, BOUNDARY_MS + 30_000)])
      .sort((a, b) => a.atMs - b.atMs);
    expect(after.map((t) => [t.pseudonym, t.kind])).toEqual([[ALICE, 'exit'], [BOB, 'enter']]);
    expect(after[0]!.atMs).toBeLessThan(after[1]!.atMs);
  });

  it('lets a rotated token enter without the enter hold, so its enter is published before the old token\'s exit', () => {
    const tracker = createTracker({ enterHoldMs: 20_000 });
    const [enter] = stream(tracker, BOB, STRONG, BOUNDARY_MS + 200, BOUNDARY_MS + 1_000);
    expect(enter).toMatchObject({ kind: 'enter', atMs: BOUNDARY_MS + 300 });
    const late = createTracker({ enterHoldMs: 20_000 });
    expect(stream(late, BOB, STRONG, BOUNDARY_MS + 60_000, BOUNDARY_MS + 61_000)).toEqual([]);
  });

  it('refuses a grace that is not shorter than the rotation', () => {
    expect(() => createTracker({ rotationGraceMs: ROTATION_MS })).toThrow(/rotationGraceMs/);
    expect(() => createTracker({ eidRotationS: 0 })).toThrow(/eidRotationS/);
  });
});

describe('presence tracker: enter hold', () => {
  it('enters only once the estimate has stayed at the enter threshold for enterHoldMs, dated when it began', () => {
    const tracker = createPresenceTracker({ enterHoldMs: 5_000 });
    expect(stream(tracker, ALICE, STRONG, 0, 5_000)).toEqual([]);
    const [enter, ...rest] = stream(tracker, ALICE, STRONG, 5_000, 6_000);
    expect(rest).toEqual([]);
    expect(enter).toMatchObject({ kind: 'enter', atMs: 0, dwellMs: 0, causedByMs: 5_000 });
  });

  it('does not enter someone who walks through the capture radius faster than the hold', () => {
    const tracker = createPresenceTracker({ enterHoldMs: 5_000 });
    // Three seconds strong, then weak (walking on), then strong again for three seconds: the hold restarts.
    expect([
      ...stream(tracker, ALICE, STRONG, 0, 3_000), ...stream(tracker, ALICE, WEAK, 3_000, 6_000), ...stream(tracker, ALICE, STRONG, 6_000, 9_000),
    ]).toEqual([]);
  });

  it('refuses a hold outside 0–600000 ms, naming it', () => {
    expect(() => createPresenceTracker({ enterHoldMs: -1 })).toThrow(/enterHoldMs/);
    expect(() => createPresenceTracker({ enterHoldMs: 1.5 })).toThrow(/enterHoldMs/);
  });
});
