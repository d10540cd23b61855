import mqtt, { type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  gatewayClientId, GatewayConfigMessageSchema, parsePayload, PROTOCOL_VERSION, topics,
  signMessage, type GatewayConfigMessage, type GatewayStatusCounts, type PresenceEvent, type UnsignedGatewayStatus,
} from '../protocol/index.ts';
import type { EventOutbox } from './event-outbox.ts';
import { createMemoryOutbox } from './memory-outbox.ts';
import { DEFAULT_BATCH_MAX_LATENCY_MS, type Publisher, type PublisherStats } from './publisher.ts';

// The gateway's MQTT client (MQTT.js, MQTT 5): presence at QoS 1 through an outbox, a persistent
// session, a retained online/offline status with a delayed will, a slow heartbeat, and batched writes.
//
// Every event goes into the outbox first (on disk for a real gateway) and leaves it only on PUBACK,
// when it expires, or when the byte bound pushes it out — each drop counted. Events go out in order:
// MQTT.js retransmits what was in flight when a connection drops (same session, [MQTT-4.4.0-1]) before
// anything new, and the outbox hands out the rest in append order.
//
// Batching: what accumulates within maxLatencyMs goes out in one socket write (the socket is corked
// around the batch). A batch leaves at the end of the event-loop turn when the previous one left at
// least maxLatencyMs ago, otherwise when that much time has passed: no event waits longer than
// maxLatencyMs, and a lone event is not delayed at all.

export type MqttPublisherOptions = {
  url: string;
  storeId: string;
  gatewayId: string;
  username?: string;
  password?: string;
  /** K_msg (protocol/event-auth.ts deriveEventMacKey): the status messages, the will included, are signed with it. */
  messageKey: Uint8Array;
  logger: Logger;
  now: () => number;
  version?: string;
  /** QoS 1 publishes awaiting PUBACK at once: backpressure instead of an unbounded socket buffer. */
  maxInFlight?: number;
  /** Where events wait for the broker; an in-memory one of 16 MiB by default (main.ts passes the disk one). */
  outbox?: EventOutbox;
  /** An event older than this (from its atS) is not sent; 120 s matches the server's freshness window. */
  maxEventAgeS?: number;
  /** Upper bound on the delay batching adds to an event. */
  maxLatencyMs?: number;
  /** MQTT 5 by default; a broker that refuses it (aedes, 3.1.1 only) is retried once with 3.1.1. */
  protocolVersion?: 4 | 5;
  /** MQTT 5 session expiry: how long the broker keeps this gateway's session (subscription, in-flight) while it is away. */
  sessionExpiryS?: number;
  /** MQTT 5 will delay: the broker publishes "offline" only if the gateway stays away this long. */
  willDelayS?: number;
  /** Status republished with counts this often (0: never; the online/offline edges are still published). */
  heartbeatIntervalMs?: number;
  heartbeatCounts?: () => GatewayStatusCounts;
  reconnectPeriodMs?: number;
};

/** Occupancy counts kept while the broker is away (one a minute at most: a quarter of an hour). */
const MAX_WAITING_OCCUPANCY = 16;

export function createMqttPublisher(options: MqttPublisherOptions): Publisher {
  const { storeId, gatewayId, logger, now } = options;
  const maxInFlight = options.maxInFlight ?? 64;
  const maxAgeMs = (options.maxEventAgeS ?? 120) * 1_000;
  const maxLatencyMs = options.maxLatencyMs ?? DEFAULT_BATCH_MAX_LATENCY_MS;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 60_000;
  const outbox = options.outbox ?? createMemoryOutbox({ maxBytes: 16 * 1024 * 1024, now });
  const configTopic = topics.config(storeId, gatewayId);
  const statusTopic = topics.status(storeId, gatewayId);
  const presenceTopic = topics.events(storeId, gatewayId);
  const occupancyTopic = topics.occupancy(storeId, gatewayId);
  const listeners: ((config: GatewayConfigMessage) => void)[] = [];
  const counters = { published: 0, rejectedConfigs: 0, batches: 0, unroutedRetries: 0 };
  const startedMs = now();
  let connected = false;
  let disconnectedSinceMs: number | null = now();
  let protocolVersion = options.protocolVersion ?? 5;
  let client: MqttClient | undefined;
  let stopping = false;
  let stopped = false;
  let drained: (() => void) | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let flushQueued = false;
  let lastFlushMs = Number.NEGATIVE_INFINITY;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  /** Message IDs the broker acknowledged with reason code 0x10 (no matching subscribers). */
  const unrouted = new Set<number>();
  let unroutedBackoffMs = 0;
  let holdUntilMs = 0;

  const pending = (): number => outbox.stats().depth;

  const status = (online: boolean, withCounts: boolean): string => {
    const message: UnsignedGatewayStatus = { v: PROTOCOL_VERSION, storeId, gatewayId, online, atS: Math.floor(now() / 1000), version: options.version };
    if (withCounts) {
      const box = outbox.stats();
      message.counts = {
        uptimeS: Math.max(0, Math.floor((now() - startedMs) / 1000)),
        ...options.heartbeatCounts?.(),
        published: counters.published,
        pending: box.depth,
        outboxBytes: box.bytes,
        droppedEvents: Object.values(box.dropped).reduce((sum, n) => sum + n, 0),
      };
    }
    return JSON.stringify(signMessage(options.messageKey, 'status', message));
  };

  const flush = (): void => {
    flushTimer = undefined;
    flushQueued = false;
    if (client === undefined || !client.connected || stopped) return;
    if (performance.now() < holdUntilMs) {
      flushTimer = setTimeout(flush, holdUntilMs - performance.now() + 1);
      return;
    }
    const batch = outbox.take(maxInFlight - outbox.stats().inFlight);
    if (batch.length === 0) return;
    lastFlushMs = performance.now();
    counters.batches += 1;
    const stream = client.stream as { cork?: () => void; uncork?: () => void } | undefined;
    stream?.cork?.();
    for (const entry of batch) {
      const remainingS = Math.max(1, Math.ceil((entry.expiresAtMs - now()) / 1000));
      // MQTT 5 message expiry: a broker holding it for an absent subscriber drops it when stale too.
      const properties = protocolVersion === 5 ? { messageExpiryInterval: remainingS } : undefined;
      client.publish(presenceTopic, entry.payload, { qos: 1, properties }, (error, packet) => {
        if (error) {
          // The client gave up on it (connection ended without a session): back in line, sent again.
          outbox.release(entry.n);
        } else if (packet?.messageId !== undefined && unrouted.delete(packet.messageId)) {
          // MQTT 5 PUBACK 0x10: accepted, but no subscriber (every server down, and no session queues
          // for them — Mosquitto keeps none for shared subscriptions across its own restart). Nobody
          // has it: keep it in the outbox and try again later, until it expires.
          outbox.release(entry.n);
          holdForSubscriber();
        } else {
          unroutedBackoffMs = 0;
          outbox.ack(entry.n);
          counters.published += 1;
        }
        if (pending() === 0) drained?.();
        else schedule();
      });
    }
    // mqtt-packet also corks per packet until the next tick; the batch leaves in one write either way.
    process.nextTick(() => stream?.uncork?.());
  };

  /** Pauses sending after a PUBACK 0x10: 1 s, doubling up to 30 s while nobody subscribes. */
  function holdForSubscriber(): void {
    counters.unroutedRetries += 1;
    if (performance.now() < holdUntilMs) return; // the rest of a batch that went unrouted: same pause
    if (unroutedBackoffMs === 0) logger.warn({ pending: pending() }, 'no server subscribed to presence (PUBACK 0x10); holding events in the outbox');
    unroutedBackoffMs = Math.min(30_000, Math.max(1_000, unroutedBackoffMs * 2));
    holdUntilMs = performance.now() + unroutedBackoffMs;
    if (flushTimer !== undefined) clearTimeout(flushTimer);
    flushTimer = setTimeout(flush, unroutedBackoffMs);
  }

  function schedule(): void {
    if (stopped) return;
    if (flushTimer !== undefined || flushQueued) return;
    const waitMs = lastFlushMs + maxLatencyMs - performance.now();
    if (waitMs <= 0) {
      flushQueued = true;
      setImmediate(flush);
    } else {
      flushTimer = setTimeout(flush, waitMs);
    }
  }

  const connectOptions = (): IClientOptions => ({
    clientId: gatewayClientId(gatewayId),
    // A persistent session keeps the config subscription and in-flight QoS 1 across reconnects.
    clean: false,
    protocolVersion,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: options.sessionExpiryS ?? 86_400 } } : {}),
    username: options.username,
    password: options.password,
    reconnectPeriod: options.reconnectPeriodMs ?? 1_000,
    connectTimeout: 10_000,
    will: {
      topic: statusTopic,
      payload: Buffer.from(status(false, false)),
      qos: 1,
      retain: true,
      ...(protocolVersion === 5 ? { properties: { willDelayInterval: options.willDelayS ?? 15 } } : {}),
    },
  });

  const onMessage = (topic: string, payload: Buffer): void => {
    if (topic !== configTopic) return;
    // An empty retained payload clears the topic (a gateway deleted): nothing to apply.
    if (payload.length === 0) return;
    const parsed = parsePayload(GatewayConfigMessageSchema, payload);
    if (!parsed.ok || parsed.value.gatewayId !== gatewayId || parsed.value.storeId !== storeId) {
      counters.rejectedConfigs += 1;
      logger.warn({ error: parsed.ok ? 'config addressed to another gateway' : parsed.error }, 'config rejected');
      return;
    }
    for (const listener of listeners) {
      try {
        listener(parsed.value);
      } catch (error) {
        counters.rejectedConfigs += 1;
        logger.error({ err: (error as Error).message }, 'config could not be applied');
      }
    }
  };

  const occupancyWaiting: string[] = [];
  const flushOccupancy = (): void => {
    const target = client;
    if (target === undefined) return;
    for (const payload of occupancyWaiting.splice(0)) {
      target.publish(occupancyTopic, payload, { qos: 1 }, (error) => {
        if (error) logger.warn({ err: error.message }, 'occupancy publish failed; the count is dropped');
      });
    }
  };

  const connect = (): void => {
    const mqttClient = mqtt.connect(options.url, connectOptions());
    client = mqttClient;
    let lastError = '';
    mqttClient.on('connect', () => {
      connected = true;
      disconnectedSinceMs = null;
      // Nagle adds ~20 ms p50 / 50 ms p99 per hop at these message sizes (performance-notes.md).
      (mqttClient.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      mqttClient.publish(statusTopic, status(true, true), { qos: 1, retain: true });
      // Subscribe on every connect, even when the broker reports the session present: a broker may
      // restore a session without all its subscriptions, and MQTT.js then skips a plain subscribe() to a
      // topic it believes held. Re-subscribing also re-delivers the retained config: a fresh copy.
      const subscription: ISubscriptionMap = { [configTopic]: { qos: 1 } };
      subscription.resubscribe = true;
      mqttClient.subscribe(subscription);
      logger.info({ pending: pending(), protocolVersion }, 'connected to the broker');
      lastError = '';
      schedule();
      flushOccupancy();
    });
    mqttClient.on('close', () => {
      if (connected && !stopping) logger.warn({ pending: pending() }, 'broker connection lost; holding events in the outbox');
      if (connected) disconnectedSinceMs = now();
      connected = false;
      unrouted.clear();
    });
    mqttClient.on('error', (error) => {
      // CONNACK return code 1 (3.1.1) = unacceptable protocol version: a broker without MQTT 5.
      if ((error as { code?: number }).code === 1 && protocolVersion === 5) {
        protocolVersion = 4;
        logger.info('the broker refused MQTT 5; using MQTT 3.1.1 (no session expiry, will delay or message expiry)');
        mqttClient.removeAllListeners();
        mqttClient.on('error', () => undefined);
        mqttClient.end(true);
        connect();
        return;
      }
      // Log each distinct error once, not once a second while the broker is away.
      if (error.message !== lastError) logger.warn({ err: error.message }, 'mqtt error; retrying');
      lastError = error.message;
    });
    mqttClient.on('message', onMessage);
    // Emitted before MQTT.js handles the PUBACK (and calls the publish callback): note a 0x10.
    mqttClient.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback' && packet.reasonCode === 0x10 && packet.messageId !== undefined) unrouted.add(packet.messageId);
    });
  };

  return {
    async start() {
      await outbox.open();
      // No waiting for the broker: a store box may boot before its network. Events wait in the outbox
      // and go out once the connection is up (and after every reconnect).
      connect();
      if (heartbeatIntervalMs > 0) {
        heartbeatTimer = setInterval(() => {
          outbox.purgeExpired();
          if (client?.connected) client.publish(statusTopic, status(true, true), { qos: 1, retain: true });
        }, heartbeatIntervalMs);
        heartbeatTimer.unref();
      }
    },
    publish(event: PresenceEvent) {
      outbox.append(JSON.stringify(event), event.atS * 1_000 + maxAgeMs);
      schedule();
    },
    publishOccupancy(report) {
      // Before start() or after stop() there is nowhere to send it.
      if (client === undefined || stopping) return;
      // While disconnected, the last few counts wait here (a reconnect may replace the client, e.g.
      // after the MQTT 5 fallback, and with it MQTT.js's own queue); older ones make way.
      occupancyWaiting.push(JSON.stringify(report));
      if (occupancyWaiting.length > MAX_WAITING_OCCUPANCY) occupancyWaiting.shift();
      if (connected) flushOccupancy();
    },
    onConfig(listener) {
      listeners.push(listener);
    },
    stats(): PublisherStats {
      const box = outbox.stats();
      return {
        pending: box.depth,
        inFlight: box.inFlight,
        published: counters.published,
        droppedOverflow: box.dropped.overflow,
        dropped: box.dropped,
        outboxBytes: box.bytes,
        batches: counters.batches,
        unroutedRetries: counters.unroutedRetries,
        rejectedConfigs: counters.rejectedConfigs,
        connected,
        disconnectedSinceMs,
      };
    },
    async stop(deadlineMs = 3_000) {
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      if (client === undefined) {
        await outbox.close();
        return;
      }
      stopping = true;
      if (pending() > 0 && client.connected) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadlineMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
          schedule();
        });
      }
      if (flushTimer) clearTimeout(flushTimer);
      const left = pending();
      if (left > 0) logger.warn({ left }, 'stopping with unsent presence events; the outbox keeps them');
      if (client.connected) await client.publishAsync(statusTopic, status(false, true), { qos: 1, retain: true }).catch(() => undefined);
      stopped = true;
      await client.endAsync(!client.connected);
      connected = false;
      await outbox.close();
    },
  };
}
