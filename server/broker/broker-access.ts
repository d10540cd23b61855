import { createHash, timingSafeEqual } from 'node:crypto';
import { gatewayClientId, gatewayMqttCredentials, ID_PATTERN, RESERVED_ID_PREFIX, TOPIC_ROOT, topics } from '#gateway/protocol/index.ts';
import type { Sealer } from '../domain/sealing.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';

// Who may do what on the broker (SEC-1). The embedded broker asks a BrokerAccess who is connecting;
// what each principal may then do is fixed here, and server/broker/mosquitto/acl says the same to
// Mosquitto:
//   a gateway   connects only with its own client ID (its gateway ID), so it cannot take over another
//               client's session; publishes only its own events, status and occupancy, subscribes only to
//               its own config, and its will (published by the broker when the gateway drops) must be its own status
//   the server  anything under vicino/v1/# (presence, status, every config, the server bus)
//   anyone else is refused at CONNECT with "not authorized"

/** The MQTT username of server instances; a gateway cannot be provisioned under this ID. */
export const SERVER_MQTT_USERNAME = 'vicino-server';

export type Principal = { kind: 'gateway'; gatewayId: string; storeId: string } | { kind: 'server' };

export type RefusalReason = 'credentials' | 'client-id' | 'will' | 'publish' | 'subscribe';

/** The port: who a username and password belong to. undefined refuses the connection. */
export type BrokerAccess = {
  authenticate(username: string, password: string): Promise<Principal | undefined>;
  /** Told of each refusal, for counting; never given the password. */
  refused?(reason: RefusalReason): void;
};

const underRoot = (topic: string): boolean => topic === TOPIC_ROOT || topic.startsWith(`${TOPIC_ROOT}/`);

/**
 * Everything one gateway may do on the broker, as concrete topics (no wildcards): the one table that
 * both the embedded broker (below) and Mosquitto (the per-gateway ACL block that provisioning writes,
 * mosquitto-acl.ts) enforce.
 */
export function gatewayTopicGrants(storeId: string, gatewayId: string): { write: string[]; read: string[] } {
  return {
    write: [topics.events(storeId, gatewayId), topics.status(storeId, gatewayId), topics.occupancy(storeId, gatewayId)],
    read: [topics.config(storeId, gatewayId)],
  };
}

export function mayPublish(principal: Principal, topic: string): boolean {
  if (principal.kind === 'server') return underRoot(topic);
  return gatewayTopicGrants(principal.storeId, principal.gatewayId).write.includes(topic);
}

/**
 * A gateway's session is tied to its login: its client ID must be its own (credentials.ts). Anything
 * else could disconnect another gateway or a server by connecting under its client ID [MQTT-3.1.4-2].
 * Servers are trusted with their IDs, but none may look like a gateway's: theirs start with "vicino-".
 */
export function mayUseClientId(principal: Principal, clientId: string): boolean {
  if (principal.kind === 'gateway') return clientId === gatewayClientId(principal.gatewayId);
  return clientId.startsWith(RESERVED_ID_PREFIX);
}

/** The will is published on the client's behalf when it drops: a gateway's may only say it went offline. */
export function mayWill(principal: Principal, topic: string): boolean {
  if (principal.kind === 'server') return underRoot(topic);
  return topic === topics.status(principal.storeId, principal.gatewayId);
}

/**
 * A filter is allowed when every topic it can match is allowed. For the server, a filter under the
 * root (wildcards included, and `$share/<group>/…` of one, MQTT 5.0 §4.8.2); for a gateway, exactly
 * its own config topic — no wildcard, so it cannot reach another gateway's retained config.
 */
export function maySubscribe(principal: Principal, filter: string): boolean {
  if (principal.kind === 'server') {
    const shared = /^\$share\/[^/#+]+\/(.+)$/.exec(filter);
    return underRoot(shared?.[1] ?? filter);
  }
  return gatewayTopicGrants(principal.storeId, principal.gatewayId).read.includes(filter);
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
/** Compares digests, so neither the content nor the length of the expected password leaks through timing. */
const sameSecret = (given: string, expected: string): boolean => timingSafeEqual(digest(given), digest(expected));

/**
 * BrokerAccess over the Store: a gateway logs in with the password derived from its secret
 * (gateway/protocol/credentials.ts), which is re-derived from the sealed secret on each CONNECT;
 * server instances log in as SERVER_MQTT_USERNAME with the given password.
 */
export function createStoreBrokerAccess(deps: { store: Store; sealer: Sealer; serverPassword: string; metrics?: Pick<Metrics, 'brokerRefusals'> }): BrokerAccess {
  const { store, sealer, serverPassword, metrics } = deps;
  if (serverPassword.length < 16) throw new RangeError('the broker server password must be at least 16 characters');
  return {
    async authenticate(username, password) {
      if (username === SERVER_MQTT_USERNAME) return sameSecret(password, serverPassword) ? { kind: 'server' } : undefined;
      if (!ID_PATTERN.test(username)) return undefined;
      const gateway = await store.getGateway(username);
      if (gateway === undefined) return undefined;
      const secret = sealer.open(gateway.secretSealed, `gateway-secret:${gateway.id}`);
      const expected = gatewayMqttCredentials(gateway.id, secret).password;
      return sameSecret(password, expected) ? { kind: 'gateway', gatewayId: gateway.id, storeId: gateway.storeId } : undefined;
    },
    refused(reason) {
      metrics?.brokerRefusals.inc({ reason });
    },
  };
}
