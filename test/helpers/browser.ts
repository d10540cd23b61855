import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

// The console in a real browser: Debian's Chromium (/usr/bin/chromium; .ci/run installs it when it is
// missing) driven by playwright-core, which never downloads a browser of its own. One browser per test
// file; each user gets a context of their own (their own cookies, so two marketers can be logged in at
// once) and each test a new page. Playwright starts every launch on a fresh, temporary --user-data-dir
// and removes it on close. Screenshots go to test-artifacts/screenshots/<test>-<step>.png (CI keeps them).

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless, and nothing that talks to the network by itself or waits on a GPU. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

export type PageErrors = string[];

export type TestBrowser = {
  browser: Browser;
  /** A new context (its own cookies and storage) and a page in it, at this viewport (1280×900 by default). */
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<Page>;
  /** Uncaught errors and console errors (a CSP refusal is one; failed HTTP responses are not) of a page this helper opened. */
  errorsOf(page: Page): PageErrors;
  /** Saves a full-page PNG as test-artifacts/screenshots/<test>-<step>.png; returns its path. */
  screenshot(page: Page, test: string, step: string): Promise<string>;
  close(): Promise<void>;
};

const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

export async function startBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install -y chromium; .ci/run does it), or set CHROMIUM_PATH`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS, headless: true, chromiumSandbox: false });
  const contexts: BrowserContext[] = [];
  const errors = new WeakMap<Page, PageErrors>();
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return {
    browser,
    async newPage(options = {}) {
      const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, acceptDownloads: true });
      contexts.push(context);
      const page = await context.newPage();
      // Long enough for a loaded CI machine, short enough that a missing element fails inside the test's own timeout.
      page.setDefaultTimeout(15_000);
      const seen: PageErrors = [];
      errors.set(page, seen);
      page.on('pageerror', (error) => seen.push(`pageerror: ${error.message}`));
      page.on('console', (message) => {
        // A 4xx from the API is a flow under test (a 401 before login, a 403 shown to the user), not a fault.
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) seen.push(`console: ${message.text()}`);
      });
      return page;
    },
    errorsOf: (page) => errors.get(page) ?? [],
    async screenshot(page, test, step) {
      const path = `${SCREENSHOT_DIR}${slug(test)}-${slug(step)}.png`;
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      for (const context of contexts.splice(0)) await context.close().catch(() => undefined);
      await browser.close();
    },
  };
}

/** Whether the page's body is wider than its viewport (something overflows sideways). */
export async function bodyOverflowsX(page: Page): Promise<boolean> {
  // A string, evaluated in the page: the project's TypeScript has no DOM types.
  return page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
}
