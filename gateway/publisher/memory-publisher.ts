import type { GatewayConfigMessage, Occupancy, PresenceEvent } from '../protocol/index.ts';
import { emptyDropCounts } from './event-outbox.ts';
import type { Publisher, PublisherStats } from './publisher.ts';

/** The embedded Publisher: keeps what it is given, hands configs in directly. For tests and benchmarks. */
export type MemoryPublisher = Publisher & {
  readonly events: PresenceEvent[];
  readonly occupancy: Occupancy[];
  deliverConfig(config: GatewayConfigMessage): void;
};

export function createMemoryPublisher(): MemoryPublisher {
  const events: PresenceEvent[] = [];
  const occupancy: Occupancy[] = [];
  const listeners: ((config: GatewayConfigMessage) => void)[] = [];
  const stats = (): PublisherStats => ({
    pending: 0, inFlight: 0, published: events.length, droppedOverflow: 0, dropped: emptyDropCounts(),
    outboxBytes: 0, batches: events.length, unroutedRetries: 0, rejectedConfigs: 0, connected: true, disconnectedSinceMs: null,
  });
  return {
    events,
    occupancy,
    async start() {},
    publish: (event) => void events.push(event),
    publishOccupancy: (report) => void occupancy.push(report),
    onConfig: (listener) => void listeners.push(listener),
    deliverConfig: (config) => listeners.forEach((listener) => listener(config)),
    stats,
    async stop() {},
  };
}
