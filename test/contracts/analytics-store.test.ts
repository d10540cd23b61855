import { describeOnFreshDatabases } from './fresh-database.ts';
import { describeAnalyticsContract } from './analytics.contract.ts';

// The contract on SQLite and, with DATABASE_URL, on PostgreSQL, a fresh database per test (fresh-database.ts).
describeOnFreshDatabases('analytics', describeAnalyticsContract);
