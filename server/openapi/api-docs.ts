import swagger, { type StaticDocumentSpec } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type RegisteredRoute } from './openapi-document.ts';

// The API's documentation, public (it describes the API and holds no data): GET /docs is the page
// (Swagger UI, whose files ship in @fastify/swagger-ui: nothing is fetched at run time) and
// GET /docs/openapi.json the OpenAPI document (openapi-document.ts). The document covers the routes the
// app actually registered, so it is built once every plugin is loaded, when the app is ready.

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after registerApiDocs, by method and URL pattern: what the documentation must cover. */
    routeTable: RegisteredRoute[];
  }
}

/** Collects the route table and serves the documentation; call before the routes are registered. */
export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  const routes: RegisteredRoute[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  // @fastify/swagger serves this object as it is; it is filled in when the route table is complete.
  const document = {} as StaticDocumentSpec['document'];
  app.addHook('onReady', async () => {
    Object.assign(document, buildOpenApiDocument(routes));
  });
  await app.register(swagger, { mode: 'static', specification: { document } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, docExpansion: 'list' },
    // The page's own CSP, less upgrade-insecure-requests, which would send a plain-HTTP deployment's assets to https.
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });
  app.get('/docs/openapi.json', async () => app.swagger());
}
