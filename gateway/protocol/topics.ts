// MQTT topic layout — the wire contract between gateways and servers (version 1).
//
//   vicino/v1/stores/<storeId>/gateways/<gatewayId>/events   gateway → server, QoS 1, one PresenceEvent per message
//   vicino/v1/stores/<storeId>/gateways/<gatewayId>/status   gateway → all, retained; the broker publishes the will on loss
//   vicino/v1/stores/<storeId>/gateways/<gatewayId>/config   server → that gateway only, retained; wrapped epoch keys
//   vicino/v1/stores/<storeId>/gateways/<gatewayId>/occupancy gateway → server, QoS 1, one Occupancy message per window (opt-in)
//
// Servers share events through an MQTT 5 shared subscription ($share/<group>/…) so that several
// stateless instances split the load; on a 3.1.1 broker (aedes) they subscribe plainly. Broker ACLs
// key on the gateway segment: a gateway may write only its own events, status and occupancy and read
// only its own config (SEC-1).

export const TOPIC_ROOT = 'vicino/v1';

/** Store and gateway IDs are path segments: no wildcards, no separators, no `$` or `_` prefix. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export type TopicKind = 'events' | 'status' | 'config' | 'occupancy';

const base = (storeId: string, gatewayId: string): string => `${TOPIC_ROOT}/stores/${storeId}/gateways/${gatewayId}`;

export const topics = {
  events: (storeId: string, gatewayId: string): string => `${base(storeId, gatewayId)}/events`,
  status: (storeId: string, gatewayId: string): string => `${base(storeId, gatewayId)}/status`,
  config: (storeId: string, gatewayId: string): string => `${base(storeId, gatewayId)}/config`,
  occupancy: (storeId: string, gatewayId: string): string => `${base(storeId, gatewayId)}/occupancy`,
  /** Every gateway's events, for a server (add the shared-subscription prefix with {@link sharedSubscription}). */
  allEvents: `${TOPIC_ROOT}/stores/+/gateways/+/events`,
  allStatus: `${TOPIC_ROOT}/stores/+/gateways/+/status`,
  allOccupancy: `${TOPIC_ROOT}/stores/+/gateways/+/occupancy`,
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
  if (parts.length !== 7) return undefined;
  const [root, version, stores, storeId, gateways, gatewayId, kind] = parts as [string, string, string, string, string, string, string];
  if (`${root}/${version}` !== TOPIC_ROOT || stores !== 'stores' || gateways !== 'gateways') return undefined;
  if (!ID_PATTERN.test(storeId) || !ID_PATTERN.test(gatewayId)) return undefined;
  if (kind !== 'events' && kind !== 'status' && kind !== 'config' && kind !== 'occupancy') return undefined;
  return { storeId, gatewayId, kind };
}
