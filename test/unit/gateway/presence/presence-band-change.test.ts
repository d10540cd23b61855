import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPresenceTracker, DEFAULT_PRESENCE_CONFIG, resolvePresenceConfig, type PresenceTracker, type PresenceTransition } from '#gateway/presence/presence-tracker.ts';
import { loadGatewayConfig } from '#gateway/config.ts';
import type { Pseudonym } from '#gateway/protocol/pseudonym.ts';

// The 'move' edge: while present, a proximity band that has held for bandHoldMs is published once,
// so the server's zone arbiter can weigh zones (issue 4 item 6). With the estimator reduced to the
// newest packet, each packet's RSSI is the estimate, and the band follows it at once:
// at the default −59 dBm at 1 m and exponent 2.5, −45 dBm is immediate, −65 near, −75 far.

const ALICE = 'a11ce'.padStart(32, '0') as Pseudonym;
const IMMEDIATE = -45;
const NEAR = -65;
const FAR = -75;
const PACKET_MS = 100;
const HOLD_MS = DEFAULT_PRESENCE_CONFIG.bandHoldMs;

const tracker = (bandHoldMs = HOLD_MS): PresenceTracker =>
  createPresenceTracker({ bandHoldMs, estimator: { robust: 'last', smoothing: 'none' } });

/** Packets every PACKET_MS over [fromMs, toMs) at one RSSI, and a tick each second; every transition. */
function stream(t: PresenceTracker, rssiDbm: number, fromMs: number, toMs: number): PresenceTransition[] {
  const out: PresenceTransition[] = [];
  for (let atMs = fromMs; atMs < toMs; atMs += PACKET_MS) {
    out.push(...t.observe(ALICE, 'eddystone-eid', 'k-1', rssiDbm, atMs));
    if (atMs % 1_000 === 0) out.push(...t.tick(atMs));
  }
  return out;
}
const summary = (transitions: readonly PresenceTransition[]): string[] => transitions.map((t) => `${t.kind} ${t.proximity} @${t.atMs}`);

describe('presence tracker: band changes (move)', () => {
  it('publishes a move once a new band has held for bandHoldMs, and only once', () => {
    const t = tracker();
    expect(summary(stream(t, NEAR, 0, 5_000))).toEqual(['enter near @100']);
    expect(summary(stream(t, IMMEDIATE, 5_000, 20_000))).toEqual([`move immediate @${5_000 + HOLD_MS}`]);
    expect(summary(stream(t, NEAR, 20_000, 25_000))).toEqual([`move near @${20_000 + HOLD_MS}`]);
  });

  it('publishes nothing for a band change shorter than bandHoldMs', () => {
    const t = tracker();
    stream(t, NEAR, 0, 5_000);
    expect(stream(t, IMMEDIATE, 5_000, 5_000 + HOLD_MS - PACKET_MS)).toEqual([]);
    expect(stream(t, NEAR, 5_000 + HOLD_MS, 20_000)).toEqual([]);
  });

  it('restarts the wait when the band wavers, so a band flapping faster than the hold never moves', () => {
    const t = tracker();
    stream(t, NEAR, 0, 1_000);
    const out: PresenceTransition[] = [];
    for (let fromMs = 1_000; fromMs < 60_000; fromMs += 2_000) {
      out.push(...stream(t, IMMEDIATE, fromMs, fromMs + 1_000), ...stream(t, FAR, fromMs + 1_000, fromMs + 2_000));
    }
    expect(out.filter((t) => t.kind === 'move')).toEqual([]);
  });

  it('publishes no move before the enter or after the exit', () => {
    const t = createPresenceTracker({ minSightings: 30, estimator: { robust: 'last', smoothing: 'none' } });
    // Immediate before the enter is not a published band: the enter carries the band of its moment.
    const before = stream(t, IMMEDIATE, 0, 2_000).concat(stream(t, NEAR, 2_000, 6_000));
    expect(summary(before)).toEqual(['enter near @2900']);
    const away = stream(t, -120, 6_000, 30_000);
    expect(away.map((x) => x.kind)).toEqual(['exit']);
  });

  it('reports the published band on dwell, not the passing one', () => {
    const t = createPresenceTracker({ dwellMarksMs: [30_000], estimator: { robust: 'last', smoothing: 'none' } });
    stream(t, NEAR, 0, 29_000);
    const out = stream(t, IMMEDIATE, 29_000, 29_000 + HOLD_MS);
    expect(summary(out)).toEqual(['dwell near @31000']);
  });

  it('never publishes moves closer together than bandHoldMs, and each names a band other than the last published', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ rssiDbm: fc.constantFrom(IMMEDIATE, NEAR, FAR, -50, -70), packets: fc.integer({ min: 1, max: 40 }) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1_000, max: 10_000 }),
        (runs, bandHoldMs) => {
          const t = tracker(bandHoldMs);
          let atMs = 0;
          const out: PresenceTransition[] = [];
          for (const run of runs) {
            for (let i = 0; i < run.packets; i += 1, atMs += PACKET_MS) out.push(...t.observe(ALICE, 'eddystone-eid', 'k-1', run.rssiDbm, atMs));
          }
          let published: string | undefined;
          let lastMoveMs = Number.NEGATIVE_INFINITY;
          for (const transition of out) {
            if (transition.kind === 'enter') published = transition.proximity;
            if (transition.kind !== 'move') continue;
            expect(published).toBeDefined();
            expect(transition.proximity).not.toBe(published);
            expect(transition.atMs - lastMoveMs).toBeGreaterThanOrEqual(bandHoldMs);
            published = transition.proximity;
            lastMoveMs = transition.atMs;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('bandHoldMs configuration', () => {
  it.each([0, 999, 60_001, 1_500.5])('rejects %d, naming bandHoldMs', (bandHoldMs) => {
    expect(() => resolvePresenceConfig({ bandHoldMs })).toThrow(/bandHoldMs/);
  });

  it('is validated in the gateway config file, naming the field', () => {
    const file = {
      storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', secret: 'A'.repeat(22), mqtt: { url: 'mqtt://127.0.0.1:1883' },
      presence: { bandHoldMs: 100 },
    };
    const result = loadGatewayConfig({}, JSON.stringify(file));
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.join('\n')).toMatch(/presence\.bandHoldMs/);
    const fine = loadGatewayConfig({}, JSON.stringify({ ...file, presence: { bandHoldMs: 5_000 } }));
    expect(fine.ok && fine.config.presence.bandHoldMs).toBe(5_000);
  });
});
