import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '#gateway/config.ts';

// The delivery and operations sections of the gateway config file: outbox, batching, heartbeat, http.

const aFile = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  storeId: 'store-1',
  gatewayId: 'gw-entrance',
  zoneId: 'entrance',
  secret: '00112233445566778899aabbccddeeff',
  mqtt: { url: 'mqtts://broker.example:8883' },
  ...overrides,
});
const load = (file: unknown, env: Record<string, string | undefined> = {}) => loadGatewayConfig(env, JSON.stringify(file), 'gateway.json');

describe('gateway config: delivery and operations', () => {
  it('defaults to a 16 MiB outbox of 120 s events, 5 ms batches, a 60 s heartbeat and ops on 127.0.0.1:9464', () => {
    const result = load(aFile());
    expect(result.ok && result.config).toMatchObject({
      outbox: { dir: 'gateway-outbox', maxBytes: 16 * 1024 * 1024, maxAgeS: 120, fsyncIntervalMs: 100 },
      batching: { maxLatencyMs: 5 },
      heartbeat: { intervalS: 60 },
      http: { host: '127.0.0.1', port: 9464 },
    });
  });

  it("keeps the outbox in systemd's state directory when the file names none", () => {
    const result = load(aFile(), { STATE_DIRECTORY: '/var/lib/vicino-gateway' });
    expect(result.ok && result.config.outbox.dir).toBe('/var/lib/vicino-gateway/outbox');
    const explicit = load(aFile({ outbox: { dir: '/srv/outbox' } }), { STATE_DIRECTORY: '/var/lib/vicino-gateway' });
    expect(explicit.ok && explicit.config.outbox.dir).toBe('/srv/outbox');
  });

  it('names every field at fault', () => {
    const result = load(aFile({
      outbox: { maxBytes: 1_000, maxAgeS: 0, extra: true },
      batching: { maxLatencyMs: -1 },
      heartbeat: { intervalS: 1 },
      http: { port: 70_000 },
    }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.problems.map((problem) => problem.split(': ')[1]);
    expect(paths).toEqual(expect.arrayContaining(['outbox.maxBytes', 'outbox.maxAgeS', 'outbox', 'batching.maxLatencyMs', 'heartbeat.intervalS', 'http.port']));
  });
});
