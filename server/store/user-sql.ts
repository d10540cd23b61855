import { RoleSchema } from '../domain/principal.ts';
import { sessionLapsed, type ConsoleSessionRecord, type LoginLockoutPolicy, type SessionLookup, type UserRecord } from '../domain/console-user.ts';
import { num, numOrNull, type Row } from './rows.ts';

// Console users and sessions (issue 8; migration 21), shared by both SQL adapters. Statements use `?`;
// PostgreSQL numbers them (analytics-sql.ts numbered()). A session row holds the SHA-256 of its token.

/** A session's last-seen time moves at most this often: a console polling every 2 s writes every 15 s. */
export const SESSION_TOUCH_MS = 15_000;

export const INSERT_USER = `INSERT INTO console_users (id, username, role, password_hash, created_at_ms, failed_logins) VALUES (?, ?, ?, ?, ?, 0)
  ON CONFLICT (username) DO NOTHING`;
export const LIST_USERS = 'SELECT * FROM console_users ORDER BY created_at_ms, id';
export const FIND_USER = 'SELECT * FROM console_users WHERE username = ?';
export const DISABLE_USER = 'UPDATE console_users SET disabled_at_ms = ? WHERE id = ? AND disabled_at_ms IS NULL';
export const DELETE_USER_SESSIONS = 'DELETE FROM console_sessions WHERE user_id = ?';

/** The failures counted so far: none once a lock has lapsed. */
const COUNTED = 'CASE WHEN locked_until_ms IS NULL THEN failed_logins ELSE 0 END';

/**
 * One conditional write (Store.recordLoginFailure): while locked, nothing changes; otherwise the count
 * goes up, and the maxFailures-th failure locks the account and starts the count again.
 */
export const LOGIN_FAILURE = `UPDATE console_users SET
    failed_logins = CASE WHEN locked_until_ms > ? THEN failed_logins WHEN ${COUNTED} + 1 >= ? THEN 0 ELSE ${COUNTED} + 1 END,
    locked_until_ms = CASE WHEN locked_until_ms > ? THEN locked_until_ms WHEN ${COUNTED} + 1 >= ? THEN ? ELSE NULL END
  WHERE id = ? RETURNING failed_logins, locked_until_ms`;

/** The parameters of LOGIN_FAILURE, in order. */
export function loginFailureParams(userId: string, atMs: number, policy: LoginLockoutPolicy): unknown[] {
  return [atMs, policy.maxFailures, atMs, policy.maxFailures, atMs + policy.lockMs, userId];
}

export const LOGIN_SUCCESS = 'UPDATE console_users SET failed_logins = 0, locked_until_ms = NULL WHERE id = ?';

export const INSERT_SESSION = 'INSERT INTO console_sessions (id_hash, user_id, created_at_ms, last_seen_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?)';
/** Params: nowMs, and nowMs − the idle timeout. */
export const DELETE_LAPSED_SESSIONS = 'DELETE FROM console_sessions WHERE expires_at_ms <= ? OR last_seen_at_ms <= ?';
export const FIND_SESSION = `SELECT s.id_hash, s.user_id, s.created_at_ms AS session_created_at_ms, s.last_seen_at_ms, s.expires_at_ms, u.*
  FROM console_sessions s JOIN console_users u ON u.id = s.user_id WHERE s.id_hash = ?`;
export const TOUCH_SESSION = 'UPDATE console_sessions SET last_seen_at_ms = ? WHERE id_hash = ? AND last_seen_at_ms < ?';
export const DELETE_SESSION = 'DELETE FROM console_sessions WHERE id_hash = ?';

export function toUser(row: Row): UserRecord {
  return {
    id: String(row.id), username: String(row.username), role: RoleSchema.parse(row.role), passwordHash: String(row.password_hash),
    createdAtMs: num(row.created_at_ms), disabledAtMs: numOrNull(row.disabled_at_ms), failedLogins: num(row.failed_logins), lockedUntilMs: numOrNull(row.locked_until_ms),
  };
}

/**
 * What a FIND_SESSION row means at nowMs. 'touch' says whether the last-seen time should move;
 * 'delete' whether the session lapsed (or its user was disabled) and should go.
 */
export function readSessionRow(found: Row | undefined, nowMs: number, idleTimeoutMs: number): { lookup: SessionLookup; touch: boolean; remove: boolean } {
  if (found === undefined) return { lookup: { status: 'unknown' }, touch: false, remove: false };
  const session: ConsoleSessionRecord = {
    idHash: String(found.id_hash), userId: String(found.user_id), createdAtMs: num(found.session_created_at_ms),
    lastSeenAtMs: num(found.last_seen_at_ms), expiresAtMs: num(found.expires_at_ms),
  };
  const user = toUser(found);
  if (sessionLapsed(session, nowMs, idleTimeoutMs) || user.disabledAtMs !== null) return { lookup: { status: 'expired' }, touch: false, remove: true };
  return { lookup: { status: 'active', session: { ...session, lastSeenAtMs: Math.max(session.lastSeenAtMs, nowMs) }, user }, touch: nowMs - session.lastSeenAtMs >= SESSION_TOUCH_MS, remove: false };
}
