import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import type { Role } from '#server/domain/principal.ts';
import { startBrowser, type TestBrowser } from '#test/helpers/browser.ts';
import { logIn, navLinks } from '#test/helpers/console-page.ts';
import { createConsoleUser } from '#test/helpers/console-users.ts';
import { addressForms, findLeaks, identifierForms, type Secret } from '#test/helpers/leak-search.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { aTestScenario } from '#test/helpers/scenarios.ts';
import { startTestSystem, type TestSystem } from '#test/helpers/test-system.ts';

// Issue 8: "the console never shows a pseudonym or an identifier beyond what the role needs". A store
// runs with shoppers walking, consenting and receiving promotions; then each role logs in and opens
// every page its navigation offers, plus the store, campaign, analytics, live and audit pages by
// address. Everything the browser received from the API and every page as rendered is searched for
// the run's shopper IDs, app credentials, EIDs, identity keys, pseudonyms, Bluetooth addresses and
// foreign beacons' identifiers, in every
// encoding (test/helpers/leak-search.ts). The one API answer left out of the search is the audit log
// itself (GET /v1/admin/audit): it gives an auditor the shopper IDs that access and erasure requests
// are traced by; the audit page withholds them, and the rendered page is searched like any other.

const ROLES: readonly Role[] = ['admin', 'marketer', 'analyst', 'auditor'];
const scenario = aTestScenario({ optedInApps: 6, presenceOnlyApps: 2 });
const storeId = scenario.store.id;
const campaignId = scenario.campaign.id;

let system: TestSystem;
let browser: TestBrowser;
let baseUrl: string;

afterAll(async () => {
  await browser?.close();
  await system?.close();
});

beforeAll(async () => {
  system = await startTestSystem({ scenario, logger: createLogSink({ level: 'warn' }).logger });
  baseUrl = system.server.url;
  browser = await startBrowser();
  // Promotions have reached the apps: the store has shoppers, pseudonyms on the wire and deliveries to report.
  await vi.waitFor(() => expect(system.sim.apps().filter((a) => a.app.shown.length > 0).length).toBeGreaterThanOrEqual(2), { timeout: 60_000, interval: 250 });
});

/** Every identifier of the run that the console must never show. */
function secretsOfTheRun(): Secret[] {
  const secrets: Secret[] = [];
  for (const { app } of system.sim.apps()) secrets.push({ what: 'shopper ID', value: app.shopperId }, { what: 'app credential', value: app.token() });
  const truth = system.sim.groundTruth();
  secrets.push(
    ...truth.addresses.flatMap(addressForms),
    ...truth.eids.flatMap((eid) => identifierForms('EID', eid)),
    ...truth.identityKeys.flatMap((key) => identifierForms('identity key', key)),
    ...truth.deviceIdentifiers.flatMap((id) => identifierForms('beacon or device identifier', id)),
  );
  for (const message of system.captured) {
    for (const match of message.payload.toString('utf8').matchAll(/"pseudonym":"([^"]+)"/g)) secrets.push({ what: 'pseudonym', value: match[1]! });
  }
  return secrets;
}

/** Opens a page of the console and waits until its API calls have settled. */
async function visit(page: Page, hash: string): Promise<void> {
  await page.goto(`${baseUrl}/console/${hash}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await page.waitForLoadState('networkidle');
}

describe('what the console shows of shoppers', () => {
  it('shows no shopper ID, credential, EID, identity key, pseudonym, address or beacon identifier to any role, on any page', async () => {
    const corpus: string[] = [];
    const seen = { responses: 0, pages: 0 };
    for (const role of ROLES) {
      const user = await createConsoleUser(system.testStore.store, { username: `privacy.${role}`, role });
      const page = await browser.newPage();
      page.on('response', async (response) => {
        const url = new URL(response.url());
        if (!url.pathname.startsWith('/v1/') || url.pathname === '/v1/admin/audit') return;
        seen.responses += 1;
        corpus.push(`${role} ${url.pathname}: ${await response.text().catch(() => '')}`);
      });
      await logIn(page, baseUrl, user);
      const hashes = [
        ...(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''))),
        `#/stores/${storeId}`, `#/campaigns/${campaignId}`, `#/analytics/${campaignId}`, `#/live/${storeId}`, '#/audit/1',
      ];
      expect((await navLinks(page)).length).toBeGreaterThan(3);
      for (const hash of hashes) {
        await visit(page, hash);
        corpus.push(`${role} ${hash}: ${await page.content()}`);
        seen.pages += 1;
      }
      await browser.screenshot(page, 'console-privacy', `${role}-last-page`);
    }

    // The search had something to search: the pages showed the store, its campaign and what happened.
    const text = corpus.join('\n');
    expect(text).toContain(storeId);
    expect(text).toContain(scenario.campaign.name);
    expect(seen.pages).toBeGreaterThanOrEqual(ROLES.length * 8);
    expect(seen.responses).toBeGreaterThan(ROLES.length * 8);
    const secrets = secretsOfTheRun();
    expect(secrets.filter((s) => s.what === 'pseudonym').length).toBeGreaterThan(0);
    expect(secrets.filter((s) => s.what === 'shopper ID').length).toBe(8);
    expect(findLeaks(corpus, secrets)).toEqual([]);
  });
});
