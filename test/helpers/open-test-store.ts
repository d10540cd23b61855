import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from '#server/store/postgres-store.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { TEST_POOL_MAX } from '#test/helpers/test-pool.ts';

// A Store for a test — a temp SQLite file, or a fresh schema on the PostgreSQL at DATABASE_URL —
// plus raw read access to every row, so tests can check what was (and was not) written.

export type TestStore = {
  kind: 'sqlite' | 'postgres';
  store: Store;
  /** Another Store on the same database, as a second server instance would open it (closed by close()). */
  openAnother(): Promise<Store>;
  /** Runs a portable SELECT directly against the database. */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** Every row of every table, as JSON text. */
  dump(): Promise<string[]>;
  close(): Promise<void>;
};

export async function openTestStore(kind: 'sqlite' | 'postgres'): Promise<TestStore> {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'vicino-store-'));
    const path = join(dir, 'vicino.db');
    const store = openSqliteStore(path);
    const read = <T>(fn: (db: Database.Database) => T): T => {
      const db = new Database(path, { readonly: true });
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    const others: Store[] = [];
    return {
      kind, store,
      openAnother: async () => {
        const other = openSqliteStore(path);
        others.push(other);
        return other;
      },
      rows: async (sql) => read((db) => db.prepare(sql).all() as Record<string, unknown>[]),
      dump: async () => read((db) => {
        const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
        return tables.flatMap((table) => (db.prepare(`SELECT * FROM "${table}"`).all() as object[]).map((row) => JSON.stringify(row)));
      }),
      close: async () => {
        for (const other of others) await other.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: a PostgreSQL test store needs it');
  const schema = `vicino_test_${randomBytes(6).toString('hex')}`;
  const store = await openPostgresStore(url, { schema, poolMax: TEST_POOL_MAX });
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  const others: Store[] = [];
  return {
    kind, store,
    openAnother: async () => {
      const other = await openPostgresStore(url, { schema, poolMax: TEST_POOL_MAX });
      others.push(other);
      return other;
    },
    rows: async (sql) => (await client.query(sql)).rows as Record<string, unknown>[],
    dump: async () => {
      const tables = (await client.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])).rows as { table_name: string }[];
      const out: string[] = [];
      for (const { table_name } of tables) for (const row of (await client.query(`SELECT * FROM "${table_name}"`)).rows) out.push(JSON.stringify(row));
      return out;
    },
    close: async () => {
      for (const other of others) await other.close();
      await store.close();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
