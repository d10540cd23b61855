import { createServer, type Server } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { listenWithFallback } from '#simulator/demo.ts';

// `npm start` on a machine where 1883 (a local Mosquitto) or 3000 is taken: default ports fall back
// to a free port and say so; a port the user asked for explicitly is an error.

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

async function occupiedPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('listenWithFallback', () => {
  it('moves a default port that is taken to a free one and reports where from', async () => {
    const taken = await occupiedPort();
    const { value: broker, movedFrom } = await listenWithFallback(undefined, taken, (port) => startEmbeddedBroker({ port, logger: pino({ level: 'silent' }) }));
    try {
      expect(movedFrom).toBe(taken);
      expect(broker.port).not.toBe(taken);
      expect(broker.port).toBeGreaterThan(0);
    } finally {
      await broker.close();
    }
  });

  it('fails on an explicit port that is taken', async () => {
    const taken = await occupiedPort();
    await expect(listenWithFallback(taken, 1883, (port) => startEmbeddedBroker({ port, logger: pino({ level: 'silent' }) }))).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
