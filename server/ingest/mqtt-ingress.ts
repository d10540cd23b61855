import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { sharedSubscription, topics } from '#gateway/protocol/index.ts';
import { createOrderedLanes } from './ordered-lanes.ts';
import { pipelineAcks } from './ack-pipeline.ts';

/** Presence messages one connection handles at once (mqtt-ingress.ts, MQTT_MAX_IN_FLIGHT). */
export const DEFAULT_MAX_IN_FLIGHT = 64;

// The server's MQTT connection. Presence arrives at QoS 1 and is acknowledged only after it has been
// handled (MQTT.js sends the PUBACK when handleMessage calls back), so a server killed mid-message
// gets it redelivered. With a persistent session (clean: false) the broker also queues messages
// while the server restarts. Several instances share presence through an MQTT 5 shared subscription.
//
// Each connection handles up to `maxInFlight` presence messages at once, each acknowledged after its own
// handling, the acks in arrival order (ack-pipeline.ts: MQTT.js alone would handle one at a time). An
// instance in a shared subscription may open `presenceConnections` connections to the group. Messages
// under one order key (the ingest keys by shopper) are handled in arrival order, one at a time, across
// all of the instance's connections (ordered-lanes.ts); different keys run concurrently.

export type MqttIngressOptions = {
  url: string;
  /**
   * A stable client ID gives this instance a persistent session: the broker queues presence for it
   * while it restarts. Without one the session is clean (a random ID must not leave sessions behind
   * on the broker); with a shared subscription the other instances take the load meanwhile.
   */
  clientId?: string;
  /** MQTT 5 shared-subscription group; undefined subscribes plainly (MQTT 3.1.1 brokers such as aedes). */
  sharedGroup?: string;
  username?: string;
  password?: string;
  logger: Logger;
  handle: (topic: string, payload: Buffer) => Promise<unknown>;
  /** Further topics every instance receives (not shared), such as the promotion bus. */
  broadcastTopics?: string[];
  /** Attempts before a message that keeps failing is given up (and counted). */
  maxAttempts?: number;
  /**
   * Connections in the shared subscription, so as many presence messages are in flight at once (1 by
   * default). Without a shared group there is one: plain subscriptions would each get every message.
   */
  presenceConnections?: number;
  /** The lane of a message: same key, handled in arrival order one at a time (the ingest's orderKey). One lane by default. */
  orderKey?: (topic: string, payload: Buffer) => string;
  /** Presence messages handled at once per connection, acknowledged in order as each is done (ack-pipeline.ts); 64 by default. */
  maxInFlight?: number;
};

export type MqttIngress = {
  client: MqttClient;
  publishRetained(topic: string, payload: string): Promise<void>;
  publish(topic: string, payload: string): Promise<void>;
  close(): Promise<void>;
};

export async function connectMqttIngress(options: MqttIngressOptions): Promise<MqttIngress> {
  const { logger } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 65_535) throw new RangeError(`maxInFlight must be a whole number from 1 to 65535, not ${maxInFlight}`);
  const clientOptions: IClientOptions = {
    clientId: options.clientId ?? `vicino-server-${randomUUID().slice(0, 8)}`,
    clean: options.clientId === undefined,
    protocolVersion: options.sharedGroup ? 5 : 4,
    // MQTT 5: only a stable client ID keeps its session (an hour) across a restart; a random one leaves none
    // behind. Receive Maximum: the broker sends no more unacknowledged messages than are handled at once.
    ...(options.sharedGroup ? { properties: { receiveMaximum: maxInFlight, ...(options.clientId !== undefined ? { sessionExpiryInterval: 3_600 } : {}) } } : {}),
    username: options.username,
    password: options.password,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    manualConnect: true,
  };
  const connections = options.sharedGroup ? Math.max(1, Math.floor(options.presenceConnections ?? 1)) : 1;
  if (!Number.isFinite(connections)) throw new RangeError('presenceConnections must be a whole number of at least 1');
  const lanes = createOrderedLanes();
  // One message at a time anyway: no key to compute (it costs a parse per message).
  const orderKey = (connections > 1 || maxInFlight > 1) && options.orderKey !== undefined ? options.orderKey : () => '';
  // Broadcast messages (the server bus) are acknowledged at once and handled in order behind it: their
  // handlers publish (gateway configs), and MQTT.js reads no further packet — not even the PUBACK of that
  // publish — until handleMessage calls back, so awaiting a publish there would wait forever. They are
  // idempotent hints (a missed one is caught by the periodic resync), so acknowledging first loses nothing.
  const broadcast = new Set(options.broadcastTopics ?? []);
  let background: Promise<unknown> = Promise.resolve();
  /** Handles a presence or status message in its lane, retrying a failure; settles when it may be acknowledged. */
  const handleInLane = (topic: string, payload: Buffer): Promise<void> => {
    let key: string;
    try {
      key = orderKey(topic, payload);
    } catch {
      key = topic;
    }
    return lanes.run(key, async () => {
      for (let n = 1; ; n += 1) {
        try {
          await options.handle(topic, payload);
          return;
        } catch (error) {
          if (n >= maxAttempts) {
            logger.error({ err: (error as Error).message, attempts: n }, 'presence message failed repeatedly; acknowledged and dropped');
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** n));
        }
      }
    });
  };
  const presenceFilters = [topics.allEvents, topics.allStatus].map((filter) => (options.sharedGroup ? sharedSubscription(options.sharedGroup, filter) : filter));

  const open = (index: number): MqttClient => {
    // The first connection also carries the broadcast topics and the server's publishes; the others only presence.
    const client = mqtt.connect(options.url, {
      ...clientOptions,
      ...(index === 0 ? {} : { clientId: options.clientId === undefined ? `${String(clientOptions.clientId)}-${index}` : `${options.clientId}-${index}` }),
    });
    const acks = pipelineAcks(client, maxInFlight);
    client.handleMessage = (packet, callback) => {
      const topic = packet.topic;
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      if (broadcast.has(topic)) {
        callback();
        background = background
          .then(() => options.handle(topic, payload))
          .catch((error: Error) => logger.warn({ err: error.message }, 'server bus message failed; the periodic resync will catch up'));
        return;
      }
      // Acknowledged only once handled: at-least-once survives a crash.
      const handled = handleInLane(topic, payload);
      if (packet.qos === 1 && packet.messageId !== undefined) acks.track(packet.messageId, handled, () => callback());
      else void handled.then(() => callback());
    };
    const filters = index === 0 ? [...presenceFilters, ...(options.broadcastTopics ?? [])] : presenceFilters;
    client.on('connect', () => {
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      // On every connect, even when the broker reports the session present: Mosquitto 2.0 restores a
      // persistent session without its shared ($share/…) subscriptions after a restart, and MQTT.js skips a
      // plain subscribe() to filters it believes held — the instance would stay deaf. `resubscribe` makes
      // it send the SUBSCRIBE regardless; subscribing again to a held filter changes nothing.
      const subscription: ISubscriptionMap = Object.fromEntries(filters.map((filter) => [filter, { qos: 1 as const }]));
      subscription.resubscribe = true;
      client.subscribe(subscription, (error) => {
        if (error) logger.error({ err: error.message }, 'subscribe failed');
      });
    });
    client.on('error', (error) => logger.warn({ err: error.message }, 'mqtt error'));
    client.on('offline', () => logger.warn('mqtt offline; reconnecting'));
    return client;
  };

  const clients = Array.from({ length: connections }, (_, index) => open(index));
  try {
    await Promise.all(clients.map((client) => new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new Error(`cannot connect to MQTT broker at ${redact(options.url)}: ${error.message}`));
      client.once('connect', () => {
        client.off('error', onError);
        resolve();
      });
      client.once('error', onError);
      client.connect();
    })));
  } catch (error) {
    for (const client of clients) client.end(true);
    throw error;
  }
  const client = clients[0]!;

  return {
    client,
    async publishRetained(topic, payload) {
      await client.publishAsync(topic, payload, { qos: 1, retain: true });
    },
    async publish(topic, payload) {
      await client.publishAsync(topic, payload, { qos: 1 });
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}

/** A URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
