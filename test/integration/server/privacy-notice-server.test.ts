import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { PrivacyNotice } from '#server/domain/transparency.ts';
import { hashToken } from '#server/identity.ts';
import { startServer } from '#server/server.ts';
import { openTestStore } from '#test/helpers/open-test-store.ts';
import { startTestBroker } from '#test/helpers/start-broker.ts';

// The notice as a running server states it: the controller and retention windows given to startServer
// (main.ts passes CONTROLLER_* and RETENTION_*) reach /p/<storeId>.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

describe('the privacy notice of a running server', () => {
  it('states the configured controller and retention windows, over real HTTP', async () => {
    const broker = await startTestBroker();
    closers.push(() => broker.close());
    const testStore = await openTestStore('sqlite');
    closers.push(() => testStore.close());
    await testStore.store.upsertStore({ id: 'shop-1', name: 'Shop 1', timezone: 'Europe/Rome' });
    await testStore.store.upsertZone({ storeId: 'shop-1', id: 'entrance', name: 'Entrance', sensitive: false });
    const server = await startServer({
      store: testStore.store, masterKey: randomBytes(32), logger: pino({ level: 'silent' }),
      adminTokenHash: hashToken(randomBytes(24).toString('base64url')), mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' },
      controller: { name: 'Example Retail S.p.A.', contact: 'privacy@example.com' },
      retention: { presenceEventsMs: 6 * 3_600_000, deliveryRecordsMs: 90 * 86_400_000 },
    });
    closers.push(() => server.close());
    const response = await fetch(`${server.url}/p/shop-1.json`);
    expect(response.status).toBe(200);
    const notice = (await response.json()) as PrivacyNotice;
    expect(notice.controller).toEqual({ name: 'Example Retail S.p.A.', contact: 'privacy@example.com', configured: true });
    expect(notice.data.find((c) => c.id === 'presence')?.retentionMs).toBe(6 * 3_600_000);
    expect(notice.data.find((c) => c.id === 'promotion-deliveries')?.retention).toMatch(/^90 days, then deleted/);
    expect(notice.zones.map((z) => z.id)).toEqual(['entrance']);
    const html = await (await fetch(`${server.url}/p/shop-1`)).text();
    expect(html).toContain('<a href="mailto:privacy@example.com">privacy@example.com</a>');
    expect(html).not.toContain('not ready for use');
  });
});
