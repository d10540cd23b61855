import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowser, type TestBrowser } from '#test/helpers/browser.ts';
import { bearer, buildTestApp, expectStatus, type TestApp } from '#test/helpers/build-test-app.ts';
import { fieldError, goTo, listen, logIn, SHOWN, textNow } from '#test/helpers/console-page.ts';
import { createConsoleUser, type ConsoleUser } from '#test/helpers/console-users.ts';

// An admin configures a store from the console, in Chromium over a real, listening server: the store's
// zones and hours, its beacon registry, a gateway provisioned (its config file downloaded once, with its
// secret) and a till. Every refusal shows the server's message next to the field at fault.

let t: TestApp;
let baseUrl: string;
let browser: TestBrowser;
let admin: ConsoleUser;

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

beforeAll(async () => {
  t = await buildTestApp();
  baseUrl = await listen(t.app);
  browser = await startBrowser();
  admin = await createConsoleUser(t.deps.store, { username: 'admin.one', role: 'admin' });
});

type StoreView = { name: string; timezone: string; zones: { id: string; name: string; sensitive: boolean }[]; openingHours?: unknown; beacons: { id: string; zoneId: string; uuid: string; major: number; minor: number }[] };
const readStore = async (id: string): Promise<StoreView> =>
  expectStatus<StoreView>(await t.app.inject({ method: 'GET', url: `/v1/admin/stores/${id}`, headers: bearer(t.adminToken) }), 200);

describe('an admin sets up a store', () => {
  it('creates a store with zones and opening hours; a bad time zone is refused next to its field', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, admin);
    await goTo(page, 'Stores', 'Stores');
    await page.getByRole('link', { name: 'New store' }).click();
    await page.getByRole('heading', { level: 1, name: 'New store' }).waitFor();
    await page.getByLabel('Store ID').fill('milano-1');
    await page.locator('[name="name"]').fill('Milano Centrale');
    await page.getByLabel('Time zone').fill('Europe/Milano');
    await page.getByLabel('Zone 1 ID').fill('entrance');
    await page.locator('[name="zones.0.name"]').fill('Entrance');
    await page.getByRole('button', { name: 'Add a zone' }).click();
    await page.getByLabel('Zone 2 ID').fill('pharmacy');
    await page.locator('[name="zones.1.name"]').fill('Pharmacy');
    await page.locator('[name="zones.1.sensitive"]').check();
    await page.getByRole('button', { name: 'Add opening hours' }).click();
    await page.locator('[name="openingHours.0.from"]').fill('08:30');
    await page.locator('[name="openingHours.0.to"]').fill('20:00');
    await page.getByRole('button', { name: 'Save store' }).click();
    await expect.poll(() => fieldError(page, 'timezone'), SHOWN).toContain('IANA time zone');
    await browser.screenshot(page, 'admin', 'store-timezone-refused');

    await page.getByLabel('Time zone').fill('Europe/Rome');
    await page.getByRole('button', { name: 'Save store' }).click();
    await page.getByRole('heading', { level: 1, name: 'Milano Centrale' }).waitFor();
    expect(await page.locator('dl.facts').innerText()).toContain('mon, tue, wed, thu, fri, sat 08:30–20:00');
    const saved = await readStore('milano-1');
    expect(saved).toMatchObject({ name: 'Milano Centrale', timezone: 'Europe/Rome', openingHours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: '08:30', to: '20:00' }] });
    expect(saved.zones).toEqual([{ id: 'entrance', name: 'Entrance', sensitive: false }, { id: 'pharmacy', name: 'Pharmacy', sensitive: true }]);
    await browser.screenshot(page, 'admin', 'store-saved');
    expect(browser.errorsOf(page)).toEqual([]);
  });

  it('registers the store\'s beacons: a malformed UUID is refused next to its field, and the rest of the store is kept', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, admin);
    await page.goto(`${baseUrl}/console/#/beacons/milano-1`);
    await page.getByRole('heading', { level: 1, name: 'Beacon registry' }).waitFor();
    await page.getByRole('button', { name: 'Add a beacon' }).click();
    await page.getByLabel('Beacon 1 ID').fill('sb-entrance');
    await page.locator('[name="beacons.0.uuid"]').fill('not-a-uuid');
    await page.locator('[name="beacons.0.major"]').fill('7');
    await page.locator('[name="beacons.0.minor"]').fill('1');
    await page.getByRole('button', { name: 'Save beacons' }).click();
    await expect.poll(() => fieldError(page, 'beacons.0.uuid'), SHOWN).toContain('uuid is a UUID');
    await browser.screenshot(page, 'admin', 'beacon-uuid-refused');

    await page.locator('[name="beacons.0.uuid"]').fill('F7826DA6-4FA2-4E98-8024-BC5B71E0893E');
    await page.getByRole('button', { name: 'Save beacons' }).click();
    await expect.poll(() => textNow(page.getByRole('status').filter({ hasText: 'Saved 1 beacon' })), SHOWN).toContain('Saved 1 beacon of Milano Centrale');
    const saved = await readStore('milano-1');
    expect(saved.beacons).toEqual([{ id: 'sb-entrance', zoneId: 'entrance', uuid: 'f7826da6-4fa2-4e98-8024-bc5b71e0893e', major: 7, minor: 1 }]);
    // The PUT replaced the whole store: its zones and hours came back as they were.
    expect(saved.zones.map((z) => z.id)).toEqual(['entrance', 'pharmacy']);
    expect(saved.openingHours).toEqual([{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: '08:30', to: '20:00' }]);
  });

  it('provisions a gateway: its config file, with its secret, downloads once behind a clear warning', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, admin);
    await page.goto(`${baseUrl}/console/#/stores/milano-1`);
    await page.getByRole('heading', { level: 1, name: 'Milano Centrale' }).waitFor();
    const form = page.getByRole('form', { name: 'Provision a gateway' });
    await form.getByLabel('Gateway ID').fill('vicino-gw');
    await form.getByRole('button', { name: 'Provision' }).click();
    await expect.poll(() => fieldError(page, 'id'), SHOWN).toContain('reserved for the servers');

    await form.getByLabel('Gateway ID').fill('gw-milano-entrance');
    await form.getByLabel('Zone').selectOption('entrance');
    await form.getByRole('button', { name: 'Provision' }).click();
    const warning = page.locator('.once');
    await warning.waitFor();
    expect(await warning.innerText()).toMatch(/Shown once: .*secret/);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download gateway-gw-milano-entrance.json' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('gateway-gw-milano-entrance.json');
    const config = JSON.parse(await readFile((await file.path())!, 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ storeId: 'milano-1', gatewayId: 'gw-milano-entrance', zoneId: 'entrance', mqtt: { url: 'mqtt://broker.test:1883', username: 'gw-milano-entrance' } });
    expect(config.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The gateway is listed, offline until it connects; its secret is nowhere on the page but the link.
    const row = page.getByRole('row').filter({ hasText: 'gw-milano-entrance' });
    await row.waitFor();
    expect(await row.innerText()).toContain('offline');
    expect(await page.locator('main').innerText()).not.toContain(String(config.secret));
    await browser.screenshot(page, 'admin', 'gateway-provisioned');
  });

  it('adds a till, whose credential is shown once, and revokes it', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, admin);
    await page.goto(`${baseUrl}/console/#/stores/milano-1`);
    const form = page.getByRole('form', { name: 'Add a till' });
    await form.getByRole('button', { name: 'Add till' }).click();
    await expect.poll(() => fieldError(page, 'name'), SHOWN).not.toBeNull();
    await form.getByLabel('Name').fill('Till 1');
    await form.getByRole('button', { name: 'Add till' }).click();
    const secret = page.locator('.once .secret');
    await secret.waitFor();
    expect((await secret.textContent())!.length).toBeGreaterThan(20);
    await page.getByRole('row').filter({ hasText: 'Till 1' }).getByText('active').waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke Till 1' }).click();
    await page.getByRole('row').filter({ hasText: 'Till 1' }).getByText(/^revoked/).waitFor();
    await browser.screenshot(page, 'admin', 'till-revoked');
    expect(browser.errorsOf(page)).toEqual([]);
  });

  it('issues an API key for a machine, shown once, which then works with its role only, and revokes it', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, admin);
    await goTo(page, 'Users', 'Users and API keys');
    const form = page.getByRole('form', { name: 'Issue an API key' });
    await form.getByRole('button', { name: 'Issue key' }).click();
    await expect.poll(() => fieldError(page, 'name'), SHOWN).not.toBeNull();
    await form.getByLabel('Name').fill('nightly report');
    await form.getByRole('button', { name: 'Issue key' }).click();
    const secret = page.locator('.once .secret');
    await secret.waitFor();
    const key = (await secret.textContent())!;
    await browser.screenshot(page, 'admin', 'api-key-issued');
    // The key is an analyst's (the form's default role): it reads reports, and writes nothing.
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns', headers: bearer(key) })).statusCode).toBe(200);
    const refused = await t.app.inject({ method: 'PUT', url: '/v1/admin/stores/milano-1', headers: bearer(key), payload: {} });
    expect(expectStatus<{ error: { message: string } }>(refused, 403).error.message).toBe('role analyst lacks permission stores.write for PUT /v1/admin/stores/:storeId');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke nightly report' }).click();
    await page.getByRole('row').filter({ hasText: 'nightly report' }).getByText(/^revoked/).waitFor();
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/campaigns', headers: bearer(key) })).statusCode).toBe(401);
    expect(browser.errorsOf(page)).toEqual([]);
  });
});
