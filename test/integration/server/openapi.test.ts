import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSION_ROLES, permissionFor } from '#server/auth/permissions.ts';
import { isApiRoute } from '#server/openapi/openapi-document.ts';
import { ROUTE_DOCS, routeDocFor } from '#server/openapi/route-docs.ts';
import { bearer, buildTestApp, expectStatus, putStore, type TestApp } from '#test/helpers/build-test-app.ts';
import { aCampaign } from '#test/helpers/builders.ts';
import { createConsoleUser, loginWithInject } from '#test/helpers/console-users.ts';

// Issue 8: every console action goes through the documented REST API, and the OpenAPI document at /docs
// is generated from the zod schemas the handlers parse with. Every route the app registers (read from
// its route table, so a new undocumented route fails here with its name) has an entry in the registry
// (server/openapi/route-docs.ts); the document is valid OpenAPI 3.1; a documented schema accepts and
// refuses what its route does.

type Json = Record<string, unknown>;
type Operation = Json & { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: Json }> }; responses: Record<string, { content?: Record<string, { schema?: Json }> }> };
type Document = Json & { paths: Record<string, Record<string, Operation>>; components: Json & { schemas: Record<string, Json>; securitySchemes: Record<string, Json> } };

let t: TestApp;
let document: Document;

beforeAll(async () => {
  t = await buildTestApp();
  expectStatus(await putStore(t, 'store-1'), 200);
  const response = await t.app.inject({ method: 'GET', url: '/docs/openapi.json' });
  expect(response.headers['content-type']).toContain('application/json');
  document = expectStatus<Document>(response, 200);
});
afterAll(async () => t.close());

const label = (route: { method: string; url: string }): string => `${route.method} ${route.url}`;
const apiRoutes = () => t.app.routeTable.filter(isApiRoute);
const operation = (method: string, path: string): Operation => {
  const found = document.paths[path]?.[method.toLowerCase()];
  if (found === undefined) throw new Error(`the document has no ${method} ${path}`);
  return found;
};

/** A JSON Schema of the document, checked with ajv; its $refs point into the document's components, which travel with it. */
function compile(schema: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile({ ...schema, components: document.components });
}

/** The dotted field paths ajv's errors name, as the API's `fields` does. */
const ajvFields = (errors: ErrorObject[]): string[] =>
  [...new Set(errors.map((e) => [e.instancePath.slice(1).replaceAll('/', '.'), e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : ''].filter(Boolean).join('.')))].sort();

describe('coverage', () => {
  it('documents every route the app registers', () => {
    const routes = apiRoutes();
    expect(routes.length).toBeGreaterThan(50);
    expect(routes.filter((route) => routeDocFor(route.method, route.url) === undefined).map(label)).toEqual([]);
  });

  it('has no entry for a route the app does not register', () => {
    const registered = new Set(apiRoutes().map(label));
    expect(Object.keys(ROUTE_DOCS).filter((key) => !registered.has(key))).toEqual([]);
  });

  it('puts every registered route in the document, with each URL parameter declared', () => {
    const missing: string[] = [];
    for (const route of apiRoutes()) {
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const found = document.paths[path]?.[route.method.toLowerCase()];
      if (found === undefined || found.summary === 'Undocumented') missing.push(label(route));
      const names = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      expect((found?.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name), label(route)).toEqual(names);
    }
    expect(missing).toEqual([]);
  });

  it('gives each URL parameter of a documented route the schema its handler parses it with', () => {
    const untyped = apiRoutes().flatMap((route) => {
      const names = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
      const declared = Object.keys(routeDocFor(route.method, route.url)?.params?.shape ?? {});
      return names.filter((name) => !declared.includes(name)).map((name) => `${label(route)} :${name}`);
    });
    expect(untyped).toEqual([]);
  });

  it('leaves out HEAD, the documentation page\'s own files and the console\'s static files', () => {
    expect(isApiRoute({ method: 'HEAD', url: '/v1/status' })).toBe(false);
    expect(isApiRoute({ method: 'GET', url: '/docs/static/*' })).toBe(false);
    expect(isApiRoute({ method: 'GET', url: '/console/*' })).toBe(false);
    expect(isApiRoute({ method: 'GET', url: '/docs/openapi.json' })).toBe(true);
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/docs'))).toEqual(['/docs/openapi.json']);
  });
});

describe('the document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(document);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
  });

  it('names each operator route\'s permission and the roles that have it', () => {
    const operatorRoutes = apiRoutes().filter((route) => route.url.startsWith('/v1/admin/'));
    expect(operatorRoutes.length).toBeGreaterThan(25);
    for (const route of operatorRoutes) {
      const op = operation(route.method, route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}'));
      const permission = permissionFor(route.method, route.url)!;
      expect({ permission: op['x-permission'], roles: op['x-roles'] }, label(route)).toEqual({ permission, roles: [...PERMISSION_ROLES[permission]] });
      expect(op.description, label(route)).toContain(`Permission \`${permission}\``);
    }
    expect(operation('POST', '/v1/admin/campaigns/{campaignId}/approve')).toMatchObject({ 'x-permission': 'campaigns.approve', 'x-roles': ['admin', 'marketer'] });
  });

  it('describes the bearer token, the session cookie and its CSRF header, and asks for the header on a change only', () => {
    expect(document.components.securitySchemes).toMatchObject({
      bearerAuth: { type: 'http', scheme: 'bearer' },
      sessionCookie: { type: 'apiKey', in: 'cookie', name: 'vicino_session' },
      csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
    });
    expect(operation('GET', '/v1/admin/campaigns').security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }]);
    expect(operation('PUT', '/v1/admin/campaigns/{campaignId}').security).toEqual([{ bearerAuth: [] }, { sessionCookie: [], csrfToken: [] }]);
    expect(operation('GET', '/health').security).toEqual([]);
    expect(operation('GET', '/v1/me/export').security).toEqual([{ appCredential: [], requestProof: [] }]);
  });

  it('documents the error body, with the status of each code a route may answer with', () => {
    const put = operation('PUT', '/v1/admin/campaigns/{campaignId}');
    expect(Object.keys(put.responses).sort()).toEqual(['200', '201', '400', '401', '403', '409', '413']);
    expect(put.responses['400']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Error' });
    const validate = compile(document.components.schemas.Error!);
    expect(validate({ error: { code: 'INVALID_BODY', message: 'name: too short', fields: ['name'], issues: [{ field: 'name', message: 'too short' }] } })).toBe(true);
  });
});

describe('schemas from the handlers', () => {
  const campaignBody = () => operation('PUT', '/v1/admin/campaigns/{campaignId}').requestBody!.content['application/json']!.schema;
  const definition = () => {
    const { id: _id, status: _status, version: _version, ...rest } = aCampaign({ id: 'coffee', storeId: 'store-1', zoneIds: ['entrance'] });
    return JSON.parse(JSON.stringify(rest)) as Json;
  };

  it('accepts a valid campaign definition, as PUT /v1/admin/campaigns/:campaignId does', async () => {
    const validate = compile(campaignBody());
    const body = definition();
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    expectStatus(await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/coffee', headers: bearer(t.adminToken), payload: body }), 201);
  });

  it('refuses an invalid definition naming the same fields as the route does', async () => {
    const valid = definition();
    const body = { ...valid, colour: 'red', caps: { ...(valid.caps as Json), minGapS: -1 }, trigger: { kind: 'dwell' } };
    const validate = compile(campaignBody());
    expect(validate(body)).toBe(false);
    const response = await t.app.inject({ method: 'PUT', url: '/v1/admin/campaigns/coffee-2', headers: bearer(t.adminToken), payload: body });
    expect(response.statusCode).toBe(400);
    const routeFields = [...new Set((response.json() as { error: { fields: string[] } }).error.fields)].sort();
    expect(routeFields).toEqual(expect.arrayContaining(['caps.minGapS', 'colour']));
    // The discriminated union reports its branch's missing field (ajv) where zod names the object: both point into trigger.
    expect(ajvFields(validate.errors!).filter((f) => !f.startsWith('trigger'))).toEqual(routeFields.filter((f) => !f.startsWith('trigger')));
    expect(ajvFields(validate.errors!).some((f) => f.startsWith('trigger'))).toBe(routeFields.some((f) => f.startsWith('trigger')));
  });

  it('documents responses as the handlers send them', async () => {
    const check = async (method: 'GET' | 'POST' | 'PUT', url: string, path: string, status: number, payload?: Json, headers: Record<string, string> = bearer(t.adminToken)) => {
      const response = await t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
      expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(status);
      const validate = compile(operation(method, path).responses[String(status)]!.content!['application/json']!.schema!);
      expect(validate(response.json()), `${method} ${url}: ${JSON.stringify(validate.errors)}`).toBe(true);
    };
    await check('POST', '/v1/admin/api-keys', '/v1/admin/api-keys', 201, { name: 'Docs reader', role: 'analyst' });
    await check('GET', '/v1/admin/api-keys', '/v1/admin/api-keys', 200);
    await check('GET', '/v1/admin/campaigns', '/v1/admin/campaigns', 200);
    await check('GET', '/v1/admin/campaigns/coffee', '/v1/admin/campaigns/{campaignId}', 200);
    await check('GET', '/v1/admin/campaigns/coffee/versions', '/v1/admin/campaigns/{campaignId}/versions', 200);
    await check('GET', '/v1/admin/analytics/campaigns/coffee', '/v1/admin/analytics/campaigns/{campaignId}', 200);
    await check('GET', '/v1/admin/analytics/campaigns/coffee/series?bucket=1d', '/v1/admin/analytics/campaigns/{campaignId}/series', 200);
    await check('GET', '/v1/admin/analytics/stores/store-1/zones', '/v1/admin/analytics/stores/{storeId}/zones', 200);
    await check('POST', '/v1/admin/campaigns/preview', '/v1/admin/campaigns/preview', 200, { definition: definition(), sample: { firstName: 'Ada' } });
    await check('POST', '/v1/admin/campaigns/preview', '/v1/admin/campaigns/preview', 200, { definition: { ...definition(), caps: {} } });
    await check('GET', '/v1/admin/audit', '/v1/admin/audit', 200);
    await check('GET', '/v1/admin/audit/verify', '/v1/admin/audit/verify', 200);
    await check('GET', '/v1/admin/privacy/ropa', '/v1/admin/privacy/ropa', 200);
    await check('PUT', '/v1/admin/stores/store-2', '/v1/admin/stores/{storeId}', 200, { name: 'Store 2', timezone: 'Europe/Rome', zones: [{ id: 'entrance', name: 'Entrance' }] });
    await check('POST', '/v1/admin/stores/store-2/gateways', '/v1/admin/stores/{storeId}/gateways', 201, { id: 'gw-docs', zoneId: 'entrance' });
    await check('GET', '/v1/admin/gateways', '/v1/admin/gateways', 200);
    await check('GET', '/v1/admin/stores', '/v1/admin/stores', 200);
    await check('GET', '/v1/admin/stores/store-2', '/v1/admin/stores/{storeId}', 200);
    await check('GET', '/v1/admin/stores/store-2/live', '/v1/admin/stores/{storeId}/live', 200);
    await check('POST', '/v1/admin/users', '/v1/admin/users', 201, { username: 'docs.reader', password: 'a long enough passphrase', role: 'analyst' });
    await check('GET', '/v1/admin/users', '/v1/admin/users', 200);
    const marketer = await createConsoleUser(t.deps.store, { username: 'docs.marketer', role: 'marketer' });
    const session = await loginWithInject(t.app, marketer);
    await check('GET', '/v1/session', '/v1/session', 200, undefined, { cookie: session.cookie });
    const invalid = await t.app.inject({ method: 'PUT', url: '/v1/admin/stores/store-1', headers: bearer(t.adminToken), payload: { name: '' } });
    expect(compile(document.components.schemas.Error!)(invalid.json())).toBe(true);
  });
});

describe('the documentation page', () => {
  it('is served at /docs without a credential, its assets from the package', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('swagger-ui');
    const bundle = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
    expect(bundle.body.length).toBeGreaterThan(100_000);
    // The page loads the same document.
    expect((await t.app.inject({ method: 'GET', url: '/docs/json' })).json()).toEqual(document);
  });
});
