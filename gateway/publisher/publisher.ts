import type { GatewayConfigMessage, Occupancy, PresenceEvent } from '../protocol/index.ts';

export type PublisherStats = {
  /** Accepted and not yet acknowledged by the broker (queued + in flight). */
  pending: number;
  inFlight: number;
  /** Acknowledged by the broker (PUBACK, QoS 1). */
  published: number;
  /** Dropped because the outbox was full (oldest first); each one is counted and logged. */
  droppedOverflow: number;
  /** Config messages rejected by the schema. */
  rejectedConfigs: number;
  connected: boolean;
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
