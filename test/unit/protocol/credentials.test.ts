import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gatewayMqttCredentials } from '#gateway/protocol/credentials.ts';
import { wrapEpochKey } from '#gateway/protocol/wrap.ts';

// The gateway's MQTT login is derived from its secret (SEC-1, no second secret to ship).
// Vector computed independently with OpenSSL 3:
//   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:000102…1f \
//     -kdfopt salt:vicino/v1/mqtt-password -kdfopt info:gw-entrance-1 -binary HKDF | base64 (url alphabet, no padding)
const SECRET = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

describe('gateway MQTT credentials', () => {
  it('derives the password as base64url(HKDF-SHA256(secret, "vicino/v1/mqtt-password", gatewayId)), user = gateway ID', () => {
    expect(gatewayMqttCredentials('gw-entrance-1', SECRET)).toEqual({ username: 'gw-entrance-1', password: '_gKsvyliMkFQn1t71N4HmdkKzXhXxdtuQNpOYP27VSY' });
  });

  it('gives each gateway its own password, even from the same secret', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 64 }), (secret) => {
      expect(gatewayMqttCredentials('gw-a', secret).password).not.toBe(gatewayMqttCredentials('gw-b', secret).password);
    }));
  });

  it('reveals neither the secret nor the epoch-key wrapping key', () => {
    const secret = randomBytes(32);
    const { password } = gatewayMqttCredentials('gw-1', secret);
    expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(password).not.toContain(secret.toString('base64url').slice(0, 16));
    // A different salt from wrap.ts: the password is no key that unwraps anything.
    expect(wrapEpochKey(secret, 'gw-1', 'k', Buffer.alloc(32))).not.toContain(password);
  });

  it('refuses a secret shorter than 128 bits', () => {
    expect(() => gatewayMqttCredentials('gw-1', Buffer.alloc(15))).toThrow(RangeError);
  });
});
