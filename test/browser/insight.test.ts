import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import type { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pseudonymise, topics, type PresenceEvent } from '#gateway/protocol/index.ts';
import { createZoneRollupJob } from '#server/analytics/rollup-job.ts';
import type { Experiment } from '#server/domain/campaign.ts';
import type { PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { shoppersInEachGroup } from '#test/helpers/app-stream.ts';
import { bodyOverflowsX, startBrowser, type TestBrowser } from '#test/helpers/browser.ts';
import {
  bearer, buildTestApp, expectStatus, grant, ingestOver, provisionGateway, putCampaign, registerShopper, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { aCampaign, aPresenceEvent, generousCaps } from '#test/helpers/builders.ts';
import { createConsoleUser, type ConsoleUser } from '#test/helpers/console-users.ts';

// The console's insight pages in Chromium, over a real server (listening, SQLite in a file) whose data
// came through the real APIs, as test/integration/server/analytics.test.ts makes it: a campaign with a
// 50 % holdout reaches ten treated shoppers (ten held out), four open it, two redeem, eight convert; twenty
// analytics-consenting shoppers walk the entrance, eight reach the checkout (below k = 10). The clock then
// moves past the store's midnight and the rollup runs, and a new crowd stands in the store: twelve at the
// checkout, three at the entrance. An analyst reads analytics and the live view; an auditor checks the
// audit chain, before and after a row is altered in the database, and cannot open analytics.

const EXPERIMENT: Experiment = { holdoutPercent: 50, variants: [{ id: 'a', weight: 1, message: { title: 'Variant A: coffee for two' } }] };
const ZONES = [
  { id: 'entrance', name: 'Entrance', sensitive: false, polygon: [[0, 0], [8, 0], [8, 10], [0, 10]] },
  { id: 'checkout', name: 'Checkout', sensitive: false, polygon: [[8, 0], [20, 0], [20, 6], [8, 6]] },
  { id: 'pharmacy', name: 'Pharmacy', sensitive: true, polygon: [[8, 6], [20, 6], [20, 10], [8, 10]] },
];
/** 2030-01-07 23:10 UTC: ten minutes past midnight in Rome (the store's time zone), so the day has closed. */
const AFTER_MIDNIGHT_MS = Date.UTC(2030, 0, 7, 23, 10);

let dir: string;
let dbPath: string;
let store: Store;
let t: TestApp;
let ingest: PresenceIngest;
let secrets: Record<string, Buffer>;
let sockets: WebSocket[];
let baseUrl: string;
let browser: TestBrowser;
let analyst: ConsoleUser;
let auditor: ConsoleUser;
/** Every shopper ID the server gave out: none may appear on any console page. */
const shopperIds: string[] = [];

const nowS = (): number => Math.floor(t.deps.now() / 1000);
function heard(who: RegisteredShopper, zoneId: 'entrance' | 'checkout' | 'pharmacy', kind: 'enter' | 'exit', dwellS = 0): PresenceEvent {
  const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
  return aPresenceEvent({
    storeId: 'store-1', gatewayId: `gw-${zoneId}`, zoneId, keyId: key.keyId, kind, proximity: 'near', atS: nowS(), dwellS,
    pseudonym: pseudonymise(key.key, 'eddystone-eid', who.tokens.eidAt(nowS())),
  }, secrets[`gw-${zoneId}`]);
}
const send = (event: PresenceEvent) => ingest.handle(topics.events('store-1', event.gatewayId), Buffer.from(JSON.stringify(event)));

async function newShopper(consent: { presence: boolean; promotions?: boolean; analytics?: boolean }): Promise<RegisteredShopper> {
  const shopper = await registerShopper(t.app);
  shopperIds.push(shopper.shopperId);
  await grant(t.app, shopper.token, consent);
  return shopper;
}

/** The campaign's story: exposures, opens, redemptions, conversions; and the walk the zone report counts. */
async function seedCampaignDay(streamUrl: string): Promise<void> {
  expectStatus(await putCampaign(t, aCampaign({
    id: 'ab-coffee', name: 'Coffee for two', storeId: 'store-1', zoneIds: ['entrance'], caps: generousCaps, experiment: EXPERIMENT,
    attribution: { conversionZoneIds: ['checkout'], windowS: 3600 }, message: { title: 'Fresh coffee', body: 'Two for one.', validForS: 3600 },
  })), 200);
  const { treated, control } = await shoppersInEachGroup(t, { id: 'ab-coffee', experiment: EXPERIMENT }, 10, { url: streamUrl, opened: sockets });
  shopperIds.push(...treated.map(({ shopper }) => shopper.shopperId), ...control.map((shopper) => shopper.shopperId));
  for (const { shopper } of treated) expect(await send(heard(shopper, 'entrance', 'enter'))).toBe('sent');
  for (const shopper of control) expect(await send(heard(shopper, 'entrance', 'enter'))).toBe('held-out');
  // (expect.poll is for tests; the seeding runs in beforeAll, so vi.waitFor.)
  for (const { stream } of treated) await vi.waitFor(() => expect(stream.frames.filter((f) => f.type === 'promotion')).toHaveLength(1));
  const promotions = treated.map(({ stream }) => stream.frames.find((f) => f.type === 'promotion')!);
  for (const i of [0, 1, 2, 3]) treated[i]!.stream.send({ type: 'opened', id: promotions[i]!.id });
  await vi.waitFor(async () => expect((await Promise.all(promotions.map((p) => store.getPromotion(String(p.id))))).filter((p) => p?.openedAtMs !== null)).toHaveLength(4));
  const till = expectStatus<{ token: string }>(await t.app.inject({ method: 'POST', url: '/v1/admin/stores/store-1/pos-devices', headers: bearer(t.adminToken), payload: { name: 'Till 1' } }), 201);
  for (const p of promotions.slice(0, 2)) {
    expectStatus(await t.app.inject({ method: 'POST', url: '/v1/pos/redemptions', headers: bearer(till.token), payload: { couponCode: p.couponCode } }), 200);
  }
  // Ten minutes on, all twenty leave the entrance (dwell 10 min); six treated and two held out reach the checkout.
  t.clock.advance(10 * 60_000);
  const everyone = [...treated.map((x) => x.shopper), ...control];
  for (const shopper of everyone) await send(heard(shopper, 'entrance', 'exit', 600));
  for (const shopper of [...treated.slice(0, 6).map((x) => x.shopper), ...control.slice(0, 2)]) await send(heard(shopper, 'checkout', 'enter'));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-insight-'));
  dbPath = join(dir, 'vicino.db');
  store = openSqliteStore(dbPath);
  t = await buildTestApp({ store });
  ingest = ingestOver(t, t.deps.delivery);
  sockets = [];
  expectStatus(await t.app.inject({
    method: 'PUT', url: '/v1/admin/stores/store-1', headers: bearer(t.adminToken),
    payload: { name: 'Corso Como', timezone: 'Europe/Rome', floorPlan: { widthM: 20, heightM: 10 }, zones: ZONES },
  }), 200);
  secrets = {};
  for (const zone of ZONES) {
    const { config } = expectStatus<{ config: { secret: string } }>(await provisionGateway(t, 'store-1', { id: `gw-${zone.id}`, zoneId: zone.id }), 201);
    secrets[`gw-${zone.id}`] = Buffer.from(config.secret, 'base64url');
  }
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  await seedCampaignDay(`ws://127.0.0.1:${port}/v1/me/promotions/stream`);

  // Past the store's midnight: the hours and the day close and are rolled up.
  t.clock.set(AFTER_MIDNIGHT_MS);
  const rollup = createZoneRollupJob({ store, now: t.deps.now, presenceEventsMs: 86_400_000, metrics: t.deps.metrics, logger: t.logs.logger });
  await rollup.run();
  await rollup.run();

  // The store now: twelve at the checkout (k or more), three at the entrance (fewer than k).
  for (let i = 0; i < 15; i += 1) {
    const shopper = await newShopper({ presence: true });
    await send(heard(shopper, i < 12 ? 'checkout' : 'entrance', 'enter'));
  }
  analyst = await createConsoleUser(store, { username: 'ana', role: 'analyst' });
  auditor = await createConsoleUser(store, { username: 'audrey', role: 'auditor' });
  browser = await startBrowser();
}, 120_000);

afterAll(async () => {
  for (const socket of sockets ?? []) socket.terminate();
  await browser?.close();
  await t?.close();
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function logIn(user: ConsoleUser, viewport?: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage(viewport ? { viewport } : {});
  await page.goto(`${baseUrl}/console/`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#nav a').first().waitFor();
  return page;
}

async function open(page: Page, hash: string, ready: string): Promise<void> {
  await page.goto(`${baseUrl}/console/${hash}`);
  await page.locator(ready).first().waitFor();
}

/** No shopper ID the server gave out is anywhere in the page's text or markup. */
async function expectNoShopperIdentifiers(page: Page): Promise<void> {
  const html = await page.content();
  expect(shopperIds.filter((id) => html.includes(id))).toEqual([]);
}

const navLinks = (page: Page) => page.locator('#nav a').allInnerTexts();

describe('the console\'s insight pages in a browser', () => {
  it('shows an analyst the campaign over time, its uplift with the 95 % interval, and footfall and dwell, suppressing what is under k', async () => {
    const page = await logIn(analyst);
    expect(await navLinks(page)).toEqual(expect.arrayContaining(['Analytics', 'Live store', 'Privacy']));
    expect(await navLinks(page)).not.toContain('Audit log');
    await open(page, '#/analytics/ab-coffee/store-1', '.chart-bar .bar');

    // Deliveries over time: ten in the seeded hour; four opens and two redemptions are fewer than k shoppers.
    const activity = page.locator('.campaign-report .chart-line');
    await expect.poll(() => activity.locator('.chart-point[data-series="Deliveries"][data-value="10"]').count()).toBe(1);
    expect(await activity.locator('.chart-point[data-series="Opens"][data-value]').count()).toBe(0);
    expect(await activity.locator('.chart-point-suppressed[data-series="Opens"]').count()).toBeGreaterThan(0);
    await activity.locator('summary').click();
    expect(await activity.locator('table').innerText()).toContain('suppressed (< 10)');
    expect(await activity.locator('svg[role="img"] desc').textContent()).toContain('Deliveries: highest 10');

    // Uplift: 6 of 10 treated against 2 of 10 held out converted.
    expect(await page.locator('.uplift-summary').innerText()).toContain('+40.0 pp');
    const row = page.locator('.ci-row[data-label="All variants"]');
    expect(Number(await row.getAttribute('data-estimate'))).toBeCloseTo(0.4, 5);
    const [x1, x2, xe] = await Promise.all([
      row.locator('.ci-whisker').getAttribute('x1'), row.locator('.ci-whisker').getAttribute('x2'), row.locator('.ci-estimate').getAttribute('cx'),
    ]).then((values) => values.map(Number));
    expect(x1!).toBeLessThan(xe!);
    expect(xe!).toBeLessThan(x2!);
    expect(await page.locator('.campaign-report table').last().innerText()).toMatch(/Holdout \(control\)\s+10/);

    // Footfall by hour: twenty at the entrance; the checkout's eight are suppressed, not drawn as 0; the sensitive pharmacy is not reported.
    const entrance = page.locator('figure', { has: page.locator('svg title', { hasText: 'Footfall by hour: Entrance' }) });
    expect(await entrance.locator('.bar[data-value="20"]').count()).toBe(1);
    const checkout = page.locator('figure', { has: page.locator('svg title', { hasText: 'Footfall by hour: Checkout' }) });
    expect(await checkout.locator('.bar[data-value]').count()).toBe(0);
    expect(await checkout.locator('.bar-suppressed').count()).toBeGreaterThan(0);
    await checkout.locator('summary').click();
    expect(await checkout.locator('table').innerText()).toContain('suppressed (< 10)');
    expect(await page.locator('svg title', { hasText: 'Footfall by hour: Pharmacy' }).count()).toBe(0);
    // Dwell on the closed day: the twenty who stayed ten minutes at the entrance.
    const dwell = page.locator('.dwell .chart-bar');
    expect(await dwell.locator('.bar[data-series="Entrance"][data-category="5-15m"]').getAttribute('data-value')).toBe('20');

    // Daily buckets, chosen with the keyboard: the day's ten deliveries.
    await page.getByLabel('Buckets').focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => activity.locator('figcaption').textContent()).toBe('Deliveries, opens and redemptions per day');
    await expect.poll(() => activity.locator('.chart-point[data-series="Deliveries"][data-value="10"]').getAttribute('data-category')).toBe('7 Jan');

    // Every CSV link (campaign report, series, hourly and daily zones) downloads with the session.
    const hrefs = await Promise.all((await page.locator('.downloads a').all()).map(async (link) => (await link.getAttribute('href')) ?? ''));
    expect(hrefs).toHaveLength(4);
    const csvs = await page.evaluate<{ status: number; type: string | null; head: string }[], string[]>(async (list) => Promise.all(list.map(async (href) => {
      const response = await fetch(href);
      return { status: response.status, type: response.headers.get('content-type'), head: (await response.text()).split('\r\n')[0] ?? '' };
    })), hrefs);
    expect(csvs.map((c) => [c.status, c.type?.startsWith('text/csv')])).toEqual(hrefs.map(() => [200, true]));
    expect(csvs[0]!.head).toMatch(/^campaign_id,variant,/);
    expect(csvs[2]!.head).toBe('store_id,zone_id,bucket,bucket_start,bucket_end,metric,dwell_bin,shoppers,suppressed');

    await expectNoShopperIdentifiers(page);
    await browser.screenshot(page, 'insight', 'analytics-1280');
    expect(browser.errorsOf(page)).toEqual([]);

    // On a phone, the charts are drawn at its width and nothing overflows sideways.
    const phone = await logIn(analyst, { width: 375, height: 800 });
    await open(phone, '#/analytics/ab-coffee/store-1', '.chart-bar .bar');
    expect(Number(await phone.locator('.campaign-report .chart-line svg[role="img"]').getAttribute('width'))).toBeLessThan(375);
    expect(await bodyOverflowsX(phone)).toBe(false);
    await browser.screenshot(phone, 'insight', 'analytics-375');
    expect(browser.errorsOf(phone)).toEqual([]);
  }, 60_000);

  it('shows the live store: a zone with k or more shoppers coloured by its count, one under k hatched as "fewer than k", refreshed until the user leaves', async () => {
    const page = await logIn(analyst);
    const liveRequests: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/live')) liveRequests.push(request.url());
    });
    await open(page, '#/live/store-1', '.zone[data-zone-id="checkout"]');
    const checkout = page.locator('.zone[data-zone-id="checkout"]');
    expect(await checkout.getAttribute('data-state')).toBe('occupied');
    expect(await checkout.getAttribute('data-occupancy')).toBe('12');
    // 12 is in the first band, 10–19 (charts.js occupancyBands).
    expect(await checkout.locator('polygon').getAttribute('fill')).toBe('#c6dbef');
    expect(await checkout.locator('.zone-label').textContent()).toBe('Checkout12 shoppers');
    const entrance = page.locator('.zone[data-zone-id="entrance"]');
    expect(await entrance.getAttribute('data-state')).toBe('suppressed');
    expect(await entrance.getAttribute('data-occupancy')).toBeNull();
    expect(await entrance.locator('.zone-label').textContent()).toBe('Entrancefewer than 10');
    expect(await page.locator('.zone[data-zone-id="pharmacy"]').getAttribute('data-sensitive')).toBe('true');
    expect(await page.locator('.chart-legend').innerText()).toContain('fewer than 10 shoppers (suppressed)');
    expect(Number(await page.locator('.stat-value').first().innerText())).toBeGreaterThanOrEqual(0);

    // Updates can be paused (WCAG 2.2.2) and resumed, by keyboard.
    const pause = page.getByRole('button', { name: 'Pause updates' });
    await pause.focus();
    await page.keyboard.press('Enter');
    const resume = page.getByRole('button', { name: 'Resume updates' });
    expect(await resume.getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('.live-status').innerText()).toBe('Updates paused.');
    await page.keyboard.press('Enter');
    expect(await pause.getAttribute('aria-pressed')).toBe('false');

    // It refreshes every 2 s, and stops once the user goes to another page.
    await expect.poll(async () => Number(await page.locator('.live-map').getAttribute('data-refreshes')), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await expectNoShopperIdentifiers(page);
    await browser.screenshot(page, 'insight', 'live-1280');
    // At 375 px the next refresh draws the plan at the phone's width.
    await page.setViewportSize({ width: 375, height: 800 });
    const refreshes = Number(await page.locator('.live-map').getAttribute('data-refreshes'));
    await expect.poll(async () => Number(await page.locator('.live-map').getAttribute('data-refreshes')), { timeout: 10_000 }).toBeGreaterThan(refreshes);
    expect(Number(await page.locator('.live-map svg[role="img"]').getAttribute('width'))).toBeLessThan(375);
    expect(await bodyOverflowsX(page)).toBe(false);
    await browser.screenshot(page, 'insight', 'live-375');
    await page.getByRole('link', { name: 'Privacy' }).click();
    await page.locator('h1', { hasText: 'Privacy' }).waitFor();
    const afterLeaving = liveRequests.length;
    // Absence needs a wait: longer than one refresh period, with nothing asked for.
    await page.waitForTimeout(2_500);
    expect(liveRequests.length).toBe(afterLeaving);
    expect(browser.errorsOf(page)).toEqual([]);
  }, 60_000);

  it('shows an auditor the chain intact, then broken at the entry altered in the database, by keyboard; and no analytics', async () => {
    const page = await logIn(auditor);
    expect(await navLinks(page)).toEqual(expect.arrayContaining(['Audit log', 'Privacy']));
    expect(await navLinks(page)).not.toContain('Analytics');
    expect(await navLinks(page)).not.toContain('Live store');

    // Straight to analytics by URL: the console says why, and so does the API.
    await open(page, '#/analytics', '.alert');
    expect(await page.locator('.alert').innerText()).toContain('does not have the permission analytics.read');
    const refused = await page.evaluate<{ status: number; body: { error: { message: string } } }>(
      'fetch("/v1/admin/analytics/campaigns/ab-coffee").then(async (r) => ({ status: r.status, body: await r.json() }))');
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe('role auditor lacks permission analytics.read for GET /v1/admin/analytics/campaigns/:campaignId');

    // The audit log by keyboard: the nav link, then the chain verdict.
    await page.getByRole('link', { name: 'Audit log' }).focus();
    await page.keyboard.press('Enter');
    const verdict = page.locator('.verdict');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-chain')).toBe('ok');
    const entries = (await store.listAudit(1, 10_000)).length;
    expect(await verdict.innerText()).toContain(`Chain intact: all ${entries} entries verified`);
    expect(await page.locator('.audit-table tbody tr').count()).toBe(Math.min(50, entries));
    expect(await page.locator('.pager').innerText()).not.toContain('null');
    expect(await page.locator('.audit-table').innerText()).toContain('a shopper (ID withheld)');
    await expectNoShopperIdentifiers(page);
    await browser.screenshot(page, 'insight', 'audit-ok-1280');

    // An entry altered behind the server's back (the consent answer of the first shopper).
    const target = (await store.listAudit(1, 10_000)).find((e) => e.action === 'consent.changed')!;
    const db = new Database(dbPath);
    try {
      expect(db.prepare('UPDATE audit_log SET details = ? WHERE seq = ?').run('{"purpose":"analytics","granted":false}', target.seq).changes).toBe(1);
    } finally {
      db.close();
    }
    await page.getByRole('button', { name: 'Check the chain again' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => verdict.getAttribute('data-chain')).toBe('broken');
    expect(await verdict.innerText()).toContain(`Chain BROKEN at entry ${target.seq}`);
    expect(await verdict.innerText()).toMatch(/Reason: .*altered/);
    await page.getByRole('button', { name: `Show entry ${target.seq}` }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.audit-table tbody tr').first().getAttribute('data-seq')).toBe(String(target.seq));
    expect(await page.locator('tr.row-broken').innerText()).toContain('chain breaks here');
    await browser.screenshot(page, 'insight', 'audit-broken-1280');
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await bodyOverflowsX(page)).toBe(false);
    await browser.screenshot(page, 'insight', 'audit-broken-375');
    expect(browser.errorsOf(page)).toEqual([]);
  }, 60_000);

  it('shows the record of processing and links each store\'s public notice', async () => {
    const page = await logIn(auditor);
    await open(page, '#/privacy', '.ropa');
    const text = await page.locator('.ropa').innerText();
    expect(text).toContain('GDPR art. 30(1)');
    expect(text).toContain('P3 analytics');
    expect(text).toContain('Coffee for two (ab-coffee)');
    expect(await page.locator('.ropa-store[data-store-id="store-1"]').innerText()).toContain('sensitive: never targeted, not reported');
    const notice = page.getByRole('link', { name: 'Privacy notice of Corso Como' });
    expect(await notice.getAttribute('href')).toBe('/p/store-1');
    await browser.screenshot(page, 'insight', 'privacy-1280');
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await bodyOverflowsX(page)).toBe(false);
    await browser.screenshot(page, 'insight', 'privacy-375');
    await notice.click();
    await page.waitForURL(`${baseUrl}/p/store-1`);
    expect(await page.locator('body').innerText()).toContain('Corso Como');
    expect(browser.errorsOf(page)).toEqual([]);
  }, 60_000);
});
