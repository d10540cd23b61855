import { describe, expect, it } from 'vitest';
import {
  cutoffMs, cutoffs, DAY_MS, DEFAULT_DELIVERY_RECORDS_MS, DEFAULT_PRESENCE_EVENTS_MS, HOUR_MS, RETAINED_KINDS, retentionWindows, zoneStateLastSeenMs,
} from '#server/domain/retention.ts';
import { emptyZoneState, type ZoneState } from '#server/domain/zone-arbiter.ts';
import { START_MS } from '#test/helpers/builders.ts';

describe('retention windows', () => {
  it('defaults to the requirements: presence events 24 h (RET-2), delivery records 24 months and visit history 12 months (RET-3)', () => {
    expect(retentionWindows({ eventSequencesMs: 360_000 })).toEqual({ presenceEventsMs: 24 * HOUR_MS, deliveryRecordsMs: 730 * DAY_MS, eventSequencesMs: 360_000, profilingMs: 365 * DAY_MS });
    expect(DEFAULT_PRESENCE_EVENTS_MS).toBe(86_400_000);
    expect(DEFAULT_DELIVERY_RECORDS_MS).toBe(63_072_000_000);
  });

  it('accepts stricter windows', () => {
    expect(retentionWindows({ presenceEventsMs: 2 * HOUR_MS, deliveryRecordsMs: 30 * DAY_MS, eventSequencesMs: 1_000, profilingMs: 90 * DAY_MS }))
      .toEqual({ presenceEventsMs: 2 * HOUR_MS, deliveryRecordsMs: 30 * DAY_MS, eventSequencesMs: 1_000, profilingMs: 90 * DAY_MS });
  });

  it('refuses windows longer than the requirements or too short to keep the caps, naming every field at once', () => {
    expect(() => retentionWindows({ presenceEventsMs: 25 * HOUR_MS, deliveryRecordsMs: HOUR_MS, eventSequencesMs: 0 }))
      .toThrow(/presenceEventsMs: presenceEventsMs may not exceed 24 hours \(RET-2\); deliveryRecordsMs: .*at least 1 day.*; eventSequencesMs: .*at least 1 second/);
    expect(() => retentionWindows({ deliveryRecordsMs: 731 * DAY_MS, eventSequencesMs: 1_000 })).toThrow(/deliveryRecordsMs: .*730 days/);
    expect(() => retentionWindows({ profilingMs: 366 * DAY_MS, eventSequencesMs: 1_000 })).toThrow(/profilingMs: .*365 days \(RET-3\)/);
    expect(() => retentionWindows({ presenceEventsMs: 1.5 * HOUR_MS + 0.5, eventSequencesMs: 1_000 })).toThrow(/presenceEventsMs/);
    expect(() => retentionWindows({ eventSequencesMs: 1_000, sightingsMs: 60_000 } as never)).toThrow(/sightingsMs/);
  });
});

describe('retention cutoffs', () => {
  const windows = retentionWindows({ eventSequencesMs: 360_000 });

  it('puts each kind\'s cutoff its window before now', () => {
    expect(cutoffMs(windows, 'presence-events', START_MS)).toBe(START_MS - DAY_MS);
    expect(cutoffMs(windows, 'zone-states', START_MS)).toBe(START_MS - DAY_MS);
    expect(cutoffMs(windows, 'delivery-records', START_MS)).toBe(START_MS - 730 * DAY_MS);
    expect(cutoffMs(windows, 'event-sequences', START_MS)).toBe(START_MS - 360_000);
  });

  it('lists every kind once, and moves every cutoff with the clock', () => {
    const at = cutoffs(windows, START_MS);
    expect(at.map((c) => c.kind)).toEqual([...RETAINED_KINDS]);
    const later = cutoffs(windows, START_MS + HOUR_MS);
    expect(later.map((c, i) => c.cutoffMs - at[i]!.cutoffMs)).toEqual(RETAINED_KINDS.map(() => HOUR_MS));
    // Proof nonces record their own expiry: the cutoff is now.
    expect(at.find((c) => c.kind === 'proof-nonces')?.cutoffMs).toBe(START_MS);
  });
});

describe('zoneStateLastSeenMs', () => {
  it('takes the latest of claims, tenures and applied transitions', () => {
    const state: ZoneState = {
      ...emptyZoneState(),
      claims: { a: { rank: 1, atMs: 5_000 }, b: { rank: 2, atMs: 7_000 } },
      current: { zoneId: 'a', sinceMs: 1_000 },
      challenger: { zoneId: 'b', sinceMs: 6_000 },
      applied: [{ eventId: 'e1', transitions: [{ kind: 'entered', zoneId: 'a', atMs: 1_000, dwellMs: 0 }] }],
    };
    expect(zoneStateLastSeenMs(state)).toBe(7_000);
    expect(zoneStateLastSeenMs({ ...emptyZoneState(), applied: [{ eventId: 'e2', transitions: [{ kind: 'left', zoneId: 'a', atMs: 9_000, dwellMs: 8_000 }] }] })).toBe(9_000);
  });

  it('is null for a state that records no time', () => {
    expect(zoneStateLastSeenMs(emptyZoneState())).toBeNull();
    expect(zoneStateLastSeenMs({ ...emptyZoneState(), applied: [{ eventId: 'e', transitions: [] }] })).toBeNull();
  });
});
