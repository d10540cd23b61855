import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '#server/domain/audit-chain.ts';
import { authenticateSignedRequest } from '#server/auth/request-proof.ts';
import { newAppToken } from '#server/identity.ts';
import { createProofSigner } from '#simulator/app/request-proof.ts';
import { aShopper, DAY_MS, SECOND_MS } from '#test/helpers/builders.ts';
import { bearer, buildTestApp, expectStatus, registerShopper, type RegisteredShopper, type TestApp } from '#test/helpers/build-test-app.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';

// App credentials over the real HTTP app: expiry, rotation by POST /v1/me/token signed with a request
// proof, and every way a credential or proof is refused — with a clear 401, audited where there is a
// shopper to attribute it to (never with the token, nonce or signature). SQLite, and PostgreSQL when
// DATABASE_URL is set.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(STORE_KINDS)('app credentials (%s)', (kind) => {
  let testStore: TestStore;
  let t: TestApp;
  let ada: RegisteredShopper;

  beforeEach(async () => {
    testStore = await openTestStore(kind);
    t = await buildTestApp({ store: testStore.store });
    // A signed route as the data-subject rights routes declare theirs, with a JSON body and a query.
    t.app.post('/test/signed', async (request) => ({ shopperId: (await authenticateSignedRequest(t.deps, request)).id, body: request.body }));
    ada = await registerShopper(t.app);
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });

  const auditOf = async (subject: string): Promise<AuditRecord[]> => (await t.deps.store.listAudit(1, 10_000)).filter((r) => r.subject === subject);
  const errorOf = (response: LightMyRequestResponse): { code: string; message: string; fields: string[] } => response.json<{ error: { code: string; message: string; fields: string[] } }>().error;

  /** POST /v1/me/token as the app sends it: the credential, and a proof over the exact body bytes. */
  function rotate(token: string, options: { signer?: RegisteredShopper['tokens']['proofs']; body?: string; signedBody?: string; atMs?: number; proof?: string } = {}) {
    const body = options.body ?? '';
    const proof = options.proof ?? (options.signer ?? ada.tokens.proofs).sign({ method: 'POST', pathWithQuery: '/v1/me/token', body: options.signedBody ?? body, nowMs: options.atMs ?? t.deps.now() });
    return t.app.inject({
      method: 'POST', url: '/v1/me/token', payload: body,
      headers: { ...bearer(token), 'vicino-proof': proof, ...(body === '' ? {} : { 'content-type': 'application/json' }) },
    });
  }
  const me = (token: string) => t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(token) });

  it('rotates the credential: the new one works, the old one is refused as replaced, audited once', async () => {
    const rotated = expectStatus<{ token: string; issuedAtMs: number; expiresAtMs: number }>(await rotate(ada.token), 201);
    expect(rotated).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), issuedAtMs: t.deps.now(), expiresAtMs: t.deps.now() + 180 * DAY_MS });
    expectStatus(await me(rotated.token), 200);

    for (let i = 0; i < 3; i += 1) {
      const refused = await me(ada.token);
      expect(refused.statusCode).toBe(401);
      expect(errorOf(refused)).toMatchObject({ code: 'CREDENTIAL_REVOKED', message: expect.stringContaining('replaced') });
    }
    const audit = await auditOf(ada.shopperId);
    expect(audit.map((r) => [r.action, r.details])).toEqual([
      ['credential.rotated', { route: 'POST /v1/me/token' }],
      ['credential.refused', { credential: 'app-token', reason: 'rotated', route: 'GET /v1/me' }],
    ]);
    const text = JSON.stringify(audit);
    for (const secret of [ada.token, rotated.token]) expect(text).not.toContain(secret);
  });

  it('refuses an unknown credential with a plain 401, auditing nothing', async () => {
    const before = (await t.deps.store.listAudit(1, 10_000)).length;
    const refused = await me(newAppToken().token);
    expect(refused.statusCode).toBe(401);
    expect(errorOf(refused).code).toBe('UNAUTHENTICATED');
    expect(await t.deps.store.listAudit(1, 10_000)).toHaveLength(before);
  });

  it('refuses an expired credential, telling the app to rotate it; audits that once; the rotation accepts it', async () => {
    t.clock.advance(180 * DAY_MS);
    expectStatus(await me(ada.token), 200);
    t.clock.advance(SECOND_MS);
    for (let i = 0; i < 3; i += 1) {
      const refused = await t.app.inject({ method: 'GET', url: '/v1/me/promotions', headers: bearer(ada.token) });
      expect(refused.statusCode).toBe(401);
      expect(errorOf(refused)).toMatchObject({ code: 'CREDENTIAL_EXPIRED', message: expect.stringContaining('POST /v1/me/token') });
    }
    expect((await auditOf(ada.shopperId)).map((r) => r.details)).toEqual([{ credential: 'app-token', reason: 'expired', route: 'GET /v1/me/promotions' }]);

    const rotated = expectStatus<{ token: string }>(await rotate(ada.token), 201);
    expectStatus(await me(rotated.token), 200);
    expect(errorOf(await me(ada.token)).code).toBe('CREDENTIAL_REVOKED');
  });

  it('refuses a rotation without a well-formed proof, naming the header, auditing nothing', async () => {
    for (const proof of [undefined, 'sig=00', `t=${Math.floor(t.deps.now() / 1000)},n=${'a'.repeat(32)},sig=${'b'.repeat(63)}`]) {
      const refused = await t.app.inject({ method: 'POST', url: '/v1/me/token', headers: { ...bearer(ada.token), ...(proof === undefined ? {} : { 'vicino-proof': proof }) } });
      expect(refused.statusCode).toBe(401);
      expect(errorOf(refused)).toMatchObject({ code: 'PROOF_REQUIRED', message: expect.stringContaining('Vicino-Proof'), fields: ['headers.vicino-proof'] });
    }
    expect(await auditOf(ada.shopperId)).toEqual([]);
    expectStatus(await me(ada.token), 200);
  });

  it.each<[string, (token: string) => Promise<LightMyRequestResponse>]>([
    ['made with another app\'s key', (token) => rotate(token, { signer: createProofSigner(randomBytes(32)) })],
    ['over other body bytes', (token) => rotate(token, { body: '{}', signedBody: '{ }' })],
    ['for another path', (token) => rotate(token, { proof: ada.tokens.proofs.sign({ method: 'POST', pathWithQuery: '/v1/me/token?x=1', nowMs: t.deps.now() }) })],
    ['for another method', (token) => rotate(token, { proof: ada.tokens.proofs.sign({ method: 'PUT', pathWithQuery: '/v1/me/token', nowMs: t.deps.now() }) })],
  ])('refuses a proof %s as invalid, audited, and keeps the credential', async (_name, send) => {
    const refused = await send(ada.token);
    expect(refused.statusCode).toBe(401);
    expect(errorOf(refused)).toMatchObject({ code: 'PROOF_INVALID', fields: ['headers.vicino-proof'] });
    expect((await auditOf(ada.shopperId)).map((r) => r.details)).toEqual([{ credential: 'request-proof', reason: 'invalid', route: 'POST /v1/me/token' }]);
    expectStatus(await me(ada.token), 200);
  });

  it('refuses a proof more than 300 s from the server\'s time, audited', async () => {
    for (const skewMs of [-301 * SECOND_MS, 302 * SECOND_MS]) {
      const refused = await rotate(ada.token, { atMs: t.deps.now() + skewMs });
      expect(refused.statusCode).toBe(401);
      expect(errorOf(refused)).toMatchObject({ code: 'PROOF_EXPIRED', message: expect.stringContaining('300 s') });
    }
    expect((await auditOf(ada.shopperId)).map((r) => r.details.reason)).toEqual(['expired', 'expired']);
    expectStatus(await rotate(ada.token, { atMs: t.deps.now() - 299 * SECOND_MS }), 201);
  });

  it('refuses a replayed proof, even when its first use was refused for another reason, audited', async () => {
    const proof = ada.tokens.proofs.sign({ method: 'POST', pathWithQuery: '/v1/me/token', body: '{"ttl":1}', nowMs: t.deps.now() });
    const send = () => rotate(ada.token, { body: '{"ttl":1}', proof });
    const first = await send();
    expect(first.statusCode).toBe(400);
    expect(errorOf(first)).toMatchObject({ code: 'INVALID_BODY', fields: ['ttl'] });
    const replayed = await send();
    expect(replayed.statusCode).toBe(401);
    expect(errorOf(replayed).code).toBe('PROOF_REPLAYED');
    expect((await auditOf(ada.shopperId)).map((r) => r.details)).toEqual([{ credential: 'request-proof', reason: 'replayed', route: 'POST /v1/me/token' }]);
    // A fresh nonce goes through.
    expectStatus(await rotate(ada.token), 201);
  });

  it('lets one of two concurrent rotations of the same credential win; the other is refused', async () => {
    const [a, b] = await Promise.all([rotate(ada.token), rotate(ada.token)]);
    const statuses = [a, b].map((r) => r.statusCode).sort();
    expect(statuses[0]).toBe(201);
    const loser = a.statusCode === 201 ? b : a;
    // 409 when both passed authentication before either swapped; 401 (replaced) when the winner had committed first.
    expect([['CONFLICT', 409], ['CREDENTIAL_REVOKED', 401]]).toContainEqual([errorOf(loser).code, loser.statusCode]);
    const winner = (a.statusCode === 201 ? a : b).json<{ token: string }>();
    expectStatus(await me(winner.token), 200);
  });

  it('never accepts a proof for a shopper whose identity key is gone (erased)', async () => {
    const { token, tokenHash } = newAppToken();
    const keyless = aShopper({ tokenHash, identityKeySealed: null, createdAtMs: t.deps.now() });
    await t.deps.store.createShopper(keyless);
    for (const signer of [ada.tokens.proofs, createProofSigner(Buffer.alloc(32))]) {
      const refused = await rotate(token, { signer });
      expect(refused.statusCode).toBe(401);
      expect(errorOf(refused).code).toBe('PROOF_INVALID');
    }
  });

  it('treats a replaced credential of an erased shopper as unknown, auditing nothing', async () => {
    const first = ada.token;
    expectStatus(await rotate(first), 201);
    // Erasure is another route's: here the Store answers as it will once the shopper is erased.
    const real = t.deps.store;
    t.deps.store = new Proxy(real, {
      get(target, property, receiver) {
        if (property !== 'getShopper') return Reflect.get(target, property, receiver) as unknown;
        return async (id: string) => {
          const shopper = await real.getShopper(id);
          return shopper === undefined || id !== ada.shopperId ? shopper : { ...shopper, erasedAtMs: t.deps.now(), identityKeySealed: null };
        };
      },
    });
    try {
      const before = (await real.listAudit(1, 10_000)).length;
      expect(errorOf(await me(first))).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(await real.listAudit(1, 10_000)).toHaveLength(before);
    } finally {
      t.deps.store = real;
    }
  });

  describe('a signed route (authenticateSignedRequest, for the rights routes)', () => {
    const signed = (token: string, body: string, options: { url?: string; signedBody?: string } = {}) => {
      const url = options.url ?? '/test/signed?format=json';
      const proof = ada.tokens.proofs.sign({ method: 'POST', pathWithQuery: url, body: options.signedBody ?? body, nowMs: t.deps.now() });
      return t.app.inject({ method: 'POST', url, payload: body, headers: { ...bearer(token), 'vicino-proof': proof, 'content-type': 'application/json; charset=utf-8' } });
    };

    it('serves a request signed over its exact bytes and query, once', async () => {
      const body = '{ "reason" : "moving away",\n "scope": ["all"] }';
      const proof = ada.tokens.proofs.sign({ method: 'POST', pathWithQuery: '/test/signed?format=json', body, nowMs: t.deps.now() });
      const send = () => t.app.inject({ method: 'POST', url: '/test/signed?format=json', payload: body, headers: { ...bearer(ada.token), 'vicino-proof': proof, 'content-type': 'application/json' } });
      expect(expectStatus(await send(), 200)).toEqual({ shopperId: ada.shopperId, body: { reason: 'moving away', scope: ['all'] } });
      expect(errorOf(await send()).code).toBe('PROOF_REPLAYED');
    });

    it('refuses a body that differs from the signed bytes, even as the same JSON', async () => {
      expect(errorOf(await signed(ada.token, '{"a":1}', { signedBody: '{"a": 1}' })).code).toBe('PROOF_INVALID');
    });

    it('answers a malformed JSON body with 400 INVALID_BODY: the body is parsed before any credential check', async () => {
      const refused = await signed(ada.token, '{"a":');
      expect(refused.statusCode).toBe(400);
      expect(errorOf(refused).code).toBe('INVALID_BODY');
    });

    it('does not accept an expired credential, even with a valid proof', async () => {
      t.clock.advance(181 * DAY_MS);
      expect(errorOf(await signed(ada.token, '{}')).code).toBe('CREDENTIAL_EXPIRED');
    });
  });
});
