import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';

// The embedded MQTT broker (aedes) for single-box installs and the demo: a real TCP listener, so
// external clients (mosquitto_sub, another gateway) can join. Production chains use Mosquitto or a
// clustered broker through MQTT_URL instead; nothing else changes.

export type EmbeddedBroker = { port: number; url: string; close(): Promise<void> };

export async function startEmbeddedBroker(options: { port: number; host?: string; logger: Logger }): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // Nagle would add tens of milliseconds per hop (shared/reference/performance-notes.md).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  broker.on('clientError', (client, error) => options.logger.debug({ clientId: client.id, err: error.message }, 'mqtt client error'));
  broker.on('connectionError', (_client, error) => options.logger.debug({ err: error.message }, 'mqtt connection error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    port,
    url: `mqtt://${host}:${port}`,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
