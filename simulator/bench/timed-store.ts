import type { Store } from '#server/store/store.ts';

// Where the server's time goes, for the end-to-end bench's profile: the Store with a stopwatch around
// every method (a proxy; the adapters are unchanged). Two clocks per call: until the method returns
// (`sync` — on SQLite, better-sqlite3 runs the query then, blocking the event loop: its true cost) and
// until its promise settles (`settled` — on PostgreSQL, the round trip, any wait for a pooled
// connection, and the event loop's own queue before the continuation runs).

export type StoreTimings = Map<string, { calls: number; syncMs: number; settledMs: number }>;

/** `timings` may be shared by several stores (server instances), which then add up. */
export function timedStore(store: Store, timings: StoreTimings = new Map()): { store: Store; timings: StoreTimings; reset(): void } {
  const entry = (name: string): { calls: number; syncMs: number; settledMs: number } => {
    let found = timings.get(name);
    if (found === undefined) timings.set(name, (found = { calls: 0, syncMs: 0, settledMs: 0 }));
    return found;
  };
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const startedMs = performance.now();
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        const timing = entry(property);
        timing.calls += 1;
        timing.syncMs += performance.now() - startedMs;
        if (!(result instanceof Promise)) {
          timing.settledMs += performance.now() - startedMs;
          return result;
        }
        return result.finally(() => void (timing.settledMs += performance.now() - startedMs));
      };
    },
  });
  return { store: proxy, timings, reset: () => timings.clear() };
}

/**
 * The SQLite Store's group commits (server/store/group-commit.ts), under the name `groupCommit`: with them the
 * hot path's writes run when the batch commits, not inside the calls the proxy times, so the batches are timed
 * here (calls = batches). Pass it as openSqliteStore's observeCommits.
 */
export function commitTimer(timings: StoreTimings): (batch: { writes: number; ms: number }) => void {
  return ({ ms }) => {
    let found = timings.get('groupCommit');
    if (found === undefined) timings.set('groupCommit', (found = { calls: 0, syncMs: 0, settledMs: 0 }));
    found.calls += 1;
    found.syncMs += ms;
    found.settledMs += ms;
  };
}

/** The methods that took the most time (by `clock`), as "name sync / settled mean ms × calls (share of the clock's total)". */
export function topTimings(timings: StoreTimings, clock: 'syncMs' | 'settledMs', top = 8): string[] {
  const total = [...timings.values()].reduce((sum, t) => sum + t[clock], 0);
  return [...timings].sort(([, a], [, b]) => b[clock] - a[clock]).slice(0, top)
    .map(([name, t]) => `${name} ${(t.syncMs / t.calls).toFixed(2)} / ${(t.settledMs / t.calls).toFixed(2)} ms × ${t.calls.toLocaleString('en')} (${((100 * t[clock]) / Math.max(total, 1e-9)).toFixed(0)} %)`);
}
