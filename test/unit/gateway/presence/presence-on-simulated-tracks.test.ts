import { describe, expect, it } from 'vitest';
import { DEFAULT_PRESENCE_CONFIG, type PresenceTransition } from '#gateway/presence/presence-tracker.ts';
import { DOOR_M, replay } from '#simulator/bench/presence-bench.ts';
import { hearTrack, passBy, radiusForRssi, standAt, timeWithin, walkIn, walkOut, type Track } from '#simulator/shoppers/presence-tracks.ts';

// Presence with the default settings on seeded, noisy tracks heard through the simulator's real radio
// (log-distance path loss, shadowing σ 4 dB, multipath fades, packet loss, the reception edge), ticked
// once a second in virtual time. The gateway is at the origin; a phone's RSSI at 1 m is −59 dBm.
// simulator/bench/presence-bench.ts runs the same tracks over 60 seeds and every estimator.

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const TX_AT_1M_DBM = -59;
const { enterRssiDbm, exitRssiDbm, pathLossExponent } = DEFAULT_PRESENCE_CONFIG;
/** Where the mean RSSI equals the enter threshold: the zone's boundary (6.9 m). */
const ENTER_M = radiusForRssi(enterRssiDbm, TX_AT_1M_DBM, pathLossExponent);
const EXIT_M = radiusForRssi(exitRssiDbm, TX_AT_1M_DBM, pathLossExponent);
const WALK_MPS = 1.2;

const run = (track: Track, seed: number, intervalMs: number): PresenceTransition[] =>
  replay(hearTrack(track, { seed, intervalMs, txPowerAt1mDbm: TX_AT_1M_DBM }), track.durationMs, {});
const kinds = (transitions: readonly PresenceTransition[], kind: PresenceTransition['kind']): PresenceTransition[] => transitions.filter((t) => t.kind === kind);

describe('presence on seeded simulator tracks', () => {
  it('places the zone boundary between the door and the exit radius (the geometry the tests rely on)', () => {
    expect(ENTER_M).toBeCloseTo(6.92, 2);
    expect(EXIT_M).toBeCloseTo(14.45, 2);
    expect(DOOR_M).toBeLessThan(ENTER_M);
  });

  describe.each([[1_000, '1 Hz'], [200, '5 Hz']])('advertising every %i ms (%s)', (intervalMs) => {
    it.each([
      ['on the zone boundary (mean RSSI = enterRssiDbm)', ENTER_M],
      ['half-way (in dB) between the enter and exit radii', Math.sqrt(ENTER_M * EXIT_M)],
      ['on the exit radius (mean RSSI = exitRssiDbm)', EXIT_M],
    ])('a shopper standing 10 minutes %s gives at most 1 enter and 1 exit', (_where, distanceM) => {
      for (const seed of SEEDS) {
        const transitions = run(standAt(distanceM, 600_000), seed, intervalMs);
        expect(kinds(transitions, 'enter').length, `seed ${seed}`).toBeLessThanOrEqual(1);
        expect(kinds(transitions, 'exit').length, `seed ${seed}`).toBeLessThanOrEqual(1);
      }
    });

    it('enters a shopper standing on the zone boundary once and exits them once they leave earshot', () => {
      for (const seed of SEEDS) {
        const transitions = run(standAt(ENTER_M, 600_000), seed, intervalMs);
        expect(transitions.filter((t) => t.kind !== 'dwell').map((t) => t.kind), `seed ${seed}`).toEqual(['enter', 'exit']);
        // The exit comes only after the track ends (nothing is heard from 600 s on), and is dated at the
        // last packet heard inside: the shopper stood inside the exit radius to the end.
        expect(kinds(transitions, 'exit')[0]!.atMs).toBeGreaterThan(600_000 - 3 * intervalMs);
        expect(kinds(transitions, 'exit')[0]!.atMs).toBeLessThanOrEqual(600_000);
      }
    });

    it('never enters a passer-by beyond the exit radius', () => {
      for (const seed of SEEDS) {
        const track = passBy({ closestM: 20, lengthM: 80, speedMps: WALK_MPS, durationMs: 100_000 });
        expect(kinds(run(track, seed, intervalMs), 'enter'), `seed ${seed}`).toEqual([]);
      }
    });

    it('enters a passer-by who comes within 3 m exactly once', () => {
      for (const seed of SEEDS) {
        const track = passBy({ closestM: 3, lengthM: 80, speedMps: WALK_MPS, durationMs: 100_000 });
        const transitions = run(track, seed, intervalMs);
        expect(transitions.filter((t) => t.kind !== 'dwell').map((t) => t.kind), `seed ${seed}`).toEqual(['enter', 'exit']);
      }
    });
  });

  it('detects a walk-in at 1 Hz advertising within 3 s of coming through the door', () => {
    const track = walkIn({ fromM: 30, toM: 2, doorM: DOOR_M, speedMps: WALK_MPS, startMs: 5_000, durationMs: 60_000 });
    for (const seed of [...SEEDS, 9, 10, 11, 12]) {
      const [enter, ...more] = kinds(run(track, seed, 1_000), 'enter');
      expect(more).toEqual([]);
      const latencyMs = enter!.atMs - track.audibleFromMs!;
      expect(latencyMs, `seed ${seed}`).toBeGreaterThanOrEqual(0);
      expect(latencyMs, `seed ${seed}`).toBeLessThanOrEqual(3_000);
    }
  });

  it('dates a walk-out\'s exit at the moment they went through the door, within a packet and the estimate\'s lag', () => {
    const track = walkOut({ fromM: 2, toM: 40, doorM: DOOR_M, speedMps: WALK_MPS, startMs: 30_000, durationMs: 90_000 });
    for (const intervalMs of [1_000, 200]) {
      for (const seed of SEEDS) {
        const transitions = run(track, seed, intervalMs);
        expect(transitions.filter((t) => t.kind !== 'dwell').map((t) => t.kind), `seed ${seed}`).toEqual(['enter', 'exit']);
        const errorMs = kinds(transitions, 'exit')[0]!.atMs - track.audibleUntilMs!;
        expect(errorMs, `seed ${seed} at ${intervalMs} ms`).toBeLessThanOrEqual(0);
        expect(errorMs, `seed ${seed} at ${intervalMs} ms`).toBeGreaterThanOrEqual(-(2 * intervalMs + 1_000));
      }
    }
  });

  it('detects a shopper walking up across the open floor a few seconds after they cross the zone boundary', () => {
    // No door: the phone is heard all the way in, and the mean RSSI only reaches the threshold at the
    // boundary, so detection takes as long as the estimate needs to climb past it (bench: p50 2.0 s, p95 3.0 s).
    const track = walkIn({ fromM: 30, toM: 2, speedMps: WALK_MPS, startMs: 5_000, durationMs: 60_000 });
    const crossedMs = timeWithin(track, ENTER_M)!.firstMs;
    const latencies = SEEDS.map((seed) => kinds(run(track, seed, 1_000), 'enter')[0]!.atMs - crossedMs);
    for (const latencyMs of latencies) expect(latencyMs).toBeLessThanOrEqual(5_000);
    expect(latencies.filter((ms) => ms <= 3_000).length).toBeGreaterThanOrEqual(SEEDS.length - 1);
  });
});
