// Visits to a store, pure (issue 6 item 2). A visit starts with the shopper's first arbitrated zone
// entry in the store after at least VISIT_GAP_MS without presence there; every later presence event
// of theirs in the store extends it. Per (store, shopper) the Store keeps only: how many visits, when
// the current one started, when they were last seen (Store.recordVisitActivity, atomic across instances).
//
// Visit history is profiling: it is kept only for shoppers who granted personalisation (P2), never from
// a sensitive zone (AN-3), and for 12 months after the last presence (RET-3). Without P2 nothing is
// recorded, so 'return' and 'visit' triggers and visit-history segments never match.

/** Without presence in a store for this long, the next entry starts a new visit. */
export const VISIT_GAP_MS = 30 * 60_000;

/**
 * What the Store keeps per (store, shopper). previousVisitLastSeenMs (the last presence of the visit
 * before the current one) lets a redelivered entry get the same answer as the first delivery.
 */
export type VisitState = { visitCount: number; visitStartedAtMs: number; lastSeenAtMs: number; previousVisitLastSeenMs: number | null };

/** What one presence of the shopper in the store meant for their visits. */
export type VisitActivity = {
  /** The number of the current visit (1 = the first recorded); 0 if none has started. */
  visitNumber: number;
  /** Whether this presence started the visit. */
  newVisit: boolean;
  /** Visits before the current one (all recorded visits when none is under way): what visit-history segments count. */
  pastVisits: number;
  /** When they were last seen in the store during the previous visit (set only when a new visit started after one). */
  previousVisitLastSeenMs: number | null;
};

/** A stored visit row, as exported (DSR-1). */
export type VisitRecord = VisitState & { storeId: string; shopperId: string };

/**
 * The next state after a presence at atMs; `startsVisit` is whether it is an arbitrated zone entry (only
 * that starts a visit — another event past the gap changes nothing, so the entry that follows does).
 * An event older than the last one seen (out of order) extends nothing backwards. Idempotent for the
 * entry that started the current visit: the same entry again (a redelivered event gets the arbiter's
 * same transition, at the same instant) is told it starts the visit again, so it triggers what it
 * triggered the first time — and a promotion lost to a crash after this step is made on the redelivery.
 */
export function nextVisit(previous: VisitState | undefined, atMs: number, startsVisit: boolean): { state: VisitState | undefined; activity: VisitActivity } {
  if (startsVisit && previous !== undefined && atMs === previous.visitStartedAtMs) {
    return {
      state: previous,
      activity: { visitNumber: previous.visitCount, newVisit: true, pastVisits: previous.visitCount - 1, previousVisitLastSeenMs: previous.previousVisitLastSeenMs },
    };
  }
  const lapsed = previous === undefined || atMs - previous.lastSeenAtMs >= VISIT_GAP_MS;
  if (!lapsed) {
    return {
      state: atMs > previous.lastSeenAtMs ? { ...previous, lastSeenAtMs: atMs } : previous,
      activity: { visitNumber: previous.visitCount, newVisit: false, pastVisits: previous.visitCount - 1, previousVisitLastSeenMs: null },
    };
  }
  if (!startsVisit) {
    const count = previous?.visitCount ?? 0;
    return { state: previous, activity: { visitNumber: count, newVisit: false, pastVisits: count, previousVisitLastSeenMs: null } };
  }
  const visitCount = (previous?.visitCount ?? 0) + 1;
  return {
    state: { visitCount, visitStartedAtMs: atMs, lastSeenAtMs: atMs, previousVisitLastSeenMs: previous?.lastSeenAtMs ?? null },
    activity: { visitNumber: visitCount, newVisit: true, pastVisits: visitCount - 1, previousVisitLastSeenMs: previous?.lastSeenAtMs ?? null },
  };
}
