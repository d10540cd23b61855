import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { topics } from '#gateway/protocol/index.ts';
import { deriveDeviceSecretDigestKey } from './domain/objection.ts';
import { deriveExperimentKey } from './domain/experiment.ts';
import { createSealer } from './domain/sealing.ts';
import { buildApp, type AppDeps } from './app.ts';
import { createBeaconService, deriveBeaconDigestKey, type BeaconService } from './beacon-service.ts';
import { createWebSocketDelivery, type WebSocketDelivery } from './delivery/websocket-delivery.ts';
import { createWebhookDelivery, type WebhookDeliveryOptions } from './delivery/webhook-delivery.ts';
import { createSealedPushTargets } from './delivery/push-targets.ts';
import { loadResolverKeyPair } from './identity.ts';
import { createPresenceIngest, DEFAULT_EVENT_WINDOW, type EventWindow, type PresenceIngest } from './ingest/presence-ingest.ts';
import { connectMqttIngress, type MqttIngress } from './ingest/mqtt-ingress.ts';
import { createEpochKeyService, DEFAULT_EPOCH_ROTATION_S, maintenanceIntervalMs, type EpochKeyService } from './keys/epoch-keys.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createResolver, type Resolver } from './resolver.ts';
import { createServerBus, SERVER_BUS_TOPIC, type ServerBus } from './server-bus.ts';
import type { Store } from './store/store.ts';
import { DEFAULT_ARBITER_CONFIG, validateArbiterConfig, type ArbiterConfig } from './domain/zone-arbiter.ts';
import { sweepZoneStates } from './ingest/resolved-presence.ts';
import { createConfigView } from './ingest/config-view.ts';
import { retentionWindows, type RetentionWindowsInput } from './domain/retention.ts';
import type { Controller } from './domain/transparency.ts';
import { createZoneRollupJob, ROLLUP_INTERVAL_MS } from './analytics/rollup-job.ts';
import { createPurgeJob, type PurgeRunReport, type RetentionAuditEntry } from './retention/purge-job.ts';
import { resolveConsentConfig, type ConsentConfigInput } from './consent/consent-config.ts';
import { createConsentLapseJob, type LapseRunReport } from './consent/lapse-job.ts';
import { propagateLapses } from './consent/propagate-lapses.ts';
import { allCatalogTexts } from './domain/consent-texts.ts';

// Wires a server instance from already-chosen adapters. It reads no environment (main.ts does) and
// holds no state that another instance would need: everything durable is in the Store.

export type ServerOptions = {
  store: Store;
  masterKey: Buffer;
  mqtt: {
    url: string; username?: string; password?: string; sharedGroup?: string; clientId?: string;
    /** With sharedGroup: connections in the group (1 by default; mqtt-ingress.ts). */
    presenceConnections?: number;
    /** Presence messages handled at once per connection (64 by default; ack-pipeline.ts). */
    maxInFlight?: number;
  };
  /** Broker URL handed to gateways in their provisioned config. */
  publicMqttUrl?: string;
  logger: Logger;
  now?: () => number;
  adminTokenHash: string;
  http: { port: number; host: string };
  epochRotationS?: number;
  /** How far a presence event's time may lie behind and ahead of this server's clock; ±300 s / 30 s by default. */
  eventWindow?: Partial<EventWindow>;
  /** The resolver's X25519 private key; by default one is generated once and kept sealed in the store. */
  resolverPrivateKey?: Buffer;
  instanceId?: string;
  /** Metrics shared with what runs beside the server (the demo's embedded broker counts its refusals here). */
  metrics?: Metrics;
  /** The zone arbiter's margin, hold and staleness; DEFAULT_ARBITER_CONFIG (1 band, 10 s, 15 min) by default. */
  zoneArbiter?: Partial<ArbiterConfig>;
  /** Retention windows (domain/retention.ts); the requirements' defaults (24 h, 730 days) when unset. */
  retention?: Omit<RetentionWindowsInput, 'eventSequencesMs'>;
  /** The data controller named in the privacy notices (TRN-1); "(not configured: …)" placeholders when unset. */
  controller?: Controller;
  /**
   * Told of each retention purge's audit entry (RET-4), besides the audit log entry, the log line and
   * the vicino_retention_audit_entries_total count written for every one.
   */
  retentionAudit?: (entry: RetentionAuditEntry) => void | Promise<void>;
  /** How long an app credential is valid from its issue; DEFAULT_APP_TOKEN_MAX_AGE_MS (180 days) by default. */
  appTokenMaxAgeMs?: number;
  /** AN-1: the k of analytics reports (at least 10, the default). */
  analyticsK?: number;
  /** Console sessions: timeouts and the cookie's Secure flag (app.ts AppDeps.consoleSessions). */
  consoleSessions?: AppDeps['consoleSessions'];
  /** The consent text catalog, grant validity and digital-consent ages (consent/consent-config.ts); built-in defaults when unset. */
  consent?: ConsentConfigInput;
  /** The push provider's webhook (delivery/webhook-delivery.ts), beside the WebSocket delivery; none when unset. */
  webhook?: WebhookDeliveryOptions;
};

/** How often due zone states are re-arbitrated (a challenger's hold ending): the switch lags the hold by at most this. */
export const ZONE_SWEEP_INTERVAL_MS = 1_000;

/** The retention purge runs at start and then this often: a record outlives its window by at most this much. */
export const RETENTION_PURGE_INTERVAL_MS = 3_600_000;

/** The consent lapse job runs at start and then this often; in between, the send path reads lapsed grants as withdrawn. */
export const CONSENT_LAPSE_INTERVAL_MS = 3_600_000;

/** Every shopper is re-read this often; in between, only those whose consent changed (Resolver.syncChangesSince). */
export const FULL_RESYNC_MS = 3_600_000;
/** How far back an incremental resync looks before the previous pass began: clock differences and slow commits. */
export const RESYNC_MARGIN_MS = 300_000;

export type RunningServer = {
  app: FastifyInstance;
  url: string;
  port: number;
  store: Store;
  metrics: Metrics;
  resolver: Resolver;
  beacons: BeaconService;
  keys: EpochKeyService;
  delivery: WebSocketDelivery;
  ingest: PresenceIngest;
  mqtt: MqttIngress;
  bus: ServerBus;
  /** Runs the retention purge now (it also runs at start and hourly). */
  purge(): Promise<PurgeRunReport>;
  /** Runs the consent lapse job now (it also runs at start and hourly). */
  lapseConsents(): Promise<LapseRunReport>;
  close(): Promise<void>;
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const zoneArbiter: ArbiterConfig = { ...DEFAULT_ARBITER_CONFIG, ...options.zoneArbiter };
  validateArbiterConfig(zoneArbiter);
  const eventWindow: EventWindow = { ...DEFAULT_EVENT_WINDOW, ...options.eventWindow };
  // Sequence claims outlive the event window by a minute, for clock differences between instances.
  const windows = retentionWindows({ ...options.retention, eventSequencesMs: (eventWindow.pastS + 60) * 1000 });
  const consent = resolveConsentConfig(options.consent);
  const sealer = createSealer(options.masterKey);
  const experimentKey = deriveExperimentKey(options.masterKey);
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: true });
  const resolverKeys = await loadResolverKeyPair(store, sealer, options.resolverPrivateKey);
  const resolver = createResolver({ store, sealer, now, logger: logger.child({ component: 'resolver' }) });
  const beacons = createBeaconService({ store, sealer, digestKey: deriveBeaconDigestKey(options.masterKey), now, logger: logger.child({ component: 'beacons' }) });
  const delivery = createWebSocketDelivery({ store, metrics, logger: logger.child({ component: 'delivery' }), now, consentPolicy: consent.policy });
  const instanceId = options.instanceId ?? randomUUID().slice(0, 8);
  // The bus and the key service publish through MQTT, which connects below; until then nothing is published.
  const link: { mqtt?: MqttIngress } = {};
  const publish = async (topic: string, payload: string, retain = false): Promise<void> => {
    if (link.mqtt === undefined) throw new Error('MQTT is not connected yet');
    await (retain ? link.mqtt.publishRetained(topic, payload) : link.mqtt.publish(topic, payload));
  };
  const keys = createEpochKeyService({
    store, sealer, now, logger: logger.child({ component: 'keys' }), rotationS: options.epochRotationS,
    publishConfig: (config) => publish(topics.config(config.storeId, config.gatewayId), JSON.stringify(config), true),
    registeredBeacons: (storeKeys) => beacons.registeredBeacons(storeKeys),
  });
  const setKeys = (live: Awaited<ReturnType<EpochKeyService['maintain']>>): void => {
    resolver.setKeys(live);
    beacons.setKeys(live);
  };
  // The server bus keeps other instances' views current (see server-bus.ts).
  const bus: ServerBus = createServerBus({
    publish: (topic, payload) => publish(topic, payload),
    onError: (error) => logger.warn({ err: error.message }, 'server bus publish failed; the periodic resync will catch up'),
    onMessage: async (message) => {
      if (message.type === 'promotion') await delivery.deliverById(message.id, message.shopperId);
      else if (message.type === 'shopper') {
        // Another instance changed this shopper's consent: a send here that read it before must not go out.
        delivery.fence(message.id);
        await resolver.refresh(message.id);
        await beacons.sync(message.id);
      } else if (message.type === 'beacons') await beacons.sync();
      else setKeys(await keys.maintain());
    },
  });
  // Both deliveries get every promotion: the socket reaches an app in the foreground, the webhook (if
  // configured) one in the background through its push provider; the app deduplicates by promotion ID.
  const webhook = options.webhook === undefined ? undefined : createWebhookDelivery({
    store, metrics, logger, now, consentPolicy: consent.policy, pushTargets: createSealedPushTargets({ store, sealer }), options: options.webhook,
  });
  const notifyAll = {
    notify: (promotion: Parameters<WebSocketDelivery['notify']>[0]) => {
      delivery.notify(promotion);
      webhook?.notify(promotion);
      bus.announce({ type: 'promotion', id: promotion.id, shopperId: promotion.shopperId });
    },
  };
  // Gateways, stores and campaigns in memory, re-read when the Store's configuration version moves.
  const config = createConfigView(store);
  const ingest = createPresenceIngest({
    store, config, resolver, beacons, metrics, logger: logger.child({ component: 'ingest' }), now, sealer, eventWindow, arbiter: zoneArbiter, consentPolicy: consent.policy, experimentKey,
    delivery: { ...notifyAll, close: () => delivery.close() },
  });

  const mqtt = await connectMqttIngress({
    url: options.mqtt.url, username: options.mqtt.username, password: options.mqtt.password, sharedGroup: options.mqtt.sharedGroup,
    clientId: options.mqtt.clientId, logger: logger.child({ component: 'mqtt' }), broadcastTopics: [SERVER_BUS_TOPIC],
    presenceConnections: options.mqtt.presenceConnections, maxInFlight: options.mqtt.maxInFlight, orderKey: (topic, payload) => ingest.orderKey(topic, payload),
    handle: (topic, payload) => (topic === SERVER_BUS_TOPIC ? bus.handle(payload) : ingest.handle(topic, payload)),
  });
  link.mqtt = mqtt;

  // Analytics (docs/analytics.md): raw presence rolled up into anonymous zone counts before the purge takes it.
  const rollupJob = createZoneRollupJob({ store, now, presenceEventsMs: windows.presenceEventsMs, metrics, logger: logger.child({ component: 'analytics' }) });
  let rolling: Promise<unknown> = Promise.resolve();
  const runRollup = (): Promise<unknown> => (rolling = rollupJob.run().catch(() => undefined));
  const retentionLogger = logger.child({ component: 'retention' });
  const purgeJob = createPurgeJob({
    store, windows, now, metrics, logger: retentionLogger, beforePurge: runRollup,
    audit: async (entry) => {
      // RET-4: every purge, an empty one too, is an entry in the tamper-evident audit log (ACC-1).
      await store.appendAudit({
        atMs: now(), actor: 'system', action: 'retention.purged', subject: entry.what,
        details: { count: entry.count, cutoffMs: entry.cutoffMs },
      });
      await options.retentionAudit?.(entry);
      metrics.retentionAuditEntries.inc({ what: entry.what });
      retentionLogger.info({ what: entry.what, count: entry.count, cutoffMs: entry.cutoffMs, cutoff: new Date(entry.cutoffMs).toISOString() }, 'retention purge');
    },
  });
  // The run in flight, awaited on close so the store is not closed under it. The job reports its own failures.
  let purging: Promise<unknown> = Promise.resolve();
  const runPurge = (): Promise<PurgeRunReport> => {
    const run = purgeJob.run();
    purging = run;
    return run;
  };

  // CON-6, CON-7: lapsed grants become the server's own withdrawals; a presence lapse reaches this resolver
  // at once and the others through the bus (and the resync, which reads consent_state changes).
  const lapseJob = createConsentLapseJob({
    store, policy: () => consent.policy, agePolicy: consent.agePolicy, now, metrics, logger: logger.child({ component: 'consent' }),
    onLapsed: propagateLapses({ store, resolver, beacons, keys, announce: (message) => bus.announce(message), logger: logger.child({ component: 'consent' }) }),
  });
  let lapsing: Promise<unknown> = Promise.resolve();
  const runLapses = (): Promise<LapseRunReport> => {
    const run = lapseJob.run();
    lapsing = run;
    return run;
  };

  let app: FastifyInstance | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    // ACC-3: every text of the catalog is archived (insert-if-absent by hash) before any can be answered.
    await store.archiveConsentTexts(allCatalogTexts(consent.catalog), now());
    await beacons.sync();
    setKeys(await keys.maintain(true));
    await resolver.sync();
    metrics.resolverShoppers.set(resolver.size().shoppers);

    // Keys rotate on their own clock (every minute is enough for daily keys; short proof periods need more).
    timers.push(setInterval(() => {
      keys.maintain()
        .then(setKeys)
        .catch((error: Error) => logger.error({ err: error.message }, 'epoch key maintenance failed'));
    }, maintenanceIntervalMs(options.epochRotationS ?? DEFAULT_EPOCH_ROTATION_S)));
    // The safety net under the bus, every minute: the shoppers whose presence consent changed since the
    // last pass (with a margin for other instances' clocks and for transactions still committing) are
    // re-read, and every shopper once an hour; then the beacons.
    let lastFullSyncMs = now();
    let lastPassMs = now();
    const resyncResolver = async (): Promise<void> => {
      const startedMs = now();
      if (startedMs - lastFullSyncMs >= FULL_RESYNC_MS) {
        await resolver.sync();
        lastFullSyncMs = startedMs;
      } else {
        await resolver.syncChangesSince(lastPassMs - RESYNC_MARGIN_MS);
      }
      lastPassMs = startedMs;
    };
    timers.push(setInterval(() => {
      resyncResolver()
        // A beacon change another instance announced but this one missed: re-read, and republish if it mattered.
        .then(() => beacons.sync())
        .then((changed) => (changed ? keys.publishAllConfigs() : undefined))
        .catch((error: Error) => logger.error({ err: error.message }, 'periodic resolver and beacon resync failed'));
    }, 60_000));
    // Retention (RET-2…4): presence events, idle zone states, delivery records and sequence claims past their
    // windows are deleted at start and then hourly; every purge is audited, a failed one alerts (purge-job.ts).
    timers.push(setInterval(() => void runPurge(), RETENTION_PURGE_INTERVAL_MS));
    timers.push(setInterval(() => void runLapses(), CONSENT_LAPSE_INTERVAL_MS));
    timers.push(setInterval(() => void runRollup(), ROLLUP_INTERVAL_MS));
    timers.push(setInterval(() => {
      resolver.rollInSlices()
        .then(() => metrics.resolverShoppers.set(resolver.size().shoppers))
        .catch((error: Error) => logger.error({ err: error.message }, 'resolver roll failed'));
    }, 5_000));
    // The zone arbiter's clock: a challenger that has held its lead switches even when no event follows.
    let sweeping = false;
    timers.push(setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      sweepZoneStates({ store, config, metrics, delivery: notifyAll, arbiter: zoneArbiter, consentPolicy: consent.policy, experimentKey }, now())
        .catch((error: Error) => logger.error({ err: error.message }, 'zone arbiter sweep failed'))
        .finally(() => {
          sweeping = false;
        });
    }, ZONE_SWEEP_INTERVAL_MS));
    for (const timer of timers) timer.unref();

    // The routes' own sends (an iOS sighting) reach the webhook too; everything else they ask of delivery is the socket's.
    const routeDelivery: WebSocketDelivery = webhook === undefined ? delivery : { ...delivery, notify: (promotion) => { delivery.notify(promotion); webhook.notify(promotion); } };
    app = await buildApp({
      store, config, sealer, resolver, beacons, keys, delivery: routeDelivery, metrics, logger, now, resolverKeys, announce: (message) => bus.announce(message),
      adminTokenHash: options.adminTokenHash, deviceSecretDigestKey: deriveDeviceSecretDigestKey(options.masterKey), experimentKey, publicMqttUrl: options.publicMqttUrl ?? options.mqtt.url, eventWindow, zoneArbiter,
      transparency: { controller: options.controller, retention: windows, epochRotationS: options.epochRotationS ?? DEFAULT_EPOCH_ROTATION_S },
      appTokenMaxAgeMs: options.appTokenMaxAgeMs, analyticsK: options.analyticsK,
      consent, ...(options.consoleSessions === undefined ? {} : { consoleSessions: options.consoleSessions }),
    });
    await app.listen({ port: options.http.port, host: options.http.host });
  } catch (error) {
    for (const timer of timers) clearInterval(timer);
    await app?.close();
    await delivery.close();
    await webhook?.close();
    await mqtt.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.http.port;
  const host = options.http.host === '0.0.0.0' || options.http.host === '::' ? 'localhost' : options.http.host;
  logger.info({ port, store: store.kind, instanceId }, 'server listening');
  void runPurge();
  void runLapses();

  let closed = false;
  const running: RunningServer = {
    app, url: `http://${host}:${port}`, port, store, metrics, resolver, beacons, keys, delivery, ingest, mqtt, bus,
    purge: runPurge,
    lapseConsents: runLapses,
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearInterval(timer);
      await purging;
      await rolling;
      await lapsing;
      await delivery.close();
      // Drains the webhook worker: the attempt in flight is recorded before the store closes.
      await webhook?.close();
      await app!.close();
      await mqtt.close();
    },
  };
  return running;
}
