import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { deriveIdentityKey, generateX25519KeyPair, x25519PublicKey, x25519SharedSecret, type X25519KeyPair } from '#gateway/protocol/index.ts';
import type { Sealer } from './domain/sealing.ts';
import type { Store } from './store/store.ts';

// Shopper identity: registration by key exchange, as Eddystone-EID registration does it. The app
// sends only its X25519 public key; both sides derive the identity key, so it never travels.
// The resolver's private key is sealed in the store; the first instance to start creates it.

const RESOLVER_KEY = 'resolver.x25519.private';

export async function loadResolverKeyPair(store: Store, sealer: Sealer): Promise<X25519KeyPair> {
  const candidate = generateX25519KeyPair();
  const stored = await store.putSettingIfAbsent(RESOLVER_KEY, sealer.seal(candidate.privateKey, RESOLVER_KEY));
  let privateKey: Buffer;
  try {
    privateKey = sealer.open(stored, RESOLVER_KEY);
  } catch {
    throw new Error('this database was created with another master key: set VICINO_MASTER_KEY (or DATA_DIR/master.key) to the key it was created with, or point DATABASE_URL at a fresh database');
  }
  return { privateKey, publicKey: x25519PublicKey(privateKey) };
}

export function identityKeyFor(resolver: X25519KeyPair, appPublicKey: Buffer): Buffer {
  return deriveIdentityKey(x25519SharedSecret(resolver.privateKey, appPublicKey), resolver.publicKey, appPublicKey);
}

/** An app credential: 256 random bits. Only its SHA-256 is stored. */
export function newAppToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashToken(token) };
}

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export function tokenMatches(token: string, expectedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export const newShopperId = (): string => `sh_${randomUUID().replaceAll('-', '')}`;
