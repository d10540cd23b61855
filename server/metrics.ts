import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObservation } from './store/set-batches.ts';

// Prometheus metrics, one registry per server instance (tests build several in one process).
// Labels never carry a pseudonym, a shopper or any other personal value.

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const presence = new Counter({
    name: 'vicino_presence_messages_total',
    help: 'Presence messages received, by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const decisions = new Counter({ name: 'vicino_decisions_total', help: 'Send decisions, by outcome and reason', labelNames: ['outcome', 'reason'] as const, registers: [registry] });
  const deliveries = new Counter({ name: 'vicino_promotions_delivered_total', help: 'Promotion messages written to an app connection', registers: [registry] });
  const acks = new Counter({ name: 'vicino_promotions_acked_total', help: 'Promotions acknowledged by the app', registers: [registry] });
  // Experiments and analytics (issue 6).
  const heldOut = new Counter({ name: 'vicino_promotions_held_out_total', help: 'Exposures recorded for held-out (control group) shoppers, never sent', registers: [registry] });
  const opens = new Counter({ name: 'vicino_promotions_opened_total', help: 'Open reports from the app that matched a promotion of the shopper (a repeat counts again; the row keeps the first)', registers: [registry] });
  const conversions = new Counter({ name: 'vicino_conversions_total', help: 'Exposures converted by an entry into an attribution zone (analytics consent only)', registers: [registry] });
  const analyticsRollupCells = new Counter({
    name: 'vicino_analytics_rollup_cells_total', help: 'Anonymous zone cells written by the analytics rollup, by bucket and kind', labelNames: ['bucket', 'kind'] as const, registers: [registry],
  });
  const analyticsRollupFailures = new Counter({ name: 'vicino_analytics_rollup_failures_total', help: 'Analytics rollup passes that failed (alert)', registers: [registry] });
  const httpRejected = new Counter({ name: 'vicino_http_rejected_total', help: 'HTTP requests rejected, by error code', labelNames: ['code'] as const, registers: [registry] });
  const brokerRefusals = new Counter({
    name: 'vicino_mqtt_refusals_total',
    help: 'Connections, publishes and subscriptions the embedded broker refused (SEC-1), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // CON-5, fail closed: sends held back because the consent state could not be read (the Store failed), by
  // where the read was: 'ingest' (an event's decision), 'sweep' (the zone arbiter's clock), 'delivery' (at send time).
  const consentUnreadable = new Counter({
    name: 'vicino_consent_unreadable_total',
    help: 'Sends held back because the consent state could not be read (fail closed), by where',
    labelNames: ['where'] as const,
    registers: [registry],
  });
  const connectedApps = new Gauge({ name: 'vicino_connected_apps', help: 'Open app delivery connections', registers: [registry] });
  const resolverShoppers = new Gauge({ name: 'vicino_resolver_shoppers', help: 'Consenting shoppers indexed by the resolver', registers: [registry] });
  const ingestSeconds = new Histogram({
    name: 'vicino_ingest_seconds',
    help: 'Time from a presence message arriving to its decision being recorded',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  // Retention (RET-4): rows each purge removed, the audit entries it wrote, and the purges that failed —
  // the alert: any increase of vicino_retention_failures_total should page someone.
  const retentionPurgedRows = new Counter({ name: 'vicino_retention_purged_rows_total', help: 'Rows deleted by the retention purge, by kind', labelNames: ['what'] as const, registers: [registry] });
  const retentionAuditEntries = new Counter({
    name: 'vicino_retention_audit_entries_total',
    help: 'Retention purge audit entries written (one per purge, empty ones included), by kind',
    labelNames: ['what'] as const,
    registers: [registry],
  });
  const retentionFailures = new Counter({
    name: 'vicino_retention_failures_total',
    help: 'Retention purges that failed (the delete or its audit entry), by kind; the next run retries',
    labelNames: ['what'] as const,
    registers: [registry],
  });
  // Consent lapses (CON-6, CON-7): grants the lapse job withdrew, by reason, and its failed runs — the alert.
  const consentLapses = new Counter({ name: 'vicino_consent_lapses_total', help: 'Consent grants withdrawn by the lapse job, by reason', labelNames: ['reason'] as const, registers: [registry] });
  const consentLapseFailures = new Counter({
    name: 'vicino_consent_lapse_failures_total',
    help: 'Consent lapse job runs that failed (the next run retries)',
    registers: [registry],
  });
  // Coupons presented at a till (POST /v1/pos/redemptions), by outcome: redeemed, replayed (a till's retry),
  // already-redeemed, expired, cancelled, not-found, invalid, unauthenticated. Never the code or the shopper.
  const redemptions = new Counter({ name: 'vicino_redemptions_total', help: 'Coupon redemptions at a point of sale, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  // Promotions dropped because they expired before they were ever written to the app (the shopper was
  // offline for the whole TTL, or consent could not be read meanwhile), by campaign. Campaign IDs are not
  // personal data; the shopper never appears here.
  const expiredUndelivered = new Counter({
    name: 'vicino_promotions_expired_undelivered_total',
    help: 'Promotions dropped because they expired before being written to the app, by campaign',
    labelNames: ['campaign'] as const,
    registers: [registry],
  });
  // The push-provider webhook (server/delivery/webhook-delivery.ts): every finished attempt by outcome
  // (sent, retry, dead, dropped) and reason. Any increase of outcome="dead" is the dead-letter alert.
  const webhookDeliveries = new Counter({
    name: 'vicino_webhook_deliveries_total',
    help: 'Push webhook attempts, by outcome (sent, retry, dead, dropped) and reason',
    labelNames: ['outcome', 'reason'] as const,
    registers: [registry],
  });
  // PostgreSQL's set-based hot path (store/postgres-presence-batch.ts, postgres-promotion-batch.ts): how many calls
  // each transaction took together, and the batches that failed and went one call at a time (a deadlock, a lost race,
  // a call at fault). A rising fallback rate is worth a look; the calls themselves lost nothing.
  const storeBatchCalls = new Histogram({
    name: 'vicino_store_batch_calls',
    help: 'Calls applied together in one PostgreSQL transaction, by kind (presence, send)',
    labelNames: ['kind'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const storeBatchFallbacks = new Counter({
    name: 'vicino_store_batch_fallbacks_total',
    help: 'PostgreSQL batches rolled back and applied one call at a time, by kind (presence, send)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  return { registry, storeBatchCalls, storeBatchFallbacks, heldOut, opens, conversions, analyticsRollupCells, analyticsRollupFailures, expiredUndelivered, webhookDeliveries, redemptions, consentUnreadable, consentLapses, consentLapseFailures, retentionPurgedRows, retentionAuditEntries, retentionFailures, presence, decisions, deliveries, acks, httpRejected, brokerRefusals, connectedApps, resolverShoppers, ingestSeconds };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** What openPostgresStore's observeBatches reports, as metrics. */
export const batchMetrics = (metrics: Metrics) => (batch: BatchObservation): void => {
  metrics.storeBatchCalls.observe({ kind: batch.kind }, batch.calls);
  if (batch.fellBack) metrics.storeBatchFallbacks.inc({ kind: batch.kind });
};

/** Reads a counter's total (optionally for one label set) — for status lines and summaries. */
export async function counterValue(counter: Counter<string>, labels?: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => labels === undefined || Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
