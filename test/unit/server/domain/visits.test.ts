import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextVisit, VISIT_GAP_MS, type VisitState } from '#server/domain/visits.ts';

const T0 = Date.UTC(2030, 0, 7, 9);

describe('nextVisit', () => {
  it('starts the first visit on an entry, and none on another kind of presence', () => {
    expect(nextVisit(undefined, T0, false)).toEqual({ state: undefined, activity: { visitNumber: 0, newVisit: false, pastVisits: 0, previousVisitLastSeenMs: null } });
    expect(nextVisit(undefined, T0, true)).toEqual({
      state: { visitCount: 1, visitStartedAtMs: T0, lastSeenAtMs: T0, previousVisitLastSeenMs: null }, activity: { visitNumber: 1, newVisit: true, pastVisits: 0, previousVisitLastSeenMs: null },
    });
  });

  it('extends the visit within the gap, and starts the next on the first entry after it', () => {
    const first: VisitState = { visitCount: 4, visitStartedAtMs: T0, lastSeenAtMs: T0 + 10_000, previousVisitLastSeenMs: T0 - 3 * VISIT_GAP_MS };
    expect(nextVisit(first, T0 + 10_000 + VISIT_GAP_MS - 1, true)).toMatchObject({ state: { visitCount: 4, lastSeenAtMs: T0 + 10_000 + VISIT_GAP_MS - 1 }, activity: { newVisit: false, pastVisits: 3 } });
    expect(nextVisit(first, T0 + 10_000 + VISIT_GAP_MS, false)).toEqual({ state: first, activity: { visitNumber: 4, newVisit: false, pastVisits: 4, previousVisitLastSeenMs: null } });
    expect(nextVisit(first, T0 + 10_000 + VISIT_GAP_MS, true).activity).toEqual({ visitNumber: 5, newVisit: true, pastVisits: 4, previousVisitLastSeenMs: T0 + 10_000 });
  });

  it('moves nothing backwards for an event older than the last presence', () => {
    const state: VisitState = { visitCount: 2, visitStartedAtMs: T0 - 60_000, lastSeenAtMs: T0 + 60_000, previousVisitLastSeenMs: null };
    expect(nextVisit(state, T0, true)).toEqual({ state, activity: { visitNumber: 2, newVisit: false, pastVisits: 1, previousVisitLastSeenMs: null } });
  });

  it('answers the entry that started the current visit the same again (a redelivered event)', () => {
    const started = nextVisit({ visitCount: 2, visitStartedAtMs: T0, lastSeenAtMs: T0 + 60_000, previousVisitLastSeenMs: null }, T0 + 60_000 + VISIT_GAP_MS, true);
    expect(started.activity).toEqual({ visitNumber: 3, newVisit: true, pastVisits: 2, previousVisitLastSeenMs: T0 + 60_000 });
    const later = nextVisit(started.state, T0 + 2 * VISIT_GAP_MS, false);
    expect(nextVisit(later.state, T0 + 60_000 + VISIT_GAP_MS, true)).toEqual({ state: later.state, activity: started.activity });
  });

  it('property: counts one visit per run of presence separated by at least the gap', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ afterMs: fc.integer({ min: 0, max: 2 * VISIT_GAP_MS }), entry: fc.boolean() }), { maxLength: 60 }), (steps) => {
        let state: VisitState | undefined;
        let atMs = T0;
        let expected = 0;
        let lastSeen: number | undefined;
        for (const step of steps) {
          atMs += step.afterMs;
          const lapsed = lastSeen === undefined || atMs - lastSeen >= VISIT_GAP_MS;
          if (lapsed && step.entry) expected += 1;
          if (!lapsed || step.entry) lastSeen = atMs;
          state = nextVisit(state, atMs, step.entry).state;
          expect(state?.visitCount ?? 0).toBe(expected);
        }
      }),
    );
  });
});
