import { describeOnFreshDatabases } from './fresh-database.ts';
import { describeConsoleStoreContract } from './console-store.contract.ts';

// The contract on SQLite and, with DATABASE_URL, on PostgreSQL, a fresh database per test (fresh-database.ts).
describeOnFreshDatabases('console', describeConsoleStoreContract);
