import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dropPostgresSchemas, openPostgresStore } from '#server/store/postgres-store.ts';
import { describeStoreContract } from './store.contract.ts';
import { TEST_POOL_MAX } from '#test/helpers/test-pool.ts';

// Runs against the PostgreSQL at DATABASE_URL, in a fresh schema per run (dropped afterwards), so
// runs never collide. Without DATABASE_URL the suite is not run — but CI must provide one, and an
// unreachable server fails the suite rather than skipping it.
const databaseUrl = process.env.DATABASE_URL;

describe('PostgreSQL contract environment', () => {
  it('has a database to run against in CI', () => {
    const inCi = process.env.CI === 'true';
    expect(inCi && !databaseUrl, 'CI must set DATABASE_URL to a PostgreSQL service for the store contract').toBe(false);
  });
});

describe.runIf(databaseUrl)('PostgreSQL', () => {
  const url = databaseUrl ?? '';
  const schema = `vicino_contract_${randomBytes(6).toString('hex')}`;

  describeStoreContract(
    'postgres',
    () => openPostgresStore(url, { schema, poolMax: TEST_POOL_MAX }),
    () => dropPostgresSchemas(url, [schema]),
  );
});
