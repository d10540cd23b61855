import { createEidGenerator, deriveIdentityKey, generateX25519KeyPair, x25519SharedSecret, type X25519KeyPair } from '#gateway/protocol/index.ts';
import { encodeEddystoneEid } from '../radio/encoders.ts';
import { createProofSigner, type ProofSigner } from './request-proof.ts';

// The app-side reference: what a shopper app does to opt in and advertise, with no server imports.
// 1. Make an X25519 key pair; send only the public key when registering.
// 2. Derive the identity key from the resolver's public key, as Eddystone-EID registration does —
//    the server derives the same key, so it never travels.
// 3. Advertise an Eddystone-EID frame whose EID rotates every 2^K seconds (T = Unix seconds).
// 4. Sign sensitive requests with a key derived from the identity key (request-proof.ts).

export type AppIdentity = {
  keyPair: X25519KeyPair;
  publicKeyHex: string;
  /** Completes registration once the resolver's public key is known; returns the EID source. */
  bind(resolverPublicKeyHex: string, rotationExponent: number): AppTokenSource;
};

export type AppTokenSource = {
  eidAt(timeS: number): Buffer;
  /** The full advertisement (flags, 0xFEAA service list, EID frame) for the moment nowMs. */
  advertisementAt(nowMs: number): Buffer;
  /** Signs the requests that need a Vicino-Proof header (request-proof.ts). */
  proofs: ProofSigner;
  /** Zeroes the identity key (on opt-out or erasure). */
  forget(): void;
};

/** Calibrated TX power at 0 m that the app puts in its frame (Android's ADVERTISE_TX_POWER_MEDIUM ≈ −20 dBm at 0 m after calibration). */
export const APP_TX_POWER_AT_0M_DBM = -20;

export function createAppIdentity(keyPair: X25519KeyPair = generateX25519KeyPair()): AppIdentity {
  return {
    keyPair,
    publicKeyHex: keyPair.publicKey.toString('hex'),
    bind(resolverPublicKeyHex, rotationExponent) {
      const resolverPublic = Buffer.from(resolverPublicKeyHex, 'hex');
      const identityKey = deriveIdentityKey(x25519SharedSecret(keyPair.privateKey, resolverPublic), resolverPublic, keyPair.publicKey);
      let eid: ((timeS: number) => Buffer) | undefined = createEidGenerator(identityKey, rotationExponent);
      const proofs = createProofSigner(identityKey);
      identityKey.fill(0);
      const eidAt = (timeS: number): Buffer => {
        if (eid === undefined) throw new Error('this app identity was forgotten');
        return eid(timeS);
      };
      return {
        eidAt,
        advertisementAt: (nowMs) => encodeEddystoneEid({ eid: eidAt(Math.floor(nowMs / 1000)), txPowerDbm: APP_TX_POWER_AT_0M_DBM }),
        proofs,
        forget: () => {
          eid = undefined;
          proofs.forget();
        },
      };
    },
  };
}
