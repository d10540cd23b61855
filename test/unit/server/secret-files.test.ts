import { describe, expect, it } from 'vitest';
import { newAdminToken, newMasterKey } from '#server/secret-files.ts';

// The secrets `npm start` and server/main.ts create on first run (server/secret-files.ts).

describe('newAdminToken', () => {
  it('draws 192 bits as base64url that a command line never reads as an option', () => {
    // A base64url draw starts with '-' one time in 64: 4,000 draws would give about 62 of them.
    const tokens = Array.from({ length: 4_000 }, () => newAdminToken());
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});

describe('newMasterKey', () => {
  it('draws 256 bits as hex', () => {
    expect(newMasterKey()).toMatch(/^[0-9a-f]{64}$/);
    expect(newMasterKey()).not.toBe(newMasterKey());
  });
});
