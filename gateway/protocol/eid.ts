import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync } from 'node:crypto';

// Eddystone-EID, exactly as google/eddystone `eddystone-eid/eid-computation.md` defines it. This is the
// over-the-air half of the wire contract: the shopper's app computes tokens with it, and the server's
// resolver computes the same tokens to recognise them. Gateways never hold an identity key (MIN-5).

export const IDENTITY_KEY_BYTES = 16;
export const EID_BYTES = 8;
export const DEFAULT_ROTATION_EXPONENT = 10; // 2^10 s ≈ 17 min (ID-1: K ≤ 10)
export const MAX_ROTATION_EXPONENT = 15;

function aes128Block(key: Uint8Array, block: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function checkInputs(identityKey: Uint8Array, timeS: number): void {
  if (identityKey.length !== IDENTITY_KEY_BYTES) throw new RangeError(`identity key must be ${IDENTITY_KEY_BYTES} bytes, got ${identityKey.length}`);
  if (!Number.isInteger(timeS) || timeS < 0 || timeS > 0xffffffff) throw new RangeError(`time must be a u32 of seconds, got ${timeS}`);
}

/** TK = AES-128(IK, 0x00×11 ‖ 0xFF ‖ 0x0000 ‖ T[31:16]). It changes every 65,536 s. */
export function temporaryKey(identityKey: Uint8Array, timeS: number): Buffer {
  checkInputs(identityKey, timeS);
  const block = Buffer.alloc(16);
  block[11] = 0xff;
  block.writeUInt16BE(timeS >>> 16, 14);
  return aes128Block(identityKey, block);
}

/** Start of the EID window containing timeS: T with its K low bits cleared. */
export function windowStart(timeS: number, rotationExponent: number): number {
  return (timeS >>> rotationExponent) << rotationExponent >>> 0;
}

/** EID = AES-128(TK, 0x00×11 ‖ K ‖ T with K low bits cleared)[0..8). */
export function computeEidWithTemporaryKey(tk: Uint8Array, rotationExponent: number, timeS: number): Buffer {
  if (!Number.isInteger(rotationExponent) || rotationExponent < 0 || rotationExponent > MAX_ROTATION_EXPONENT) {
    throw new RangeError(`rotation exponent K must be an integer 0–${MAX_ROTATION_EXPONENT}, got ${rotationExponent}`);
  }
  const block = Buffer.alloc(16);
  block[11] = rotationExponent;
  block.writeUInt32BE(windowStart(timeS, rotationExponent), 12);
  return aes128Block(tk, block).subarray(0, EID_BYTES);
}

export function computeEid(identityKey: Uint8Array, rotationExponent: number, timeS: number): Buffer {
  return computeEidWithTemporaryKey(temporaryKey(identityKey, timeS), rotationExponent, timeS);
}

/** An EID source for one identity that caches TK for its 65,536-second life. */
export function createEidGenerator(identityKey: Uint8Array, rotationExponent: number): (timeS: number) => Buffer {
  let cachedHigh = -1;
  let tk: Buffer = Buffer.alloc(0);
  const key = Buffer.from(identityKey);
  return (timeS) => {
    // Validate every call: on a cache hit `>>> 16` would otherwise accept a negative, fractional or
    // > u32 time that computeEid rejects.
    checkInputs(key, timeS);
    const high = timeS >>> 16;
    if (high !== cachedHigh) {
      tk = temporaryKey(key, timeS);
      cachedHigh = high;
    }
    return computeEidWithTemporaryKey(tk, rotationExponent, timeS);
  };
}

// X25519 with raw 32-byte keys (RFC 7748 encoding), through node:crypto's DER key objects.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export type X25519KeyPair = { privateKey: Buffer; publicKey: Buffer };

export function generateX25519KeyPair(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519_PREFIX.length),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519_PREFIX.length),
  };
}

export function x25519PublicKey(privateKey: Uint8Array): Buffer {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519_PREFIX.length);
}

const ALL_ZERO_SECRET = 'X25519 shared secret is all zero: the peer public key is invalid';

export function x25519SharedSecret(ownPrivate: Uint8Array, peerPublic: Uint8Array): Buffer {
  if (ownPrivate.length !== 32) throw new RangeError(`X25519 private key must be 32 bytes, got ${ownPrivate.length}`);
  if (peerPublic.length !== 32) throw new RangeError(`X25519 public key must be 32 bytes, got ${peerPublic.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, ownPrivate]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, peerPublic]), format: 'der', type: 'spki' });
  // Eddystone-EID registration: reject an all-zero shared secret (a low-order peer key). OpenSSL 3
  // already refuses one (RFC 7748 §6.1) with an opaque ERR_OSSL_FAILED_DURING_DERIVATION, the only
  // way derivation fails for two well-formed 32-byte keys, so that is reported the same way.
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey });
  } catch (error) {
    throw new RangeError(ALL_ZERO_SECRET, { cause: error });
  }
  if (shared.every((byte) => byte === 0)) throw new RangeError(ALL_ZERO_SECRET);
  return shared;
}

/** IK = HKDF-SHA256(IKM = shared, salt = resolver public ‖ beacon public, info = empty)[0..16). */
export function deriveIdentityKey(sharedSecret: Uint8Array, resolverPublic: Uint8Array, beaconPublic: Uint8Array): Buffer {
  const salt = Buffer.concat([resolverPublic, beaconPublic]);
  return Buffer.from(hkdfSync('sha256', sharedSecret, salt, Buffer.alloc(0), IDENTITY_KEY_BYTES));
}
