import { z } from 'zod';
import { PERMISSION_ROLES, permissionFor } from '../auth/permissions.ts';
import { HTTP_STATUS, type ErrorCode } from '../domain/errors.ts';
import { CampaignDefinitionSchema } from '../domain/campaign.ts';
import { CampaignViewSchema, ErrorResponseSchema } from './response-schemas.ts';
import { ROUTE_DOCS, type RouteAuth, type RouteDoc } from './route-docs.ts';

// The OpenAPI 3.1 document of the routes the app registered (api-docs.ts collects them), from the
// documentation registry (route-docs.ts). The zod schemas become JSON Schema 2020-12, the dialect of
// OpenAPI 3.1, with z.toJSONSchema: requests in their input form (what a client may send: defaults
// optional, before transforms), responses in their output form. What JSON Schema cannot say (a
// refinement across fields, say) the handler still checks; its 400 names the field.

export type RegisteredRoute = { method: string; url: string };
type Json = Record<string, unknown>;
export type OpenApiDocument = {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
};

/**
 * Whether a registered route belongs in the API's documentation: not HEAD (each GET's twin), not the
 * documentation page's own files (its document, /docs/openapi.json, is documented), not the console's
 * static files under /console/.
 */
export function isApiRoute(route: RegisteredRoute): boolean {
  if (route.method === 'HEAD') return false;
  if (route.url === '/docs/openapi.json') return true;
  return !(route.url === '/docs' || route.url.startsWith('/docs/') || route.url.startsWith('/console/'));
}

const TAGS: { name: string; description: string }[] = [
  { name: 'Session', description: 'Logging in to the console: a session cookie, and a CSRF token for every change.' },
  { name: 'Users', description: "The console's user accounts." },
  { name: 'API keys', description: 'Keys of the people and machines that use the operator API.' },
  { name: 'Stores', description: 'Stores, their zones, hours and store beacons.' },
  { name: 'Gateways', description: 'In-store gateways: provisioning and presence settings.' },
  { name: 'POS devices', description: "Stores' tills and their credentials." },
  { name: 'Campaigns', description: 'Campaign definitions through their lifecycle: draft, pending, active, paused, ended (maker–checker approval).' },
  { name: 'Analytics', description: 'Aggregate, k-anonymous reports (AN-1): JSON or CSV.' },
  { name: 'Live', description: 'The live store view: occupancy per zone, no individual.' },
  { name: 'Audit', description: 'The audit log, hash-chained (ACC-1).' },
  { name: 'Privacy', description: 'The record of processing and the public privacy notices (TRN-1).' },
  { name: 'Deliveries', description: "The push provider webhook's dead letters." },
  { name: 'Shopper app', description: "Registration and the shopper's own profile, with the app's credential." },
  { name: 'Consent', description: 'Consent texts and the shopper\'s answers, per purpose.' },
  { name: 'Promotions', description: 'What the app receives, and its acknowledgements.' },
  { name: 'Beacons', description: 'Loyalty beacons and iOS store-beacon sightings.' },
  { name: 'Rights', description: 'Data-subject rights: export, erasure, objection, restriction. Each needs a request proof.' },
  { name: 'Point of sale', description: 'Coupon redemption at a till.' },
  { name: 'Status', description: 'Health, metrics and aggregate status.' },
  { name: 'Console', description: 'The marketer console.' },
  { name: 'Documentation', description: 'This document.' },
];

const SECURITY_SCHEMES: Record<string, Json> = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'The operator API: the deployment\'s admin token, or an API key (POST /v1/admin/api-keys).' },
  sessionCookie: { type: 'apiKey', in: 'cookie', name: 'vicino_session', description: 'The console session (POST /v1/session): HttpOnly, SameSite=Strict.' },
  csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: "With the session cookie, every request but GET and HEAD sends the session's CSRF token; without it, 403." },
  appCredential: { type: 'http', scheme: 'bearer', description: "The shopper app's credential (POST /v1/shoppers; rotated with POST /v1/me/token)." },
  requestProof: { type: 'apiKey', in: 'header', name: 'Vicino-Proof', description: 'A request proof made with the identity key: fresh and single-use (docs/app-integration.md).' },
  posDevice: { type: 'http', scheme: 'bearer', description: "A till's token (POST /v1/admin/stores/{storeId}/pos-devices)." },
};

const DESCRIPTION = `Vicino's HTTP API: the operator API under /v1/admin (the console goes through it too), the console session,
the shopper app's API under /v1/me, the point of sale, and public status and privacy notices.

**Errors** are \`{ "error": { "code", "message", "fields", "issues" } }\`: a stable code, a message naming the field at fault,
the dotted paths of the fields at fault, and each field with its own message. 400 INVALID_BODY / INVALID_PARAMS,
401 UNAUTHENTICATED, 403 FORBIDDEN, 404 NOT_FOUND, 409 CONFLICT.

**Operator routes** accept a bearer admin token or API key, or the console's session cookie (with X-CSRF-Token on a change).
Each lists the permission it needs and the roles that have it (x-permission, x-roles).`;

function securityOf(auth: RouteAuth, method: string): Json[] | undefined {
  const reads = method === 'GET';
  switch (auth) {
    case 'none': return undefined;
    case 'operator': return [{ bearerAuth: [] }, reads ? { sessionCookie: [] } : { sessionCookie: [], csrfToken: [] }];
    case 'session': return [reads ? { sessionCookie: [] } : { sessionCookie: [], csrfToken: [] }];
    case 'app': return [{ appCredential: [] }];
    case 'app-proof': return [{ appCredential: [], requestProof: [] }];
    case 'pos': return [{ posDevice: [] }];
  }
}

function authOf(doc: RouteDoc, url: string): RouteAuth {
  if (doc.auth !== undefined) return doc.auth;
  if (url.startsWith('/v1/admin/')) return 'operator';
  if (url === '/v1/me' || url.startsWith('/v1/me/')) return 'app';
  if (url.startsWith('/v1/pos/')) return 'pos';
  return 'none';
}

/** Schemas the document names as components, each in the form (input or output) it is used in. */
const NAMED: Record<'input' | 'output', ReadonlyMap<z.core.$ZodType, string>> = {
  input: new Map<z.core.$ZodType, string>([[CampaignDefinitionSchema, 'CampaignDefinition']]),
  output: new Map<z.core.$ZodType, string>([[ErrorResponseSchema, 'Error'], [CampaignViewSchema, 'CampaignView']]),
};

type Converter = (schema: z.core.$ZodType, io: 'input' | 'output') => Json;

/**
 * Turns zod schemas into JSON Schema. A named schema (NAMED) becomes a component, referred to wherever
 * it appears; so does what a schema shares within itself ($defs: a recursive schema), under a made-up name.
 */
function createConverter(components: Record<string, Json>): Converter {
  let shared = 0;
  const inline = (schema: z.core.$ZodType, io: 'input' | 'output'): Json => {
    const { $schema: _dialect, $defs, ...json } = z.toJSONSchema(schema, {
      io, unrepresentable: 'any', target: 'draft-2020-12',
      override: (ctx) => {
        const name = ctx.zodSchema === schema ? undefined : NAMED[io].get(ctx.zodSchema);
        if (name === undefined) return;
        const target = ctx.jsonSchema as Json;
        for (const key of Object.keys(target)) delete target[key];
        Object.assign(target, convert(ctx.zodSchema, io));
      },
    }) as Json;
    const defs = ($defs ?? {}) as Record<string, Json>;
    // A local ref, "#/$defs/<name>" or "#" (the root itself), would point into the document: it points to a component instead.
    const targets = new Map<string, string>();
    for (const name of Object.keys(defs)) targets.set(`#/$defs/${name}`, `Shared${++shared}`);
    const recursive = JSON.stringify(json).includes('"$ref":"#"');
    if (recursive) targets.set('#', `Shared${++shared}`);
    const rewrite = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(rewrite);
      if (value === null || typeof value !== 'object') return value;
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => {
        const target = key === '$ref' && typeof inner === 'string' ? targets.get(inner) : undefined;
        return [key, target === undefined ? rewrite(inner) : `#/components/schemas/${target}`];
      }));
    };
    for (const [name, definition] of Object.entries(defs)) components[targets.get(`#/$defs/${name}`)!] = rewrite(definition) as Json;
    if (!recursive) return rewrite(json) as Json;
    components[targets.get('#')!] = rewrite(json) as Json;
    return { $ref: `#/components/schemas/${targets.get('#')!}` };
  };
  const convert: Converter = (schema, io) => {
    const name = NAMED[io].get(schema);
    if (name === undefined) return inline(schema, io);
    if (components[name] === undefined) components[name] = inline(schema, io);
    return { $ref: `#/components/schemas/${name}` };
  };
  return convert;
}

const ERROR_REF = { $ref: '#/components/schemas/Error' };

/** The error codes a route may answer with: its own, and those its input and authentication imply. */
function errorCodesOf(doc: RouteDoc, auth: RouteAuth, method: string): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (doc.params !== undefined || doc.query !== undefined) codes.add('INVALID_PARAMS');
  if (doc.body !== undefined) {
    codes.add('INVALID_BODY');
    codes.add('PAYLOAD_TOO_LARGE');
  }
  if (auth !== 'none') codes.add('UNAUTHENTICATED');
  if (auth === 'operator' || (auth === 'session' && method !== 'GET')) codes.add('FORBIDDEN');
  for (const code of doc.errors ?? []) codes.add(code);
  return [...codes];
}

function parametersOf(doc: RouteDoc, url: string, convert: Converter): Json[] {
  const parameters: Json[] = [];
  const fromObject = (schema: z.ZodObject | undefined, where: 'path' | 'query') => {
    if (schema === undefined) return [];
    const json = convert(schema, 'input');
    const required = new Set((json.required ?? []) as string[]);
    return Object.entries((json.properties ?? {}) as Record<string, Json>).map(([name, property]) => {
      const { description, ...propertySchema } = property;
      return { name, in: where, required: where === 'path' || required.has(name), schema: propertySchema, ...(description === undefined ? {} : { description }) };
    });
  };
  const pathParams = fromObject(doc.params, 'path');
  // Every URL parameter is declared, as OpenAPI requires, even one the entry gives no schema for.
  for (const [, name] of url.matchAll(/:([A-Za-z0-9_]+)/g)) {
    parameters.push(pathParams.find((p) => p.name === name) ?? { name, in: 'path', required: true, schema: { type: 'string' } });
  }
  parameters.push(...fromObject(doc.query, 'query'));
  for (const header of doc.headers ?? []) {
    const { description: _own, ...schema } = convert(header.schema, 'input');
    parameters.push({ name: header.name, in: 'header', required: header.required ?? false, description: header.description, schema });
  }
  return parameters;
}

function permissionNote(method: string, url: string): { text: string; extensions: Json } {
  const permission = permissionFor(method, url);
  if (permission === undefined) return { text: 'Permission: none in the matrix (server/auth/permissions.ts): refused to every role.', extensions: { 'x-permission': null, 'x-roles': [] } };
  const roles = [...PERMISSION_ROLES[permission]];
  return { text: `Permission \`${permission}\`: roles ${roles.join(', ')}.`, extensions: { 'x-permission': permission, 'x-roles': roles } };
}

function operationOf(method: string, url: string, doc: RouteDoc | undefined, convert: Converter): Json {
  const operationId = `${method.toLowerCase()}${url.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`;
  if (doc === undefined) {
    return { operationId, summary: 'Undocumented', description: 'This route has no entry in the documentation registry (server/openapi/route-docs.ts).', responses: { default: { description: 'undocumented' } } };
  }
  const auth = authOf(doc, url);
  const permission = auth === 'operator' ? permissionNote(method, url) : undefined;
  const description = [doc.description, permission?.text, doc.websocket === true ? 'A WebSocket upgrade (RFC 6455).' : undefined].filter((part) => part !== undefined).join('\n\n');
  const responses: Record<string, Json> = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    const contentType = response.contentType ?? 'application/json';
    const content: Record<string, Json> = {};
    if (response.schema !== undefined || response.contentType !== undefined || Number(status) < 204) {
      content[contentType] = response.schema === undefined ? {} : { schema: convert(response.schema, 'output') };
    }
    for (const alternative of response.alternatives ?? []) content[alternative.contentType] = alternative.schema === undefined ? {} : { schema: convert(alternative.schema, 'output') };
    responses[status] = { description: response.description, ...(status === '204' || status === '101' ? {} : { content }) };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(doc, auth, method)) byStatus.set(HTTP_STATUS[code], [...(byStatus.get(HTTP_STATUS[code]) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] ??= { description: codes.join(', '), content: { 'application/json': { schema: ERROR_REF } } };
  }
  const security = securityOf(auth, method);
  const parameters = parametersOf(doc, url, convert);
  return {
    operationId, summary: doc.summary, ...(description === '' ? {} : { description }), tags: [doc.tag],
    ...(security === undefined ? { security: [] } : { security }),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(doc.body === undefined ? {} : { requestBody: { required: doc.bodyOptional !== true, content: { 'application/json': { schema: convert(doc.body, 'input') } } } }),
    responses,
    ...permission?.extensions,
  };
}

/** The document for these routes (the documentable ones), in the order they were registered. */
export function buildOpenApiDocument(routes: readonly RegisteredRoute[], docs: Readonly<Record<string, RouteDoc>> = ROUTE_DOCS): OpenApiDocument {
  const schemas: Record<string, Json> = {};
  const convert = createConverter(schemas);
  // Named components present in every document: the error body, and the campaign definition the preview's description points to.
  convert(ErrorResponseSchema, 'output');
  convert(CampaignDefinitionSchema, 'input');
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes.filter(isApiRoute)) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const method = route.method.toLowerCase();
    (paths[path] ??= {})[method] = operationOf(route.method, route.url, docs[`${route.method} ${route.url}`], convert);
  }
  return { openapi: '3.1.0', info: { title: 'Vicino API', version: '1', description: DESCRIPTION }, tags: TAGS, paths, components: { schemas, securitySchemes: SECURITY_SCHEMES } };
}
