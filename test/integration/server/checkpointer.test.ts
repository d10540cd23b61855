import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startCheckpointer } from '#server/store/checkpointer.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import { aShopper } from '#test/helpers/builders.ts';

// WAL checkpoints in a worker thread (server/store/checkpointer.ts): the log written by the main
// connection, whose automatic checkpoint is off, reaches the database file without the main thread
// checkpointing; a worker that fails hands the job back to SQLite's automatic checkpoint.

const directory = mkdtempSync(join(tmpdir(), 'vicino-checkpointer-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('background WAL checkpoints', () => {
  it('copies the log into the database file from its own thread while the writer only appends', async () => {
    const path = join(directory, 'copy.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v BLOB NOT NULL)');
    const settings: number[] = [];
    const checkpointer = startCheckpointer({ path, intervalMs: 50, setAutoCheckpoint: (pages) => {
      settings.push(pages);
      db.pragma(`wal_autocheckpoint = ${pages}`);
    } });
    try {
      expect(settings).toEqual([0]);
      const before = statSync(path).size;
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      db.transaction(() => {
        for (let i = 0; i < 1_500; i += 1) insert.run(Buffer.alloc(4_000, i % 256));
      })();
      // ~6 MB went to the log; with the automatic checkpoint off, only the worker can move it into the file.
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      expect(before).toBeLessThan(100_000);
      await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(5_000_000), { timeout: 5_000, interval: 50 });
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('gives the job back to the automatic checkpoint when its worker fails', async () => {
    const settings: number[] = [];
    const failures: Error[] = [];
    const checkpointer = startCheckpointer({
      path: join(directory, 'does-not-exist.db'), intervalMs: 50, setAutoCheckpoint: (pages) => void settings.push(pages), onFailure: (error) => void failures.push(error),
    });
    await vi.waitFor(() => expect(failures).toHaveLength(1), { timeout: 5_000 });
    expect(settings).toEqual([0, 1_000]);
    await checkpointer.close();
  });

  it('runs beside a file Store, which closes with nothing left in its log', async () => {
    const path = join(directory, 'store.db');
    const store = openSqliteStore(path);
    for (let i = 0; i < 50; i += 1) await store.createShopper(aShopper());
    await store.close();
    const reopened = openSqliteStore(path, { backgroundCheckpoints: false });
    expect((await reopened.counts()).shoppers).toBe(50);
    await reopened.close();
    expect(() => statSync(`${path}-wal`)).toThrow();
  });
});
