import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { startOwnMosquitto } from '#simulator/bench/own-mosquitto.ts';

// The bench's own Mosquitto (npm run bench:e2e -- --e2e-mosquitto own): the installed binary on a free port,
// carrying QoS 1 messages, gone once closed.

describe('the bench\'s own Mosquitto', () => {
  it('starts on a free loopback port, carries QoS 1, and stops on close', async () => {
    const broker = await startOwnMosquitto();
    try {
      expect(broker.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      const subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
      await subscriber.subscribeAsync('bench/t', { qos: 1 });
      const received = new Promise<string>((resolve) => subscriber.once('message', (_topic, payload) => resolve(payload.toString())));
      const publisher = await mqtt.connectAsync(broker.url);
      await publisher.publishAsync('bench/t', 'hello', { qos: 1 });
      expect(await received).toBe('hello');
      await Promise.all([subscriber.endAsync(), publisher.endAsync()]);
    } finally {
      await broker.close();
    }
    await expect(mqtt.connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 1_000 })).rejects.toThrow();
  });

  it('says what to do when the binary is missing', async () => {
    await expect(startOwnMosquitto({ binary: 'no-such-mosquitto-binary' })).rejects.toThrow(/could not be started.*--e2e-mosquitto url/);
  });
});
