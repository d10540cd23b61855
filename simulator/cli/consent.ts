import { parseArgs } from 'node:util';
import { openExistingStore } from './existing-store.ts';

// `vicino consent rebuild [--verify]`: the consent ledger's replay as an operation (CON-3). consent_state is
// derived from the append-only consent_records; --verify compares the two and names the (shopper, purpose)
// pairs that differ, writing nothing; without it the state is rebuilt from the ledger (one transaction,
// audited) and then verified. The database is the server's own: DATABASE_URL, else DATA_DIR/vicino.db.

export const CONSENT_USAGE = `vicino consent rebuild [--verify] [--data-dir DIR]
                   rebuild the consent state from the consent ledger, or with --verify only compare them:
                   exit 0 when they agree, 1 naming the pairs that differ
`;

/** How many differing pairs are named at most. */
const SHOWN = 20;

export type ConsentCommandIo = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

/** Runs `vicino consent …`; returns the exit code. */
export async function runConsentCommand(args: string[], env: Record<string, string | undefined>, io: ConsentCommandIo, now: () => number = Date.now): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`vicino consent: ${message}\n\n${CONSENT_USAGE}`);
    return 2;
  };
  const [sub, ...rest] = args;
  if (sub !== 'rebuild') return usage(sub === undefined ? 'name a subcommand' : `unknown subcommand "${sub}"`);
  let values: { 'data-dir'?: string; verify?: boolean };
  try {
    ({ values } = parseArgs({ args: rest, options: { 'data-dir': { type: 'string' }, verify: { type: 'boolean' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    return usage((error as Error).message);
  }
  const location = { DATABASE_URL: env.DATABASE_URL, DATA_DIR: values['data-dir'] ?? env.DATA_DIR ?? './data' };
  const store = await openExistingStore('consent', location, io.stderr);
  if (store === undefined) return 1;
  try {
    if (values.verify !== true) {
      const rows = await store.rebuildConsentState();
      await store.appendAudit({ atMs: now(), actor: 'operator', action: 'consent.rebuilt', subject: 'consent-ledger', details: { rows } });
      io.stdout.write(`consent state rebuilt from the ledger: ${rows} ${rows === 1 ? 'row' : 'rows'}\n`);
    }
    const drift = await store.findConsentStateDrift(SHOWN + 1);
    if (drift.length === 0) {
      io.stdout.write('consent state matches the ledger\n');
      return 0;
    }
    const named = drift.slice(0, SHOWN).map((d) => `  ${d.shopperId} ${d.purpose}\n`).join('');
    io.stdout.write(`consent state DIFFERS from the ledger for ${drift.length > SHOWN ? `more than ${SHOWN}` : drift.length} (shopper, purpose) ${drift.length === 1 ? 'pair' : 'pairs'}${values.verify === true ? ' (run without --verify to rebuild)' : ''}:\n${named}`);
    return 1;
  } finally {
    await store.close();
  }
}
