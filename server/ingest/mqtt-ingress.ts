import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { sharedSubscription, topics } from '#gateway/protocol/index.ts';

// The server's MQTT connection. Presence arrives at QoS 1 and is acknowledged only after it has been
// handled (MQTT.js sends the PUBACK when handleMessage calls back), so a server killed mid-message
// gets it redelivered. With a persistent session (clean: false) the broker also queues messages
// while the server restarts. Several instances share presence through an MQTT 5 shared subscription.

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
  const clientOptions: IClientOptions = {
    clientId: options.clientId ?? `vicino-server-${randomUUID().slice(0, 8)}`,
    clean: options.clientId === undefined,
    protocolVersion: options.sharedGroup ? 5 : 4,
    // MQTT 5: only a stable client ID keeps its session (an hour) across a restart; a random one leaves none behind.
    ...(options.sharedGroup && options.clientId !== undefined ? { properties: { sessionExpiryInterval: 3_600 } } : {}),
    username: options.username,
    password: options.password,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    manualConnect: true,
  };
  const client = mqtt.connect(options.url, clientOptions);
  // Broadcast messages (the server bus) are acknowledged at once and handled in order behind it: their
  // handlers publish (gateway configs), and MQTT.js reads no further packet — not even the PUBACK of that
  // publish — until handleMessage calls back, so awaiting a publish there would wait forever. They are
  // idempotent hints (a missed one is caught by the periodic resync), so acknowledging first loses nothing.
  const broadcast = new Set(options.broadcastTopics ?? []);
  let background: Promise<unknown> = Promise.resolve();
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
    const attempt = (n: number): void => {
      options.handle(topic, payload).then(
        () => callback(),
        (error: Error) => {
          if (n < maxAttempts) {
            setTimeout(() => attempt(n + 1), 50 * 2 ** n);
            return;
          }
          logger.error({ err: error.message, attempts: n }, 'presence message failed repeatedly; acknowledged and dropped');
          callback();
        },
      );
    };
    attempt(1);
  };
  const filters = [
    ...[topics.allEvents, topics.allStatus].map((filter) => (options.sharedGroup ? sharedSubscription(options.sharedGroup, filter) : filter)),
    ...(options.broadcastTopics ?? []),
  ];
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

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      client.end(true);
      reject(new Error(`cannot connect to MQTT broker at ${redact(options.url)}: ${error.message}`));
    };
    client.once('connect', () => {
      client.off('error', onError);
      resolve();
    });
    client.once('error', onError);
    client.connect();
  });

  return {
    client,
    async publishRetained(topic, payload) {
      await client.publishAsync(topic, payload, { qos: 1, retain: true });
    },
    async publish(topic, payload) {
      await client.publishAsync(topic, payload, { qos: 1 });
    },
    async close() {
      await client.endAsync();
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
