import type { Store } from '#server/store/store.ts';

// A real Store whose methods can be made to fail, for the fail-closed tests (CON-5): a Proxy that
// forwards every call to the store it wraps, except the methods switched to failing, which reject as
// a storage outage would (nothing reaches the real store). It records every call it failed, with the
// wall-clock time, so a test can tell a decision taken inside the failure window from one outside it.

export type StoreMethod = { [K in keyof Store]: Store[K] extends (...args: never[]) => unknown ? K : never }[keyof Store];

export type FailingStore = {
  store: Store;
  /** From now on, the named methods reject with a connection error. */
  fail(methods: readonly StoreMethod[]): void;
  /** Every method works again. */
  recover(): void;
  /** From now on, calls to the named methods wait (then go through) until the returned release() is called;
   * held() says how many are waiting. For races: two paths that must not both pass a read. */
  hold(methods: readonly StoreMethod[]): { release(): void; held(): number };
  failing(): readonly StoreMethod[];
  /** Each failed call: the method and when (Date.now()). */
  failures: { method: StoreMethod; atMs: number }[];
  /** The outage windows so far, [from, to) in Date.now() time; `to` is undefined while still failing. */
  windows: { fromMs: number; toMs?: number }[];
};

export const STORAGE_ERROR = 'connection terminated unexpectedly (simulated storage failure)';

export function failingStore(inner: Store): FailingStore {
  let failing = new Set<StoreMethod>();
  let holding = new Set<StoreMethod>();
  const waiting: (() => void)[] = [];
  const failures: FailingStore['failures'] = [];
  const windows: FailingStore['windows'] = [];
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = property as StoreMethod;
      return (...args: unknown[]): unknown => {
        if (failing.has(method)) {
          failures.push({ method, atMs: Date.now() });
          return Promise.reject(new Error(STORAGE_ERROR));
        }
        const call = (): unknown => (value as (...a: unknown[]) => unknown).apply(target, args);
        if (holding.has(method)) return new Promise<void>((resolve) => waiting.push(resolve)).then(call);
        return call();
      };
    },
  });
  return {
    store,
    fail(methods) {
      if (failing.size === 0) windows.push({ fromMs: Date.now() });
      failing = new Set(methods);
    },
    recover() {
      if (failing.size > 0) windows.at(-1)!.toMs = Date.now();
      failing = new Set();
    },
    hold(methods) {
      holding = new Set(methods);
      return {
        release() {
          holding = new Set();
          for (const go of waiting.splice(0)) go();
        },
        held: () => waiting.length,
      };
    },
    failing: () => [...failing],
    failures,
    windows,
  };
}
