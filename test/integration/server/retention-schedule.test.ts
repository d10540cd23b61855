import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '#server/domain/retention.ts';
import { hashToken } from '#server/identity.ts';
import { DEFAULT_EVENT_WINDOW } from '#server/ingest/presence-ingest.ts';
import { counterValue } from '#server/metrics.ts';
import type { RetentionAuditEntry } from '#server/retention/purge-job.ts';
import { startServer, type RunningServer, type ServerOptions } from '#server/server.ts';
import { aPresence, aShopper, START_MS } from '#test/helpers/builders.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { startTestBroker, type TestBroker } from '#test/helpers/start-broker.ts';

// The server runs the retention purge itself (server.ts): once at start, then hourly, on its injected
// clock, handing each audit entry to `retentionAudit` and logging and counting it.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function start(overrides: Partial<ServerOptions>): Promise<{ server: RunningServer; testStore: TestStore; broker: TestBroker; logs: ReturnType<typeof createLogSink> }> {
  const broker = await startTestBroker();
  closers.push(() => broker.close());
  const testStore = await openTestStore('sqlite');
  closers.push(() => testStore.close());
  const logs = createLogSink();
  const server = await startServer({
    store: testStore.store, masterKey: randomBytes(32), logger: logs.logger, adminTokenHash: hashToken(randomBytes(24).toString('base64url')),
    mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' }, ...overrides,
  });
  closers.push(() => server.close());
  return { server, testStore, broker, logs };
}

describe('the server\'s retention schedule', () => {
  it('purges at start on its own clock, audits each purge, and purges again when asked', async () => {
    const nowMs = START_MS;
    const audited: RetentionAuditEntry[] = [];
    const { server, testStore, logs } = await start({ now: () => nowMs, retention: { presenceEventsMs: 6 * HOUR_MS }, retentionAudit: (entry) => void audited.push(entry) });
    const shopper = aShopper();
    await server.store.createShopper(shopper);
    const old = aPresence({ shopperId: shopper.id, atS: (nowMs - 7 * HOUR_MS) / 1000 });
    const fresh = aPresence({ shopperId: shopper.id, atS: (nowMs - 5 * HOUR_MS) / 1000 });
    // The start-up run, in the background.
    await expect.poll(() => audited.length).toBe(7);
    expect(audited.map((e) => [e.what, e.cutoffMs])).toEqual([['presence-events', nowMs - 6 * HOUR_MS], ['zone-states', nowMs - 6 * HOUR_MS], ['delivery-records', nowMs - 730 * DAY_MS], ['webhook-deliveries', nowMs - 730 * DAY_MS], ['event-sequences', nowMs - (DEFAULT_EVENT_WINDOW.pastS + 60) * 1000], ['proof-nonces', nowMs], ['visit-history', nowMs - 365 * DAY_MS]]);

    for (const event of [old, fresh]) await server.store.recordPresence(event, nowMs);
    const report = await server.purge();
    expect(report.purged[0]).toEqual({ what: 'presence-events', count: 1, cutoffMs: nowMs - 6 * HOUR_MS });
    expect((await testStore.rows('SELECT event_id FROM presence_events')).map((r) => r.event_id)).toEqual([fresh.eventId]);
    expect(await counterValue(server.metrics.retentionAuditEntries)).toBe(14);
    // RET-4 in the tamper-evident audit log (ACC-1): one entry per purge, the empty ones included.
    const purges = (await server.store.listAudit(1, 100)).filter((record) => record.action === 'retention.purged');
    expect(purges).toHaveLength(14);
    expect(purges.at(-7)).toMatchObject({ actor: 'system', subject: 'presence-events', details: { count: 1, cutoffMs: nowMs - 6 * HOUR_MS } });
    expect(logs.lines().filter((line) => line.component === 'retention' && line.msg === 'retention purge')).toContainEqual(
      expect.objectContaining({ what: 'presence-events', count: 1, cutoffMs: nowMs - 6 * HOUR_MS, cutoff: new Date(nowMs - 6 * HOUR_MS).toISOString() }));
  });

  it('refuses to start with a retention window longer than the requirements allow', async () => {
    await expect(start({ retention: { presenceEventsMs: 48 * HOUR_MS } })).rejects.toThrow(/presenceEventsMs may not exceed 24 hours/);
  });
});
