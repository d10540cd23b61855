// MQTT topic layout — the wire contract between gateways and servers.
//
//   vicino/v1/<storeId>/<gatewayId>/presence   gateway → server, QoS 1, one PresenceEvent per message
//   vicino/v1/<storeId>/<gatewayId>/status     gateway → all, retained; the broker publishes the will on loss
//   vicino/v1/<storeId>/<gatewayId>/config     server → that gateway only, retained; wrapped epoch keys
//
// Servers share presence through an MQTT 5 shared subscription ($share/<group>/…) so that several
// stateless instances split the load; on a 3.1.1 broker (aedes) they subscribe plainly.

export const TOPIC_ROOT = 'vicino/v1';

/** Store and gateway IDs are path segments: no wildcards, no separators, no `$` prefix. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export type TopicKind = 'presence' | 'status' | 'config';

export const topics = {
  presence: (storeId: string, gatewayId: string): string => `${TOPIC_ROOT}/${storeId}/${gatewayId}/presence`,
  status: (storeId: string, gatewayId: string): string => `${TOPIC_ROOT}/${storeId}/${gatewayId}/status`,
  config: (storeId: string, gatewayId: string): string => `${TOPIC_ROOT}/${storeId}/${gatewayId}/config`,
  /** Every gateway's presence, for a server (add the shared-subscription prefix with {@link sharedSubscription}). */
  allPresence: `${TOPIC_ROOT}/+/+/presence`,
  allStatus: `${TOPIC_ROOT}/+/+/status`,
} as const;

/** `$share/<group>/<filter>` — MQTT 5.0 §4.8.2 shared subscriptions. */
export function sharedSubscription(group: string, filter: string): string {
  if (!ID_PATTERN.test(group)) throw new Error(`shared subscription group "${group}" must match ${ID_PATTERN}`);
  return `$share/${group}/${filter}`;
}

export type ParsedTopic = { storeId: string; gatewayId: string; kind: TopicKind };

/** Parses a concrete topic; returns undefined for anything outside the contract. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return undefined;
  const [, , storeId, gatewayId, kind] = parts as [string, string, string, string, string];
  if (!ID_PATTERN.test(storeId) || !ID_PATTERN.test(gatewayId)) return undefined;
  if (kind !== 'presence' && kind !== 'status' && kind !== 'config') return undefined;
  return { storeId, gatewayId, kind };
}
