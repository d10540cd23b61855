import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  gatewayClientId, GatewayConfigMessageSchema, parsePayload, PROTOCOL_VERSION, topics,
  type GatewayConfigMessage, type GatewayStatus, type PresenceEvent,
} from '../protocol/index.ts';
import { createOutbox } from './outbox.ts';
import type { Publisher, PublisherStats } from './publisher.ts';

export type MqttPublisherOptions = {
  url: string;
  storeId: string;
  gatewayId: string;
  username?: string;
  password?: string;
  logger: Logger;
  now: () => number;
  version?: string;
  /** QoS 1 publishes awaiting PUBACK at once: backpressure instead of an unbounded socket buffer. */
  maxInFlight?: number;
  outboxCapacity?: number;
};

export function createMqttPublisher(options: MqttPublisherOptions): Publisher {
  const { storeId, gatewayId, logger, now } = options;
  const maxInFlight = options.maxInFlight ?? 64;
  const outbox = createOutbox<PresenceEvent>(options.outboxCapacity ?? 50_000);
  const configTopic = topics.config(storeId, gatewayId);
  const statusTopic = topics.status(storeId, gatewayId);
  const presenceTopic = topics.events(storeId, gatewayId);
  const occupancyTopic = topics.occupancy(storeId, gatewayId);
  const listeners: ((config: GatewayConfigMessage) => void)[] = [];
  const stats: PublisherStats = { pending: 0, inFlight: 0, published: 0, droppedOverflow: 0, rejectedConfigs: 0, connected: false };
  let client: MqttClient | undefined;
  let stopping = false;
  let drained: (() => void) | undefined;

  const status = (online: boolean): string =>
    JSON.stringify({ v: PROTOCOL_VERSION, storeId, gatewayId, online, atS: Math.floor(now() / 1000), version: options.version } satisfies GatewayStatus);

  const pump = (): void => {
    if (client === undefined || !client.connected) return;
    while (stats.inFlight < maxInFlight && outbox.size > 0) {
      const event = outbox.shift()!;
      stats.inFlight += 1;
      client.publish(presenceTopic, JSON.stringify(event), { qos: 1 }, (error) => {
        stats.inFlight -= 1;
        if (error) {
          // Not acknowledged: back to the front, sent again after reconnecting (at least once).
          outbox.unshift(event);
          logger.warn({ err: error.message }, 'presence publish failed; will retry');
        } else {
          stats.published += 1;
        }
        stats.pending = outbox.size + stats.inFlight;
        if (stats.pending === 0) drained?.();
        if (!error) pump();
      });
    }
    stats.pending = outbox.size + stats.inFlight;
  };

  return {
    async start() {
      // No waiting for the broker: a store box may boot before its network. Events queue in the
      // outbox and go out once the connection is up (and after every reconnect).
      client = mqtt.connect(options.url, {
        clientId: gatewayClientId(gatewayId),
        // A persistent session keeps our config subscription and in-flight QoS 1 across reconnects.
        clean: false,
        username: options.username,
        password: options.password,
        reconnectPeriod: 1_000,
        connectTimeout: 10_000,
        will: { topic: statusTopic, payload: Buffer.from(status(false)), qos: 1, retain: true },
      });
      client.on('connect', () => {
        stats.connected = true;
        // Nagle adds ~20 ms p50 / 50 ms p99 per hop at these message sizes (performance-notes.md).
        (client?.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
        client?.publish(statusTopic, status(true), { qos: 1, retain: true });
        client?.subscribe(configTopic, { qos: 1 });
        logger.info({ pending: outbox.size }, 'connected to the broker');
        pump();
      });
      client.on('close', () => {
        if (stats.connected && !stopping) logger.warn('broker connection lost; buffering in the outbox');
        stats.connected = false;
      });
      let lastError = '';
      client.on('error', (error) => {
        // Log each distinct error once, not once a second while the broker is away.
        if (error.message !== lastError) logger.warn({ err: error.message }, 'mqtt error; retrying every second');
        lastError = error.message;
      });
      client.on('message', (topic, payload) => {
        if (topic !== configTopic) return;
        const parsed = parsePayload(GatewayConfigMessageSchema, payload);
        if (!parsed.ok || parsed.value.gatewayId !== gatewayId || parsed.value.storeId !== storeId) {
          stats.rejectedConfigs += 1;
          logger.warn({ error: parsed.ok ? 'config addressed to another gateway' : parsed.error }, 'config rejected');
          return;
        }
        for (const listener of listeners) listener(parsed.value);
      });
    },
    publish(event) {
      if (outbox.push(event) !== undefined) {
        stats.droppedOverflow += 1;
        logger.warn({ droppedOverflow: stats.droppedOverflow }, 'outbox full; dropped the oldest event');
      }
      pump();
    },
    publishOccupancy(report) {
      // MQTT.js queues it while reconnecting; before start() or after stop() there is nowhere to send it.
      if (client === undefined || stopping) return;
      client.publish(occupancyTopic, JSON.stringify(report), { qos: 1 }, (error) => {
        if (error) logger.warn({ err: error.message }, 'occupancy publish failed; the count is dropped');
      });
    },
    onConfig(listener) {
      listeners.push(listener);
    },
    stats: () => ({ ...stats, pending: outbox.size + stats.inFlight }),
    async stop(deadlineMs = 3_000) {
      if (client === undefined) return;
      stopping = true;
      if (outbox.size + stats.inFlight > 0 && client.connected) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadlineMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const left = outbox.size + stats.inFlight;
      if (left > 0) logger.warn({ left }, 'stopping with unsent presence events');
      if (client.connected) await client.publishAsync(statusTopic, status(false), { qos: 1, retain: true }).catch(() => undefined);
      await client.endAsync(!client.connected);
      stats.connected = false;
    },
  };
}
