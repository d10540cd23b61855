import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { dropPostgresSchemas, openPostgresStore } from '#server/store/postgres-store.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { TEST_POOL_MAX } from '#test/helpers/test-pool.ts';

// Contracts that need an empty database per test (global state such as a rollup's watermark) and a second
// instance on it (another server): run on SQLite (a temporary file per database, shared by its instances)
// and, with DATABASE_URL, on PostgreSQL (a schema per database, all dropped afterwards).

export type FreshDatabase = { store: Store; another(): Promise<Store> };
export type Contract = (name: string, fresh: () => Promise<FreshDatabase>, cleanup?: () => Promise<void>) => void;

export function describeOnFreshDatabases(label: string, contract: Contract): void {
  const directory = mkdtempSync(join(tmpdir(), `vicino-${label}-`));
  let files = 0;
  contract(
    'sqlite',
    async () => {
      const path = join(directory, `db-${(files += 1)}.db`);
      return { store: openSqliteStore(path), another: async () => openSqliteStore(path) };
    },
    async () => rmSync(directory, { recursive: true, force: true }),
  );

  const databaseUrl = process.env.DATABASE_URL;
  describe.runIf(databaseUrl)('PostgreSQL', () => {
    const url = databaseUrl ?? '';
    const schemas: string[] = [];
    contract(
      'postgres',
      async () => {
        const schema = `vicino_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(6).toString('hex')}`;
        schemas.push(schema);
        return { store: await openPostgresStore(url, { schema, poolMax: TEST_POOL_MAX }), another: () => openPostgresStore(url, { schema, poolMax: TEST_POOL_MAX }) };
      },
      async () => {
        await dropPostgresSchemas(url, schemas);
      },
    );
  });
}

/**
 * Inside a contract's describe: `database()` opens a fresh database with store-1 and these zones, and every
 * instance opened through it (and its `another()`) is closed after the suite, before `cleanup`.
 */
export function seededDatabases(fresh: () => Promise<FreshDatabase>, zones: readonly (readonly [string, boolean])[], cleanup?: () => Promise<void>): () => Promise<FreshDatabase> {
  const opened: Store[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await cleanup?.();
  });
  return async () => {
    const db = await fresh();
    opened.push(db.store);
    await db.store.upsertStore({ id: 'store-1', name: 'High Street', timezone: 'Europe/London' });
    for (const [id, sensitive] of zones) await db.store.upsertZone({ storeId: 'store-1', id, name: id, sensitive });
    return {
      store: db.store,
      another: async () => {
        const other = await db.another();
        opened.push(other);
        return other;
      },
    };
  };
}
