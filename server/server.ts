import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { topics } from '#gateway/protocol/index.ts';
import { createSealer } from './domain/sealing.ts';
import { buildApp } from './app.ts';
import { createWebSocketDelivery, type WebSocketDelivery } from './delivery/websocket-delivery.ts';
import { loadResolverKeyPair } from './identity.ts';
import { createPresenceIngest, type PresenceIngest } from './ingest/presence-ingest.ts';
import { connectMqttIngress, type MqttIngress } from './ingest/mqtt-ingress.ts';
import { createEpochKeyService, type EpochKeyService } from './keys/epoch-keys.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createResolver, type Resolver } from './resolver.ts';
import type { Store } from './store/store.ts';

// Wires a server instance from already-chosen adapters. It reads no environment (main.ts does) and
// holds no state that another instance would need: everything durable is in the Store.

export type ServerOptions = {
  store: Store;
  masterKey: Buffer;
  mqtt: { url: string; username?: string; password?: string; sharedGroup?: string; clientId?: string };
  /** Broker URL handed to gateways in their provisioned config. */
  publicMqttUrl?: string;
  logger: Logger;
  now?: () => number;
  adminTokenHash: string;
  http: { port: number; host: string };
  epochRotationS?: number;
  instanceId?: string;
};

export type RunningServer = {
  app: FastifyInstance;
  url: string;
  port: number;
  store: Store;
  metrics: Metrics;
  resolver: Resolver;
  keys: EpochKeyService;
  delivery: WebSocketDelivery;
  ingest: PresenceIngest;
  mqtt: MqttIngress;
  close(): Promise<void>;
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const sealer = createSealer(options.masterKey);
  const metrics = createMetrics({ defaultMetrics: true });
  const resolverKeys = await loadResolverKeyPair(store, sealer);
  const resolver = createResolver({ store, sealer, now, logger: logger.child({ component: 'resolver' }) });
  const delivery = createWebSocketDelivery({ store, metrics, logger: logger.child({ component: 'delivery' }), now });
  const ingest = createPresenceIngest({ store, resolver, delivery, metrics, logger: logger.child({ component: 'ingest' }), now });
  const instanceId = options.instanceId ?? randomUUID().slice(0, 8);

  const mqtt = await connectMqttIngress({
    url: options.mqtt.url, username: options.mqtt.username, password: options.mqtt.password, sharedGroup: options.mqtt.sharedGroup,
    clientId: options.mqtt.clientId, logger: logger.child({ component: 'mqtt' }), handle: (topic, payload) => ingest.handle(topic, payload),
  });
  const keys = createEpochKeyService({
    store, sealer, now, logger: logger.child({ component: 'keys' }), rotationS: options.epochRotationS,
    publishConfig: (config) => mqtt.publishRetained(topics.config(config.storeId, config.gatewayId), JSON.stringify(config)),
  });

  let app: FastifyInstance | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    resolver.setKeys(await keys.maintain(true));
    await resolver.load();
    metrics.resolverShoppers.set(resolver.size().shoppers);

    timers.push(setInterval(() => {
      keys.maintain().then((live) => resolver.setKeys(live), (error: Error) => logger.error({ err: error.message }, 'epoch key maintenance failed'));
    }, 60_000));
    timers.push(setInterval(() => {
      resolver.roll();
      metrics.resolverShoppers.set(resolver.size().shoppers);
    }, 5_000));
    for (const timer of timers) timer.unref();

    app = await buildApp({
      store, sealer, resolver, keys, delivery, metrics, logger, now, resolverKeys,
      adminTokenHash: options.adminTokenHash, publicMqttUrl: options.publicMqttUrl ?? options.mqtt.url,
    });
    await app.listen({ port: options.http.port, host: options.http.host });
  } catch (error) {
    for (const timer of timers) clearInterval(timer);
    await app?.close();
    await delivery.close();
    await mqtt.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.http.port;
  const host = options.http.host === '0.0.0.0' || options.http.host === '::' ? 'localhost' : options.http.host;
  logger.info({ port, store: store.kind, instanceId }, 'server listening');

  let closed = false;
  const running: RunningServer = {
    app, url: `http://${host}:${port}`, port, store, metrics, resolver, keys, delivery, ingest, mqtt,
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearInterval(timer);
      await delivery.close();
      await app!.close();
      await mqtt.close();
    },
  };
  return running;
}
