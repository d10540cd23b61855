import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { GatewayConfigMessage } from '#gateway/protocol/index.ts';
import { buildApp, type AppDeps } from '#server/app.ts';
import type { BusMessage } from '#server/server-bus.ts';
import { createBeaconService, deriveBeaconDigestKey } from '#server/beacon-service.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import { createWebSocketDelivery } from '#server/delivery/websocket-delivery.ts';
import { createPresenceIngest, type PresenceIngest } from '#server/ingest/presence-ingest.ts';
import type { CampaignInput } from '#server/domain/campaign.ts';
import type { LifecycleAction } from '#server/domain/campaign-lifecycle.ts';
import type { Role } from '#server/domain/principal.ts';
import type { ConsentText } from '#server/domain/consent-texts.ts';
import type { ConsentState, Purpose } from '#server/domain/consent.ts';
import { deriveDeviceSecretDigestKey } from '#server/domain/objection.ts';
import { deriveExperimentKey } from '#server/domain/experiment.ts';
import { createSealer } from '#server/domain/sealing.ts';
import { resolveConsentConfig, type ConsentConfigInput } from '#server/consent/consent-config.ts';
import { createConsentLapseJob, type LapseRunReport } from '#server/consent/lapse-job.ts';
import { propagateLapses } from '#server/consent/propagate-lapses.ts';
import { allCatalogTexts } from '#server/domain/consent-texts.ts';
import { hashToken, loadResolverKeyPair } from '#server/identity.ts';
import { createEpochKeyService } from '#server/keys/epoch-keys.ts';
import { createMetrics } from '#server/metrics.ts';
import { createResolver } from '#server/resolver.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { createAppIdentity, type AppIdentity, type AppTokenSource } from '#simulator/app/app-identity.ts';
import { START_MS } from './builders.ts';
import { createLogSink, type LogSink } from './log-sink.ts';
import { createConfigView } from '#server/ingest/config-view.ts';

// The real app (server/app.ts buildApp) over real adapters — an in-memory SQLite store, the real
// sealer, resolver, epoch keys and WebSocket delivery — with the clock injected and the gateway
// config publisher recording what it would have published. It never listens: use app.inject(),
// or listen on port 0 in a test that needs a socket (fastify/demo test/helper.ts).

export type TestClock = { now(): number; set(ms: number): void; advance(ms: number): void };

export function createTestClock(startMs = START_MS): TestClock {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    set: (ms) => {
      nowMs = ms;
    },
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

export type TestAppOptions = {
  /** Replaces the test clock as the app's time source. */
  now?: () => number;
  /** Where the test clock starts; START_MS by default. */
  startMs?: number;
  /** A store the test owns (and closes); an in-memory SQLite store otherwise. */
  store?: Store;
  /** The sealing master key; random otherwise. Reuse it with the same store to play a restart. */
  masterKey?: Buffer;
  /** A configured resolver private key (RESOLVER_PRIVATE_KEY); generated and kept in the store otherwise. */
  resolverPrivateKey?: Buffer;
  logSink?: LogSink;
  delivery?: { resendAfterMs?: number; sweepMs?: number };
  epochRotationS?: number;
  publicMqttUrl?: string;
  /** The consent text catalog, validity and age policy; the built-in ones otherwise. */
  consent?: ConsentConfigInput;
};

export type TestApp = {
  app: FastifyInstance;
  deps: AppDeps;
  adminToken: string;
  clock: TestClock;
  /** Every gateway config the epoch key service published, in order. */
  published: GatewayConfigMessage[];
  /** Every message the app announced to other server instances. */
  announced: BusMessage[];
  logs: LogSink;
  /** Runs the consent lapse job once at the clock's now, as the server does at start and hourly. */
  lapseConsents(): Promise<LapseRunReport>;
  close(): Promise<void>;
};

export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const clock = createTestClock(options.startMs);
  const now = options.now ?? clock.now;
  const logs = options.logSink ?? createLogSink();
  const logger = logs.logger;
  const store = options.store ?? openSqliteStore(':memory:');
  const consent = resolveConsentConfig(options.consent);
  const masterKey = options.masterKey ?? randomBytes(32);
  const sealer = createSealer(masterKey);
  const metrics = createMetrics();
  const published: GatewayConfigMessage[] = [];
  const resolver = createResolver({ store, sealer, now, logger: logger.child({ component: 'resolver' }) });
  const beacons = createBeaconService({ store, sealer, digestKey: deriveBeaconDigestKey(masterKey), now, logger: logger.child({ component: 'beacons' }) });
  const keys = createEpochKeyService({
    store, sealer, now, logger: logger.child({ component: 'keys' }), rotationS: options.epochRotationS,
    publishConfig: async (config) => void published.push(config),
    registeredBeacons: (storeKeys) => beacons.registeredBeacons(storeKeys),
  });
  const delivery = createWebSocketDelivery({ store, metrics, logger: logger.child({ component: 'delivery' }), now, ...options.delivery, consentPolicy: consent.policy });
  const adminToken = randomBytes(24).toString('base64url');
  /** What the app told other server instances (server-bus.ts). */
  const announced: BusMessage[] = [];
  // As startServer does it: the consent texts archived, live keys, then every consenting shopper already in the store.
  await store.archiveConsentTexts(allCatalogTexts(consent.catalog), now());
  await beacons.sync();
  const live = await keys.maintain(true);
  resolver.setKeys(live);
  beacons.setKeys(live);
  await resolver.sync();
  const deps: AppDeps = {
    store, config: createConfigView(store), sealer, resolver, beacons, keys, delivery, metrics, logger, now,
    resolverKeys: await loadResolverKeyPair(store, sealer, options.resolverPrivateKey),
    adminTokenHash: hashToken(adminToken),
    deviceSecretDigestKey: deriveDeviceSecretDigestKey(masterKey),
    experimentKey: deriveExperimentKey(masterKey),
    announce: (message) => void announced.push(message),
    publicMqttUrl: options.publicMqttUrl ?? 'mqtt://broker.test:1883',
    consent,
  };
  const app = await buildApp(deps);
  const lapseJob = createConsentLapseJob({
    store, policy: () => consent.policy, agePolicy: consent.agePolicy, now, metrics, logger: logger.child({ component: 'consent' }),
    onLapsed: propagateLapses({ store, resolver, beacons, keys, announce: deps.announce, logger: logger.child({ component: 'consent' }) }),
  });
  let closed = false;
  return {
    app, deps, adminToken, clock, published, announced, logs,
    lapseConsents: () => lapseJob.run(),
    async close() {
      if (closed) return;
      closed = true;
      await delivery.close();
      await app.close();
      if (options.store === undefined) await store.close();
    },
  };
}

export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });

/** The MQTT presence ingest over a test app's own services (resolver, loyalty beacons, clock), handing promotions to `delivery`. */
export function ingestOver(t: TestApp, delivery: Delivery): PresenceIngest {
  return createPresenceIngest({
    store: t.deps.store, config: t.deps.config, resolver: t.deps.resolver, beacons: t.deps.beacons, delivery, metrics: t.deps.metrics,
    logger: t.logs.logger.child({ component: 'ingest' }), now: t.deps.now, sealer: t.deps.sealer, experimentKey: t.deps.experimentKey,
  });
}

/**
 * A request as the app signs it (docs/app-integration.md, "Request proofs"): the bearer credential and a
 * Vicino-Proof over the exact body bytes sent — what the data-subject rights routes require.
 */
export function signedInject(
  app: FastifyInstance,
  shopper: Pick<RegisteredShopper, 'token' | 'tokens'>,
  request: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; payload?: unknown },
  nowMs: number = Date.now(),
): Promise<LightMyRequestResponse> {
  const body = request.payload === undefined ? '' : JSON.stringify(request.payload);
  const proof = shopper.tokens.proofs.sign({ method: request.method, pathWithQuery: request.url, body, nowMs });
  return app.inject({
    method: request.method, url: request.url,
    headers: { ...bearer(shopper.token), 'vicino-proof': proof, ...(body === '' ? {} : { 'content-type': 'application/json' }) },
    ...(body === '' ? {} : { payload: body }),
  });
}

/**
 * Rotates the shopper's app credential as the app does before (or once) it expires — POST /v1/me/token
 * with the current one and a request proof — and keeps the new one in `shopper.token`.
 */
export async function rotateCredential(app: FastifyInstance, shopper: Pick<RegisteredShopper, 'token' | 'tokens'>, nowMs: number = Date.now()): Promise<void> {
  shopper.token = expectStatus<{ token: string }>(await signedInject(app, shopper, { method: 'POST', url: '/v1/me/token' }, nowMs), 201).token;
}

/** Parses a JSON response, failing with the response itself when the status is not the one expected. */
export function expectStatus<T = Record<string, unknown>>(response: LightMyRequestResponse, status: number): T {
  if (response.statusCode !== status) throw new Error(`expected HTTP ${status}, got ${response.statusCode}: ${response.body}`);
  return (response.body === '' ? undefined : response.json()) as T;
}

export type RegisteredShopper = {
  shopperId: string;
  token: string;
  rotationExponent: number;
  resolverPublicKey: string;
  identity: AppIdentity;
  /** The app's EID source, bound as the real app binds it: from the resolver's public key alone. */
  tokens: AppTokenSource;
};

/** An adult's birth year, the default of registerShopper: old enough for P2 and P4 anywhere (CON-7). */
export const ADULT_BIRTH_YEAR = 1990;

/**
 * Registers a shopper as the app does: a fresh X25519 key pair, only its public half sent. An adult in
 * Italy unless told otherwise; null leaves country or birth year out.
 */
export async function registerShopper(
  app: FastifyInstance,
  options: { firstName?: string; rotationExponent?: number; locale?: string; country?: string | null; birthYear?: number | null } = {},
): Promise<RegisteredShopper> {
  const identity = createAppIdentity();
  const country = options.country === undefined ? 'IT' : options.country;
  const birthYear = options.birthYear === undefined ? ADULT_BIRTH_YEAR : options.birthYear;
  const response = await app.inject({
    method: 'POST', url: '/v1/shoppers',
    payload: {
      appPublicKey: identity.publicKeyHex, locale: options.locale ?? 'en-GB', firstName: options.firstName, rotationExponent: options.rotationExponent,
      ...(country === null ? {} : { country }), ...(birthYear === null ? {} : { birthYear }),
    },
  });
  const body = expectStatus<{ shopperId: string; token: string; rotationExponent: number; resolverPublicKey: string }>(response, 201);
  return { ...body, identity, tokens: identity.bind(body.resolverPublicKey, body.rotationExponent) };
}

/** Answers consent as the app does: reads the current texts, then sends one decision per purpose. */
export async function grant(
  app: FastifyInstance,
  token: string,
  decisions: Partial<Record<Purpose, boolean>>,
  options: { clientTimeMs?: number } = {},
): Promise<ConsentState> {
  const { texts } = expectStatus<{ texts: ConsentText[] }>(await app.inject({ method: 'GET', url: '/v1/consent-texts' }), 200);
  const payload = {
    locale: 'en',
    ...(options.clientTimeMs === undefined ? {} : { clientTimeMs: options.clientTimeMs }),
    decisions: Object.entries(decisions).map(([purpose, granted]) => {
      const text = texts.find((t) => t.purpose === purpose);
      if (text === undefined) throw new Error(`no consent text for ${purpose}`);
      return { purpose, granted, textVersion: text.version, textSha256: text.sha256 };
    }),
  };
  const response = await app.inject({ method: 'PUT', url: '/v1/me/consents', headers: bearer(token), payload });
  return expectStatus<{ consents: ConsentState }>(response, 200).consents;
}

export type ZoneInput = { id: string; name?: string; sensitive?: boolean };

/** Creates (or updates) a store and its zones through the admin API; its epoch key goes live. */
export async function putStore(t: TestApp, storeId: string, zones: readonly ZoneInput[] = [{ id: 'entrance' }]): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'PUT', url: `/v1/admin/stores/${storeId}`, headers: bearer(t.adminToken),
    payload: { name: `Store ${storeId}`, timezone: 'Europe/Rome', zones: zones.map((z) => ({ id: z.id, name: z.name ?? z.id, sensitive: z.sensitive ?? false })) },
  });
}

export type GatewayConfigFile = { storeId: string; gatewayId: string; zoneId: string; secret: string; mqtt: { url: string; username: string } };

export async function provisionGateway(t: TestApp, storeId: string, body: { id: string; zoneId: string; rotateSecret?: boolean }): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: `/v1/admin/stores/${storeId}/gateways`, headers: bearer(t.adminToken), payload: body });
}

export type ApiKey = { principalId: string; key: string; role: Role };

/** Creates an API key (a principal with a role) through the admin API. */
export async function createApiKey(t: TestApp, role: Role, name = `${role} ${role === 'admin' ? '' : 'user'}`.trim()): Promise<ApiKey> {
  const response = await t.app.inject({ method: 'POST', url: '/v1/admin/api-keys', headers: bearer(t.adminToken), payload: { name, role } });
  return expectStatus<ApiKey>(response, 201);
}

const campaignTeams = new WeakMap<TestApp, Promise<{ maker: ApiKey; checker: ApiKey }>>();

/** Two marketers of the test app, created once: the maker writes and submits campaigns, the checker approves them. */
export function campaignTeam(t: TestApp): Promise<{ maker: ApiKey; checker: ApiKey }> {
  let team = campaignTeams.get(t);
  if (team === undefined) {
    team = (async () => ({ maker: await createApiKey(t, 'marketer', 'Maker'), checker: await createApiKey(t, 'marketer', 'Checker') }))();
    campaignTeams.set(t, team);
  }
  return team;
}

/** Saves a campaign's definition (its id, status and version left out) as the maker: a draft, or a new draft version. */
export async function putDraftCampaign(t: TestApp, campaign: CampaignInput, key?: string): Promise<LightMyRequestResponse> {
  const { id, status: _status, version: _version, ...definition } = campaign;
  const headers = bearer(key ?? (await campaignTeam(t)).maker.key);
  return t.app.inject({ method: 'PUT', url: `/v1/admin/campaigns/${id}`, headers, payload: definition });
}

/** POSTs a lifecycle action (submit, approve, reject, pause, resume, end) on a campaign. */
export async function campaignAction(t: TestApp, id: string, action: LifecycleAction, key: string, payload?: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: `/v1/admin/campaigns/${id}/${action}`, headers: bearer(key), ...(payload === undefined ? {} : { payload }) });
}

/**
 * Installs a campaign through the lifecycle, as an operator would, up to its status (active by
 * default): the maker pauses or rejects the live version if there is one, saves the definition and
 * submits it, and the checker approves it. Returns the last response, or the first that failed.
 */
export async function putCampaign(t: TestApp, campaign: CampaignInput): Promise<LightMyRequestResponse> {
  const { maker, checker } = await campaignTeam(t);
  const current = await t.app.inject({ method: 'GET', url: `/v1/admin/campaigns/${campaign.id}`, headers: bearer(maker.key) });
  const currentStatus = current.statusCode === 200 ? (current.json() as { status: string }).status : undefined;
  if (currentStatus === 'active') expectStatus(await campaignAction(t, campaign.id, 'pause', maker.key), 200);
  if (currentStatus === 'pending') expectStatus(await campaignAction(t, campaign.id, 'reject', maker.key, { reason: 'replaced' }), 200);
  let response = await putDraftCampaign(t, campaign, maker.key);
  const steps: [LifecycleAction, string][] = {
    draft: [], pending: [['submit', maker.key]], active: [['submit', maker.key], ['approve', checker.key]],
    paused: [['submit', maker.key], ['approve', checker.key], ['pause', maker.key]], ended: [['end', maker.key]],
  }[campaign.status ?? 'active'] as [LifecycleAction, string][];
  for (const [action, key] of steps) {
    if (response.statusCode >= 300) return response;
    response = await campaignAction(t, campaign.id, action, key);
  }
  return response;
}

/** A store with zones and one gateway per listed zone, ready to receive presence. */
export async function givenStoreWithGateway(
  t: TestApp,
  options: { storeId: string; gatewayId: string; zoneId?: string; zones?: readonly ZoneInput[] },
): Promise<GatewayConfigFile> {
  const zoneId = options.zoneId ?? 'entrance';
  expectStatus(await putStore(t, options.storeId, options.zones ?? [{ id: zoneId }]), 200);
  return expectStatus<{ config: GatewayConfigFile }>(await provisionGateway(t, options.storeId, { id: options.gatewayId, zoneId }), 201).config;
}
