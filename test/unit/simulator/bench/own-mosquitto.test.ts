import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SHIPPED_MOSQUITTO_CONF, shippedBrokerSettings } from '#simulator/bench/own-mosquitto.ts';

// The bench's own Mosquitto takes its latency and queue settings from the shipped mosquitto.conf
// (simulator/bench/own-mosquitto.ts), so the bench measures the broker as Vicino ships it.

describe('shippedBrokerSettings', () => {
  it('takes Nagle off and the deep queue from the shipped file, as written there', () => {
    expect(shippedBrokerSettings(readFileSync(SHIPPED_MOSQUITTO_CONF, 'utf8'))).toEqual([
      'set_tcp_nodelay true', 'max_queued_messages 100000', 'max_inflight_messages 100',
    ]);
  });

  it('skips comments and names a setting the file lacks', () => {
    const conf = '# set_tcp_nodelay false\nset_tcp_nodelay true\nmax_queued_messages 5\n';
    expect(() => shippedBrokerSettings(conf)).toThrow(/no "max_inflight_messages" line/);
  });
});
