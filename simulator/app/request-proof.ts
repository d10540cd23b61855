import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

// The app's side of request proofs (docs/app-integration.md "Request proofs"), with no server imports:
// what a shopper app computes to sign a sensitive request. The key comes from the identity key the app
// derived at registration; the server derives the same one and checks the MAC.
//   key = HKDF-SHA-256(identity key, salt = empty, info = "vicino request proof v1", 32 bytes)
//   Vicino-Proof: t=<unix seconds>,n=<16 random bytes hex>,sig=hex HMAC-SHA-256(key, canonical string)

export const PROOF_HEADER_NAME = 'Vicino-Proof';

export type ProofSigner = {
  /** The Vicino-Proof header value for one request; body is the exact bytes sent (empty for none). */
  sign(request: { method: string; pathWithQuery: string; body?: string | Buffer; nowMs: number; nonceHex?: string }): string;
  /** Zeroes the key (opt-out, erasure). */
  forget(): void;
};

export const appProofKey = (identityKey: Buffer): Buffer => Buffer.from(hkdfSync('sha256', identityKey, Buffer.alloc(0), 'vicino request proof v1', 32));

/** "vicino-proof-v1\n" METHOD "\n" path?query "\n" t "\n" nonce "\n" hex SHA-256(body). */
export function proofInput(method: string, pathWithQuery: string, timeS: number, nonceHex: string, body: string | Buffer = ''): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return `vicino-proof-v1\n${method.toUpperCase()}\n${pathWithQuery}\n${timeS}\n${nonceHex}\n${bodyHash}`;
}

export function createProofSigner(identityKey: Buffer): ProofSigner {
  let key: Buffer | undefined = appProofKey(identityKey);
  return {
    sign({ method, pathWithQuery, body = '', nowMs, nonceHex = randomBytes(16).toString('hex') }) {
      if (key === undefined) throw new Error('this app identity was forgotten');
      const timeS = Math.floor(nowMs / 1000);
      const sig = createHmac('sha256', key).update(proofInput(method, pathWithQuery, timeS, nonceHex, body), 'utf8').digest('hex');
      return `t=${timeS},n=${nonceHex},sig=${sig}`;
    },
    forget() {
      key?.fill(0);
      key = undefined;
    },
  };
}
