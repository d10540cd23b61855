import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hashToken } from '../identity.ts';

// Console sessions (issue 8, SEC-2). The browser holds a 256-bit random token in an HttpOnly,
// SameSite=Strict, Secure cookie; storage holds its SHA-256 only, so a database dump opens no session.
// CSRF (OWASP CSRF cheat sheet, "signed double submit"): every state-changing request made with the
// cookie must also send X-CSRF-Token, an HMAC of the session token that the page reads from
// GET /v1/session. Another site can make the browser send the cookie, but cannot read that value; and
// SameSite=Strict already keeps the cookie off cross-site requests.

export const SESSION_COOKIE = 'vicino_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Methods that change nothing (RFC 9110 §9.2.1), which need no CSRF token. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export type SessionCookieOptions = {
  /** Secure cookies (the default). Browsers also keep them over plain HTTP on localhost and 127.0.0.1. */
  secureCookie: boolean;
};

export function newSessionToken(): { token: string; idHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, idHash: sessionIdHash(token) };
}

export const sessionIdHash = (token: string): string => hashToken(token);

/** The session's CSRF token: HMAC-SHA256 keyed by the session token, so it is bound to that session. */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('vicino console csrf v1').digest('base64url');
}

export function csrfTokenMatches(sessionToken: string, sent: string | undefined): boolean {
  if (sent === undefined) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(sent);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Whether an Origin header, when the browser sent one, names this server (OWASP: verify the origin
 * with standard headers, as a second line behind the token). Absent: not a browser's cross-origin request.
 */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
