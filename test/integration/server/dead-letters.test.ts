import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, createApiKey, expectStatus, type TestApp } from '#test/helpers/build-test-app.ts';
import { START_MS, uniqueId } from '#test/helpers/builders.ts';

// The operator's view of the push webhook's dead letters (server/routes/dead-letter-routes.ts): list them in
// pages, requeue them, audited; admin only; bad input named.

let t: TestApp;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(async () => {
  await t.close();
});

/** Rows dead-lettered as the worker would leave them: queued, claimed once, refused. */
async function deadLetters(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => uniqueId('prm')).sort();
  for (const id of ids) await t.deps.store.enqueueWebhookDelivery(id, START_MS);
  await t.deps.store.claimWebhookDeliveries(START_MS, 60_000, 1000);
  for (const id of ids) await t.deps.store.finishWebhookAttempt(id, 1, { status: 'dead', atMs: START_MS + 1, error: 'http 410' });
  return ids;
}

const get = (url: string, token = t.adminToken) => t.app.inject({ method: 'GET', url, headers: bearer(token) });
const replay = (payload: unknown, token = t.adminToken) => t.app.inject({ method: 'POST', url: '/v1/admin/webhook/dead-letters/replay', headers: bearer(token), payload: payload as object });

describe('webhook dead letters', () => {
  it('lists them in pages with delivery metadata only, and requeues the ones asked for, audited with the admin', async () => {
    const ids = await deadLetters(3);
    const first = expectStatus<{ deadLetters: { promotionId: string }[]; next: string | null }>(await get('/v1/admin/webhook/dead-letters?limit=2'), 200);
    expect(first.deadLetters).toEqual([
      { promotionId: ids[0], attempts: 1, replays: 0, lastError: 'http 410', deadAtMs: START_MS + 1 },
      { promotionId: ids[1], attempts: 1, replays: 0, lastError: 'http 410', deadAtMs: START_MS + 1 },
    ]);
    const second = expectStatus<{ deadLetters: { promotionId: string }[]; next: string | null }>(await get(`/v1/admin/webhook/dead-letters?limit=2&after=${first.next}`), 200);
    expect(second).toMatchObject({ deadLetters: [{ promotionId: ids[2] }], next: null });

    const admin = await createApiKey(t, 'admin', 'Ops');
    const unknown = uniqueId('prm');
    expect(expectStatus(await replay({ promotionIds: [ids[0], unknown] }, admin.key), 200)).toEqual({ requeued: [ids[0]], notDead: [unknown] });
    expect(await t.deps.store.getWebhookDelivery(ids[0]!)).toMatchObject({ status: 'queued', replays: 1, nextAttemptAtMs: t.clock.now() });
    expect((await get('/v1/admin/webhook/dead-letters')).json().deadLetters.map((d: { promotionId: string }) => d.promotionId)).toEqual([ids[1], ids[2]]);
    const audit = (await t.deps.store.listAudit(1, 1000)).filter((e) => e.action === 'webhook.replayed');
    expect(audit.map((e) => [e.actor, e.details])).toEqual([[admin.principalId, { requested: 2, requeued: 1 }]]);
  });

  it('refuses a bad body or query with a 400 naming the field, and requeues nothing', async () => {
    const [id] = await deadLetters(1);
    for (const [payload, field] of [[{}, 'promotionIds'], [{ promotionIds: [] }, 'promotionIds'], [{ promotionIds: [id, id] }, 'promotionIds'], [{ promotionIds: [id], all: true }, '']] as const) {
      const response = await replay(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      if (field !== '') expect(response.json().error.fields).toContain(field);
    }
    expect((await get('/v1/admin/webhook/dead-letters?limit=0')).json()).toMatchObject({ error: { code: 'INVALID_PARAMS', fields: ['limit'] } });
    expect((await get('/v1/admin/webhook/dead-letters?limit=501')).json()).toMatchObject({ error: { fields: ['limit'] } });
    expect((await t.deps.store.getWebhookDelivery(id!))?.status).toBe('dead');
  });

  it('is for admins only: a marketer, an analyst and an auditor get a 403, and no key a 401', async () => {
    const [id] = await deadLetters(1);
    for (const role of ['marketer', 'analyst', 'auditor'] as const) {
      const key = await createApiKey(t, role);
      expect((await get('/v1/admin/webhook/dead-letters', key.key)).statusCode).toBe(403);
      expect((await replay({ promotionIds: [id] }, key.key)).statusCode).toBe(403);
    }
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/webhook/dead-letters' })).statusCode).toBe(401);
    expect((await t.deps.store.getWebhookDelivery(id!))?.status).toBe('dead');
  });
});
