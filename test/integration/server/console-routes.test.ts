import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIR } from '#server/routes/console-routes.ts';
import { buildTestApp, type TestApp } from '../../helpers/build-test-app.ts';

// The console's files as the server serves them (routes/console-routes.ts): the right content types,
// revalidated on each load, and a Content-Security-Policy that allows no inline script and no framing.

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

describe('the console', () => {
  it('serves its page at /console and /console/, with the same HTML', async () => {
    const bare = await t.app.inject({ method: 'GET', url: '/console' });
    const slash = await t.app.inject({ method: 'GET', url: '/console/' });
    for (const response of [bare, slash]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.body).toMatch(/^<!doctype html>/);
      expect(response.body).toContain('<title>Vicino console</title>');
      expect(response.body).toContain('<script type="module" src="/console/app.js"></script>');
    }
    expect(bare.body).toBe(slash.body);
  });

  it('serves scripts as JavaScript and the stylesheet as CSS', async () => {
    const script = await t.app.inject({ method: 'GET', url: '/console/app.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/^(text|application)\/javascript; charset=utf-8$/);
    expect(script.body).toBe(await readFile(`${CONSOLE_DIR}app.js`, 'utf8'));
    const page = await t.app.inject({ method: 'GET', url: '/console/pages/campaigns.js' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/javascript/);
    const css = await t.app.inject({ method: 'GET', url: '/console/console.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('sends a strict Content-Security-Policy, nosniff, no referrer and no-cache on every console response', async () => {
    for (const url of ['/console', '/console/', '/console/app.js', '/console/console.css', '/console/no-such-file.js']) {
      const response = await t.app.inject({ method: 'GET', url });
      const csp = String(response.headers['content-security-policy']);
      expect(csp, url).toContain("default-src 'self'");
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).not.toContain('unsafe-inline');
      expect(csp, url).not.toContain('unsafe-eval');
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.headers['referrer-policy'], url).toBe('no-referrer');
      expect(response.headers['cache-control'], url).toBe('no-cache');
    }
  });

  it('has no inline script or style attribute in its page, which the policy would refuse', async () => {
    const html = (await t.app.inject({ method: 'GET', url: '/console/' })).body;
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/console/app.js">']);
    expect(html).not.toMatch(/<script[^>]*>[^<]+<\/script>/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
  });

  it('answers 404 for a file it does not have, and serves nothing outside its folder', async () => {
    const missing = await t.app.inject({ method: 'GET', url: '/console/no-such-file.js' });
    expect(missing.statusCode).toBe(404);
    for (const url of ['/console/../app.ts', '/console/%2e%2e/app.ts', '/console/..%2fapp.ts', '/console/../../package.json']) {
      const response = await t.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).not.toBe(200);
      expect(response.body, url).not.toContain('buildApp');
      expect(response.body, url).not.toContain('"dependencies"');
    }
  });

  it('lists in pages/index.js every page module in its folder', async () => {
    const listed = (await readFile(`${CONSOLE_DIR}pages/index.js`, 'utf8')).match(/file: '([^']+)'/g)?.map((m) => m.slice(7, -1)) ?? [];
    const files = (await readdir(`${CONSOLE_DIR}pages`)).filter((f) => f.endsWith('.js'));
    // login.js is the shell's form (app.js imports it), charts.js a module the analytics page draws with.
    const helpers = new Set(['index.js', 'login.js', 'charts.js']);
    expect(listed.filter((f) => !files.includes(f)), 'listed but missing').toEqual([]);
    expect(files.filter((f) => !helpers.has(f) && !listed.includes(f)), 'present but not listed').toEqual([]);
  });
});
