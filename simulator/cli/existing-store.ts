import { existsSync } from 'node:fs';
import { storeLocation, type ServerEnv } from '#server/config.ts';
import { openStore } from '#server/main.ts';
import type { Store } from '#server/store/store.ts';

// The read-mostly commands (audit verify, consent rebuild, ropa) work on the server's own database and
// never create one: an empty SQLite file made where the real one was expected would verify, rebuild
// or describe nothing, and look like success.

/** The server's Store at DATABASE_URL, else DATA_DIR/vicino.db if that file exists; otherwise says so on stderr and returns undefined. */
export async function openExistingStore(
  command: string,
  location: Pick<ServerEnv, 'DATABASE_URL' | 'DATA_DIR'>,
  stderr: { write(text: string): unknown },
): Promise<Store | undefined> {
  const where = storeLocation(location);
  if (where.kind === 'sqlite' && !existsSync(where.path)) {
    stderr.write(`vicino ${command}: no database at ${where.path} (set DATA_DIR, --data-dir or DATABASE_URL)\n`);
    return undefined;
  }
  return openStore(location);
}
