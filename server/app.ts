import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { X25519KeyPair } from '#gateway/protocol/index.ts';
import { ApiError } from './domain/errors.ts';
import { captureRawBodies } from './auth/request-proof.ts';
import type { BeaconService } from './beacon-service.ts';
import type { Sealer } from './domain/sealing.ts';
import type { WebSocketDelivery } from './delivery/websocket-delivery.ts';
import type { EventWindow } from './ingest/presence-ingest.ts';
import type { EpochKeyService } from './keys/epoch-keys.ts';
import type { Metrics } from './metrics.ts';
import type { Resolver } from './resolver.ts';
import type { BusMessage } from './server-bus.ts';
import { guardAdminRoutes } from './auth/admin-access.ts';
import { registerApiDocs } from './openapi/api-docs.ts';
import { accessRoutes } from './routes/access-routes.ts';
import { deadLetterRoutes } from './routes/dead-letter-routes.ts';
import { adminRoutes } from './routes/admin-routes.ts';
import { campaignRoutes } from './routes/campaign-routes.ts';
import { beaconRoutes } from './routes/beacon-routes.ts';
import { sightingRoutes } from './routes/sighting-routes.ts';
import { statusRoutes } from './routes/status-routes.ts';
import { shopperRoutes } from './routes/shopper-routes.ts';
import { tokenRoutes } from './routes/token-routes.ts';
import { noticeRoutes, type NoticeConfig } from './routes/notice-routes.ts';
import { rightsRoutes } from './routes/rights-routes.ts';
import { posRoutes } from './routes/pos-routes.ts';
import { pushRoutes } from './routes/push-routes.ts';
import { analyticsRoutes } from './routes/analytics-routes.ts';
import { storeReadRoutes } from './routes/store-read-routes.ts';
import { privacyRoutes } from './routes/privacy-routes.ts';
import { consoleRoutes } from './routes/console-routes.ts';
import type { Store } from './store/store.ts';
import type { ArbiterConfig } from './domain/zone-arbiter.ts';
import type { ConfigView } from './ingest/config-view.ts';
import type { ConsentConfigInput } from './consent/consent-config.ts';
import type { SessionPolicy } from './domain/console-user.ts';
import type { SessionCookieOptions } from './auth/console-session.ts';
import { sessionRoutes } from './routes/session-routes.ts';
import { userRoutes } from './routes/user-routes.ts';

export type AppDeps = {
  store: Store;
  /** Gateways, stores and campaigns as of the Store's configuration version (ingest/config-view.ts), shared with the MQTT ingest. */
  config: ConfigView;
  sealer: Sealer;
  resolver: Resolver;
  /** Loyalty beacons: linking, and their half of resolution. */
  beacons: BeaconService;
  keys: EpochKeyService;
  delivery: WebSocketDelivery;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  resolverKeys: X25519KeyPair;
  adminTokenHash: string;
  /** Keys the digest of an app's device secret (domain/objection.ts deriveDeviceSecretDigestKey), which makes an objection survive a reinstall. */
  deviceSecretDigestKey: Uint8Array;
  /** K_exp (domain/experiment.ts deriveExperimentKey): assigns shoppers to A/B variants and the holdout. */
  experimentKey: Uint8Array;
  /** AN-1: the k of analytics reports (at least 10, the default). */
  analyticsK?: number;
  /** Tells the other server instances what changed (server-bus.ts). */
  announce: (message: BusMessage) => void;
  /** How old (or early) a reported sighting may be; the ingest's window (DEFAULT_EVENT_WINDOW) by default. */
  eventWindow?: Partial<EventWindow>;
  /** The broker URL written into provisioned gateway config files. */
  publicMqttUrl: string;
  /** The zone arbiter's margin, hold and staleness (domain/zone-arbiter.ts DEFAULT_ARBITER_CONFIG by default). */
  zoneArbiter?: ArbiterConfig;
  /** What the privacy notices (TRN-1) state: the controller, the retention windows and epoch-key period in force. Defaults: unconfigured controller, the requirements' windows, a day. */
  transparency?: NoticeConfig;
  /** How long an app credential is valid from its issue (server/auth/app-credential.ts DEFAULT_APP_TOKEN_MAX_AGE_MS, 180 days, by default). */
  appTokenMaxAgeMs?: number;
  /** The consent text catalog, validity period and age policy (consent/consent-config.ts); the built-in ones by default. */
  consent?: ConsentConfigInput;
  /** Console sessions (auth/console-session.ts): idle and absolute timeouts, and whether the cookie is Secure; domain/console-user.ts DEFAULT_SESSION_POLICY and Secure by default. */
  consoleSessions?: Partial<SessionPolicy & SessionCookieOptions>;
};

/** Builds the HTTP app from its dependencies. It never listens: the caller does (tests use inject()). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Request logs would carry URLs and headers; errors are logged by the handler below, without them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
  });
  await app.register(websocket, { options: { maxPayload: 4 * 1024 } });
  // The console's session cookie (auth/console-session.ts).
  await app.register(cookie);
  // Request proofs sign the body's exact bytes: the JSON parser keeps them (server/auth/request-proof.ts).
  captureRawBodies(app);

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    let apiError: ApiError;
    if (error instanceof ApiError) apiError = error;
    else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (error.statusCode === 400 && error.message)) {
      apiError = new ApiError('INVALID_BODY', `body: ${error.message}`);
    } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') apiError = new ApiError('PAYLOAD_TOO_LARGE', 'body is larger than 64 KiB');
    else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') apiError = new ApiError('INVALID_BODY', 'send the body as application/json');
    else {
      request.log.error({ err: { type: error.name, message: error.message, stack: error.stack }, route: request.routeOptions.url }, 'request failed');
      apiError = new ApiError('INTERNAL', 'internal error');
    }
    deps.metrics.httpRejected.inc({ code: apiError.code });
    if (apiError.code !== 'INTERNAL') request.log.info({ code: apiError.code, fields: apiError.fields, route: request.routeOptions.url }, 'request rejected');
    return reply.code(apiError.status).send({ error: { code: apiError.code, message: apiError.message, fields: apiError.fields, issues: apiError.issues } });
  });
  app.setNotFoundHandler((request, reply) => {
    deps.metrics.httpRejected.inc({ code: 'NOT_FOUND' });
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}`, fields: [], issues: [] } });
  });

  // Before any route: every /v1/admin route, whichever plugin adds it, is authenticated and authorised (SEC-2).
  guardAdminRoutes(app, deps);
  // Before any route too: the route table the OpenAPI document at /docs covers (openapi/api-docs.ts).
  await registerApiDocs(app);
  await app.register(async (scope) => shopperRoutes(scope, deps));
  await app.register(async (scope) => tokenRoutes(scope, deps));
  await app.register(async (scope) => beaconRoutes(scope, deps));
  await app.register(async (scope) => sightingRoutes(scope, deps));
  await app.register(async (scope) => adminRoutes(scope, deps));
  await app.register(async (scope) => campaignRoutes(scope, deps));
  await app.register(async (scope) => accessRoutes(scope, deps));
  await app.register(async (scope) => deadLetterRoutes(scope, deps));
  await app.register(async (scope) => statusRoutes(scope, deps));
  await app.register(async (scope) => noticeRoutes(scope, deps));
  await app.register(async (scope) => rightsRoutes(scope, deps));
  await app.register(async (scope) => posRoutes(scope, deps));
  await app.register(async (scope) => pushRoutes(scope, deps));
  await app.register(async (scope) => analyticsRoutes(scope, deps));
  await app.register(async (scope) => storeReadRoutes(scope, deps));
  await app.register(async (scope) => privacyRoutes(scope, deps));
  await app.register(async (scope) => sessionRoutes(scope, deps));
  await app.register(async (scope) => userRoutes(scope, deps));
  await app.register(async (scope) => consoleRoutes(scope, deps));
  return app;
}
