import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PublisherStats } from '../publisher/publisher.ts';
import type { PresenceKind } from '../protocol/index.ts';

// The gateway's Prometheus metrics, on a registry of its own (nothing global). Counters and gauges are
// read from the components' stats() at scrape time, so the hot path pays nothing for them; only the
// advertisement→publish latency is observed per event (there are few: presence edges, not sightings).
// Labels are fixed sets (frame types, drop reasons, map names): never an identifier.

/** What the metrics read from the gateway pipeline (a subset of Gateway.stats()). */
export type PipelineStats = {
  advertisements: number;
  decoded: Readonly<Record<string, number>>;
  dropped: Readonly<Record<string, number>>;
  transitions: number;
  tracked: number;
  present: number;
  pseudonymCacheEntries: number;
};

/** A source of bounded-map sizes (the scanner's per-address maps, say): map name → entries. */
export type MapSizeProvider = () => Readonly<Record<string, number>>;

export type GatewayMetricsOptions = {
  pipeline: () => PipelineStats;
  publisher: () => PublisherStats;
  mapSizes?: readonly MapSizeProvider[];
  /** Node's process metrics (heap, event loop lag, GC); on by default. */
  processMetrics?: boolean;
};

export type GatewayMetrics = {
  registry: Registry;
  /**
   * One event handed to the publisher, `latencyMs` after the advertisement that caused it was received.
   * By kind: an enter is caused by the advertisement just heard; a dwell or exit by the clock, long after.
   */
  observePublish(kind: PresenceKind, latencyMs: number): void;
};

/** A counter that mirrors a running total kept elsewhere. */
function setCounter(counter: Counter<string>, value: number, labels?: Record<string, string>): void {
  if (labels) {
    counter.remove(labels);
    counter.inc(labels, value);
  } else {
    counter.reset();
    counter.inc(value);
  }
}

export function createGatewayMetrics(options: GatewayMetricsOptions): GatewayMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'vicino_gateway_' });
  const mapSizes = [...(options.mapSizes ?? [])];

  new Counter({
    name: 'vicino_gateway_advertisements_total', help: 'Advertising reports received from the radio (rate() gives advertisements/s)', registers: [registry],
    collect() {
      setCounter(this, options.pipeline().advertisements);
    },
  });
  new Counter({
    name: 'vicino_gateway_decoded_frames_total', help: 'Frames decoded, by frame type', labelNames: ['type'], registers: [registry],
    collect() {
      for (const [type, count] of Object.entries(options.pipeline().decoded)) setCounter(this, count, { type });
    },
  });
  new Counter({
    name: 'vicino_gateway_dropped_advertisements_total', help: 'Advertisements dropped after decoding, by reason', labelNames: ['reason'], registers: [registry],
    collect() {
      for (const [reason, count] of Object.entries(options.pipeline().dropped)) setCounter(this, count, { reason });
    },
  });
  new Counter({
    name: 'vicino_gateway_presence_events_total', help: 'Presence transitions (enter, dwell, exit) handed to the publisher', registers: [registry],
    collect() {
      setCounter(this, options.pipeline().transitions);
    },
  });
  new Gauge({
    name: 'vicino_gateway_present', help: 'Pseudonyms present in this gateway zone now', registers: [registry],
    collect() {
      this.set(options.pipeline().present);
    },
  });
  new Gauge({
    name: 'vicino_gateway_map_entries', help: 'Entries in each bounded map (presence tracker, pseudonym cache, scanner maps)', labelNames: ['map'], registers: [registry],
    collect() {
      const pipeline = options.pipeline();
      this.set({ map: 'presence-tracker' }, pipeline.tracked);
      this.set({ map: 'pseudonym-cache' }, pipeline.pseudonymCacheEntries);
      for (const provider of mapSizes) for (const [map, entries] of Object.entries(provider())) this.set({ map }, entries);
    },
  });
  new Counter({
    name: 'vicino_gateway_published_events_total', help: 'Presence events acknowledged by the broker (QoS 1 PUBACK)', registers: [registry],
    collect() {
      setCounter(this, options.publisher().published);
    },
  });
  new Counter({
    name: 'vicino_gateway_unrouted_retries_total', help: 'Events sent again because the broker had no subscriber for them (PUBACK 0x10)', registers: [registry],
    collect() {
      setCounter(this, options.publisher().unroutedRetries);
    },
  });
  new Counter({
    name: 'vicino_gateway_outbox_dropped_events_total', help: 'Presence events the outbox dropped, by reason (overflow, expired, corrupt)', labelNames: ['reason'], registers: [registry],
    collect() {
      for (const [reason, count] of Object.entries(options.publisher().dropped)) setCounter(this, count, { reason });
    },
  });
  new Gauge({
    name: 'vicino_gateway_outbox_events', help: 'Presence events held in the outbox (queued and in flight)', registers: [registry],
    collect() {
      this.set(options.publisher().pending);
    },
  });
  new Gauge({
    name: 'vicino_gateway_outbox_bytes', help: 'Bytes the outbox holds (segment files on disk)', registers: [registry],
    collect() {
      this.set(options.publisher().outboxBytes);
    },
  });
  new Gauge({
    name: 'vicino_gateway_broker_connected', help: '1 while connected to the MQTT broker', registers: [registry],
    collect() {
      this.set(options.publisher().connected ? 1 : 0);
    },
  });
  const latency = new Histogram({
    name: 'vicino_gateway_advertisement_to_publish_seconds',
    help: 'From receiving the advertisement that caused a presence event to handing the event to the publisher, by event kind',
    labelNames: ['kind'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  return {
    registry,
    observePublish: (kind, latencyMs) => latency.observe({ kind }, Math.max(0, latencyMs) / 1_000),
  };
}
