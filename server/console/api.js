// The console's one way to the server: the documented REST API, with the session cookie (HttpOnly,
// SameSite=Strict, set by POST /v1/session) and the session's CSRF token on every request that changes
// something. An expired session does not lose the request: on a 401 the login dialog opens (app.js
// registers it with onUnauthenticated) and the request is sent again once the user has logged in.

/** An API error as the server describes it: { error: { code, message, fields, issues } }. */
export class ApiFailure extends Error {
  constructor(status, code, message, issues = []) {
    super(message);
    this.name = 'ApiFailure';
    this.status = status;
    this.code = code;
    /** Each field at fault with its own message: [{ field, message }]. */
    this.issues = issues;
  }
}

let session = null;
let reauthenticate = null;

/** The current session ({ user, permissions, csrfToken, expiresAtMs, idleTimeoutMs }), or null. */
export function currentSession() {
  return session;
}

export function setSession(next) {
  session = next;
}

/** Whether the session's role has this permission (a key of server/auth/permissions.ts PERMISSION_ROLES). */
export function can(permission) {
  return permission == null || (session !== null && session.permissions.includes(permission));
}

/**
 * What to do on a 401: a function that resolves to true once the user has logged in again (and
 * setSession was called), false if they gave up.
 */
export function onUnauthenticated(handler) {
  reauthenticate = handler;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

async function send(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (!SAFE_METHODS.has(method) && session !== null) headers['x-csrf-token'] = session.csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiFailure(0, 'NETWORK', `the server did not answer ${method} ${path}: check the connection and try again`);
  }
  if (response.status === 204) return undefined;
  const text = await response.text();
  let parsed;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ApiFailure(response.status, 'NOT_JSON', `${method} ${path} answered HTTP ${response.status} with something other than JSON`);
  }
  if (response.ok) return parsed;
  const error = parsed?.error ?? {};
  throw new ApiFailure(response.status, error.code ?? `HTTP_${response.status}`, error.message ?? `${method} ${path} failed with HTTP ${response.status}`, error.issues ?? []);
}

/**
 * Calls the API: resolves to the parsed JSON body (undefined for 204), or throws an ApiFailure.
 * A 401 on anything but the session itself asks the user to log in again, then retries once; a CSRF
 * refusal (the cookie changed under the page) reloads the session's token, then retries once.
 */
export async function api(method, path, body) {
  try {
    return await send(method, path, body);
  } catch (error) {
    if (!(error instanceof ApiFailure) || path.startsWith('/v1/session')) throw error;
    if (error.status === 401 && reauthenticate !== null) {
      if (!(await reauthenticate(error.message))) throw error;
      return send(method, path, body);
    }
    // A login in another tab replaced the session cookie: its CSRF token is the one to send now.
    if (error.status === 403 && error.message.startsWith('CSRF check failed: send the session')) {
      if ((await resumeSession()) === null) throw error;
      return send(method, path, body);
    }
    throw error;
  }
}

/** Logs in: POST /v1/session. Resolves to the session and keeps it. */
export async function logIn(username, password) {
  const next = await send('POST', '/v1/session', { username, password });
  setSession(next);
  return next;
}

/** The session the cookie holds, or null when there is none (GET /v1/session answers 401). */
export async function resumeSession() {
  try {
    const next = await send('GET', '/v1/session');
    setSession(next);
    return next;
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) {
      setSession(null);
      return null;
    }
    throw error;
  }
}

export async function logOut() {
  try {
    await send('DELETE', '/v1/session');
  } finally {
    setSession(null);
  }
}
