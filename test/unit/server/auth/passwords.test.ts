import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, TEST_SCRYPT_PARAMS, verifyPassword } from '#server/auth/passwords.ts';
import { csrfTokenFor, csrfTokenMatches, newSessionToken, sameOrigin, sessionIdHash } from '#server/auth/console-session.ts';

describe('console passwords (scrypt)', () => {
  it('writes its parameters into a salted hash that verifies the password and nothing else', async () => {
    const hash = await hashPassword('correct horse battery staple', TEST_SCRYPT_PARAMS);
    expect(hash).toMatch(/^scrypt\$12\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', hash)).toBe(false);
    expect(await hashPassword('correct horse battery staple', TEST_SCRYPT_PARAMS)).not.toBe(hash);
  });

  it("uses OWASP's first scrypt row by default, and verifies a default hash", async () => {
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ log2N: 17, r: 8, p: 1 });
    const hash = await hashPassword('p4ssphrase with spaces');
    expect(hash.startsWith('scrypt$17$8$1$')).toBe(true);
    expect(await verifyPassword('p4ssphrase with spaces', hash)).toBe(true);
    // 128 MiB and about 300 ms a hash on an idle core; far more when the suite fills both cores.
  }, 30_000);

  it('treats the same text in two Unicode normal forms as one password', async () => {
    const hash = await hashPassword('caf\u00e9 au lait, bitte', TEST_SCRYPT_PARAMS);
    expect(await verifyPassword('cafe\u0301 au lait, bitte', hash)).toBe(true);
  });

  it('matches nothing against a malformed hash or out-of-range parameters', async () => {
    for (const bad of ['', 'plain', 'scrypt$12$8$1$c2FsdA$a2V5', `scrypt$30$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`, `bcrypt$12$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`]) {
      expect(await verifyPassword('anything at all', bad)).toBe(false);
    }
  });
});

describe('console session tokens', () => {
  it('keys a session by the SHA-256 of a 256-bit token, and binds the CSRF token to it', () => {
    const { token, idHash } = newSessionToken();
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(idHash).toBe(sessionIdHash(token));
    expect(idHash).toMatch(/^[0-9a-f]{64}$/);
    const csrf = csrfTokenFor(token);
    expect(csrfTokenMatches(token, csrf)).toBe(true);
    expect(csrfTokenMatches(newSessionToken().token, csrf)).toBe(false);
    expect(csrfTokenMatches(token, undefined)).toBe(false);
    expect(csrfTokenMatches(token, csrf.slice(1))).toBe(false);
  });

  it('accepts a request with no Origin or with this host as its origin, and refuses another or a malformed one', () => {
    expect(sameOrigin(undefined, 'console.example')).toBe(true);
    expect(sameOrigin('https://console.example', 'console.example')).toBe(true);
    expect(sameOrigin('http://127.0.0.1:3000', '127.0.0.1:3000')).toBe(true);
    expect(sameOrigin('https://evil.example', 'console.example')).toBe(false);
    expect(sameOrigin('null', 'console.example')).toBe(false);
    expect(sameOrigin('https://console.example', undefined)).toBe(false);
  });
});
