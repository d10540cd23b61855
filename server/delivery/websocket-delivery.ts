import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Metrics } from '../metrics.ts';
import type { PromotionRecord, Store } from '../store/store.ts';
import type { Delivery } from './delivery.ts';

// Delivery over the app's own WebSocket. Each app connection is authenticated as one shopper (the
// route checks its token) and receives only that shopper's promotions. Pending promotions are
// (re)sent on connect and by a sweep, so a promotion recorded by another server instance, or one
// whose frame was lost, still arrives; the app acknowledges each one by ID.

export const AppMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ack'), id: z.string().min(1).max(64) }).strict(),
  z.object({ type: z.literal('ping') }).strict(),
]);

const MAX_BUFFERED_BYTES = 1 << 20;

export type WebSocketDelivery = Delivery & {
  attach(shopperId: string, socket: WebSocket): void;
  /** Delivers a promotion another instance recorded, if its shopper's app is connected here and it was not just sent. */
  deliverById(id: string): Promise<void>;
  /** Closes a shopper's connections (after erasure or withdrawal of promotions). */
  disconnect(shopperId: string, reason: string): void;
  connected(): number;
};

export function createWebSocketDelivery(deps: { store: Store; metrics: Metrics; logger: Logger; now: () => number; resendAfterMs?: number; sweepMs?: number }): WebSocketDelivery {
  const { store, metrics, logger, now } = deps;
  const resendAfterMs = deps.resendAfterMs ?? 5_000;
  const sockets = new Map<string, Set<WebSocket>>();
  /** promotion ID → when it was last written to a socket (this instance only). */
  const lastSent = new Map<string, number>();

  const write = (shopperId: string, promotion: PromotionRecord): void => {
    const set = sockets.get(shopperId);
    if (!set) return;
    const frame = JSON.stringify(promotion.message);
    let written = false;
    for (const socket of set) {
      if (socket.readyState !== socket.OPEN || socket.bufferedAmount > MAX_BUFFERED_BYTES) continue;
      socket.send(frame);
      written = true;
    }
    if (!written) return;
    lastSent.set(promotion.id, now());
    metrics.deliveries.inc();
    void store.markPromotionDelivered(promotion.id, now()).catch((error: Error) => logger.error({ err: error.message }, 'markPromotionDelivered failed'));
  };

  const flush = async (shopperId: string, onlyStale: boolean): Promise<void> => {
    const pending = await store.listUnackedPromotions(shopperId, now());
    for (const promotion of pending) {
      const sentAt = lastSent.get(promotion.id);
      if (onlyStale && sentAt !== undefined && now() - sentAt < resendAfterMs) continue;
      write(shopperId, promotion);
    }
  };

  const sweep = setInterval(() => {
    for (const shopperId of sockets.keys()) void flush(shopperId, true).catch((error: Error) => logger.error({ err: error.message }, 'delivery sweep failed'));
    const cutoff = now() - 10 * 60_000;
    for (const [id, at] of lastSent) if (at < cutoff) lastSent.delete(id);
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
      void flush(shopperId, false).catch((error: Error) => logger.error({ err: error.message }, 'initial flush failed'));
    },
    notify(promotion) {
      write(promotion.shopperId, promotion);
    },
    async deliverById(id) {
      const sentAt = lastSent.get(id);
      if (sentAt !== undefined && now() - sentAt < resendAfterMs) return;
      if (sockets.size === 0) return;
      const promotion = await store.getPromotion(id);
      if (promotion === undefined || promotion.status !== 'pending' || !sockets.has(promotion.shopperId)) return;
      write(promotion.shopperId, promotion);
    },
    disconnect(shopperId, reason) {
      for (const socket of sockets.get(shopperId) ?? []) socket.close(4001, reason);
    },
    connected: () => [...sockets.values()].reduce((n, set) => n + set.size, 0),
    async close() {
      clearInterval(sweep);
      for (const set of sockets.values()) for (const socket of set) socket.close(1001, 'server shutting down');
      sockets.clear();
    },
  };
}
