import { WebSocket } from 'ws';
import { deriveIdentityKey, x25519SharedSecret } from '#gateway/protocol/index.ts';
import { createAppIdentity, type AppTokenSource } from './app-identity.ts';

// A virtual shopper app driving the server's real HTTP and WebSocket API: it registers by key
// exchange, answers the consent texts, opens its promotion stream with its own credential,
// acknowledges what it receives and shows each promotion once (deduplicating by ID).

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
  close(): Promise<void>;
};

type ConsentText = { purpose: Purpose; version: string; sha256: string };

export class ApiRequestError extends Error {
  constructor(readonly status: number, readonly body: unknown, what: string) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
    this.name = 'ApiRequestError';
  }
}

async function request<T>(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json: unknown = text === '' ? undefined : JSON.parse(text);
  if (!response.ok) throw new ApiRequestError(response.status, json, `${method} ${path}`);
  return json as T;
}

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
      return (await request<{ consents: Record<string, { granted: boolean }> }>(baseUrl, 'PUT', '/v1/me/consents', body, registered.token)).consents;
    },
    regions: async () => (await request<{ regions: { uuid: string; major?: number }[] }>(baseUrl, 'GET', '/v1/me/regions', undefined, registered.token)).regions,
    reportSighting: (sighting) => request<{ eventId: string; zoneId: string; outcome: string }>(baseUrl, 'POST', '/v1/me/sightings', sighting, registered.token),
    linkBeacon: (beacon) => request<{ id: string; kind: string }>(baseUrl, 'POST', '/v1/me/beacons', beacon, registered.token),
    async connect() {
      const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/me/promotions/stream`, { headers: { authorization: `Bearer ${registered.token}` } });
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
      await new Promise<void>((resolve, reject) => {
        ws.once('message', () => resolve()); // the server greets first
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`promotion stream refused: HTTP ${res.statusCode}`)));
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
