import { describeOnFreshDatabases } from './fresh-database.ts';
import { describePresenceStepContract } from './presence-step.contract.ts';

// The contract on SQLite and, with DATABASE_URL, on PostgreSQL, a fresh database per test (fresh-database.ts).
describeOnFreshDatabases('presence-step', describePresenceStepContract);
