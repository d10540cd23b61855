import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '#gateway/gateway.ts';
import { createGatewayMetrics } from '#gateway/ops/gateway-metrics.ts';
import { startOpsServer, type HealthSnapshot } from '#gateway/ops/ops-server.ts';
import { GatewayConfigMessageSchema, wrapEpochKey } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import type { RawAdvertisement, Scanner } from '#gateway/scanner/scanner.ts';
import { encodeAppleContinuity, encodeEddystoneEid } from '#simulator/radio/encoders.ts';

// The gateway's local ops port over real HTTP: /health (200 or 503 with the reasons) and /metrics
// (Prometheus text from the gateway's own registry, read from a real gateway pipeline).

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const NOW_MS = Date.UTC(2030, 0, 7, 9, 0, 0);
const NOW_S = NOW_MS / 1000;
const SECRET = randomBytes(32);

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('gateway ops server', () => {
  it('serves /metrics from a running pipeline and /health as 200, then 503 with the reasons', async () => {
    let listener: ((a: RawAdvertisement) => void) | undefined;
    const scanner: Scanner = { start: async (l) => void (listener = l), stop: async () => void (listener = undefined), stats: () => ({ reports: 0, trackedAddresses: 7 }) };
    const publisher = createMemoryPublisher();
    const gateway = createGateway({
      scanner, publisher, logger: silent, now: () => NOW_MS,
      settings: { storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', secret: SECRET },
      onPublished: (event, causedByMs) => metrics.observePublish(event.kind, NOW_MS + 3 - causedByMs),
    });
    const metrics = createGatewayMetrics({ pipeline: () => gateway.stats(), publisher: () => publisher.stats(), mapSizes: [() => ({ 'scanner-addresses': scanner.stats().trackedAddresses })] });
    await gateway.start();
    cleanups.push(() => gateway.stop());
    const key = randomBytes(32);
    gateway.applyConfig(GatewayConfigMessageSchema.parse({
      v: 1, storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', issuedAtS: NOW_S,
      epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(SECRET, 'gw-1', 'k1', key), notBeforeS: NOW_S - 60, notAfterS: NOW_S + 3_600 }], registeredBeacons: [],
    }));
    const eid = encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 });
    listener!({ data: eid, rssiDbm: -60, receivedAtMs: NOW_MS });
    listener!({ data: eid, rssiDbm: -60, receivedAtMs: NOW_MS });
    listener!({ data: encodeAppleContinuity({ subtype: 0x10, payload: '0b1c6e8b40' }), rssiDbm: -60, receivedAtMs: NOW_MS });

    let snapshot: HealthSnapshot = {
      scanner: 'scanning', brokerConnected: true, brokerDownSinceMs: null, outboxDepth: 0, outboxBytes: 0, outboxMaxBytes: 1 << 20,
      lastAdvertisementAtMs: gateway.stats().lastAdvertisementAtMs, startedAtMs: NOW_MS,
    };
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, logger: silent, registry: metrics.registry, now: () => NOW_MS + 1_000, health: () => snapshot });
    cleanups.push(() => ops.close());

    const metricsResponse = await fetch(`${ops.url}/metrics`);
    expect(metricsResponse.status).toBe(200);
    expect(metricsResponse.headers.get('content-type')).toContain('text/plain');
    const text = await metricsResponse.text();
    expect(metricValue(text, 'vicino_gateway_advertisements_total')).toBe(3);
    expect(metricValue(text, 'vicino_gateway_decoded_frames_total{type="eddystone-eid"}')).toBe(2);
    expect(metricValue(text, 'vicino_gateway_dropped_advertisements_total{reason="not-a-beacon"}')).toBe(1);
    expect(metricValue(text, 'vicino_gateway_map_entries{map="presence-tracker"}')).toBe(1);
    expect(metricValue(text, 'vicino_gateway_map_entries{map="pseudonym-cache"}')).toBe(1);
    expect(metricValue(text, 'vicino_gateway_map_entries{map="scanner-addresses"}')).toBe(7);
    expect(metricValue(text, 'vicino_gateway_presence_events_total')).toBe(1);
    expect(metricValue(text, 'vicino_gateway_advertisement_to_publish_seconds_count{kind="enter"}')).toBe(1);
    expect(metricValue(text, 'vicino_gateway_advertisement_to_publish_seconds_bucket{le="0.005",kind="enter"}')).toBe(1);
    expect(metricValue(text, 'vicino_gateway_broker_connected')).toBe(1);
    expect(metricValue(text, 'vicino_gateway_outbox_events')).toBe(0);
    expect(metricValue(text, 'vicino_gateway_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    // A second scrape reports the same totals (counters mirror the pipeline; they do not add up per scrape).
    expect(metricValue(await (await fetch(`${ops.url}/metrics`)).text(), 'vicino_gateway_advertisements_total')).toBe(3);

    const ok = await fetch(`${ops.url}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'ok', scanner: 'scanning', brokerConnected: true, lastAdvertisementAgeS: 1 });

    snapshot = { ...snapshot, scanner: 'stopped' };
    const bad = await fetch(`${ops.url}/health`);
    expect(bad.status).toBe(503);
    expect(await bad.json()).toMatchObject({ status: 'unhealthy', problems: ['scanner is stopped'] });

    expect((await fetch(`${ops.url}/elsewhere`)).status).toBe(404);
    expect((await fetch(`${ops.url}/health`, { method: 'POST' })).status).toBe(405);
  });
});
