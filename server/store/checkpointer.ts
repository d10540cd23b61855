import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// WAL checkpoints off the event loop. With SQLite's automatic checkpoint, the commit that crosses the
// threshold (1,000 pages) copies the log into the database file and waits for fsync — on this machine's
// disk, milliseconds during which the server's one event loop is blocked (docs/benchmarks.md). Here a
// worker thread with a connection of its own runs PASSIVE checkpoints every `intervalMs` instead: they
// never block a writer or reader, and the writer's commits only append to the log. If the worker fails,
// the automatic checkpoint is switched back on, so the log can never grow without bound.

export type Checkpointer = { close(): Promise<void> };

export type CheckpointerOptions = {
  path: string;
  intervalMs?: number;
  /** Called when the worker failed and the automatic checkpoint took over again. */
  onFailure?: (error: Error) => void;
  /** Switches the connection's automatic checkpoint off (0) or back on (pages). */
  setAutoCheckpoint: (pages: number) => void;
};

/** SQLite's default automatic checkpoint threshold, in pages. */
const AUTO_CHECKPOINT_PAGES = 1_000;

// The worker's code: plain CommonJS (a worker does not inherit the tsx loader), handed the driver's path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // A busy database is tried again at the next tick; anything else ends the worker (the main thread takes over).
    if (error && error.code !== 'SQLITE_BUSY') throw error;
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } finally { db.close(); }
  parentPort.close();
});
`;

export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: options.path, driver, intervalMs: options.intervalMs ?? 200 } });
  worker.unref();
  let closing = false;
  options.setAutoCheckpoint(0);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.once('error', (error) => {
    if (closing) return;
    options.setAutoCheckpoint(AUTO_CHECKPOINT_PAGES);
    options.onFailure?.(error);
  });
  return {
    async close() {
      if (closing) return;
      closing = true;
      worker.postMessage('close');
      // A worker that does not answer (stuck on a lock) is stopped; the closing connection checkpoints anyway.
      const stop = setTimeout(() => void worker.terminate(), 2_000);
      await exited;
      clearTimeout(stop);
    },
  };
}
