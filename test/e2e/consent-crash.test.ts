import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditChain, type AuditRecord } from '#server/domain/audit-chain.ts';
import { replayConsent, type ConsentRecord, type Purpose } from '#server/domain/consent.ts';
import type { ConsentText } from '#server/domain/consent-texts.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { createAppIdentity } from '#simulator/app/app-identity.ts';
import { openTestStore, type TestStore } from '../helpers/open-test-store.ts';
import { runCli, type CliRun } from '../helpers/run-cli.ts';
import { startTestBroker, type TestBroker } from '../helpers/start-broker.ts';

// "The ledger never loses a record: a crash between the request and the response leaves either the
// whole record or none of it." The real `vicino server` process takes concurrent consent changes from
// many shoppers and is killed (SIGKILL: no shutdown code runs) in the middle of them. Read back from
// its database, the ledger holds every change that was acknowledged; every record has its audit entry
// and every audit entry its record (one transaction, both or neither); the derived state is exactly
// the replay of the records; each record's previous state is the record before it; the audit chain is
// unbroken. On SQLite always, and on PostgreSQL when DATABASE_URL is set.

const SHOPPERS = 12;
const WORKERS = 16;
const KILL_AFTER_ACKS = 150;
const PURPOSES: Purpose[] = ['presence', 'personalisation', 'analytics', 'promotions'];

type Sent = { shopperId: string; purpose: Purpose; granted: boolean; acked: boolean };

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function startServer(env: Record<string, string>): Promise<{ run: CliRun; url: string }> {
  const run = runCli(['server', '--port', '0'], { env: { LOG_LEVEL: 'warn', ...env } });
  cleanups.push(async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await run.exited;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /vicino server on (http:\/\/[\d.:]+)/.exec(run.stdout());
    if (match) return { run, url: match[1]! };
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`vicino server did not start: ${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function call<T>(url: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Registers shoppers, then lets WORKERS concurrent clients change their consents until the server is killed. */
async function stormAndKill(url: string, run: CliRun): Promise<{ shopperIds: string[]; sent: Sent[] }> {
  const { body: { texts } } = await call<{ texts: ConsentText[] }>(url, 'GET', '/v1/consent-texts');
  const text = (purpose: Purpose) => texts.find((t) => t.purpose === purpose)!;
  const shoppers: { id: string; token: string }[] = [];
  for (let i = 0; i < SHOPPERS; i += 1) {
    const registered = await call<{ shopperId: string; token: string }>(url, 'POST', '/v1/shoppers', { appPublicKey: createAppIdentity().publicKeyHex, locale: 'en', country: 'IT', birthYear: 1990 });
    expect(registered.status).toBe(201);
    shoppers.push({ id: registered.body.shopperId, token: registered.body.token });
  }
  const sent: Sent[] = [];
  let acks = 0;
  let killed = false;
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !killed; i += 1) {
      // Several workers share each shopper, so one shopper's changes race each other too.
      const shopper = shoppers[(w + i * 5) % shoppers.length]!;
      const decisions = PURPOSES.filter((_, p) => (w + i + p) % 3 !== 0).map((purpose, p) => ({ purpose, granted: (w + i + p) % 2 === 0 }));
      const entries: Sent[] = decisions.map((d) => ({ shopperId: shopper.id, purpose: d.purpose, granted: d.granted, acked: false }));
      sent.push(...entries);
      try {
        const response = await call(url, 'PUT', '/v1/me/consents', {
          locale: 'en', decisions: decisions.map((d) => ({ ...d, textVersion: text(d.purpose).version, textSha256: text(d.purpose).sha256 })),
        }, shopper.token);
        if (response.status !== 200) throw new Error(`PUT /v1/me/consents answered ${response.status}: ${JSON.stringify(response.body)}`);
        for (const entry of entries) entry.acked = true;
        acks += 1;
        if (acks === KILL_AFTER_ACKS && !killed) {
          killed = true;
          run.child.kill('SIGKILL');
        }
      } catch (error) {
        if (!killed) throw error;
        return; // the server is gone: this request may or may not have committed
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  expect((await run.exited).signal).toBe('SIGKILL');
  return { shopperIds: shoppers.map((s) => s.id), sent };
}

/** Reads every audit record from the store. */
async function allAudit(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (let from = 1; ; ) {
    const page = await store.listAudit(from, 1_000);
    out.push(...page);
    if (page.length < 1_000) return out;
    from = page.at(-1)!.seq + 1;
  }
}

async function checkLedger(store: Store, shopperIds: readonly string[], sent: readonly Sent[]): Promise<void> {
  const audit = await allAudit(store);
  expect(verifyAuditChain(audit)).toMatchObject({ ok: true });
  let records = 0;
  for (const shopperId of shopperIds) {
    const ledger: ConsentRecord[] = await store.listConsentRecords(shopperId);
    records += ledger.length;
    // Every acknowledged change is there, and nothing that was never sent.
    const mine = sent.filter((s) => s.shopperId === shopperId);
    expect(ledger.length).toBeGreaterThanOrEqual(mine.filter((s) => s.acked).length);
    expect(ledger.length).toBeLessThanOrEqual(mine.length);
    // The derived state is the replay of the records — nothing half-written.
    const state = await store.getConsentState(shopperId);
    expect(state).toEqual(replayConsent(ledger));
    // Each record's previous state is the one before it, for its purpose, even with changes racing.
    const last = new Map<Purpose, boolean>();
    for (const record of ledger) {
      expect({ purpose: record.purpose, previousGranted: record.previousGranted }).toEqual({ purpose: record.purpose, previousGranted: last.get(record.purpose) ?? null });
      last.set(record.purpose, record.granted);
    }
    // One audit entry per record, in the same order: written in the same transaction.
    const entries = audit.filter((e) => e.action === 'consent.changed' && e.subject === shopperId);
    expect(entries.map((e) => [e.details.purpose, e.details.granted])).toEqual(ledger.map((r) => [r.purpose, r.granted]));
  }
  expect(records).toBeGreaterThanOrEqual(sent.filter((s) => s.acked).length);
}

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

/** A data directory and the env that points `vicino server` at a fresh database of the kind, and that database's Store. */
async function database(kind: 'sqlite' | 'postgres'): Promise<{ env: Record<string, string>; store: () => Promise<Store> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vicino-crash-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  if (kind === 'sqlite') {
    return {
      env: { DATA_DIR: dataDir },
      store: async () => {
        const store = openSqliteStore(join(dataDir, 'vicino.db'));
        cleanups.push(() => store.close());
        return store;
      },
    };
  }
  // A fresh schema, migrated by the test's own Store; the server process uses it through search_path.
  const testStore: TestStore = await openTestStore('postgres');
  cleanups.push(() => testStore.close());
  const [schema] = (await testStore.rows('SELECT current_schema() AS s')).map((r) => String(r.s));
  const databaseUrl = new URL(process.env.DATABASE_URL!);
  databaseUrl.searchParams.set('options', `-c search_path=${schema}`);
  return { env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl.toString() }, store: async () => testStore.store };
}

describe.each(STORE_KINDS)('the consent ledger across a killed server process, on %s', (kind) => {
  it('keeps every acknowledged change, each whole, with its audit entry; the state is the replay; the chain holds', async () => {
    const broker: TestBroker = await startTestBroker();
    cleanups.push(() => broker.close());
    const db = await database(kind);
    const { run, url } = await startServer({ ...db.env, MQTT_URL: broker.url });
    const { shopperIds, sent } = await stormAndKill(url, run);
    await checkLedger(await db.store(), shopperIds, sent);
  }, 90_000);
});
