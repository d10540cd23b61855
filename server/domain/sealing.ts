import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// Envelope sealing for secrets at rest (identity keys, epoch keys, gateway secrets, the resolver's
// private key). The database holds only sealed bytes; the master key lives outside it (a key file
// or a secret manager), so a database dump reveals no key. Erasing a row's sealed key is crypto-shredding.
// sealed = version 0x01 ‖ iv 12 ‖ AES-256-GCM(master, plaintext, aad = purpose label) ‖ tag 16

const VERSION = 0x01;

export type Sealer = {
  seal(plaintext: Uint8Array, label: string): Buffer;
  /** Throws if the bytes were not sealed under this master key for this label. */
  open(sealed: Uint8Array, label: string): Buffer;
};

export function createSealer(masterKey: Uint8Array): Sealer {
  if (masterKey.length !== 32) throw new RangeError(`master key must be 32 bytes, got ${masterKey.length}`);
  const key = Buffer.from(masterKey);
  return {
    seal(plaintext, label) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(label));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]);
    },
    open(sealed, label) {
      const bytes = Buffer.from(sealed);
      if (bytes.length < 1 + 12 + 16 || bytes[0] !== VERSION) throw new Error(`sealed value for "${label}" is malformed`);
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(1, 13));
      decipher.setAAD(Buffer.from(label));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      try {
        return Buffer.concat([decipher.update(bytes.subarray(13, bytes.length - 16)), decipher.final()]);
      } catch {
        throw new Error(`sealed value for "${label}" does not open with this master key`);
      }
    },
  };
}
