import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createGroupCommit } from '#server/store/group-commit.ts';

// Group commit (server/store/group-commit.ts) on a real SQLite database: the writes of one turn of the
// event loop share one transaction, each in a savepoint of its own; a failing write is undone and
// rejected alone; a failing commit rejects them all; nothing settles before its commit.

const opened: Database.Database[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

function database(): Database.Database {
  const db = new Database(':memory:');
  opened.push(db);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  return db;
}

const rows = (db: Database.Database): unknown[] => db.prepare('SELECT k, v FROM t ORDER BY k').all();

describe('group commit', () => {
  it('commits the writes of one turn of the event loop in one transaction, and settles each after the commit', async () => {
    const db = database();
    const batches: number[] = [];
    const group = createGroupCommit(db.transaction((work: () => void) => work()).immediate, { observe: ({ writes }) => batches.push(writes) });
    const insert = db.transaction((k: string, v: number) => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v).changes);
    const results = [group.run(() => insert('a', 1)), group.run(() => insert('b', 2)), group.run(() => insert('c', 3))];
    // Nothing is written before the batch runs.
    expect(rows(db)).toEqual([]);
    expect(await Promise.all(results)).toEqual([1, 1, 1]);
    expect(batches).toEqual([3]);
    expect(rows(db)).toEqual([{ k: 'a', v: 1 }, { k: 'b', v: 2 }, { k: 'c', v: 3 }]);
    // A later turn is another transaction.
    await group.run(() => insert('d', 4));
    expect(batches).toEqual([3, 1]);
  });

  it('undoes and rejects a failing write alone; the others of its batch commit', async () => {
    const db = database();
    const group = createGroupCommit(db.transaction((work: () => void) => work()).immediate);
    // Two statements: the first lands, then the second fails — the savepoint takes the first back too.
    const insertTwice = db.transaction((k: string) => {
      db.prepare('INSERT INTO t (k, v) VALUES (?, 1)').run(`${k}-first`);
      db.prepare('INSERT INTO t (k, v) VALUES (?, 1)').run(k === 'bad' ? 'dup' : `${k}-second`);
      if (k === 'bad') db.prepare('INSERT INTO t (k, v) VALUES (?, 1)').run('dup');
    });
    const outcomes = await Promise.allSettled([group.run(() => insertTwice('x')), group.run(() => insertTwice('bad')), group.run(() => insertTwice('y'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(rows(db).map((r) => (r as { k: string }).k)).toEqual(['x-first', 'x-second', 'y-first', 'y-second']);
  });

  it('rejects every write of a batch whose transaction fails, and keeps none of them', async () => {
    const db = database();
    let failCommit = true;
    const inner = db.transaction((work: () => void) => {
      work();
      if (failCommit) throw new Error('disk I/O error');
    }).immediate;
    const group = createGroupCommit(inner);
    const insert = db.transaction((k: string) => db.prepare('INSERT INTO t (k, v) VALUES (?, 1)').run(k));
    const outcomes = await Promise.allSettled([group.run(() => insert('a')), group.run(() => insert('b'))]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? String((o.reason as Error).message) : 'ok'))).toEqual(['disk I/O error', 'disk I/O error']);
    expect(rows(db)).toEqual([]);
    failCommit = false;
    await group.run(() => insert('c'));
    expect(rows(db)).toEqual([{ k: 'c', v: 1 }]);
  });

  it('splits a backlog into batches of at most maxBatch writes, and commits what waits at once on flushNow', async () => {
    const db = database();
    const batches: number[] = [];
    const group = createGroupCommit(db.transaction((work: () => void) => work()).immediate, { maxBatch: 4, observe: ({ writes }) => batches.push(writes) });
    const insert = (k: string) => () => db.prepare('INSERT INTO t (k, v) VALUES (?, 1)').run(k).changes;
    const results = Array.from({ length: 10 }, (_, i) => group.run(insert(`k${String(i).padStart(2, '0')}`)));
    await Promise.all(results);
    expect(batches).toEqual([4, 4, 2]);

    const pending = group.run(insert('late'));
    group.flushNow();
    expect(rows(db)).toHaveLength(11);
    await expect(pending).resolves.toBe(1);
  });
});
