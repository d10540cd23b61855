import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Proximity } from '#gateway/protocol/index.ts';
import {
  APPLIED_EVENTS_KEPT, arbitrateZone, arbitrateZoneAt, DEFAULT_ARBITER_CONFIG, validateArbiterConfig, zoneStateDueAtMs,
  type ArbiterConfig, type ZoneObservation, type ZoneState, type ZoneTransition,
} from '#server/domain/zone-arbiter.ts';

const T0 = 1_800_000_000_000;
const CONFIG: ArbiterConfig = { marginBands: 1, holdMs: 10_000, staleMs: 900_000 };
let n = 0;
const obs = (zoneId: string, kind: ZoneObservation['kind'], proximity: Proximity, atMs: number): ZoneObservation => ({ eventId: `ev-${++n}`, zoneId, kind, proximity, atMs });

/** Feeds the observations in order; returns the final state and every transition. */
function run(observations: readonly ZoneObservation[], config = CONFIG, start?: ZoneState): { state: ZoneState | undefined; transitions: ZoneTransition[] } {
  let state = start;
  const transitions: ZoneTransition[] = [];
  for (const o of observations) {
    const result = arbitrateZone(state, o, config);
    state = result.state;
    transitions.push(...result.transitions);
  }
  return { state, transitions };
}
const moves = (transitions: readonly ZoneTransition[]): string[] => transitions.map((t) => `${t.kind} ${t.zoneId} @${(t.atMs - T0) / 1000}`);

describe('arbitrateZone', () => {
  describe('rules', () => {
    it.each<[string, ZoneObservation[], string[], string | null]>([
      ['the first claim wins at once, whatever its band', [obs('a', 'enter', 'far', T0)], ['entered a @0'], 'a'],
      ['a second zone within the margin changes nothing', [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'near', T0 + 1_000)], ['entered a @0'], 'a'],
      ['a worse second zone changes nothing', [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'far', T0 + 1_000)], ['entered a @0'], 'a'],
      ['a better zone not yet held long enough changes nothing',
        [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'immediate', T0 + 1_000), obs('a', 'dwell', 'near', T0 + 10_999)], ['entered a @0'], 'a'],
      ['a better zone held for holdMs takes over at the next event',
        [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'immediate', T0 + 1_000), obs('a', 'dwell', 'near', T0 + 11_000)],
        ['entered a @0', 'left a @11', 'entered b @11'], 'b'],
      ['the challenger clock restarts when it drops below the margin',
        [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'immediate', T0 + 1_000), obs('b', 'move', 'near', T0 + 9_000),
          obs('b', 'move', 'immediate', T0 + 10_000), obs('a', 'dwell', 'near', T0 + 19_000), obs('a', 'dwell', 'near', T0 + 20_000)],
        ['entered a @0', 'left a @20', 'entered b @20'], 'b'],
      ['the current zone falling behind counts like the rival rising',
        [obs('a', 'enter', 'immediate', T0), obs('b', 'enter', 'near', T0 + 1_000), obs('a', 'move', 'far', T0 + 2_000), obs('b', 'dwell', 'near', T0 + 12_000)],
        ['entered a @0', 'left a @12', 'entered b @12'], 'b'],
      ['the current zone exiting hands over at once to the best remaining claim',
        [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'far', T0 + 1_000), obs('c', 'enter', 'near', T0 + 1_500), obs('a', 'exit', 'far', T0 + 2_000)],
        ['entered a @0', 'left a @2', 'entered c @2'], 'c'],
      ['the current zone exiting with no other claim leaves for nowhere',
        [obs('a', 'enter', 'near', T0), obs('a', 'exit', 'far', T0 + 5_000)], ['entered a @0', 'left a @5'], null],
      ['an exit of another zone changes nothing', [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'near', T0 + 1_000), obs('b', 'exit', 'far', T0 + 2_000)], ['entered a @0'], 'a'],
      ['a stale current claim is replaced at once',
        [obs('a', 'enter', 'near', T0), obs('b', 'enter', 'far', T0 + 900_001)], ['entered a @0', 'left a @0', 'entered b @900.001'], 'b'],
      ['the same zone claimed again after staleMs unheard is left and entered anew (its exit was lost)',
        [obs('a', 'enter', 'near', T0), obs('a', 'dwell', 'near', T0 + 5_000), obs('a', 'enter', 'near', T0 + 905_001)], ['entered a @0', 'left a @5', 'entered a @905.001'], 'a'],
      ['a repeated enter of the current zone within staleMs changes nothing', [obs('a', 'enter', 'near', T0), obs('a', 'enter', 'near', T0 + 60_000)], ['entered a @0'], 'a'],
      ['a claim renewed within staleMs stays', [obs('a', 'enter', 'near', T0), obs('a', 'dwell', 'near', T0 + 800_000), obs('b', 'enter', 'far', T0 + 1_600_000)], ['entered a @0'], 'a'],
      ['a dwell without a seen enter claims the zone', [obs('a', 'dwell', 'near', T0)], ['entered a @0'], 'a'],
      ['an exit with no claim changes nothing', [obs('a', 'exit', 'near', T0)], [], null],
      ['an exit older than its zone\'s latest claim is out of order and ignored',
        [obs('a', 'enter', 'near', T0 + 5_000), obs('a', 'exit', 'near', T0)], ['entered a @5'], 'a'],
      ['a higher-ranked rival is picked over a closer second one',
        [obs('a', 'enter', 'far', T0), obs('b', 'enter', 'near', T0 + 1_000), obs('c', 'enter', 'immediate', T0 + 2_000), obs('a', 'dwell', 'far', T0 + 12_000)],
        ['entered a @0', 'left a @12', 'entered c @12'], 'c'],
    ])('%s', (_name, observations, expected, current) => {
      const { state, transitions } = run(observations);
      expect(moves(transitions)).toEqual(expected);
      expect(state?.current?.zoneId ?? null).toBe(current);
    });

    it('needs two bands with marginBands 2', () => {
      const config = { ...CONFIG, marginBands: 2 };
      const near = run([obs('a', 'enter', 'near', T0), obs('b', 'enter', 'immediate', T0 + 1_000), obs('a', 'dwell', 'near', T0 + 60_000)], config);
      expect(near.state?.current?.zoneId).toBe('a');
      const far = run([obs('a', 'enter', 'far', T0), obs('b', 'enter', 'immediate', T0 + 1_000), obs('a', 'dwell', 'far', T0 + 11_000)], config);
      expect(far.state?.current?.zoneId).toBe('b');
    });

    it('reports the time spent in the zone it leaves', () => {
      const { transitions } = run([obs('a', 'enter', 'near', T0), obs('a', 'exit', 'near', T0 + 42_000)]);
      expect(transitions.at(-1)).toEqual({ kind: 'left', zoneId: 'a', atMs: T0 + 42_000, dwellMs: 42_000 });
    });

    it('does not mutate the state it was given', () => {
      const { state } = run([obs('a', 'enter', 'near', T0)]);
      const frozen = JSON.stringify(state);
      arbitrateZone(state, obs('b', 'enter', 'immediate', T0 + 1_000), CONFIG);
      arbitrateZone(state, obs('a', 'exit', 'near', T0 + 1_000), CONFIG);
      expect(JSON.stringify(state)).toBe(frozen);
    });
  });

  describe('redelivery', () => {
    it('applies an event ID once and answers a redelivery with the same transitions', () => {
      const { state } = run([obs('a', 'enter', 'near', T0), obs('b', 'enter', 'immediate', T0 + 1_000)]);
      const switching = obs('a', 'dwell', 'near', T0 + 11_000);
      const first = arbitrateZone(state, switching, CONFIG);
      expect(first.duplicate).toBe(false);
      expect(moves(first.transitions)).toEqual(['left a @11', 'entered b @11']);
      const again = arbitrateZone(first.state, switching, CONFIG);
      expect(again).toEqual({ state: first.state, transitions: first.transitions, duplicate: true });
    });

    it('remembers a bounded number of applied events', () => {
      const observations = Array.from({ length: 40 }, (_, i) => obs('a', 'dwell', 'near', T0 + i * 1_000));
      const { state } = run(observations);
      expect(state?.applied.map((a) => a.eventId)).toEqual(observations.slice(-APPLIED_EVENTS_KEPT).map((o) => o.eventId));
    });
  });

  describe('time passing (arbitrateZoneAt, zoneStateDueAtMs)', () => {
    it('switches when the hold runs out with no further event', () => {
      const { state } = run([obs('a', 'enter', 'near', T0), obs('b', 'move', 'immediate', T0 + 2_000)]);
      expect(zoneStateDueAtMs(state!, CONFIG)).toBe(T0 + 12_000);
      expect(arbitrateZoneAt(state!, T0 + 11_999, CONFIG).transitions).toEqual([]);
      const due = arbitrateZoneAt(state!, T0 + 12_000, CONFIG);
      expect(moves(due.transitions)).toEqual(['left a @12', 'entered b @12']);
      expect(due.state.challenger).toBeNull();
      expect(zoneStateDueAtMs(due.state, CONFIG)).toBe(T0 + CONFIG.staleMs + 1); // then when the older claim, a's, goes stale
    });

    it('drops stale claims, leaving the zone, and is then due never', () => {
      const { state } = run([obs('a', 'enter', 'near', T0)]);
      const swept = arbitrateZoneAt(state!, T0 + CONFIG.staleMs + 1, CONFIG);
      // Dated at the last time she was heard there: history, not a fresh exit.
      expect(moves(swept.transitions)).toEqual(['left a @0']);
      expect(zoneStateDueAtMs(swept.state, CONFIG)).toBeNull();
    });
  });

  describe('properties', () => {
    const zones = ['a', 'b'] as const;
    const bands: Proximity[] = ['far', 'near', 'immediate'];

    it('changes zone at most once per holdMs while two zones alternate within the margin', () => {
      // Each step, one of two zones reports a band; the two bands never differ by more than one, and
      // with marginBands 2 neither can ever win on the margin: after the first enter, nothing changes.
      // With marginBands 1 a lead of one band can win, but never twice within holdMs.
      fc.assert(
        fc.property(
          fc.array(fc.record({ zone: fc.constantFrom(...zones), band: fc.constantFrom<Proximity>('near', 'immediate'), gapMs: fc.integer({ min: 0, max: 4_000 }) }), { minLength: 1, maxLength: 200 }),
          fc.integer({ min: 1_000, max: 20_000 }),
          (steps, holdMs) => {
            const config = { ...CONFIG, holdMs };
            let atMs = T0;
            const entered: number[] = [];
            let state: ZoneState | undefined;
            for (const step of steps) {
              atMs += step.gapMs;
              const result = arbitrateZone(state, obs(step.zone, 'move', step.band, atMs), config);
              state = result.state;
              for (const t of result.transitions) if (t.kind === 'entered') entered.push(t.atMs);
              // A due sweep in between may also switch: it must obey the same bound.
              const due = zoneStateDueAtMs(state, config);
              if (due !== null && due <= atMs + step.gapMs) {
                const swept = arbitrateZoneAt(state, due, config);
                state = swept.state;
                for (const t of swept.transitions) if (t.kind === 'entered') entered.push(t.atMs);
              }
            }
            for (let i = 1; i < entered.length; i += 1) expect(entered[i]! - entered[i - 1]!).toBeGreaterThanOrEqual(holdMs);
            expect(state?.current).not.toBeNull();
            const strict = { ...config, marginBands: 2 };
            let still: ZoneState | undefined;
            let switches = 0;
            atMs = T0;
            for (const step of steps) {
              atMs += step.gapMs;
              const result = arbitrateZone(still, obs(step.zone, 'move', step.band, atMs), strict);
              still = result.state;
              switches += result.transitions.filter((t) => t.kind === 'entered').length;
            }
            expect(switches).toBe(1);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('always holds at most one current zone, which has a live claim, and pairs every left with an earlier entered', () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({
            zone: fc.constantFrom('a', 'b', 'c'), kind: fc.constantFrom<ZoneObservation['kind']>('enter', 'dwell', 'move', 'exit'),
            band: fc.constantFrom(...bands), gapMs: fc.integer({ min: 0, max: 30_000 }),
          }), { maxLength: 150 }),
          (steps) => {
            let atMs = T0;
            let state: ZoneState | undefined;
            let inZone: string | null = null;
            for (const step of steps) {
              atMs += step.gapMs;
              const result = arbitrateZone(state, obs(step.zone, step.kind, step.band, atMs), CONFIG);
              state = result.state;
              for (const t of result.transitions) {
                if (t.kind === 'left') {
                  expect(t.zoneId).toBe(inZone);
                  inZone = null;
                } else {
                  expect(inZone).toBeNull();
                  inZone = t.zoneId;
                }
              }
              expect(state.current?.zoneId ?? null).toBe(inZone);
              if (state.current !== null) expect(state.claims[state.current.zoneId]).toBeDefined();
              else expect(Object.keys(state.claims)).toEqual([]);
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});

describe('validateArbiterConfig', () => {
  it('accepts the defaults', () => {
    expect(() => validateArbiterConfig(DEFAULT_ARBITER_CONFIG)).not.toThrow();
  });
  it.each<[Partial<ArbiterConfig>, RegExp]>([
    [{ marginBands: 0 }, /marginBands/],
    [{ marginBands: 1.5 }, /marginBands/],
    [{ marginBands: 3 }, /marginBands/],
    [{ holdMs: -1 }, /holdMs/],
    [{ holdMs: Number.NaN }, /holdMs/],
    [{ staleMs: 1_000 }, /staleMs/],
    [{ holdMs: 300_000, staleMs: 200_000 }, /staleMs .* holdMs/],
  ])('rejects %o naming the field', (overrides, message) => {
    expect(() => validateArbiterConfig({ ...DEFAULT_ARBITER_CONFIG, ...overrides })).toThrow(message);
  });
});
