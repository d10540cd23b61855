/**
 * One run at a time: a call while a run is in flight gets that run's promise instead of starting
 * another (the scheduled jobs — retention purge, consent lapses — when a tick or a test's explicit run
 * arrives while the last one is still going). The next call after it settles starts a new run.
 */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };
}
