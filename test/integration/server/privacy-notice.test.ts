import { afterEach, describe, expect, it } from 'vitest';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import { CONTROLLER_NAME_UNSET, SENSITIVE_ZONE_NOTE, type PrivacyNotice } from '#server/domain/transparency.ts';
import { aCampaign } from '#test/helpers/builders.ts';
import { buildTestApp, expectStatus, putCampaign, putStore, type TestApp } from '#test/helpers/build-test-app.ts';

// TRN-1 over real HTTP: GET /p/<storeId> (HTML) and /p/<storeId>.json, public, generated from the
// store's configuration as it is at the time of the request.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function givenShop(): Promise<TestApp> {
  t = await buildTestApp();
  expectStatus(await putStore(t, 'shop-1', [{ id: 'entrance', name: 'Entrance' }, { id: 'pharmacy', name: 'Pharmacy', sensitive: true }, { id: 'bakery' }]), 200);
  expectStatus(await putCampaign(t, aCampaign({ storeId: 'shop-1', zoneIds: ['bakery'] })), 200);
  return t;
}

describe('the privacy notice at /p/<storeId>', () => {
  it('serves the store\'s notice as JSON, without authentication, listing its zones and the retention in force', async () => {
    const app = await givenShop();
    const response = await app.app.inject({ method: 'GET', url: '/p/shop-1.json' });
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    const notice = expectStatus<PrivacyNotice>(response, 200);
    expect(notice.store).toEqual({ id: 'shop-1', name: 'Store shop-1', timezone: 'Europe/Rome' });
    expect(notice.zones.map((zone) => zone.id)).toEqual(['bakery', 'entrance', 'pharmacy']);
    expect(notice.zones.find((zone) => zone.id === 'pharmacy')).toEqual({ id: 'pharmacy', name: 'Pharmacy', sensitive: true, note: SENSITIVE_ZONE_NOTE });
    expect(notice.zones.find((zone) => zone.id === 'entrance')?.note).toBeNull();
    expect(notice.purposes.map((p) => p.code)).toEqual(['P1', 'P2', 'P3', 'P4']);
    expect(notice.purposes[0]!.consentText.sha256).toBe(CURRENT_CONSENT_TEXTS.presence.sha256);
    expect(notice.data.find((category) => category.id === 'presence')?.retention).toMatch(/^24 hours, then deleted/);
    expect(notice.data.find((category) => category.id === 'promotion-deliveries')?.retention).toMatch(/^730 days/);
    expect(notice.rights.map((right) => right.right).join(' ')).toMatch(/Access.*Erasure.*Objection.*Restriction.*Withdrawal/);
    expect(notice.controller).toEqual({ name: CONTROLLER_NAME_UNSET, contact: '(not configured: set CONTROLLER_CONTACT)', configured: false });
    expect(notice.activeCampaigns).toBe(1);
  });

  it('serves the same notice as a self-contained HTML page readable on a phone', async () => {
    const app = await givenShop();
    const response = await app.app.inject({ method: 'GET', url: '/p/shop-1' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    const html = response.body;
    expect(html).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
    for (const zone of ['Entrance', 'Pharmacy', 'bakery']) expect(html).toContain(zone);
    expect(html).toContain(SENSITIVE_ZONE_NOTE);
    expect(html).toContain(CONTROLLER_NAME_UNSET);
    for (const heading of ['Who is responsible', 'What we do, and why', 'What data, and for how long', 'Your rights']) expect(html).toContain(`<h2>${heading}</h2>`);
    // Self-contained: no script, no stylesheet or image fetched from anywhere.
    expect(html).not.toMatch(/<script|<link|<img|src=|@import/i);
    expect('/p/shop-1'.length).toBe(9);
  });

  it('reflects a zone added since the last request: it is generated from the live configuration', async () => {
    const app = await givenShop();
    expectStatus(await putStore(app, 'shop-1', [{ id: 'entrance' }, { id: 'checkout' }]), 200);
    const notice = expectStatus<PrivacyNotice>(await app.app.inject({ method: 'GET', url: '/p/shop-1.json' }), 200);
    expect(notice.zones.map((zone) => zone.id)).toContain('checkout');
  });

  it('escapes a store name holding markup', async () => {
    t = await buildTestApp();
    await t.deps.store.upsertStore({ id: 'shop-x', name: '<script>alert("x")</script> & Co', timezone: 'Europe/Rome' });
    await t.deps.store.upsertZone({ storeId: 'shop-x', id: 'entrance', name: '<b>Door</b>', sensitive: false });
    const html = (await t.app.inject({ method: 'GET', url: '/p/shop-x' })).body;
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>Door</b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(html).toContain('&lt;b&gt;Door&lt;/b&gt;');
    const notice = expectStatus<PrivacyNotice>(await t.app.inject({ method: 'GET', url: '/p/shop-x.json' }), 200);
    expect(notice.store.name).toBe('<script>alert("x")</script> & Co');
  });

  it('answers 404 naming the store for an unknown store, in both formats', async () => {
    await givenShop();
    for (const url of ['/p/no-such-shop', '/p/no-such-shop.json']) {
      const response = await t!.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const message = 'no store "no-such-shop": there is no privacy notice for it';
      expect(response.json()).toEqual({ error: { code: 'NOT_FOUND', message, fields: ['storeId'], issues: [{ field: 'storeId', message }] } });
    }
  });
});
