import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { ID_PATTERN } from '#gateway/protocol/index.ts';
import { mayPublish, maySubscribe, mayUseClientId, mayWill, type BrokerAccess, type Principal, type RefusalReason } from './broker-access.ts';

// The embedded MQTT broker (aedes) for single-box installs and the demo: a real TCP listener, so
// external clients (mosquitto_sub, another gateway) can join. Production chains use Mosquitto or a
// clustered broker through MQTT_URL instead; nothing else changes.

export type EmbeddedBroker = { port: number; url: string; close(): Promise<void> };

export type EmbeddedBrokerOptions = {
  port: number;
  host?: string;
  logger: Logger;
  /** With it, the broker enforces SEC-1 (broker-access.ts); without it, anyone may do anything (tests that don't care). */
  access?: BrokerAccess;
};

/** Who a refused client was, for the log: a gateway ID or "server" (never the client's own client ID). */
const describe = (principal: Principal | undefined): string =>
  principal === undefined ? 'unauthenticated' : principal.kind === 'server' ? 'server' : `gateway ${principal.gatewayId}`;

/** aedes' authenticate/authorize hooks enforcing the rules in broker-access.ts for each client's principal. */
function accessControl(access: BrokerAccess, logger: Logger): AedesOptions {
  const principals = new WeakMap<Client, Principal>();
  const willTopics = new WeakMap<Client, string>();
  const refuse = (reason: RefusalReason, data: Record<string, unknown>): void => {
    access.refused?.(reason);
    logger.warn({ ...data, reason }, 'mqtt access refused');
  };
  // [MQTT-3.2.2-5] a refused CONNECT gets a CONNACK with a non-zero return code, then the connection closes.
  const connackError = (returnCode: 2 | 3 | 5, message: string): AuthenticateError =>
    Object.assign(new Error(message), { returnCode: returnCode as AuthenticateError['returnCode'] });
  return {
    // The CONNECT packet, with its will, is seen here first; authenticate checks the will once it knows who is asking.
    preConnect(client, packet, done) {
      if (packet.will) willTopics.set(client, packet.will.topic);
      done(null, true);
    },
    authenticate(client, username, password, done) {
      if (username === undefined || password === undefined) {
        refuse('credentials', {});
        return done(connackError(5, 'not authorized'), false);
      }
      // Someone who swapped the fields would put a password in the log: only a well-formed ID is logged.
      const logged = ID_PATTERN.test(username) ? username : '(not an ID)';
      access.authenticate(username, password.toString('utf8')).then(
        (principal) => {
          const will = willTopics.get(client);
          if (principal === undefined) {
            refuse('credentials', { username: logged });
            return done(connackError(5, 'not authorized'), false);
          }
          if (!mayUseClientId(principal, client.id)) {
            // The client ID is the client's own choice and may be anything: it is not logged.
            refuse('client-id', { username: logged });
            return done(connackError(2, 'identifier rejected: a gateway connects with its gateway ID as client ID'), false);
          }
          if (will !== undefined && !mayWill(principal, will)) {
            refuse('will', { username: logged, topic: will });
            return done(connackError(5, 'not authorized'), false);
          }
          principals.set(client, principal);
          done(null, true);
        },
        (error: Error) => {
          logger.error({ err: error.message, username: logged }, 'mqtt authentication failed');
          done(connackError(3, 'server unavailable'), false);
        },
      );
    },
    // A refused PUBLISH closes the connection: MQTT 3.1.1 has no negative PUBACK [MQTT-3.3.5-2].
    authorizePublish(client, packet, done) {
      // client is null only for a will left by a broker that died; wills were checked at CONNECT.
      if (client === null) return done(null);
      const principal = principals.get(client);
      if (principal !== undefined && mayPublish(principal, packet.topic)) return done(null);
      refuse('publish', { who: describe(principal), topic: packet.topic });
      done(new Error(`not authorized to publish to ${packet.topic}`));
    },
    // A refused filter gets SUBACK 0x80 and the connection stays [MQTT-3.9.3].
    authorizeSubscribe(client, subscription, done) {
      const principal = principals.get(client);
      if (principal !== undefined && maySubscribe(principal, subscription.topic)) return done(null, subscription);
      refuse('subscribe', { who: describe(principal), topic: subscription.topic });
      done(null, null);
    },
  };
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker(options.access ? accessControl(options.access, options.logger) : {});
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // Nagle would add tens of milliseconds per hop (shared/reference/performance-notes.md).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  // Client IDs are the clients' own choice, and may be anything: they are not logged.
  broker.on('clientError', (_client, error) => options.logger.debug({ err: error.message }, 'mqtt client error'));
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
