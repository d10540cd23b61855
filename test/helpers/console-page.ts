import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { Locator, Page } from 'playwright-core';

// Driving the console as a user does, for the browser tests: open it, log in through its form, go to a
// page through its navigation. Locators are the ones a user (or a screen reader) has: labels, roles, names.

/** Listens on a free port of 127.0.0.1 and returns the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** Opens the console (at a hash route if given) and waits until it has started. */
export async function openConsole(page: Page, baseUrl: string, hash = ''): Promise<void> {
  await page.goto(`${baseUrl}/console/${hash}`);
  await page.locator('body[data-ready="true"]').waitFor();
}

/** Logs in through the login form and waits for the navigation of a session. */
export async function logIn(page: Page, baseUrl: string, user: { username: string; password: string }): Promise<void> {
  await openConsole(page, baseUrl);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect.poll(() => page.locator('#who').textContent(), SHOWN).toContain(user.username);
}

/** The main navigation's link names, as a user sees them. */
export async function navLinks(page: Page): Promise<string[]> {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
}

/** Follows a link of the main navigation and waits for the page's heading to take focus. */
export async function goTo(page: Page, linkName: string, headingName: string | RegExp): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: linkName, exact: true }).click();
  const heading = page.getByRole('heading', { level: 1, name: headingName });
  await heading.waitFor();
  await expect.poll(() => heading.evaluate((node) => node === node.ownerDocument.activeElement), SHOWN).toBe(true);
}

/** The text of the validation message shown next to the control named `name`, or null while there is none. */
export function fieldError(page: Page, name: string): Promise<string | null> {
  return textNow(page.locator(`[name="${name}"] + .field-error`));
}

/** An element's text now, or null if it is not there: for expect.poll, which must not wait inside. */
export async function textNow(locator: Locator): Promise<string | null> {
  return (await locator.count()) === 0 ? null : locator.first().textContent();
}

/** How long the browser tests poll for what the page shows after a server round trip. */
export const SHOWN = { timeout: 15_000, interval: 100 } as const;
