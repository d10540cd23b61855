import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordOfProcessing } from '#server/domain/transparency.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { runRopaCommand } from '#simulator/cli/ropa.ts';
import { aCampaign } from '#test/helpers/builders.ts';
import { bearer, buildTestApp, createApiKey, expectStatus, putCampaign, putStore, type TestApp } from '#test/helpers/build-test-app.ts';

// GET /v1/admin/privacy/ropa (issue 8): the record of processing activities for the console's privacy
// page — the very document `vicino ropa` prints for the same database, as JSON or Markdown.

let dir: string;
let store: Store;
let t: TestApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vicino-ropa-route-'));
  store = openSqliteStore(join(dir, 'vicino.db'));
  t = await buildTestApp({ store });
  expectStatus(await putStore(t, 'shop-1', [{ id: 'entrance', name: 'Entrance' }, { id: 'pharmacy', name: 'Pharmacy', sensitive: true }]), 200);
  expectStatus(await putStore(t, 'annex', [{ id: 'tills', name: 'Tills' }]), 200);
  expectStatus(await putCampaign(t, aCampaign({ id: 'bread-20', storeId: 'shop-1', zoneIds: ['entrance'], name: 'Fresh bread' })), 200);
});
afterAll(async () => {
  await t.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What `vicino ropa` prints for this database, with the server's default environment. */
async function cli(format: 'json' | 'markdown'): Promise<string> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const code = await runRopaCommand(['--format', format, '--data-dir', dir], {}, { stdout, stderr });
  expect(code).toBe(0);
  return Buffer.concat(chunks).toString('utf8');
}

const ropa = (query = '', token = t.adminToken) => t.app.inject({ method: 'GET', url: `/v1/admin/privacy/ropa${query}`, headers: bearer(token) });

describe('GET /v1/admin/privacy/ropa', () => {
  it('answers the record vicino ropa prints: every store, its zones, sensitive ones apart, and its campaigns', async () => {
    const record = expectStatus<RecordOfProcessing>(await ropa(), 200);
    expect(record).toEqual(JSON.parse(await cli('json')));
    expect(record).toMatchObject({ document: 'record-of-processing-activities', legalReference: 'GDPR art. 30(1)', controller: { configured: false } });
    expect(record.stores).toEqual([
      { id: 'annex', name: 'Store annex', timezone: 'Europe/Rome', zoneIds: ['tills'], sensitiveZoneIds: [], campaigns: [] },
      { id: 'shop-1', name: 'Store shop-1', timezone: 'Europe/Rome', zoneIds: ['entrance', 'pharmacy'], sensitiveZoneIds: ['pharmacy'], campaigns: [{ id: 'bread-20', name: 'Fresh bread', status: 'active', zoneIds: ['entrance'] }] },
    ]);
  });

  it('answers it as Markdown on request, as vicino ropa --format markdown prints it', async () => {
    const response = await ropa('?format=markdown');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(response.body).toBe(await cli('markdown'));
    expect(response.body).toContain('### Store shop-1 (`shop-1`, Europe/Rome)');
  });

  it('refuses an unknown format, naming it, and is open to every role that reads privacy documents', async () => {
    const bad = await ropa('?format=pdf');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.fields).toEqual(['format']);
    for (const role of ['marketer', 'analyst', 'auditor'] as const) expect((await ropa('', (await createApiKey(t, role)).key)).statusCode).toBe(200);
  });
});
