import { describe, expect, it } from 'vitest';
import { assessHealth, type HealthSnapshot } from '#gateway/ops/ops-server.ts';

const NOW = 1_800_000_000_000;
const healthy: HealthSnapshot = {
  scanner: 'scanning', brokerConnected: true, brokerDownSinceMs: null, outboxDepth: 0, outboxBytes: 100, outboxMaxBytes: 1_000_000,
  lastAdvertisementAtMs: NOW - 2_000, startedAtMs: NOW - 600_000,
};

describe('assessHealth', () => {
  it('is ok while the radio is heard, the broker is up and the outbox has room', () => {
    expect(assessHealth(healthy, NOW)).toEqual({
      status: 'ok', problems: [], scanner: 'scanning', brokerConnected: true,
      outbox: { depth: 0, bytes: 100, maxBytes: 1_000_000 }, lastAdvertisementAgeS: 2, uptimeS: 600,
    });
  });

  it('absorbs a short broker outage (the outbox holds the events) but reports a long one', () => {
    expect(assessHealth({ ...healthy, brokerConnected: false, brokerDownSinceMs: NOW - 60_000 }, NOW).status).toBe('ok');
    expect(assessHealth({ ...healthy, brokerConnected: false, brokerDownSinceMs: NOW - 400_000 }, NOW)).toMatchObject({
      status: 'unhealthy', problems: ['broker unreachable for 400 s'],
    });
  });

  it('reports a stopped scanner, a silent radio and an almost full outbox, all at once', () => {
    const report = assessHealth({ ...healthy, scanner: 'stopped', lastAdvertisementAtMs: NOW - 300_000, outboxBytes: 950_000 }, NOW);
    expect(report.status).toBe('unhealthy');
    expect(report.problems).toEqual(['scanner is stopped', 'no advertisement for 300 s', 'outbox almost full']);
  });

  it('counts silence from the start when nothing was heard yet', () => {
    expect(assessHealth({ ...healthy, lastAdvertisementAtMs: null, startedAtMs: NOW - 10_000 }, NOW)).toMatchObject({ status: 'ok', lastAdvertisementAgeS: null });
    expect(assessHealth({ ...healthy, lastAdvertisementAtMs: null, startedAtMs: NOW - 200_000 }, NOW).problems).toEqual(['no advertisement for 200 s']);
  });
});
