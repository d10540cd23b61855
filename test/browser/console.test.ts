import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import { startBrowser, type TestBrowser } from '#test/helpers/browser.ts';
import type { WebSocket } from 'ws';
import { connectAppStream } from '#test/helpers/app-stream.ts';
import { bearer, expectStatus, grant, registerShopper } from '#test/helpers/build-test-app.ts';
import { fieldError, goTo, logIn, SHOWN, textNow } from '#test/helpers/console-page.ts';
import { createConsoleUser, type ConsoleUser } from '#test/helpers/console-users.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { aTestScenario } from '#test/helpers/scenarios.ts';
import { startTestSystem, type TestSystem } from '#test/helpers/test-system.ts';

// The marketer's day in Chromium, against a running demo: a broker, a server and a simulated store whose
// gateways run the real gateway code and whose apps registered and consented through the API. An admin
// adds two marketers; marketer A builds a campaign (a validation message next to its field first, then
// fixed; the live preview personalises the message) and submits it; A cannot approve it and is told why;
// marketer B approves it; it fires at the simulated apps as they walk in; its analytics page reads the
// results. The scenario's own campaign is placed in the aisle, so what happens at the entrance is this one's.

const CAMPAIGN = { id: 'coffee-time', name: 'Coffee time' };
/** Shoppers who also consented to analytics and come in through the iOS path: enough (k = 10) for the report to show figures. */
const ANALYTICS_SHOPPERS = 10;

let system: TestSystem;
let browser: TestBrowser;
let baseUrl: string;
let admin: ConsoleUser;
const marketers = {
  a: { username: 'marketer.a', password: 'a long passphrase for A' },
  b: { username: 'marketer.b', password: 'another passphrase, for B' },
};
const pages: Record<'admin' | 'a' | 'b', Page> = {} as never;
const sockets: WebSocket[] = [];
// Shoppers leave for longer than a gateway's away timeout (10 s) before they come back, so each return is a
// new entry: the campaign approved mid-run fires on the next one.
const scenario = aTestScenario({ optedInApps: 4, revisitAfterS: [12, 16] }, { zoneIds: ['aisle'] });
const storeId = scenario.store.id;

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await browser?.close();
  await system?.close();
});

beforeAll(async () => {
  system = await startTestSystem({ scenario, logger: createLogSink({ level: 'warn' }).logger });
  baseUrl = system.server.url;
  admin = await createConsoleUser(system.testStore.store, { username: 'admin.one', role: 'admin' });
  browser = await startBrowser();
});

const campaignPage = () => pages.a.getByRole('heading', { level: 1, name: CAMPAIGN.name });
const statusOf = (page: Page) => textNow(page.locator('main .status').first());

describe('a campaign from the console to the shoppers\' phones', () => {
  it('an admin adds two marketers, the server\'s message shown next to a field first', async () => {
    const page = (pages.admin = await browser.newPage());
    await logIn(page, baseUrl, admin);
    await goTo(page, 'Users', 'Users and API keys');
    const form = page.getByRole('form', { name: 'Add a user' });
    await form.getByLabel('Username').fill(marketers.a.username);
    await form.getByLabel('Password').fill('too short');
    await form.getByRole('button', { name: 'Add user' }).click();
    await expect.poll(() => fieldError(page, 'password'), SHOWN).toContain('at least 12 characters');
    await browser.screenshot(page, 'console-flow', '01-user-password-refused');
    await form.getByLabel('Password').fill(marketers.a.password);
    await form.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('cell', { name: marketers.a.username, exact: true }).waitFor();
    expect(await fieldError(page, 'password')).toBeNull();
    await form.getByLabel('Username').fill(marketers.b.username);
    await form.getByLabel('Password').fill(marketers.b.password);
    await form.getByLabel(/^marketer/).check();
    await form.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('cell', { name: marketers.b.username, exact: true }).waitFor();
    await browser.screenshot(page, 'console-flow', '02-users-added');
    expect(browser.errorsOf(page)).toEqual([]);
  });

  it('marketer A builds the campaign: a field\'s message, fixed; the preview personalises it; A saves and submits', async () => {
    const page = (pages.a = await browser.newPage());
    await logIn(page, baseUrl, marketers.a);
    await goTo(page, 'Campaigns', 'Campaigns');
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(CAMPAIGN.name);
    expect(await page.getByLabel('Campaign ID').inputValue()).toBe(CAMPAIGN.id);
    await page.getByLabel('Store', { exact: true }).selectOption(storeId);
    await page.getByLabel('Entrance (entrance)').check();
    await page.getByLabel('Cool-down after any promotion (s)').fill('0');

    // A placeholder the server does not know: its message appears next to the title as the marketer types.
    await page.getByLabel('Title', { exact: true }).fill('Coffee time, {{name}}!');
    await expect.poll(() => fieldError(page, 'message.title'), SHOWN).toContain('unknown placeholder {{name}}');
    expect(await page.getByLabel('Title', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await browser.screenshot(page, 'console-flow', '03-builder-title-error');

    await page.getByLabel('Title', { exact: true }).fill('Coffee time, {{firstName}}!');
    await page.getByLabel('Body', { exact: true }).fill('Show this at the coffee corner: 20% off today.');
    await expect.poll(() => textNow(page.locator('.phone.personalised .title')), SHOWN).toBe('Coffee time, Giulia!');
    expect(await textNow(page.locator('.phone.generic .title'))).toBe('Coffee time!');
    expect(await fieldError(page, 'message.title')).toBeNull();
    await page.getByLabel('Sample first name').fill('Marco');
    await expect.poll(() => textNow(page.locator('.phone.personalised .title')), SHOWN).toBe('Coffee time, Marco!');
    await browser.screenshot(page, 'console-flow', '04-builder-preview');

    await page.getByRole('button', { name: 'Save as draft' }).click();
    await campaignPage().waitFor();
    expect(await statusOf(page)).toBe('draft');
    await page.getByRole('button', { name: 'Submit for approval' }).click();
    await expect.poll(() => statusOf(page), SHOWN).toBe('pending');
    await browser.screenshot(page, 'console-flow', '05-submitted');
    expect(browser.errorsOf(page)).toEqual([]);
  });

  it('marketer A cannot approve their own campaign: the API\'s refusal is shown beside the buttons', async () => {
    const page = pages.a;
    await page.getByRole('button', { name: 'Approve' }).click();
    const refusal = page.locator('.action-outcome [role="alert"]');
    await expect.poll(() => textNow(refusal), SHOWN).toMatch(/^Approve refused: principal usr_[0-9a-f]+ (wrote|submitted) .*cannot approve it: another principal must approve$/);
    expect(await statusOf(page)).toBe('pending');
    await browser.screenshot(page, 'console-flow', '06-self-approval-refused');
  });

  it('marketer B approves it, and it fires at the simulated apps walking in', async () => {
    const page = (pages.b = await browser.newPage());
    await logIn(page, baseUrl, marketers.b);
    await page.goto(`${baseUrl}/console/#/campaigns/${CAMPAIGN.id}`);
    await page.getByRole('heading', { level: 1, name: CAMPAIGN.name }).waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => statusOf(page), SHOWN).toBe('active');
    await browser.screenshot(page, 'console-flow', '07-approved');

    const optedIn = system.sim.apps().filter((a) => a.kind === 'opted-in');
    await vi.waitFor(() => {
      const reached = optedIn.filter(({ app }) => app.shown.some((p) => p.campaignId === CAMPAIGN.id));
      if (reached.length < 2) throw new Error(`waiting for the campaign to reach the apps (${reached.length} so far)`);
    }, { timeout: 60_000, interval: 200 });
    const received = optedIn.flatMap(({ app }) => app.shown.filter((p) => p.campaignId === CAMPAIGN.id));
    // The apps' shoppers registered with first names (personalisation consented): the title is theirs; without it, generic.
    for (const promotion of received) expect(promotion.title).toMatch(/^Coffee time(, [A-Z][a-z]+)?!$/);
    expect(received.every((p) => (p.why as { zoneId: string }).zoneId === 'entrance')).toBe(true);
    for (const { app } of system.sim.apps().filter((a) => a.kind === 'presence-only')) expect(app.shown).toEqual([]);
  });

  it('its analytics page reads the results, in aggregate only', async () => {
    // Ten more shoppers, who also consented to analytics, come in through the iOS path (a store beacon
    // sighting reported by their app, its promotion stream open): with them the campaign's group
    // reaches k (10) and its figures show. The simulated apps did not consent to analytics.
    const { app } = system.server;
    const store = expectStatus<{ beacons: { zoneId: string; uuid: string; major: number; minor: number }[] }>(
      await app.inject({ method: 'GET', url: `/v1/admin/stores/${storeId}`, headers: bearer(system.adminToken) }), 200);
    const beacon = store.beacons.find((b) => b.zoneId === 'entrance')!;
    const shopperIds: string[] = system.sim.apps().map((a) => a.app.shopperId);
    const streamUrl = `${baseUrl.replace(/^http/, 'ws')}/v1/me/promotions/stream`;
    for (let i = 0; i < ANALYTICS_SHOPPERS; i++) {
      const shopper = await registerShopper(app, { firstName: `Ana${String.fromCharCode(97 + i)}` });
      shopperIds.push(shopper.shopperId);
      await grant(app, shopper.token, { presence: true, promotions: true, analytics: true });
      const stream = await connectAppStream(streamUrl, shopper.token, sockets);
      const sighting = await app.inject({
        method: 'POST', url: '/v1/me/sightings', headers: bearer(shopper.token),
        payload: { storeId, beacon: { uuid: beacon.uuid, major: beacon.major, minor: beacon.minor }, kind: 'enter', atS: Math.floor(Date.now() / 1000) },
      });
      expect(expectStatus<{ outcome: string }>(sighting, 202).outcome).toBe('sent');
      await vi.waitFor(() => expect(stream.frames.filter((f) => f.type === 'promotion' && f.campaignId === CAMPAIGN.id)).toHaveLength(1), { timeout: 10_000 });
    }
    await vi.waitFor(async () => {
      const report = expectStatus<{ groups: { deliveries: number | null }[] }>(
        await app.inject({ method: 'GET', url: `/v1/admin/analytics/campaigns/${CAMPAIGN.id}`, headers: bearer(system.adminToken) }), 200);
      expect(report.groups[0]?.deliveries).toBeGreaterThanOrEqual(ANALYTICS_SHOPPERS);
    }, { timeout: 15_000, interval: 200 });

    const page = pages.b;
    await page.getByRole('link', { name: /^Results/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Analytics' }).waitFor();
    const report = page.locator('.campaign-report');
    const everyone = report.getByRole('table').filter({ hasText: 'Per group' }).locator('tbody tr').first();
    
    await everyone.waitFor();
    const cells = await everyone.locator('td').allTextContents();
    // Shoppers, then deliveries: the ten analytics-consenting shoppers (the simulated apps did not consent to analytics).
    expect(Number(cells[0])).toBeGreaterThanOrEqual(ANALYTICS_SHOPPERS);
    expect(Number(cells[1])).toBeGreaterThanOrEqual(ANALYTICS_SHOPPERS);
    await browser.screenshot(page, 'console-flow', '08-analytics');
    const text = await page.locator('main').innerText();
    for (const id of shopperIds) expect(text).not.toContain(id);
    expect(browser.errorsOf(page)).toEqual([]);
  });
});
