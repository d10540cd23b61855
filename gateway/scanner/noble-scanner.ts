import type { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { createNobleCachePruner, type NobleCachePruner, type NobleCaches } from './noble-cache.ts';
import { PROBLEM_MESSAGES, problemOfError, problemOfState, unavailable } from './noble-problems.ts';
import { tapAdvertisingReports } from './report-tap.ts';
import type { RawAdvertisement, Scanner, ScannerProblem, ScannerState, ScannerStats } from './scanner.ts';

// The Scanner on @abandonware/noble, with any bindings that have noble's HCI layer: the Linux HCI
// socket (noble-hci.ts) or the simulator's (simulator/noble-bindings.ts) — the same code either way.
//
// - Each report's own bytes come from the tap on noble's HCI layer (report-tap.ts); noble's merged
//   `peripheral.advertisement` is never read.
// - noble's per-address caches are bounded (noble-cache.ts).
// - Problems (no Bluetooth, no permission, adapter off, a scan command never confirmed) are named with
//   what to do (noble-problems.ts) and retried with exponential backoff and jitter.
// - A watchdog restarts the scan when no advertisement arrives for watchdogMs while the adapter says
//   it is powered on (controllers do stop reporting silently, e.g. after a firmware hiccup); while
//   restarts bring nothing (an empty shop at night), each waits twice as long as the last, up to 32×.

/** The part of a Noble instance the scanner uses (noble's typings do not expose the internals it bounds). */
export type NobleLike = EventEmitter & NobleCaches & {
  /** Reading it initialises noble's bindings (and may throw, e.g. EPERM from the HCI socket). */
  readonly state: string;
  startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
};

export type NobleScannerOptions = {
  /** The noble instance, or a function that opens one (called again after it failed to open). */
  noble: NobleLike | (() => NobleLike);
  now: () => number;
  logger?: Logger;
  /** Forget an address not heard for this long (ms). */
  forgetAfterMs?: number;
  /** Never remember more addresses than this: under a flood (BLE spam, rotating MACs) the least recently heard go first. */
  maxAddresses?: number;
  /** How long one attempt waits for the adapter to power on. */
  poweredOnTimeoutMs?: number;
  /** How long to wait for the adapter to confirm a scan start or stop. */
  commandTimeoutMs?: number;
  /** Restart the scan after this long without an advertisement while powered on; 0 disables the watchdog. */
  watchdogMs?: number;
  backoff?: BackoffOptions;
  /** In [0, 1); the jitter's source. */
  random?: () => number;
  /**
   * A first attempt that fails for a reason only an operator can fix (no Bluetooth, no permission, no
   * LE support, binding not built): 'fail' rejects start() with the explanation (a service manager
   * restarts the process later); 'retry' keeps retrying in the process like any other problem.
   */
  onStartupProblem?: 'fail' | 'retry';
};

export type NobleScannerStats = Required<ScannerStats> & {
  /** Entries in noble's own per-address maps (bounded by the pruner). */
  nobleCacheEntries: number;
  /** Addresses dropped from noble's maps so far. */
  prunedAddresses: number;
  /** Times noble's maps started over (at maxAddresses distinct addresses, or forgetAfterMs). */
  nobleCacheResets: number;
  extendedFragmentsPending: number;
  extendedFragmentsDropped: number;
  /** Since the last advertisement (or since scanning started, if none yet); null before the first scan. */
  silentMs: number | null;
};

export type NobleScanner = Omit<Scanner, 'stats'> & { stats(): NobleScannerStats };

/** The watchdog's wait doubles with each restart that brought no report, up to 32 × watchdogMs. */
const MAX_WATCHDOG_DOUBLINGS = 5;

const OPERATOR_PROBLEMS: ReadonlySet<ScannerProblem> = new Set(['EAFNOSUPPORT', 'EPERM', 'NOT_BUILT', 'NOT_LINUX', 'UNAUTHORIZED', 'UNSUPPORTED']);

class AttemptFailed extends Error {
  constructor(readonly problem: ScannerProblem) {
    super(problem);
  }
}

export function createNobleScanner(options: NobleScannerOptions): NobleScanner {
  const { now } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const forgetAfterMs = options.forgetAfterMs ?? 60_000;
  const maxAddresses = options.maxAddresses ?? 5_000;
  const poweredOnTimeoutMs = options.poweredOnTimeoutMs ?? 10_000;
  const commandTimeoutMs = options.commandTimeoutMs ?? 5_000;
  const watchdogMs = options.watchdogMs ?? 30_000;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;

  let noble: NobleLike | undefined = typeof options.noble === 'function' ? undefined : options.noble;
  let pruner: NobleCachePruner | undefined;
  let tap: ReturnType<typeof tapAdvertisingReports> | undefined;
  let deliver: ((advertisement: RawAdvertisement) => void) | undefined;
  let state: ScannerState = 'idle';
  let problem: ScannerProblem | null = null;
  let failures = 0; // consecutive failed attempts
  let scannedBefore = false;
  const counters = { reports: 0, restarts: 0, retries: 0 };
  let lastReportMs: number | undefined;
  let scanStartedMs: number | undefined;
  // Watchdog restarts since the last report: an empty shop at night is quiet too, so each one waits twice as long.
  let silentRestarts = 0;
  let attempting: Promise<ScannerProblem | undefined> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let housekeeping: NodeJS.Timeout[] = [];
  // Bumped by stop(): an attempt still in flight from before must not leave the adapter scanning.
  let generation = 0;

  const onReport = (address: string, data: Buffer, rssiDbm: number): void => {
    const receivedAtMs = now();
    counters.reports += 1;
    lastReportMs = receivedAtMs;
    silentRestarts = 0;
    pruner?.heard(address, receivedAtMs);
    deliver?.({ data, rssiDbm, receivedAtMs });
  };

  const onStateChange = (adapterState: string): void => {
    if (state === 'stopped' || state === 'idle') return;
    if (adapterState === 'poweredOn') {
      if (state === 'waiting') retryNow();
      return;
    }
    const lost = problemOfState(adapterState);
    if (lost !== undefined && state === 'scanning') {
      // noble's gap has stopped scanning with the adapter; scan again when it is back or the backoff says so.
      logger.warn({ problem: lost, hint: PROBLEM_MESSAGES[lost] }, 'Bluetooth adapter lost; scanning stopped');
      waitAndRetry(lost);
    }
  };

  /** Opens noble once, and hooks the tap and the state listener onto it. */
  const attach = (): NobleLike => {
    if (noble === undefined) {
      try {
        noble = (options.noble as () => NobleLike)();
      } catch (error) {
        throw new AttemptFailed(problemOfError(error));
      }
    }
    if (tap === undefined) {
      const hci = noble._bindings?._hci;
      if (hci === undefined) throw new TypeError('noble scanner: these noble bindings have no HCI layer (`_bindings._hci`) to take each report\'s own bytes from');
      tap = tapAdvertisingReports(hci, onReport);
      pruner = createNobleCachePruner(noble, { maxAddresses, forgetAfterMs });
      noble.on('stateChange', onStateChange);
    }
    return noble;
  };

  const adapterState = (n: NobleLike): string => {
    try {
      return n.state;
    } catch (error) {
      throw new AttemptFailed(problemOfError(error));
    }
  };

  const waitForPoweredOn = (n: NobleLike): Promise<void> =>
    new Promise((resolve, reject) => {
      const initial = adapterState(n);
      if (initial === 'poweredOn') return resolve();
      const settle = (outcome: ScannerProblem | undefined): void => {
        clearTimeout(timer);
        n.off('stateChange', onState);
        if (outcome === undefined) resolve();
        else reject(new AttemptFailed(outcome));
      };
      const onState = (s: string): void => {
        if (s === 'poweredOn') settle(undefined);
        else if (s === 'unauthorized' || s === 'unsupported') settle(problemOfState(s));
      };
      const timer = setTimeout(() => settle(problemOfState(n.state) ?? 'POWERED_OFF'), poweredOnTimeoutMs);
      n.on('stateChange', onState);
      // unauthorized/unsupported do not change by themselves: no point waiting for the timeout.
      if (initial === 'unauthorized' || initial === 'unsupported') settle(problemOfState(initial));
    });

  const withTimeout = <T>(promise: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new AttemptFailed('SCAN_TIMEOUT')), commandTimeoutMs);
      promise.then(
        (value) => { clearTimeout(timer); resolve(value); },
        (error: unknown) => { clearTimeout(timer); reject(error); },
      );
    });

  /** One try at scanning. Resolves with the problem, if it failed. */
  const attempt = (): Promise<ScannerProblem | undefined> => {
    if (attempting !== undefined) return attempting;
    const run = (async (): Promise<ScannerProblem | undefined> => {
      const started = generation;
      state = 'starting';
      try {
        const n = attach();
        await waitForPoweredOn(n);
        // allowDuplicates: every report, not one per address — presence needs the stream.
        await withTimeout(n.startScanningAsync([], true));
        if (started !== generation) {
          await withTimeout(n.stopScanningAsync()).catch(() => undefined);
          return undefined;
        }
        if (scannedBefore) counters.restarts += 1;
        scannedBefore = true;
        state = 'scanning';
        problem = null;
        failures = 0;
        scanStartedMs = now();
        return undefined;
      } catch (error) {
        if (error instanceof AttemptFailed) return error.problem;
        if (error instanceof TypeError) throw error; // wiring, not the radio
        // startScanning refused: noble says why in its state.
        return (noble && problemOfState(noble.state)) ?? 'OPEN_FAILED';
      }
    })();
    // Cleared once settled (not in the body: a failure before its first await settles it synchronously).
    attempting = run;
    const clear = (): void => {
      if (attempting === run) attempting = undefined;
    };
    run.then(clear, clear);
    return run;
  };

  const waitAndRetry = (why: ScannerProblem): void => {
    state = 'waiting';
    problem = why;
    failures += 1;
    counters.retries += 1;
    const retryInMs = backoffDelayMs(failures, backoff, random);
    logger.warn({ problem: why, hint: PROBLEM_MESSAGES[why], attempt: failures, retryInMs }, 'cannot scan; retrying');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(retryNow, retryInMs);
    retryTimer.unref();
  };

  const retryNow = (): void => {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (attempting !== undefined) return; // the attempt under way reports its own outcome
    void attempt().then((failed) => {
      if (state === 'stopped') return;
      if (failed !== undefined) waitAndRetry(failed);
      else logger.info({ restarts: counters.restarts }, 'scanning');
    });
  };

  const restartScan = async (silentMs: number): Promise<void> => {
    silentRestarts += 1;
    // The first restart of a silence is worth a warning; the next ones, in an empty shop, are not.
    logger[silentRestarts === 1 ? 'warn' : 'debug']({ silentMs, watchdogMs, silentRestarts }, 'no advertisements while the adapter is on; restarting the scan');
    state = 'starting';
    const started = generation;
    await withTimeout(noble!.stopScanningAsync()).catch(() => undefined);
    if (started === generation) retryNow();
  };

  const startHousekeeping = (): void => {
    const sweep = setInterval(() => pruner?.sweep(now()), Math.max(1_000, forgetAfterMs / 4));
    housekeeping = [sweep];
    if (watchdogMs > 0) {
      housekeeping.push(setInterval(() => {
        if (state !== 'scanning' || scanStartedMs === undefined || noble === undefined) return;
        const silentMs = now() - Math.max(lastReportMs ?? scanStartedMs, scanStartedMs);
        const thresholdMs = watchdogMs * 2 ** Math.min(silentRestarts, MAX_WATCHDOG_DOUBLINGS);
        // Only while the adapter says it is on: otherwise onStateChange and the backoff are in charge.
        if (silentMs >= thresholdMs && noble.state === 'poweredOn') void restartScan(silentMs);
      }, Math.max(250, watchdogMs / 4)));
    }
    for (const timer of housekeeping) timer.unref();
  };

  return {
    async start(onAdvertisement) {
      if (state !== 'idle' && state !== 'stopped') throw new Error('noble scanner: already started');
      deliver = onAdvertisement;
      const failed = await attempt();
      if (failed !== undefined) {
        if ((options.onStartupProblem ?? 'fail') === 'fail' && OPERATOR_PROBLEMS.has(failed)) {
          state = 'stopped';
          problem = failed;
          detach();
          throw unavailable(failed);
        }
        waitAndRetry(failed);
      }
      startHousekeeping();
      logger.info({ state, problem }, 'scanner started');
    },
    async stop() {
      const wasScanning = state === 'scanning';
      state = 'stopped';
      generation += 1;
      clearTimeout(retryTimer);
      for (const timer of housekeeping) clearInterval(timer);
      housekeeping = [];
      if (wasScanning && noble !== undefined) await withTimeout(noble.stopScanningAsync()).catch(() => undefined);
      pruner?.clear();
      detach();
    },
    stats: () => {
      const tapStats = tap?.stats();
      return {
        state,
        problem,
        reports: counters.reports,
        restarts: counters.restarts,
        retries: counters.retries,
        trackedAddresses: pruner?.size() ?? 0,
        nobleCacheEntries: pruner?.nobleEntries() ?? 0,
        prunedAddresses: pruner?.pruned() ?? 0,
        nobleCacheResets: pruner?.generations() ?? 0,
        extendedFragmentsPending: tapStats?.fragmentsPending ?? 0,
        extendedFragmentsDropped: tapStats?.fragmentsDropped ?? 0,
        silentMs: scanStartedMs === undefined ? null : Math.max(0, now() - (lastReportMs ?? scanStartedMs)),
      };
    },
  };

  function detach(): void {
    tap?.detach();
    tap = undefined;
    noble?.off('stateChange', onStateChange);
    deliver = undefined;
  }
}
