import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { dropPostgresSchemas, openPostgresStore } from '#server/store/postgres-store.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import { describePresenceStepContract } from './presence-step.contract.ts';

// The presence step contract on SQLite (a temporary file per fresh database, shared by its instances) and, with
// DATABASE_URL, on PostgreSQL (a fresh schema per database, all dropped afterwards).
const directory = mkdtempSync(join(tmpdir(), 'vicino-presence-step-'));
let files = 0;
describePresenceStepContract(
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
  describePresenceStepContract(
    'postgres',
    async () => {
      const schema = `vicino_presence_step_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return { store: await openPostgresStore(url, { schema }), another: () => openPostgresStore(url, { schema }) };
    },
    async () => {
      await dropPostgresSchemas(url, schemas);
    },
  );
});
