import type { GatewayConfigMessage, Occupancy, PresenceEvent } from '../protocol/index.ts';
import type { OutboxDropReason } from './event-outbox.ts';

export type PublisherStats = {
  /** Accepted and not yet acknowledged by the broker (queued + in flight). */
  pending: number;
  inFlight: number;
  /** Acknowledged by the broker (PUBACK, QoS 1). */
  published: number;
  /** Dropped because the outbox was full (oldest first); the same as dropped.overflow. */
  droppedOverflow: number;
  /** Every event the outbox dropped, by reason: overflow, expired (older than the event age limit), corrupt (on load). */
  dropped: Record<OutboxDropReason, number>;
  outboxBytes: number;
  /** Socket writes of presence batches (several events each under load). */
  batches: number;
  /** Events sent again because the broker had no subscriber for them (MQTT 5 PUBACK 0x10). */
  unroutedRetries: number;
  /** Config messages rejected by the schema. */
  rejectedConfigs: number;
  connected: boolean;
  /** Unix ms since which the broker has been unreachable (or never reached), null while connected. */
  disconnectedSinceMs: number | null;
};

/** The port through which the gateway talks to servers: presence up, configuration down. */
export interface Publisher {
  start(): Promise<void>;
  /** Never throws and never blocks: the event goes to the outbox and is sent at least once. */
  publish(event: PresenceEvent): void;
  /**
   * One anonymous occupancy count (opt-in, a few a minute at most) on the gateway's occupancy topic,
   * QoS 1. Never throws; not kept in the presence outbox: a count the broker missed is not replayed.
   */
  publishOccupancy(report: Occupancy): void;
  onConfig(listener: (config: GatewayConfigMessage) => void): void;
  stats(): PublisherStats;
  /** Flushes the outbox (bounded by deadlineMs), marks the gateway offline, disconnects. */
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * The publisher's batching bound (config batching.maxLatencyMs): an event waits at most this for the ones behind
 * it (the p99 target, advertisement → app, is 50 ms), and a busy gateway makes at most 200 socket writes a second,
 * nothing for a Raspberry Pi. Longer bounds bought no server throughput and cost latency whenever a gateway is busy:
 * 100 ms cost ~45 ms p50 at 12.5 events/s a gateway; 20 ms cost 16 ms p50 and 61–85 ms p99 at 1,000 events/s against
 * 2 / 15–26 ms with 5 ms, the same saturation either way (docs/benchmarks.md, end to end, 2026-12-02).
 */
export const DEFAULT_BATCH_MAX_LATENCY_MS = 5;
