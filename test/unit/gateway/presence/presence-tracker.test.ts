import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PRESENCE_CONFIG,
  createPresenceTracker,
  proximityOf,
  type PresenceTracker,
  type PresenceTransition,
} from '#gateway/presence/presence-tracker.ts';
import type { Pseudonym } from '#gateway/protocol/pseudonym.ts';

const pseudonym = (n: number): Pseudonym => n.toString(16).padStart(32, '0') as Pseudonym;
const ALICE = pseudonym(0xa11ce);
const BOB = pseudonym(0xb0b);
const { enterRssiDbm, exitRssiDbm, exitHoldMs, absenceTimeoutMs, dwellIntervalMs } = DEFAULT_PRESENCE_CONFIG;
const PACKET_MS = 100;
const STRONG = -60;
const WEAK = -100;

const see = (tracker: PresenceTracker, who: Pseudonym, rssiDbm: number, atMs: number): PresenceTransition[] =>
  tracker.observe(who, 'eddystone-eid', 'k-1', rssiDbm, atMs);

/** Packets every PACKET_MS from fromMs (inclusive) to toMs (exclusive); returns every transition. */
const stream = (tracker: PresenceTracker, who: Pseudonym, rssiDbm: number, fromMs: number, toMs: number): PresenceTransition[] => {
  const out: PresenceTransition[] = [];
  for (let atMs = fromMs; atMs < toMs; atMs += PACKET_MS) out.push(...see(tracker, who, rssiDbm, atMs));
  return out;
};

/** A tracker with ALICE present since 0 ms (entered on her second packet, at 100 ms). */
const withAlicePresent = (overrides: Parameters<typeof createPresenceTracker>[0] = {}): { tracker: PresenceTracker; enter: PresenceTransition } => {
  const tracker = createPresenceTracker(overrides);
  const [enter, ...rest] = stream(tracker, ALICE, STRONG, 0, 1_000);
  expect(enter?.kind).toBe('enter');
  expect(rest).toEqual([]);
  return { tracker, enter: enter! };
};

describe('presence tracker: enter', () => {
  it('enters only once minSightings packets have a smoothed RSSI at or above enterRssiDbm', () => {
    const tracker = createPresenceTracker({ minSightings: 3 });
    expect(see(tracker, ALICE, STRONG, 0)).toEqual([]);
    expect(see(tracker, ALICE, STRONG, 100)).toEqual([]);
    const [enter] = see(tracker, ALICE, STRONG, 200);
    expect(enter).toEqual({
      pseudonym: ALICE, idKind: 'eddystone-eid', keyId: 'k-1', kind: 'enter', atMs: 200, dwellMs: 0, proximity: 'near', causedByMs: 200,
    });
    expect(tracker.presentCount()).toBe(1);
  });

  it('does not enter on a single strong packet', () => {
    const tracker = createPresenceTracker();
    expect(see(tracker, ALICE, -30, 0)).toEqual([]);
    expect(tracker.presentCount()).toBe(0);
    expect(tracker.tick(absenceTimeoutMs)).toEqual([]); // forgotten without an exit
    expect(tracker.size()).toBe(0);
  });

  it('does not enter on a single strong packet in a stream of weak ones', () => {
    const tracker = createPresenceTracker();
    expect(stream(tracker, ALICE, -95, 0, 3_000)).toEqual([]);
    expect(see(tracker, ALICE, -50, 3_000)).toEqual([]);
    expect(stream(tracker, ALICE, -95, 3_100, 5_000)).toEqual([]);
  });

  it('never enters while the signal stays below enterRssiDbm', () => {
    const tracker = createPresenceTracker();
    expect(stream(tracker, ALICE, enterRssiDbm - 1, 0, 10_000)).toEqual([]);
    expect(tracker.size()).toBe(1);
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

describe('presence tracker: exit', () => {
  it('exits after absenceTimeoutMs without packets, on tick', () => {
    const { tracker } = withAlicePresent();
    const lastSeenMs = 900;
    expect(tracker.tick(lastSeenMs + absenceTimeoutMs - 1)).toEqual([]);
    const [exit, ...rest] = tracker.tick(lastSeenMs + absenceTimeoutMs);
    expect(rest).toEqual([]);
    expect(exit).toMatchObject({ pseudonym: ALICE, kind: 'exit', atMs: lastSeenMs + absenceTimeoutMs, dwellMs: lastSeenMs + absenceTimeoutMs - 100, causedByMs: lastSeenMs });
    expect(tracker.presentCount()).toBe(0);
    expect(tracker.size()).toBe(0);
  });

  it('exits after exitHoldMs of weak signal while packets keep arriving', () => {
    const { tracker } = withAlicePresent();
    const weakFromMs = 1_000;
    const transitions = stream(tracker, ALICE, WEAK, weakFromMs, weakFromMs + exitHoldMs + 5_000);
    expect(transitions.map((t) => t.kind)).toEqual(['exit']);
    const exit = transitions[0]!;
    expect(exit.atMs - weakFromMs).toBeGreaterThanOrEqual(exitHoldMs);
    expect(exit.atMs - weakFromMs).toBeLessThan(exitHoldMs + 2_000); // the filter needs ~1 s to go weak
    expect(exit.proximity).toBe('far');
    expect(tracker.presentCount()).toBe(0);
  });

  it('exits after exitHoldMs of weak signal on tick when the packets stop, before the absence timeout', () => {
    const { tracker } = withAlicePresent();
    expect(stream(tracker, ALICE, WEAK, 1_000, 3_000)).toEqual([]);
    const exits = [];
    for (let nowMs = 3_000; nowMs <= 2_900 + absenceTimeoutMs && exits.length === 0; nowMs += 100) exits.push(...tracker.tick(nowMs));
    expect(exits.map((t) => t.kind)).toEqual(['exit']);
    expect(exits[0]!.atMs).toBeGreaterThanOrEqual(1_000 + exitHoldMs);
    expect(exits[0]!.atMs).toBeLessThan(2_900 + absenceTimeoutMs);
  });

  it('forgives a weak spell shorter than exitHoldMs', () => {
    const { tracker } = withAlicePresent();
    expect(stream(tracker, ALICE, WEAK, 1_000, 1_000 + exitHoldMs / 2)).toEqual([]);
    const after = stream(tracker, ALICE, STRONG, 1_000 + exitHoldMs / 2, 1_000 + exitHoldMs * 3);
    expect(after.filter((t) => t.kind === 'exit')).toEqual([]);
    expect(tracker.presentCount()).toBe(1);
  });

  it('does not flap when RSSI hovers between exitRssiDbm and enterRssiDbm while packets keep arriving', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            rssiDbm: fc.double({ min: exitRssiDbm, max: enterRssiDbm, noNaN: true }),
            gapMs: fc.integer({ min: 1, max: absenceTimeoutMs - 1 }),
            tickAfterMs: fc.option(fc.integer({ min: 0, max: absenceTimeoutMs - 1 })),
          }),
          { minLength: 1, maxLength: 200 },
        ),
        (packets) => {
          const { tracker } = withAlicePresent();
          let atMs = 900;
          const transitions: PresenceTransition[] = [];
          for (const { rssiDbm, gapMs, tickAfterMs } of packets) {
            atMs += gapMs;
            transitions.push(...see(tracker, ALICE, rssiDbm, atMs));
            if (tickAfterMs !== null) transitions.push(...tracker.tick(atMs + Math.min(tickAfterMs, gapMs)));
          }
          expect(transitions.filter((t) => t.kind !== 'dwell')).toEqual([]);
          expect(tracker.presentCount()).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('presence tracker: dwell', () => {
  it('emits a dwell at each multiple of dwellIntervalMs after the enter, with the time in the zone', () => {
    const tracker = createPresenceTracker({ minSightings: 1 });
    expect(see(tracker, ALICE, STRONG, 0).map((t) => t.kind)).toEqual(['enter']);
    const dwells: PresenceTransition[] = [];
    for (let nowMs = 1_000; nowMs <= 3 * dwellIntervalMs + 500; nowMs += 500) {
      see(tracker, ALICE, STRONG, nowMs);
      dwells.push(...tracker.tick(nowMs));
    }
    expect(dwells.map((t) => [t.kind, t.atMs, t.dwellMs])).toEqual([
      ['dwell', dwellIntervalMs, dwellIntervalMs],
      ['dwell', 2 * dwellIntervalMs, 2 * dwellIntervalMs],
      ['dwell', 3 * dwellIntervalMs, 3 * dwellIntervalMs],
    ]);
    expect(dwells.every((t) => t.pseudonym === ALICE && t.proximity === 'near')).toBe(true);
  });

  it('keeps dwell milestones on the enter time when ticks run late', () => {
    const tracker = createPresenceTracker({ minSightings: 1, absenceTimeoutMs: 10 * dwellIntervalMs });
    see(tracker, ALICE, STRONG, 0);
    const [first] = tracker.tick(dwellIntervalMs + 700);
    expect(first).toMatchObject({ kind: 'dwell', dwellMs: dwellIntervalMs + 700 });
    expect(tracker.tick(2 * dwellIntervalMs - 1)).toEqual([]);
    expect(tracker.tick(2 * dwellIntervalMs)).toEqual([expect.objectContaining({ kind: 'dwell', dwellMs: 2 * dwellIntervalMs })]);
  });

  it('emits no dwell for a candidate that never entered', () => {
    const tracker = createPresenceTracker();
    stream(tracker, ALICE, -95, 0, 1_000);
    expect(tracker.tick(dwellIntervalMs + 500)).toEqual([]);
  });
});

describe('presence tracker: bounds and flush', () => {
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
    // The least recently seen go first, each with its exit.
    expect(exited).toEqual(Array.from({ length: 9 * maxTracked }, (_, i) => pseudonym(i)));
    expect(tracker.presentCount()).toBe(maxTracked);
  });

  it('evicts the least recently seen, not the first inserted', () => {
    const tracker = createPresenceTracker({ maxTracked: 2, minSightings: 1 });
    see(tracker, ALICE, STRONG, 0);
    see(tracker, BOB, STRONG, 10);
    see(tracker, ALICE, STRONG, 20); // ALICE is now the more recent
    const evicted = see(tracker, pseudonym(3), STRONG, 30).filter((t) => t.kind === 'exit');
    expect(evicted.map((t) => t.pseudonym)).toEqual([BOB]);
  });

  it('flush exits everything present and forgets candidates too', () => {
    const tracker = createPresenceTracker();
    stream(tracker, ALICE, STRONG, 0, 500);
    stream(tracker, BOB, STRONG, 0, 500);
    see(tracker, pseudonym(3), STRONG, 400); // a candidate, never entered
    const exits = tracker.flush(10_000);
    expect(exits.map((t) => [t.pseudonym, t.kind, t.atMs])).toEqual(expect.arrayContaining([[ALICE, 'exit', 10_000], [BOB, 'exit', 10_000]]));
    expect(exits).toHaveLength(2);
    expect(tracker.presentCount()).toBe(0);
    expect(tracker.size()).toBe(0);
    expect(tracker.flush(11_000)).toEqual([]);
  });

  it('refuses an exit threshold above the enter threshold', () => {
    expect(() => createPresenceTracker({ enterRssiDbm: -80, exitRssiDbm: -70 })).toThrow(/hysteresis/);
  });
});

describe('proximityOf', () => {
  const bands = { immediateRssiDbm: -55, nearRssiDbm: -72 };
  it.each([
    [-30, 'immediate'], [-55, 'immediate'], [-55.5, 'near'], [-72, 'near'], [-72.1, 'far'], [-110, 'far'],
  ] as const)('puts %d dBm in the %s band', (rssiDbm, band) => {
    expect(proximityOf(rssiDbm, bands)).toBe(band);
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
        fc.record({ minSightings: fc.integer({ min: 1, max: 4 }), maxTracked: fc.integer({ min: 1, max: 8 }), exitHoldMs: fc.integer({ min: 0, max: 10_000 }), dwellIntervalMs: fc.integer({ min: 1_000, max: 30_000 }) }),
        (ops, config) => {
          const tracker = createPresenceTracker(config);
          const open = new Map<Pseudonym, boolean>();
          const lastAtMs = new Map<Pseudonym, number>();
          let nowMs = 0;
          for (const next of ops) {
            nowMs += next.gapMs;
            const transitions = next.kind === 'observe'
              ? see(tracker, pseudonym(next.who), next.rssiDbm, nowMs)
              : next.kind === 'tick' ? tracker.tick(nowMs) : tracker.flush(nowMs);
            for (const t of transitions) {
              const isOpen = open.get(t.pseudonym) ?? false;
              expect(t.kind === 'enter' ? !isOpen : isOpen, `${t.kind} while ${isOpen ? 'present' : 'absent'}`).toBe(true);
              open.set(t.pseudonym, t.kind !== 'exit');
              expect(t.atMs).toBeGreaterThanOrEqual(lastAtMs.get(t.pseudonym) ?? 0);
              lastAtMs.set(t.pseudonym, t.atMs);
              expect(t.atMs).toBe(nowMs);
              expect(t.dwellMs).toBeGreaterThanOrEqual(0);
            }
            expect(tracker.presentCount()).toBe([...open.values()].filter(Boolean).length);
            expect(tracker.size()).toBeLessThanOrEqual(config.maxTracked);
            expect(tracker.presentCount()).toBeLessThanOrEqual(tracker.size());
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
