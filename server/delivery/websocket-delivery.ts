import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { ConsentPolicy } from '../domain/consent.ts';
import type { Metrics } from '../metrics.ts';
import type { ExpiredUndelivered, PromotionRecord, Store } from '../store/store.ts';
import type { Delivery } from './delivery.ts';
import { sendConsent } from './send-consent.ts';

// Delivery over the app's own WebSocket. Each app connection is authenticated as one shopper (the
// route checks its token) and receives only that shopper's promotions. Pending promotions are
// (re)sent on connect and by a sweep, so a promotion recorded by another server instance, or one
// whose frame was lost, still arrives; the app acknowledges each one by ID.
//
// CON-5, fail closed: every write re-reads the shopper's consent first, and sends only if it was read
// and still grants every purpose the promotion was made under (its why.purposes, and always presence
// and promotions). A withdrawal also cancels pending promotions in the Store, atomically; this check
// covers a promotion listed just before that, and any consent change that does not cancel. If the
// consent cannot be read, nothing is written: the error is logged (no identifiers) and counted in
// vicino_consent_unreadable_total{where="delivery"}, and the promotion stays pending, so the sweep or
// the app's reconnect sends it once the Store answers again (if consent still allows it then). A grant that
// has lapsed (CON-6: superseded text, past its validity) counts as withdrawn here too, before the lapse job
// has written it down.
//
// CON-4, before the acknowledgement: a consent read that began before a withdrawal committed can answer
// "granted" after the withdrawal's response has gone out (a slow read, a busy pool). So the consent route
// calls fence(shopperId) once its change has committed and before it answers: every write to that
// shopper whose consent read began before the fence drops its promotion instead of sending it, and so
// does a hand-over (notify) of a promotion recorded before the fence — the withdrawal cancelled it in
// the Store. Nothing is lost: the sweep and the app's reconnect re-list what is still pending.
//
// Expiry, at most once within the TTL: a promotion is (re)sent only while it has not expired, so a shopper
// offline past the TTL gets nothing of it on reconnect. Every expiryEveryMs of the injected clock the sweep
// drops what expired before it was ever written (Store.expireUndelivered: status 'expired', claimed by one
// conditional UPDATE, so instances sweeping at once count each promotion once) and counts it in
// vicino_promotions_expired_undelivered_total{campaign} — whether the shopper was offline or their app was
// connected but consent could not be read meanwhile. A promotion written but never acknowledged reached the
// app: it stays pending, not dropped. The summary log line names campaigns, never shoppers.

/**
 * Shoppers the resend sweep re-lists at once: their reads are handed to the Store in one turn, which the
 * PostgreSQL adapter answers with one statement (the embedded one reads each in turn, synchronously).
 */
const SWEEP_CHUNK = 200;

export const AppMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ack'), id: z.string().min(1).max(64) }).strict(),
  // The shopper opened the promotion (analytics, issue 6): recorded once, and it acknowledges it too.
  z.object({ type: z.literal('opened'), id: z.string().min(1).max(64) }).strict(),
  z.object({ type: z.literal('ping') }).strict(),
]);

const MAX_BUFFERED_BYTES = 1 << 20;

export type WebSocketDelivery = Delivery & {
  attach(shopperId: string, socket: WebSocket): void;
  /** Delivers a promotion another instance recorded, if its shopper's app is connected here and it was not just sent. */
  deliverById(id: string, shopperId?: string): Promise<void>;
  /**
   * Call after a consent change of the shopper has committed, before acknowledging it: no write whose
   * consent read began before now, and no hand-over of a promotion recorded before now, sends anything.
   */
  fence(shopperId: string): void;
  /** Closes a shopper's connections (after erasure or withdrawal of promotions). */
  disconnect(shopperId: string, reason: string): void;
  connected(): number;
  /**
   * Drops and counts every promotion that expired before it was written (in batches of expiryBatch, at
   * most EXPIRY_MAX_BATCHES per run); the sweep runs it every expiryEveryMs. Returns what this run dropped.
   */
  expireUndelivered(): Promise<ExpiredUndelivered>;
};

/** A run of the expiry sweep stops after this many full batches; the next run carries on. */
const EXPIRY_MAX_BATCHES = 20;

export function createWebSocketDelivery(deps: {
  store: Store; metrics: Metrics; logger: Logger; now: () => number; resendAfterMs?: number; sweepMs?: number; consentPolicy?: ConsentPolicy;
  /** How often, on the injected clock, undelivered expired promotions are dropped and counted. */
  expiryEveryMs?: number;
  expiryBatch?: number;
}): WebSocketDelivery {
  const { store, metrics, logger, now } = deps;
  const resendAfterMs = deps.resendAfterMs ?? 5_000;
  const expiryEveryMs = deps.expiryEveryMs ?? 30_000;
  const expiryBatch = deps.expiryBatch ?? 500;
  let lastExpiryMs = now();
  /** The running expiry pass, if any: a slow Store must not make passes pile up. */
  let expiring: Promise<ExpiredUndelivered> | undefined;
  const sockets = new Map<string, Set<WebSocket>>();
  /** promotion ID → when it was last written to a socket (this instance only). */
  const lastSent = new Map<string, number>();
  /** shopper ID → how many fences so far, and the time of the last (this instance only; a few bytes per shopper). */
  const fences = new Map<string, { count: number; atMs: number }>();
  const fenceCount = (shopperId: string): number => fences.get(shopperId)?.count ?? 0;

  /** Whether the shopper's consent, read now, still allows this promotion; false (counted, logged) if it cannot be read. */
  const consentAllows = async (promotion: PromotionRecord): Promise<boolean> => (await sendConsent(deps, promotion, 'delivery')) === 'allowed';

  const openSockets = (shopperId: string): WebSocket[] =>
    [...(sockets.get(shopperId) ?? [])].filter((socket) => socket.readyState === socket.OPEN && socket.bufferedAmount <= MAX_BUFFERED_BYTES);

  /** Promotion IDs whose write is between its consent read and its send: the connect flush, the sweep and an
   * announcement can all reach one promotion at once, and the app must get it once. A socket attached meanwhile
   * is covered by the running write, which lists the open sockets only after its await. */
  const writing = new Set<string>();
  /** The promotions written to each socket (gone with it): what its connect flush need not write again. */
  const sentOn = new WeakMap<WebSocket, Set<string>>();

  const write = async (shopperId: string, promotion: PromotionRecord): Promise<void> => {
    if (openSockets(shopperId).length === 0 || writing.has(promotion.id)) return;
    writing.add(promotion.id);
    try {
      await writeOnce(shopperId, promotion);
    } finally {
      writing.delete(promotion.id);
    }
  };

  const writeOnce = async (shopperId: string, promotion: PromotionRecord): Promise<void> => {
    const fenced = fenceCount(shopperId);
    if (!(await consentAllows(promotion))) return;
    // A consent change committed while consent was being read: that answer may be stale (CON-4).
    if (fenceCount(shopperId) !== fenced) return;
    // Re-listed after the await: a socket may have closed meanwhile. Nothing awaits between here and the send.
    const open = openSockets(shopperId);
    if (open.length === 0) return;
    const frame = JSON.stringify(promotion.message);
    for (const socket of open) {
      socket.send(frame);
      let sent = sentOn.get(socket);
      if (sent === undefined) sentOn.set(socket, (sent = new Set()));
      sent.add(promotion.id);
    }
    lastSent.set(promotion.id, now());
    metrics.deliveries.inc();
    void store.markPromotionDelivered(promotion.id, now()).catch((error: Error) => logger.error({ err: error.message }, 'markPromotionDelivered failed'));
  };

  /**
   * Writes the shopper's pending promotions: the stale ones (the sweep), or every one a socket that just attached
   * has not had (the connect flush) — the sweep or an announcement may have written one to it while the flush's
   * read was on its way, and the app must not get it twice.
   */
  const flush = async (shopperId: string, onlyStale: boolean, attached?: WebSocket): Promise<void> => {
    const pending = await store.listUnackedPromotions(shopperId, now());
    for (const promotion of pending) {
      const sentAt = lastSent.get(promotion.id);
      if (onlyStale && sentAt !== undefined && now() - sentAt < resendAfterMs) continue;
      if (attached !== undefined && sentOn.get(attached)?.has(promotion.id) === true) continue;
      await write(shopperId, promotion);
    }
  };

  const expireOnce = async (): Promise<ExpiredUndelivered> => {
    const total: ExpiredUndelivered = { expired: 0, byCampaign: {} };
    for (let batch = 0; batch < EXPIRY_MAX_BATCHES; batch++) {
      const run = await store.expireUndelivered(now(), expiryBatch);
      total.expired += run.expired;
      for (const [campaign, n] of Object.entries(run.byCampaign)) {
        metrics.expiredUndelivered.inc({ campaign }, n);
        total.byCampaign[campaign] = (total.byCampaign[campaign] ?? 0) + n;
      }
      if (run.expired < expiryBatch) break;
    }
    if (total.expired > 0) logger.info({ expired: total.expired, byCampaign: total.byCampaign }, 'undelivered promotions expired and dropped');
    return total;
  };
  const expireUndelivered = (): Promise<ExpiredUndelivered> => {
    expiring ??= expireOnce().finally(() => (expiring = undefined));
    return expiring;
  };

  let sweeping: Promise<void> | undefined;
  let closing = false;
  const sweepConnected = async (): Promise<void> => {
    const shopperIds = [...sockets.keys()];
    for (let at = 0; at < shopperIds.length && !closing; at += SWEEP_CHUNK) {
      await Promise.all(shopperIds.slice(at, at + SWEEP_CHUNK).map((shopperId) =>
        flush(shopperId, true).catch((error: Error) => logger.error({ err: error.message }, 'delivery sweep failed'))));
    }
  };

  const sweep = setInterval(() => {
    if (now() - lastExpiryMs >= expiryEveryMs) {
      lastExpiryMs = now();
      void expireUndelivered().catch((error: Error) => logger.error({ err: error.message }, 'expiry sweep failed'));
    }
    // Every connected shopper is re-listed, a chunk at a time: one read per shopper, each its own statement, made
    // the sweep the PostgreSQL stack's busiest query (600 a second for 1,200 connected apps: docs/benchmarks.md, end
    // to end); a chunk is one. A sweep still running when the next is due is not doubled; the next one starts after it.
    sweeping ??= sweepConnected().finally(() => (sweeping = undefined));
    const cutoff = now() - 10 * 60_000;
    for (const [id, at] of lastSent) if (at < cutoff) lastSent.delete(id);
    // A forgotten fence only makes a write that read consent across it drop its promotion: the safe side.
    for (const [shopperId, fence] of fences) if (fence.atMs < cutoff) fences.delete(shopperId);
  }, deps.sweepMs ?? 2_000);
  sweep.unref();

  return {
    attach(shopperId, socket) {
      let set = sockets.get(shopperId);
      if (!set) sockets.set(shopperId, (set = new Set()));
      set.add(socket);
      metrics.connectedApps.inc();
      socket.on('message', (data) => {
        let json: unknown;
        try {
          json = JSON.parse(String(data));
        } catch {
          socket.send(JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: 'message is not JSON' }));
          return;
        }
        const parsed = AppMessageSchema.safeParse(json);
        if (!parsed.success) {
          socket.send(JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') }));
          return;
        }
        if (parsed.data.type === 'ping') {
          socket.send(JSON.stringify({ type: 'pong' }));
          return;
        }
        const id = parsed.data.id;
        if (parsed.data.type === 'opened') {
          void store.markPromotionOpened(shopperId, id, now()).then((ok) => {
            if (ok) {
              metrics.opens.inc();
              lastSent.delete(id);
            }
          }, (error: Error) => logger.error({ err: error.message }, 'open failed'));
          return;
        }
        void store.ackPromotion(shopperId, id, now()).then((ok) => {
          if (ok) {
            metrics.acks.inc();
            lastSent.delete(id);
          }
        }, (error: Error) => logger.error({ err: error.message }, 'ack failed'));
      });
      socket.on('close', () => {
        set.delete(socket);
        if (set.size === 0) sockets.delete(shopperId);
        metrics.connectedApps.dec();
      });
      socket.send(JSON.stringify({ type: 'hello', shopperId }));
      void flush(shopperId, false, socket).catch((error: Error) => logger.error({ err: error.message }, 'initial flush failed'));
    },
    notify(promotion) {
      // Recorded before the shopper's last consent change: the Store's copy may be cancelled now; the sweep re-lists it if not.
      const fence = fences.get(promotion.shopperId);
      if (fence !== undefined && promotion.createdAtMs <= fence.atMs) return;
      void write(promotion.shopperId, promotion).catch((error: Error) => logger.error({ err: error.message }, 'delivery failed'));
    },
    async deliverById(id, shopperId) {
      const sentAt = lastSent.get(id);
      if (sentAt !== undefined && now() - sentAt < resendAfterMs) return;
      // No socket of theirs here (the announcement names them): nothing to read. Most instances, for most promotions.
      if (sockets.size === 0 || (shopperId !== undefined && !sockets.has(shopperId))) return;
      const promotion = await store.getPromotion(id);
      if (promotion === undefined || promotion.status !== 'pending' || !sockets.has(promotion.shopperId)) return;
      // Sent by the connect flush or the sweep while the promotion was being read.
      const sentSince = lastSent.get(id);
      if (sentSince !== undefined && now() - sentSince < resendAfterMs) return;
      await write(promotion.shopperId, promotion);
    },
    fence(shopperId) {
      fences.set(shopperId, { count: fenceCount(shopperId) + 1, atMs: now() });
    },
    disconnect(shopperId, reason) {
      for (const socket of sockets.get(shopperId) ?? []) socket.close(4001, reason);
    },
    connected: () => [...sockets.values()].reduce((n, set) => n + set.size, 0),
    expireUndelivered,
    async close() {
      clearInterval(sweep);
      closing = true;
      // The shopper being re-listed finishes; the rest of the sweep is dropped (reconnecting apps are flushed anew).
      await sweeping;
      // An expiry pass under way finishes (or fails) before the Store is closed under it.
      await expiring?.catch(() => undefined);
      for (const set of sockets.values()) for (const socket of set) socket.close(1001, 'server shutting down');
      sockets.clear();
    },
  };
}
