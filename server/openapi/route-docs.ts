import type { z } from 'zod';
import type { ErrorCode } from '../domain/errors.ts';
import { APP_ROUTE_DOCS } from './app-route-docs.ts';
import { OPERATOR_ROUTE_DOCS } from './operator-route-docs.ts';

// The API's documentation registry (issue 8: "OpenAPI 3 at /docs, generated from the zod schemas"): one
// entry per route, keyed like the permission matrix (auth/permissions.ts ROUTE_PERMISSIONS) by method and
// Fastify URL pattern. The request schemas are the ones the handlers parse with (parseOrThrow), exported
// from their route files or the domain, so the documentation cannot drift from the validation; the
// response schemas describe what the handlers send. openapi-document.ts turns the entries of the routes
// the app registered into an OpenAPI 3.1 document; the coverage test
// (test/integration/server/openapi.test.ts) fails for a registered route without an entry.

/** Who may call a route, and how it proves it. */
export type RouteAuth =
  /** Public: no credential. */
  | 'none'
  /** The operator API: a bearer admin token or API key, or the console's session cookie (with X-CSRF-Token on a change). */
  | 'operator'
  /** The console session cookie alone (X-CSRF-Token on a change). */
  | 'session'
  /** The shopper app's bearer credential. */
  | 'app'
  /** The app's credential and a request proof (Vicino-Proof), for the data-subject rights and credential rotation. */
  | 'app-proof'
  /** A point-of-sale device's bearer token. */
  | 'pos';

export type ResponseDoc = {
  description: string;
  /** The body's schema, in its output form; none for an empty body or one not described by a schema. */
  schema?: z.ZodType;
  /** application/json unless said otherwise. */
  contentType?: string;
  /** Another representation of the same response (the CSV of a report, say). */
  alternatives?: { contentType: string; schema?: z.ZodType }[];
};

export type HeaderDoc = { name: string; description: string; required?: boolean; schema: z.ZodType };

export type RouteDoc = {
  summary: string;
  description?: string;
  /** One tag, the area of the API the route belongs to (openapi-document.ts TAGS). */
  tag: string;
  /** By the URL when not given: /v1/admin → operator, /v1/me → app, /v1/pos → pos, else none. */
  auth?: RouteAuth;
  /** The URL parameters' schema, an object: every :name of the URL pattern must be one of its keys. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The JSON body's schema, in its input form (what the client sends). */
  body?: z.ZodType;
  /** Whether the body may be left out (a transition without expectedVersion, say). */
  bodyOptional?: boolean;
  headers?: HeaderDoc[];
  responses: Record<number, ResponseDoc>;
  /**
   * Error codes the route answers with, besides the ones implied by its input and auth (INVALID_PARAMS,
   * INVALID_BODY, UNAUTHENTICATED, FORBIDDEN, PAYLOAD_TOO_LARGE), which the document adds by itself.
   */
  errors?: ErrorCode[];
  /** A WebSocket upgrade rather than a request–response route. */
  websocket?: boolean;
};

export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = { ...OPERATOR_ROUTE_DOCS, ...APP_ROUTE_DOCS };

/** A route's documentation, by method (HEAD as its GET) and Fastify URL pattern; undefined if it has none. */
export function routeDocFor(method: string, url: string): RouteDoc | undefined {
  return ROUTE_DOCS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}
