import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startBrowser, type TestBrowser } from '#test/helpers/browser.ts';
import { bearer, buildTestApp, expectStatus, putStore, type TestApp } from '#test/helpers/build-test-app.ts';
import { listen, logIn, SHOWN, textNow } from '#test/helpers/console-page.ts';
import { createConsoleUser, type ConsoleUser } from '#test/helpers/console-users.ts';

// The builder covers the whole campaign model (server/domain/campaign.ts): a campaign built with every
// part — placement, a dwell trigger, a segment, a schedule with a weekly window, caps, priority, budget,
// message with its link and expiry, an experiment with a holdout, attribution — is saved exactly as the
// API then returns it; its JSON view round-trips; a new version is saved over the one it edits; and a
// checker rejects it with a reason.

let t: TestApp;
let baseUrl: string;
let browser: TestBrowser;
let maker: ConsoleUser;
let checker: ConsoleUser;
let page: Page;

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

beforeAll(async () => {
  t = await buildTestApp();
  baseUrl = await listen(t.app);
  browser = await startBrowser();
  maker = await createConsoleUser(t.deps.store, { username: 'maker.one', role: 'marketer' });
  checker = await createConsoleUser(t.deps.store, { username: 'checker.one', role: 'marketer' });
  expectStatus(await putStore(t, 'store-1', [{ id: 'entrance', name: 'Entrance' }, { id: 'checkout', name: 'Checkout' }, { id: 'pharmacy', name: 'Pharmacy', sensitive: true }]), 200);
});

const EXPECTED = {
  id: 'full-model',
  status: 'draft',
  version: 1,
  name: 'Full model',
  placement: { level: 'zones', storeId: 'store-1', zoneIds: ['entrance'] },
  trigger: { kind: 'dwell', minDwellS: 90 },
  audience: { kind: 'segment', segment: { loyaltyTiers: ['gold', 'platinum'], interests: ['coffee', 'pastry'], minPastVisits: 2, maxPastVisits: 50 } },
  schedule: { from: '2030-02-01T08:00', until: '2030-03-01T20:00', windows: [{ days: ['tue', 'wed', 'thu', 'fri', 'sat'], from: '09:00', to: '18:00' }] },
  caps: { perShopper: { count: 2, periodS: 86_400 }, minGapS: 3600, perShopperDaily: 4, cooldownS: 300 },
  budget: { maxDeliveries: 1000, maxRedemptions: 200 },
  experiment: { holdoutPercent: 20, variants: [{ id: 'A', weight: 3, message: { title: 'A: coffee for you' } }, { id: 'B', weight: 1 }] },
  attribution: { conversionZoneIds: ['checkout'], windowS: 3600 },
  message: { title: 'Hi {{firstName}}', body: 'Your {{loyaltyTier}} treat is waiting.', deepLink: 'https://example.com/offer', validForS: 7200 },
  priority: 250,
};

const getCampaign = async (id: string) => expectStatus<Record<string, unknown>>(await t.app.inject({ method: 'GET', url: `/v1/admin/campaigns/${id}`, headers: bearer(t.adminToken) }), 200);

describe('the campaign builder', () => {
  it('covers the whole campaign model: what the form says is what the API stores', async () => {
    page = await browser.newPage();
    await logIn(page, baseUrl, maker);
    await page.goto(`${baseUrl}/console/#/campaigns/new`);
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    const set = (name: string, value: string) => page.locator(`[name="${name}"]`).fill(value);

    await page.getByLabel('Name', { exact: true }).fill('Full model');
    await page.getByLabel('Store', { exact: true }).selectOption('store-1');
    await page.getByLabel('Entrance (entrance)').check();
    expect(await page.getByLabel(/Pharmacy \(pharmacy\)/).isDisabled()).toBe(true);
    await page.getByLabel('Trigger', { exact: true }).selectOption('dwell');
    await set('trigger.minDwellS', '90');
    await page.getByLabel('A segment').check();
    const segment = page.getByRole('group', { name: 'Loyalty tiers' });
    await segment.getByLabel('gold').check();
    await segment.getByLabel('platinum').check();
    await set('audience.segment.interests', 'coffee, pastry');
    await set('audience.segment.minPastVisits', '2');
    await set('audience.segment.maxPastVisits', '50');
    await set('schedule.from', '2030-02-01T08:00');
    await set('schedule.until', '2030-03-01T20:00');
    await page.getByRole('button', { name: 'Add a weekly window' }).click();
    const days = page.getByRole('group', { name: 'Window 1: days' });
    await days.getByLabel('mon').uncheck();
    await days.getByLabel('sat').check();
    await set('caps.perShopper.count', '2');
    await set('caps.minGapS', '3600');
    expect(await textNow(page.locator('#' + (await page.locator('[name="caps.minGapS"]').getAttribute('id'))! + '-hint'))).toBe('1 h');
    await set('caps.perShopperDaily', '4');
    await set('caps.cooldownS', '300');
    await set('priority', '250');
    await set('budget.maxDeliveries', '1000');
    await set('budget.maxRedemptions', '200');
    await set('message.title', 'Hi {{firstName}}');
    await set('message.body', 'Your {{loyaltyTier}} treat is waiting.');
    await set('message.deepLink', 'https://example.com/offer');
    await set('message.validForS', '7200');
    await page.getByLabel('A/B variants and a holdout (control group)').check();
    await set('experiment.holdoutPercent', '20');
    await set('experiment.variants.0.weight', '3');
    await set('experiment.variants.0.message.title', 'A: coffee for you');
    // A holdout without attribution cannot measure uplift: the server says so at the attribution part.
    await page.getByRole('button', { name: 'Save as draft' }).click();
    await expect.poll(() => textNow(page.locator('fieldset[data-field="attribution"] > .field-error')), SHOWN).toContain('a holdout measures uplift');
    await page.getByLabel(/^Count conversions/).check();
    await page.getByRole('group', { name: 'Conversion zones' }).getByLabel('Checkout (checkout)').check();
    await set('attribution.windowS', '3600');
    await expect.poll(() => textNow(page.locator('.preview-status')), SHOWN).toBe('Valid: ready to save.');
    expect(await textNow(page.locator('.phone.personalised .body'))).toBe('Your gold treat is waiting.');
    await browser.screenshot(page, 'builder', 'whole-model');

    await page.getByRole('button', { name: 'Save as draft' }).click();
    await page.getByRole('heading', { level: 1, name: 'Full model' }).waitFor();
    const { lifecycle: _lifecycle, ...campaign } = await getCampaign('full-model');
    expect(campaign).toEqual({ ...EXPECTED, schemaVersion: 2 });
    await browser.screenshot(page, 'builder', 'saved-summary');
  });

  it('edits the draft as its next version, through the form or its JSON', async () => {
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Edit Full model' }).waitFor();
    // The JSON view holds the definition as the API takes it.
    await page.getByText('JSON (for power users)').click();
    const json = page.getByLabel('Campaign definition as JSON');
    await expect.poll(async () => JSON.parse(await json.inputValue()), SHOWN).toEqual(expect.objectContaining({ name: 'Full model', priority: 250, experiment: EXPECTED.experiment }));
    const edited = { ...JSON.parse(await json.inputValue()), priority: 300, name: 'Full model, v2' };
    await json.fill(JSON.stringify(edited, null, 2));
    await page.getByRole('button', { name: 'Apply JSON to the form' }).click();
    expect(await page.locator('[name="priority"]').inputValue()).toBe('300');
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Full model, v2');
    await page.getByRole('button', { name: 'Save as version 2' }).click();
    await page.getByRole('heading', { level: 1, name: 'Full model, v2' }).waitFor();
    expect(await getCampaign('full-model')).toMatchObject({ version: 2, priority: 300, name: 'Full model, v2', audience: EXPECTED.audience, schedule: EXPECTED.schedule });
  });

  it('is rejected by a checker only with a reason, and goes back to draft', async () => {
    await page.getByRole('button', { name: 'Submit for approval' }).click();
    await expect.poll(() => textNow(page.locator('main .status')), SHOWN).toBe('pending');
    const other = await browser.newPage();
    await logIn(other, baseUrl, checker);
    await other.goto(`${baseUrl}/console/#/campaigns/full-model`);
    await other.getByRole('heading', { level: 1, name: 'Full model, v2' }).waitFor();
    expect(await other.locator('[data-action]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-action')))).toEqual(['approve', 'reject', 'end']);
    await other.getByRole('button', { name: 'Reject' }).click();
    await expect.poll(() => textNow(other.locator('.action-outcome')), SHOWN).toContain('Say why it is rejected first');
    expect(await other.evaluate('document.activeElement.name')).toBe('reason');
    await other.getByLabel('Reason for rejecting').fill('The holdout is too large for a two-week test.');
    await other.getByRole('button', { name: 'Reject' }).click();
    await expect.poll(() => textNow(other.locator('main .status')), SHOWN).toBe('draft');
    await browser.screenshot(other, 'builder', 'rejected');
    expect(browser.errorsOf(page)).toEqual([]);
    expect(browser.errorsOf(other)).toEqual([]);
  });
});
