import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseBtsnoop, type BtsnoopAdvertisingReport } from '../ble/btsnoop.ts';
import { ScannerUnavailableError, type RawAdvertisement, type Scanner } from './scanner.ts';

// A Scanner that replays a btsnoop HCI capture (a phone's "Bluetooth HCI snoop log", `btmon -w`, or
// a simulator recording) instead of listening to a radio: at the recorded pace, faster, or as fast
// as possible. Each report's own AD bytes and RSSI go to the gateway; its address is dropped here,
// as the noble scanner drops it. Each report is stamped with the time it is handed over (`now()`),
// so the gateway's clock, epoch keys and presence timers apply as they would live.
// The capture is read and checked when the scanner is created, so a missing or foreign file stops
// the gateway before it connects anywhere (ScannerUnavailableError, as for a missing adapter).

/** 1 = the recorded pace, 2 = twice as fast, …; 0 or 'max' = as fast as possible. */
export type ReplaySpeed = number | 'max';

export type ReplaySummary = {
  /** Reports handed to the gateway. */
  replayed: number;
  /** Reports skipped because the controller gave no RSSI (127): presence cannot use them. */
  withoutRssi: number;
  /** Problems in the capture (each logged with its byte offset); the reports around them still play. */
  captureErrors: number;
  /** True when stop() came before the end of the capture. */
  stopped: boolean;
};

export type ReplayScannerOptions = {
  file: string;
  speed?: ReplaySpeed;
  now: () => number;
  logger?: Logger;
  /** At full speed, reports handed over between yields to the event loop. */
  batchSize?: number;
  /** Reads the capture; defaults to the file system. */
  read?: (file: string) => Uint8Array;
};

export type ReplayScanner = Scanner & {
  /** Settles when the whole capture has been replayed, or when the scanner is stopped. */
  finished(): Promise<ReplaySummary>;
};

export function createReplayScanner(options: ReplayScannerOptions): ReplayScanner {
  const { now, logger } = options;
  const speed = options.speed === 'max' || options.speed === 0 ? 0 : options.speed ?? 1;
  if (!(Number.isFinite(speed) && speed >= 0)) throw new RangeError(`replay speed must be a number ≥ 0 or "max", got ${String(options.speed)}`);
  const batchSize = options.batchSize ?? 1_000;
  const summary: ReplaySummary = { replayed: 0, withoutRssi: 0, captureErrors: 0, stopped: false };
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let running = false;
  let settled = false;
  let settle: ((summary: ReplaySummary) => void) | undefined;
  const done = new Promise<ReplaySummary>((resolve) => (settle = resolve));

  const finish = (): void => {
    running = false;
    if (settled) return;
    settled = true;
    logger?.info({ ...summary }, summary.stopped ? 'replay stopped' : 'replay finished');
    settle?.({ ...summary });
  };

  let bytes: Uint8Array;
  try {
    bytes = (options.read ?? readFileSync)(options.file);
  } catch (error) {
    throw new ScannerUnavailableError(`cannot read the replay capture ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const capture = parseBtsnoop(bytes);
  if (capture.records === 0 && capture.errors.length > 0) {
    const [first] = capture.errors;
    throw new ScannerUnavailableError(`replay capture ${options.file}: byte offset ${first?.offset}: ${first?.message}`);
  }

  return {
    async start(onAdvertisement) {
      summary.captureErrors = capture.errors.length;
      // Offsets and messages only: a capture's problems never involve an identifier.
      for (const error of capture.errors) logger?.warn({ offset: error.offset, problem: error.message }, 'replay capture problem');
      const reports = capture.reports;
      logger?.info({ reports: reports.length, records: capture.records, speed: speed === 0 ? 'max' : speed }, 'replay started');

      const deliver = (report: BtsnoopAdvertisingReport): void => {
        if (report.rssiDbm === null) {
          summary.withoutRssi += 1;
          return;
        }
        const data = Buffer.from(report.data.buffer, report.data.byteOffset, report.data.byteLength);
        const advertisement: RawAdvertisement = { data, rssiDbm: report.rssiDbm, receivedAtMs: now() };
        summary.replayed += 1;
        onAdvertisement(advertisement);
      };

      running = true;
      let next = 0;
      if (speed === 0) {
        const pump = (): void => {
          if (!running) return;
          const end = Math.min(reports.length, next + batchSize);
          for (; next < end; next++) deliver(reports[next]!);
          if (next < reports.length) timer = setImmediate(pump);
          else finish();
        };
        timer = setImmediate(pump);
        return;
      }
      // Recorded pace: report i is due at start + (its time − the first report's time) / speed.
      // A capture's clock may step backwards (the phone set its time): such a report plays at once.
      // The clock starts when the first report goes out, so the first interval is not shortened by the first timer's delay.
      let startMs: number | undefined;
      const firstMs = reports[0]?.unixMs ?? 0;
      const dueMs = (report: BtsnoopAdvertisingReport): number => (startMs ?? now()) + (report.unixMs - firstMs) / speed;
      const play = (): void => {
        if (!running) return;
        startMs ??= now();
        while (next < reports.length && dueMs(reports[next]!) <= now()) deliver(reports[next++]!);
        if (next >= reports.length) return finish();
        timer = setTimeout(play, Math.max(0, Math.min(dueMs(reports[next]!) - now(), 60_000)));
      };
      timer = setTimeout(play, 0);
    },
    async stop() {
      if (timer !== undefined) {
        clearTimeout(timer as NodeJS.Timeout);
        clearImmediate(timer as NodeJS.Immediate);
      }
      if (!settled) {
        summary.stopped = true;
        finish();
      }
    },
    stats: () => ({ reports: summary.replayed, trackedAddresses: 0 }),
    finished: () => done,
  };
}
