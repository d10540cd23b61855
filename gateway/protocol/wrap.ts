import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// Epoch keys travel to a gateway wrapped under a key derived from that gateway's own secret, so a
// broker, a bridge or a subscriber that slipped past the ACL learns nothing from the config topic.
// wrapKey = HKDF-SHA256(IKM = gateway secret, salt = "vicino/v1/epoch-key-wrap", info = gatewayId)
// wrapped = base64url(iv 12 ‖ AES-256-GCM(wrapKey, epoch key, aad = keyId) ‖ tag 16)

const SALT = Buffer.from('vicino/v1/epoch-key-wrap');

function wrapKeyFor(gatewaySecret: Uint8Array, gatewayId: string): Buffer {
  if (gatewaySecret.length < 16) throw new RangeError('gateway secret must be at least 16 bytes');
  return Buffer.from(hkdfSync('sha256', gatewaySecret, SALT, Buffer.from(gatewayId), 32));
}

export function wrapEpochKey(gatewaySecret: Uint8Array, gatewayId: string, keyId: string, epochKey: Uint8Array): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrapKeyFor(gatewaySecret, gatewayId), iv);
  cipher.setAAD(Buffer.from(keyId));
  const body = Buffer.concat([cipher.update(epochKey), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** Returns the epoch key, or undefined if the wrapping does not authenticate (wrong secret, tampered, or another key's ID). */
export function unwrapEpochKey(gatewaySecret: Uint8Array, gatewayId: string, keyId: string, wrapped: string): Buffer | undefined {
  const raw = Buffer.from(wrapped, 'base64url');
  if (raw.length < 12 + 16 + 1) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', wrapKeyFor(gatewaySecret, gatewayId), raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(keyId));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  try {
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
}
