import { parseArgs } from 'node:util';
import { DEFAULT_AUDIT_PAGE_SIZE, verifyStoredAuditLog } from '#server/verify-audit-log.ts';
import { openExistingStore } from './existing-store.ts';

// `vicino audit verify`: re-walks the audit log's hash chain (ACC-1) page by page, from entry 1 to the
// head, and names the first entry that was altered, removed, reordered or re-linked — the walk of
// server/verify-audit-log.ts, which GET /v1/admin/audit/verify runs too. The database is the server's
// own: DATABASE_URL, else DATA_DIR/vicino.db (--data-dir overrides DATA_DIR).

export const AUDIT_USAGE = `vicino audit verify [--data-dir DIR] [--page-size N]
                   walk the audit log's hash chain (DATABASE_URL, else DATA_DIR/vicino.db): exit 0 when
                   intact, 1 naming the first altered or missing entry
`;

export type AuditCommandIo = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

/** Runs `vicino audit …`; returns the exit code. */
export async function runAuditCommand(args: string[], env: Record<string, string | undefined>, io: AuditCommandIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`vicino audit: ${message}\n\n${AUDIT_USAGE}`);
    return 2;
  };
  const [sub, ...rest] = args;
  if (sub !== 'verify') return usage(sub === undefined ? 'name a subcommand' : `unknown subcommand "${sub}"`);
  let values: { 'data-dir'?: string; 'page-size'?: string };
  try {
    ({ values } = parseArgs({ args: rest, options: { 'data-dir': { type: 'string' }, 'page-size': { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    return usage((error as Error).message);
  }
  const pageSize = values['page-size'] === undefined ? DEFAULT_AUDIT_PAGE_SIZE : Number(values['page-size']);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100_000) return usage(`--page-size must be a whole number 1–100000, got "${values['page-size']}"`);
  const location = { DATABASE_URL: env.DATABASE_URL, DATA_DIR: values['data-dir'] ?? env.DATA_DIR ?? './data' };
  const store = await openExistingStore('audit', location, io.stderr);
  if (store === undefined) return 1;
  try {
    const result = await verifyStoredAuditLog(store, pageSize);
    if (result.ok) {
      io.stdout.write(`audit chain OK: ${result.count} entries, head ${result.head}\n`);
      return 0;
    }
    const { checked } = result;
    io.stdout.write(`audit chain BROKEN: ${result.fault.message}; ${checked} ${checked === 1 ? 'entry' : 'entries'} before it ${checked === 1 ? 'is' : 'are'} intact\n`);
    return 1;
  } finally {
    await store.close();
  }
}
