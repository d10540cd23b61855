import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerVirtualApp, type VirtualApp } from '#simulator/app/virtual-app.ts';
import { DAY_MS } from '#test/helpers/builders.ts';
import { bearer, buildTestApp, type TestApp } from '#test/helpers/build-test-app.ts';

// The virtual app against the real server over HTTP: when its credential expires it rotates it — signed
// with a request proof — and retries, once for any number of requests that learn it at the same time.

describe('virtual app credentials', () => {
  let t: TestApp;
  let app: VirtualApp;

  beforeEach(async () => {
    t = await buildTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    app = await registerVirtualApp({ baseUrl: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`, now: t.deps.now });
    await app.setConsent({ presence: true, promotions: true });
  });
  afterEach(async () => {
    await app.close();
    await t.close();
  });

  const actions = async (): Promise<string[]> => (await t.deps.store.listAudit(1, 1_000)).filter((r) => r.subject === app.shopperId).map((r) => `${r.action}:${String(r.details.reason ?? '')}`);

  it('rotates an expired credential once and retries every request that was refused', async () => {
    const first = app.token();
    t.clock.advance(181 * DAY_MS);
    const [regions, consents] = await Promise.all([app.regions(), app.setConsent({ analytics: false }), app.regions()]);
    expect(regions).toEqual([]);
    expect(consents).toMatchObject({ presence: { granted: true }, analytics: { granted: false } });
    expect(app.token()).not.toBe(first);
    const audit = await actions();
    expect(audit.filter((a) => a === 'credential.rotated:')).toHaveLength(1);
    expect(audit.filter((a) => a === 'credential.refused:expired')).toHaveLength(1);
    // The replaced credential is refused as such.
    const old = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(first) });
    expect(old.json()).toMatchObject({ error: { code: 'CREDENTIAL_REVOKED' } });
  });

  it('opens its promotion stream after rotating a credential that expired', async () => {
    const first = app.token();
    t.clock.advance(181 * DAY_MS);
    await app.connect();
    expect(app.token()).not.toBe(first);
    expect(t.deps.delivery.connected()).toBe(1);
  });

  it('rotates on demand with a signed request; the same request unsigned is refused', async () => {
    const first = app.token();
    await app.rotateToken();
    expect(app.token()).not.toBe(first);
    expect((await actions()).filter((a) => a === 'credential.rotated:')).toHaveLength(1);
    const refused = await app.api('POST', '/v1/me/token').catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 401, body: { error: { code: 'PROOF_REQUIRED' } } });
    await expect(app.regions()).resolves.toEqual([]);
  });
});
