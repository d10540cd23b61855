import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOverflowsX, startBrowser, type TestBrowser } from '#test/helpers/browser.ts';
import { buildTestApp, expectStatus, putCampaign, putStore, type TestApp } from '#test/helpers/build-test-app.ts';
import { aCampaign } from '#test/helpers/builders.ts';
import { fieldError, goTo, listen, logIn, navLinks, openConsole, SHOWN, textNow } from '#test/helpers/console-page.ts';
import { createConsoleUser, type ConsoleUser } from '#test/helpers/console-users.ts';

// The console in Chromium over a real, listening server (SQLite in memory): who sees what (the
// permission matrix from the browser, and the API's 403 with its message when the page calls it
// anyway), the keyboard alone, a 375 px wide screen, and a session that expires while a marketer types.

let t: TestApp;
let baseUrl: string;
let browser: TestBrowser;
const users: Record<'marketer' | 'analyst' | 'auditor', ConsoleUser> = {} as never;
const CAMPAIGN_ID = 'coffee-corner';

// Registered first: whatever beforeAll managed to start is closed, even if it failed half-way.
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

beforeAll(async () => {
  t = await buildTestApp();
  baseUrl = await listen(t.app);
  browser = await startBrowser();
  for (const role of ['marketer', 'analyst', 'auditor'] as const) users[role] = await createConsoleUser(t.deps.store, { username: `${role}.one`, role });
  expectStatus(await putStore(t, 'store-1', [{ id: 'entrance', name: 'Entrance' }, { id: 'checkout', name: 'Checkout' }]), 200);
  expectStatus(await putCampaign(t, aCampaign({ id: CAMPAIGN_ID, name: 'Coffee corner', storeId: 'store-1', zoneIds: ['entrance'] })), 200);
});

/** Runs the console's own api() in the page, as a page script would call the API, and reports how it ended. */
const callApiFromPage = (method: string, path: string, body?: unknown) => `(async () => {
  const { api } = await import('/console/api.js');
  try {
    return { ok: true, body: await api(${JSON.stringify(method)}, ${JSON.stringify(path)}, ${JSON.stringify(body)}) };
  } catch (error) {
    return { ok: false, status: error.status, code: error.code, message: error.message };
  }
})()`;

describe('keyboard', () => {
  it('tabs from the top of the page to the login form and logs in with the keyboard alone', async () => {
    const page = await browser.newPage();
    await openConsole(page, baseUrl);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    let reached = false;
    for (let i = 0; i < 6 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate('document.activeElement.name')) === 'username';
    }
    expect(reached, 'Tab reaches the username field').toBe(true);
    await page.keyboard.type(users.marketer.username);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.name')).toBe('password');
    await page.keyboard.type(users.marketer.password);
    await browser.screenshot(page, 'keyboard', 'login-form-filled');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await page.locator('#who').textContent()).toContain(users.marketer.username);

    // On to Campaigns by keyboard: the skip link, then the brand, then the navigation's links in order.
    let onCampaigns = false;
    for (let i = 0; i < 12 && !onCampaigns; i++) {
      await page.keyboard.press('Tab');
      onCampaigns = (await page.evaluate('document.activeElement.textContent')) === 'Campaigns';
    }
    expect(onCampaigns, 'Tab reaches the Campaigns link').toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
    await expect.poll(() => page.evaluate('document.activeElement.tagName + " " + document.activeElement.textContent')).toBe('H1 Campaigns');
    await browser.screenshot(page, 'keyboard', 'campaigns-focused-heading');
    expect(browser.errorsOf(page)).toEqual([]);
  });

  it('skips to the main content without leaving the page the user is on', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, users.marketer);
    await goTo(page, 'Campaigns', 'Campaigns');
    await page.keyboard.press('Shift+Tab');
    await page.evaluate('document.getElementById("skip-link").focus()');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
    expect(new URL(page.url()).hash).toBe('#/campaigns');
  });
});

describe('the permission matrix from the browser', () => {
  it('shows an analyst no builder, approval or admin controls, and the API refuses a change from their page with its message', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, users.analyst);
    const links = await navLinks(page);
    expect(links).toEqual(expect.arrayContaining(['Overview', 'Campaigns', 'Stores', 'Live store', 'Analytics', 'Privacy']));
    for (const hidden of ['Users', 'Audit log']) expect(links).not.toContain(hidden);

    await goTo(page, 'Campaigns', 'Campaigns');
    await page.getByRole('link', { name: 'Coffee corner' }).waitFor();
    expect(await page.getByRole('link', { name: 'New campaign' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Coffee corner' }).click();
    await page.getByRole('heading', { level: 1, name: 'Coffee corner' }).waitFor();
    expect(await page.locator('[data-action]').count()).toBe(0);
    expect(await page.getByRole('link', { name: /^Edit/ }).count()).toBe(0);
    await browser.screenshot(page, 'permissions', 'analyst-campaign');

    const refused = await page.evaluate(callApiFromPage('POST', `/v1/admin/campaigns/${CAMPAIGN_ID}/pause`, {}));
    expect(refused).toEqual({ ok: false, status: 403, code: 'FORBIDDEN', message: 'role analyst lacks permission campaigns.write for POST /v1/admin/campaigns/:campaignId/pause' });
    const users403 = await page.evaluate(callApiFromPage('GET', '/v1/admin/users'));
    expect(users403).toMatchObject({ ok: false, status: 403, message: 'role analyst lacks permission principals.manage for GET /v1/admin/users' });

    // A typed address of a page the role cannot use says why, instead of showing the controls.
    await page.goto(`${baseUrl}/console/#/campaigns/new`);
    await page.getByRole('alert').filter({ hasText: 'lacks campaigns.write' }).waitFor();
    expect(await page.locator('form.campaign-form').count()).toBe(0);
    await page.goto(`${baseUrl}/console/#/users`);
    await page.getByRole('alert').filter({ hasText: 'principals.manage' }).waitFor();
    await browser.screenshot(page, 'permissions', 'analyst-users-refused');
    expect(browser.errorsOf(page)).toEqual([]);
  });

  it('shows an auditor the audit log but no approval controls, and the API refuses an approval with its message', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, users.auditor);
    const links = await navLinks(page);
    expect(links).toEqual(expect.arrayContaining(['Campaigns', 'Audit log', 'Privacy']));
    for (const hidden of ['Users', 'Live store', 'Analytics']) expect(links).not.toContain(hidden);
    await page.goto(`${baseUrl}/console/#/campaigns/${CAMPAIGN_ID}`);
    await page.getByRole('heading', { level: 1, name: 'Coffee corner' }).waitFor();
    expect(await page.locator('[data-action]').count()).toBe(0);
    expect(await page.getByRole('link', { name: /^Results/ }).count()).toBe(0);
    await browser.screenshot(page, 'permissions', 'auditor-campaign');
    const refused = await page.evaluate(callApiFromPage('POST', `/v1/admin/campaigns/${CAMPAIGN_ID}/approve`, {}));
    expect(refused).toEqual({ ok: false, status: 403, code: 'FORBIDDEN', message: 'role auditor lacks permission campaigns.approve for POST /v1/admin/campaigns/:campaignId/approve' });
  });

  it('shows a marketer the builder and the actions their permissions allow, and no admin pages', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, users.marketer);
    const links = await navLinks(page);
    expect(links).toEqual(expect.arrayContaining(['Campaigns', 'Stores', 'Beacons', 'Live store', 'Analytics']));
    for (const hidden of ['Users', 'Audit log']) expect(links).not.toContain(hidden);
    await page.goto(`${baseUrl}/console/#/campaigns/${CAMPAIGN_ID}`);
    await page.getByRole('heading', { level: 1, name: 'Coffee corner' }).waitFor();
    // Active: pause and end; no approve (it is not pending), no edit (it is active).
    expect(await page.locator('[data-action]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-action')))).toEqual(['pause', 'end']);
  });
});

describe('at 375 × 800', () => {
  it('keeps the navigation and the builder usable, with nothing wider than the screen', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    await logIn(page, baseUrl, users.marketer);
    expect(await bodyOverflowsX(page)).toBe(false);
    // Every navigation link is on screen.
    for (const box of await page.getByRole('navigation', { name: 'Main' }).getByRole('link').evaluateAll((nodes) => nodes.map((n) => n.getBoundingClientRect().toJSON() as { left: number; right: number }))) {
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(box.right).toBeLessThanOrEqual(375);
    }
    await browser.screenshot(page, 'narrow-375', 'overview-nav');

    await goTo(page, 'Campaigns', 'Campaigns');
    expect(await bodyOverflowsX(page)).toBe(false);
    await browser.screenshot(page, 'narrow-375', 'campaign-list');

    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Small screen offer');
    await page.getByLabel('Store', { exact: true }).selectOption('store-1');
    await page.getByLabel('Entrance (entrance)').check();
    await page.getByLabel('Title', { exact: true }).fill('Hello {{firstName}}');
    await page.getByLabel('Body', { exact: true }).fill('A small offer for a small screen.');
    await expect.poll(() => textNow(page.locator('.phone.personalised .title')), SHOWN).toBe('Hello Giulia');
    expect(await bodyOverflowsX(page)).toBe(false);
    await browser.screenshot(page, 'narrow-375', 'builder');
    // The preview is under the form on a narrow screen; a button near the top takes focus there.
    await page.getByRole('button', { name: 'Go to the live preview' }).click();
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Live preview');
    expect(browser.errorsOf(page)).toEqual([]);
  });
});

describe('a session that expires mid-edit', () => {
  it('loses nothing the marketer typed: the login dialog opens, the preview goes on after logging in, and a reload restores the draft', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, users.marketer);
    await page.goto(`${baseUrl}/console/#/campaigns/new`);
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Late night offer');
    await page.getByLabel('Store', { exact: true }).selectOption('store-1');
    await page.getByLabel('Checkout (checkout)').check();
    await page.getByLabel('Title', { exact: true }).fill('Still here, {{firstName}}?');
    await page.getByLabel('Body', { exact: true }).fill('Two for one.');
    await expect.poll(() => textNow(page.locator('.phone.personalised .title')), SHOWN).toBe('Still here, Giulia?');

    // The marketer walks away; the session lapses on the server (idle timeout, 30 minutes).
    t.clock.advance(31 * 60_000);
    await page.getByLabel('Body', { exact: true }).fill('Two for one until closing.');
    const dialog = page.getByRole('dialog', { name: 'Log in again' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Session expired. Log in again to carry on: nothing you typed is lost.');
    await browser.screenshot(page, 'session-expiry', 'login-dialog');
    await dialog.getByLabel('Username').fill(users.marketer.username);
    await dialog.getByLabel('Password').fill(users.marketer.password);
    await dialog.getByRole('button', { name: 'Log in' }).click();
    await dialog.waitFor({ state: 'hidden' });
    // The request that met the expired session was sent again: the preview has the body typed meanwhile.
    await expect.poll(() => textNow(page.locator('.phone.personalised .body')), SHOWN).toBe('Two for one until closing.');
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Late night offer');
    expect(await page.getByLabel('Title', { exact: true }).inputValue()).toBe('Still here, {{firstName}}?');

    // Even a reload keeps it: the draft lives in the tab's sessionStorage until it is saved.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await page.getByText('Restored your unsaved changes').waitFor();
    expect(await page.getByLabel('Body', { exact: true }).inputValue()).toBe('Two for one until closing.');
    expect(await page.getByLabel('Checkout (checkout)').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Save as draft' }).click();
    await page.getByRole('heading', { level: 1, name: 'Late night offer' }).waitFor();
    expect(await page.locator('.status').first().textContent()).toBe('draft');
    expect(await page.evaluate('Object.keys(sessionStorage).filter((k) => k.startsWith("vicino.console.campaignDraft."))')).toEqual([]);
    await browser.screenshot(page, 'session-expiry', 'saved');
  });

  it('carries on after a login in another tab replaced the session cookie (a new CSRF token)', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, users.marketer);
    const before = await page.evaluate<{ csrfToken: string }>(`import('/console/api.js').then((m) => m.currentSession())`);
    // The other tab finds the session and logs in again anyway, through the API: the cookie is replaced.
    const tab = await page.context().newPage();
    await openConsole(tab, baseUrl);
    await tab.evaluate(`import('/console/api.js').then((m) => m.logIn(${JSON.stringify(users.marketer.username)}, ${JSON.stringify(users.marketer.password)}))`);
    const preview = { definition: { name: 'x' } };
    const result = await page.evaluate(callApiFromPage('POST', '/v1/admin/campaigns/preview', preview));
    expect(result).toMatchObject({ ok: true, body: { valid: false } });
    const after = await page.evaluate<{ csrfToken: string }>(`import('/console/api.js').then((m) => m.currentSession())`);
    expect(after.csrfToken).not.toBe(before.csrfToken);
  });

  it('shows the server\'s message next to the field at fault when a save is refused', async () => {
    const page = await browser.newPage();
    await logIn(page, baseUrl, users.marketer);
    await page.goto(`${baseUrl}/console/#/campaigns/new`);
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Capped too tight');
    await page.getByLabel('Store', { exact: true }).selectOption('store-1');
    await page.getByLabel('Entrance (entrance)').check();
    await page.getByLabel('Title', { exact: true }).fill('Hello');
    await page.getByLabel('Body', { exact: true }).fill('Hi.');
    await page.getByLabel('Sends per shopper').fill('5');
    await page.getByLabel('…per period (seconds)').fill('3600');
    await page.getByLabel('Minimum gap between sends (s)').fill('1800');
    await page.getByRole('button', { name: 'Save as draft' }).click();
    await expect.poll(() => fieldError(page, 'caps.minGapS'), SHOWN).toContain('minGapS 1800 s leaves room for at most');
    expect(await page.getByLabel('Minimum gap between sends (s)').getAttribute('aria-invalid')).toBe('true');
    await browser.screenshot(page, 'validation', 'caps-refused');
  });
});
