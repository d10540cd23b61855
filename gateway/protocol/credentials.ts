import { hkdfSync } from 'node:crypto';

// A gateway's MQTT login, derived from the secret it was provisioned with, so no second secret is
// stored or shipped (SEC-1: per-gateway credentials). The broker checks it either by deriving it too
// (the embedded broker, from the sealed secret in the Store) or against a Mosquitto password file
// written at provisioning time.
//   username = gatewayId
//   password = base64url(HKDF-SHA256(IKM = gateway secret, salt = "vicino/v1/mqtt-password", info = gatewayId, L = 32))
// A different salt from the epoch-key wrap (wrap.ts) keeps the two keys independent.

const SALT = Buffer.from('vicino/v1/mqtt-password');

/**
 * A gateway's MQTT client ID is its gateway ID, exactly: gateway IDs are globally unique, and a broker
 * can then tie the session to the login (the embedded broker refuses any other client ID; Mosquitto's
 * gateway listener sets `use_username_as_clientid`), so no gateway can take over another's session.
 */
export const gatewayClientId = (gatewayId: string): string => gatewayId;

/** Server instances' client IDs and logins start with this; no gateway ID may, so the two can never collide. */
export const RESERVED_ID_PREFIX = 'vicino-';

export type MqttCredentials = { username: string; password: string };

export function gatewayMqttCredentials(gatewayId: string, secret: Uint8Array): MqttCredentials {
  if (secret.length < 16) throw new RangeError('gateway secret must be at least 16 bytes');
  const password = Buffer.from(hkdfSync('sha256', secret, SALT, Buffer.from(gatewayId), 32)).toString('base64url');
  return { username: gatewayId, password };
}
