import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

// The gateway's local ops port: GET /health (JSON, 503 when unhealthy, for systemd watchdogs, load
// balancers and people) and GET /metrics (Prometheus text from the gateway's own registry). It listens
// on loopback by default and serves nothing else; neither answer holds an identifier.

export type HealthSnapshot = {
  /** The scanner's state: "scanning" when it hears the radio, else what it is doing instead. */
  scanner: string;
  brokerConnected: boolean;
  /** Since when the broker has been unreachable (Unix ms), or null while connected. */
  brokerDownSinceMs: number | null;
  outboxDepth: number;
  outboxBytes: number;
  outboxMaxBytes: number;
  /** Unix ms of the last advertisement heard, or null if none since the start. */
  lastAdvertisementAtMs: number | null;
  startedAtMs: number;
};

export type HealthThresholds = {
  /** Radio silence longer than this is unhealthy (a store is never silent for minutes). */
  maxAdvertisementSilenceS: number;
  /** A broker outage is absorbed by the outbox; past this long it is reported. */
  maxBrokerDownS: number;
  /** Outbox fill (0–1) above which events are about to be dropped. */
  maxOutboxFill: number;
};

export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = { maxAdvertisementSilenceS: 120, maxBrokerDownS: 300, maxOutboxFill: 0.9 };

export type HealthReport = {
  status: 'ok' | 'unhealthy';
  problems: string[];
  scanner: string;
  brokerConnected: boolean;
  outbox: { depth: number; bytes: number; maxBytes: number };
  lastAdvertisementAgeS: number | null;
  uptimeS: number;
};

/** Pure: the health verdict for a snapshot at a time. */
export function assessHealth(snapshot: HealthSnapshot, nowMs: number, thresholds: HealthThresholds = DEFAULT_HEALTH_THRESHOLDS): HealthReport {
  const problems: string[] = [];
  if (snapshot.scanner !== 'scanning') problems.push(`scanner is ${snapshot.scanner}`);
  const ageS = snapshot.lastAdvertisementAtMs === null ? null : Math.max(0, (nowMs - snapshot.lastAdvertisementAtMs) / 1_000);
  const silentS = ageS ?? (nowMs - snapshot.startedAtMs) / 1_000;
  if (silentS > thresholds.maxAdvertisementSilenceS) problems.push(`no advertisement for ${Math.floor(silentS)} s`);
  if (!snapshot.brokerConnected && snapshot.brokerDownSinceMs !== null && nowMs - snapshot.brokerDownSinceMs > thresholds.maxBrokerDownS * 1_000) {
    problems.push(`broker unreachable for ${Math.floor((nowMs - snapshot.brokerDownSinceMs) / 1_000)} s`);
  }
  if (snapshot.outboxMaxBytes > 0 && snapshot.outboxBytes / snapshot.outboxMaxBytes > thresholds.maxOutboxFill) problems.push('outbox almost full');
  return {
    status: problems.length === 0 ? 'ok' : 'unhealthy',
    problems,
    scanner: snapshot.scanner,
    brokerConnected: snapshot.brokerConnected,
    outbox: { depth: snapshot.outboxDepth, bytes: snapshot.outboxBytes, maxBytes: snapshot.outboxMaxBytes },
    lastAdvertisementAgeS: ageS === null ? null : Math.round(ageS * 10) / 10,
    uptimeS: Math.max(0, Math.floor((nowMs - snapshot.startedAtMs) / 1_000)),
  };
}

export type OpsServerOptions = {
  host: string;
  port: number;
  logger: Logger;
  registry: Registry;
  health: () => HealthSnapshot;
  now: () => number;
  thresholds?: Partial<HealthThresholds>;
};

export type OpsServer = { url: string; close(): Promise<void> };

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const thresholds = { ...DEFAULT_HEALTH_THRESHOLDS, ...options.thresholds };
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    if (path === '/health') {
      const report = assessHealth(options.health(), options.now(), thresholds);
      response.writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(report));
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (error: Error) => {
          options.logger.error({ err: error.message }, 'metrics collection failed');
          response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', paths: ['/health', '/metrics'] }));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  options.logger.info({ host: options.host, port }, 'ops server listening (/health, /metrics)');
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
