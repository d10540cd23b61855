import { WebSocket } from 'ws';
import { deriveIdentityKey, x25519SharedSecret } from '#gateway/protocol/index.ts';
import { createAppIdentity, type AppTokenSource } from './app-identity.ts';
import { PROOF_HEADER_NAME } from './request-proof.ts';

// A virtual shopper app driving the server's real HTTP and WebSocket API: it registers by key
// exchange, answers the consent texts, opens its promotion stream with its own credential,
// acknowledges what it receives and shows each promotion once (deduplicating by ID). Told its credential
// expired (401 CREDENTIAL_EXPIRED), it rotates it (POST /v1/me/token, signed with a request proof) and
// retries once; it signs the requests that need a Vicino-Proof header.

export type Purpose = 'presence' | 'personalisation' | 'analytics' | 'promotions';

/** A shopper's own beacon, as the app links it (POST /v1/me/beacons). */
export type LoyaltyBeaconIdentifier =
  | { kind: 'ibeacon'; uuid: string; major: number; minor: number }
  | { kind: 'eddystone-uid'; namespace: string; instance: string };

export type Sighting = { storeId: string; beacon: { uuid: string; major: number; minor: number }; kind: 'enter' | 'dwell' | 'exit'; atS: number; dwellS?: number };

export type ReceivedPromotion = { id: string; campaignId: string; title: string; body: string; couponCode: string; eventId: string; issuedAtMs: number; receivedAtMs: number; why: unknown };

export type VirtualApp = {
  shopperId: string;
  tokens: AppTokenSource;
  /** Grants or withdraws purposes; resolves once the server has acknowledged. */
  setConsent(decisions: Partial<Record<Purpose, boolean>>): Promise<Record<string, { granted: boolean }>>;
  connect(): Promise<void>;
  /** The store-beacon regions to monitor (iOS region monitoring). */
  regions(): Promise<{ uuid: string; major?: number }[]>;
  /** Reports a store beacon the phone saw (the iOS path); resolves with the server's event ID and outcome. */
  reportSighting(sighting: Sighting): Promise<{ eventId: string; zoneId: string; outcome: string }>;
  /** Links the shopper's loyalty beacon (needs presence consent); resolves with its ID. */
  linkBeacon(beacon: LoyaltyBeaconIdentifier): Promise<{ id: string; kind: string }>;
  /** Distinct promotions shown to the shopper, in order of arrival. */
  readonly shown: ReceivedPromotion[];
  /** Promotion frames received, including redeliveries. */
  framesReceived(): number;
  onPromotion(listener: (promotion: ReceivedPromotion) => void): void;
  /**
   * Simulator ground truth, for privacy checks: the identity key this app and the server both derived.
   * A real app never exports it.
   */
  identityKeyHex(): string;
  /** Replaces the app credential (POST /v1/me/token, with a request proof); resolves once the server has issued the new one. */
  rotateToken(): Promise<void>;
  /** The current app credential (it changes on rotation). */
  token(): string;
  /**
   * Any shopper API request with the app credential (rotated and retried once on expiry); `signed` adds a
   * Vicino-Proof header, as the routes that require one (the data-subject rights routes) need.
   */
  api<T>(method: string, path: string, body?: unknown, options?: { signed?: boolean }): Promise<T>;
  close(): Promise<void>;
};

type ConsentText = { purpose: Purpose; version: string; sha256: string };

export class ApiRequestError extends Error {
  constructor(readonly status: number, readonly body: unknown, what: string) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
    this.name = 'ApiRequestError';
  }
}

type RequestOptions = { token?: string; proof?: (body: string) => string };

async function request<T>(baseUrl: string, method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  // The exact bytes sent are the bytes a request proof signs.
  const text = body === undefined ? '' : JSON.stringify(body);
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.proof ? { [PROOF_HEADER_NAME]: options.proof(text) } : {}),
    },
    body: body === undefined ? undefined : text,
  });
  const answer = await response.text();
  const json: unknown = answer === '' ? undefined : JSON.parse(answer);
  if (!response.ok) throw new ApiRequestError(response.status, json, `${method} ${path}`);
  return json as T;
}

const errorCode = (error: unknown): string | undefined =>
  error instanceof ApiRequestError ? (error.body as { error?: { code?: string } } | undefined)?.error?.code : undefined;

export async function registerVirtualApp(options: { baseUrl: string; locale?: string; firstName?: string; country?: string; birthYear?: number; now: () => number }): Promise<VirtualApp> {
  const { baseUrl, now } = options;
  const identity = createAppIdentity();
  const resolver = await request<{ publicKey: string; defaultRotationExponent: number }>(baseUrl, 'GET', '/v1/resolver');
  const registered = await request<{ shopperId: string; token: string; rotationExponent: number }>(baseUrl, 'POST', '/v1/shoppers', {
    appPublicKey: identity.publicKeyHex, locale: options.locale ?? 'en', ...(options.firstName ? { firstName: options.firstName } : {}),
    // CON-7: an adult unless told otherwise, so the virtual shopper may grant personalisation and promotions.
    country: options.country ?? 'IT', birthYear: options.birthYear ?? 1990,
  });
  const tokens = identity.bind(resolver.publicKey, registered.rotationExponent);
  const shown: ReceivedPromotion[] = [];
  const seen = new Set<string>();
  const listeners: ((promotion: ReceivedPromotion) => void)[] = [];
  let frames = 0;
  let socket: WebSocket | undefined;
  let texts: ConsentText[] | undefined;
  let token = registered.token;
  let rotating: Promise<void> | undefined;

  /** Signs one request with the proof key (docs/app-integration.md "Request proofs"). */
  const proofFor = (method: string, path: string) => (body: string): string => tokens.proofs.sign({ method, pathWithQuery: path, body, nowMs: now() });
  // Concurrent requests that all learn the credential expired share one rotation.
  const rotateToken = (): Promise<void> => {
    rotating ??= request<{ token: string }>(baseUrl, 'POST', '/v1/me/token', undefined, { token, proof: proofFor('POST', '/v1/me/token') })
      .then((rotated) => void (token = rotated.token))
      .finally(() => {
        rotating = undefined;
      });
    return rotating;
  };
  /**
   * A request with the app credential. On 401 CREDENTIAL_EXPIRED it rotates the credential and retries
   * once; on CREDENTIAL_REVOKED it retries once if a concurrent request rotated the credential meanwhile.
   */
  async function authed<T>(method: string, path: string, body?: unknown, options: { signed?: boolean } = {}): Promise<T> {
    const send = (): Promise<T> => request<T>(baseUrl, method, path, body, { token, ...(options.signed ? { proof: proofFor(method, path) } : {}) });
    const used = token;
    try {
      return await send();
    } catch (error) {
      const code = errorCode(error);
      if (code === 'CREDENTIAL_EXPIRED') {
        if (token === used) await rotateToken();
      } else if (code === 'CREDENTIAL_REVOKED' && token !== used) {
        await rotating;
      } else throw error;
      return send();
    }
  }
  /** Opens the promotion stream once; rejects with the refusal's status and code if the upgrade is refused. */
  const openStream = (): Promise<WebSocket> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/me/promotions/stream`, { headers: { authorization: `Bearer ${token}` } });
    ws.once('message', () => resolve(ws)); // the server greets first
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        reject(new ApiRequestError(res.statusCode ?? 0, json, 'promotion stream refused'));
      });
    });
  });

  return {
    shopperId: registered.shopperId,
    tokens,
    shown,
    framesReceived: () => frames,
    identityKeyHex: () => {
      const resolverPublic = Buffer.from(resolver.publicKey, 'hex');
      return deriveIdentityKey(x25519SharedSecret(identity.keyPair.privateKey, resolverPublic), resolverPublic, identity.keyPair.publicKey).toString('hex');
    },
    onPromotion: (listener) => void listeners.push(listener),
    async setConsent(decisions) {
      texts ??= (await request<{ texts: ConsentText[] }>(baseUrl, 'GET', '/v1/consent-texts')).texts;
      const body = {
        locale: options.locale ?? 'en',
        clientTimeMs: now(),
        decisions: Object.entries(decisions).map(([purpose, granted]) => {
          const text = texts!.find((t) => t.purpose === purpose)!;
          return { purpose, granted, textVersion: text.version, textSha256: text.sha256 };
        }),
      };
      return (await authed<{ consents: Record<string, { granted: boolean }> }>('PUT', '/v1/me/consents', body)).consents;
    },
    regions: async () => (await authed<{ regions: { uuid: string; major?: number }[] }>('GET', '/v1/me/regions')).regions,
    reportSighting: (sighting) => authed<{ eventId: string; zoneId: string; outcome: string }>('POST', '/v1/me/sightings', sighting),
    linkBeacon: (beacon) => authed<{ id: string; kind: string }>('POST', '/v1/me/beacons', beacon),
    rotateToken,
    token: () => token,
    api: authed,
    async connect() {
      let ws: WebSocket;
      try {
        ws = await openStream();
      } catch (error) {
        if (errorCode(error) !== 'CREDENTIAL_EXPIRED') throw error;
        await rotateToken();
        ws = await openStream();
      }
      socket = ws;
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string } & ReceivedPromotion;
        if (message.type !== 'promotion') return;
        frames += 1;
        // Acknowledge every frame (the first ack may have been lost); show each promotion once.
        ws.send(JSON.stringify({ type: 'ack', id: message.id }));
        if (seen.has(message.id)) return;
        seen.add(message.id);
        const promotion: ReceivedPromotion = {
          id: message.id, campaignId: message.campaignId, title: message.title, body: message.body, couponCode: message.couponCode,
          eventId: message.eventId, issuedAtMs: message.issuedAtMs, receivedAtMs: now(), why: message.why,
        };
        shown.push(promotion);
        for (const listener of listeners) listener(promotion);
      });
    },
    async close() {
      tokens.forget();
      if (socket && socket.readyState !== WebSocket.CLOSED) {
        await new Promise<void>((resolve) => {
          socket!.once('close', () => resolve());
          socket!.close(1000, 'app closed');
        });
      }
    },
  };
}
