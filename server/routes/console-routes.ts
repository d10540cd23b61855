import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.ts';

// The marketer console (issue 8): plain ES modules and one stylesheet under server/console/, served as
// they are — no build step. The page is its own origin's only script source: the Content-Security-Policy
// allows no inline script and no other origin, and no framing (clickjacking). Every console action goes
// through the documented REST API (/v1/session, /v1/admin/*), with the session cookie and its CSRF token.

export const CONSOLE_DIR = fileURLToPath(new URL('../console/', import.meta.url));

/** What the console needs and nothing more: its own scripts, styles, images (SVG charts, blob downloads) and API. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Revalidate every time (ETag): a deployment's new console reaches every open browser on its next load.
  'cache-control': 'no-cache',
} as const;

export async function consoleRoutes(app: FastifyInstance, _deps: AppDeps): Promise<void> {
  // This plugin's scope only: the headers go on every console response, files and 404s alike.
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  await app.register(fastifyStatic, {
    root: CONSOLE_DIR,
    prefix: '/console/',
    index: ['index.html'],
    cacheControl: false,
    dotfiles: 'ignore',
    // The API documentation (/docs) registers its own copy of the plugin; only one may decorate the reply.
    decorateReply: false,
  });
  // The console's address without the trailing slash: the same page (its scripts use absolute paths).
  app.get('/console', async (_request, reply) => reply.type('text/html; charset=utf-8').send(await readFile(`${CONSOLE_DIR}index.html`)));
}
