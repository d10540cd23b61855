import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import { describeStoreContract } from './store.contract.ts';

// One temporary database file per run; every instance the suite opens shares it, as two server
// processes on one host would.
const directory = mkdtempSync(join(tmpdir(), 'vicino-sqlite-store-'));
const path = join(directory, 'vicino.db');

describeStoreContract(
  'sqlite',
  async () => openSqliteStore(path),
  async () => rmSync(directory, { recursive: true, force: true }),
);
