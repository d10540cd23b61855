import type { GatewayConfigMessage, PresenceEvent } from '../protocol/index.ts';
import { emptyDropCounts } from './event-outbox.ts';
import type { Publisher, PublisherStats } from './publisher.ts';

/** The embedded Publisher: keeps what it is given, hands configs in directly. For tests and benchmarks. */
export type MemoryPublisher = Publisher & {
  readonly events: PresenceEvent[];
  deliverConfig(config: GatewayConfigMessage): void;
};

export function createMemoryPublisher(): MemoryPublisher {
  const events: PresenceEvent[] = [];
  const listeners: ((config: GatewayConfigMessage) => void)[] = [];
  const stats = (): PublisherStats => ({
    pending: 0, inFlight: 0, published: events.length, droppedOverflow: 0, dropped: emptyDropCounts(),
    outboxBytes: 0, batches: events.length, unroutedRetries: 0, rejectedConfigs: 0, connected: true, disconnectedSinceMs: null,
  });
  return {
    events,
    async start() {},
    publish: (event) => void events.push(event),
    onConfig: (listener) => void listeners.push(listener),
    deliverConfig: (config) => listeners.forEach((listener) => listener(config)),
    stats,
    async stop() {},
  };
}
