import { z } from 'zod';
import type { Role } from './principal.ts';

// Console users (issue 8, SEC-2): the people who log in to the marketer console with a password. Each
// has one role of the operator API; machines use API keys (principal.ts) instead. Only a password hash
// is stored (server/auth/passwords.ts), and a session is stored by the SHA-256 of its token, never the token.

/** Case-insensitive: stored lower-case. Letters, digits and . _ @ - so an e-mail address fits. */
export const UsernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._@-]{2,63}$/, 'must be 3–64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');

/**
 * NIST SP 800-63B §5.1.1.2: at least 8 characters, long passphrases allowed, no composition rules.
 * Vicino asks for 12, since a console account can change what every shopper receives.
 */
export const PasswordSchema = z
  .string()
  .min(12, 'must be at least 12 characters')
  .max(256, 'must be at most 256 characters');

/** A console user as stored. */
export type UserRecord = {
  id: string;
  username: string;
  role: Role;
  /** scrypt, self-describing (server/auth/passwords.ts). */
  passwordHash: string;
  createdAtMs: number;
  disabledAtMs: number | null;
  /** Failed logins since the last success; the lockout counts them. */
  failedLogins: number;
  lockedUntilMs: number | null;
};

/** What the API shows of a user: never the hash, nor the lockout counters. */
export type UserView = { id: string; username: string; role: Role; createdAtMs: number; disabledAtMs: number | null };

export const userView = (user: UserRecord): UserView => ({ id: user.id, username: user.username, role: user.role, createdAtMs: user.createdAtMs, disabledAtMs: user.disabledAtMs });

/** Consecutive failures before an account is locked, and for how long (OWASP ASVS 2.2.1: anti-automation). */
export const LOGIN_LOCKOUT = { maxFailures: 5, lockMs: 15 * 60_000 } as const;
export type LoginLockoutPolicy = { maxFailures: number; lockMs: number };

/** A console session as stored: keyed by the SHA-256 of its token. */
export type ConsoleSessionRecord = { idHash: string; userId: string; createdAtMs: number; lastSeenAtMs: number; expiresAtMs: number };

/** How a session lookup ended: active (with its user), expired (it existed, and is now deleted) or unknown. */
export type SessionLookup =
  | { status: 'active'; session: ConsoleSessionRecord; user: UserRecord }
  | { status: 'expired' }
  | { status: 'unknown' };

/** Session lifetimes (OWASP ASVS 3.3.2: idle and absolute timeouts). */
export type SessionPolicy = { idleTimeoutMs: number; maxAgeMs: number };
export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleTimeoutMs: 30 * 60_000, maxAgeMs: 12 * 60 * 60_000 };

/** Whether a stored session has lapsed at nowMs: past its absolute expiry, or idle too long. */
export function sessionLapsed(session: ConsoleSessionRecord, nowMs: number, idleTimeoutMs: number): boolean {
  return nowMs >= session.expiresAtMs || nowMs >= session.lastSeenAtMs + idleTimeoutMs;
}
