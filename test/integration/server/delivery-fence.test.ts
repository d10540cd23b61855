import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebSocketDelivery, type WebSocketDelivery } from '#server/delivery/websocket-delivery.ts';
import type { ConsentState } from '#server/domain/consent.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { createMetrics } from '#server/metrics.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { PromotionRecord, Store } from '#server/store/store.ts';
import { aConsent, aDraft, aShopper, BUILDER_CONSENT_POLICY, START_MS } from '#test/helpers/builders.ts';

// CON-4 at the last step: a consent read that began before a withdrawal committed may answer "granted"
// after the withdrawal was acknowledged. The consent route fences the shopper once its change has
// committed; a write whose read straddles the fence, or a hand-over of a promotion recorded before it,
// sends nothing. Here the read is held open by the test, so the straddle is certain, not a race.

class RecordingSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: { type: string; id?: string }[] = [];
  send(data: string): void {
    this.sent.push(JSON.parse(data) as { type: string; id?: string });
  }
  close(): void {
    this.readyState = 3;
    this.emit('close');
  }
}

describe('WebSocket delivery fence', () => {
  let store: Store;
  let delivery: WebSocketDelivery;
  let nowMs: number;
  /** While set, consent reads wait for it: the test decides when they answer. */
  let held: Promise<void> | undefined;

  beforeEach(() => {
    const inner = openSqliteStore(':memory:');
    store = new Proxy(inner, {
      get(target, property, receiver) {
        if (property !== 'getConsentState') return Reflect.get(target, property, receiver) as unknown;
        return async (shopperId: string): Promise<ConsentState> => {
          const state = await inner.getConsentState(shopperId);
          await held;
          return state;
        };
      },
    });
    nowMs = START_MS;
    delivery = createWebSocketDelivery({ store, metrics: createMetrics(), logger: createLogSink().logger, now: () => nowMs, sweepMs: 60_000, consentPolicy: BUILDER_CONSENT_POLICY });
  });
  afterEach(async () => {
    await delivery.close();
    await store.close();
  });

  async function givenPendingPromotion(): Promise<{ promotion: PromotionRecord; socket: RecordingSocket }> {
    const shopper = aShopper();
    await store.createShopper(shopper);
    await store.appendConsent([aConsent({ shopperId: shopper.id, purpose: 'presence' }), aConsent({ shopperId: shopper.id, purpose: 'promotions' })]);
    const result = await store.recordPromotion(aDraft({ shopperId: shopper.id, createdAtMs: nowMs }));
    if (result.outcome !== 'recorded') throw new Error(`expected a recorded promotion, got ${result.outcome}`);
    const socket = new RecordingSocket();
    delivery.attach(shopper.id, socket as unknown as WebSocket);
    await expect.poll(() => socket.sent.map((m) => m.type)).toEqual(['hello', 'promotion']);
    return { promotion: result.promotion, socket };
  }

  it('drops a send whose consent read began before the fence, though the read answered "granted"', async () => {
    const { promotion, socket } = await givenPendingPromotion();
    let release!: () => void;
    held = new Promise<void>((resolve) => (release = resolve));
    nowMs += 60_000; // past the resend interval: the sweep would send it again
    const sending = delivery.deliverById(promotion.id);
    // The read has begun (and is held); now the withdrawal commits and the route fences the shopper.
    await new Promise<void>((resolve) => setImmediate(resolve));
    delivery.fence(promotion.shopperId);
    release();
    await sending;
    expect(socket.sent.map((m) => m.type)).toEqual(['hello', 'promotion']);
    // After the fence, a fresh read decides again: consent is still granted here, so it is sent.
    held = undefined;
    nowMs += 60_000;
    await delivery.deliverById(promotion.id);
    expect(socket.sent.map((m) => m.type)).toEqual(['hello', 'promotion', 'promotion']);
  });

  it('reads nothing for a promotion another instance announced when its shopper has no socket here, and delivers it when they do', async () => {
    const { promotion, socket } = await givenPendingPromotion();
    nowMs += 60_000;
    let reads = 0;
    const counted = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'getPromotion') reads += 1;
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const other = createWebSocketDelivery({ store: counted, metrics: createMetrics(), logger: createLogSink().logger, now: () => nowMs, sweepMs: 60_000, consentPolicy: BUILDER_CONSENT_POLICY });
    try {
      const stranger = new RecordingSocket();
      other.attach(aShopper().id, stranger as unknown as WebSocket);
      await other.deliverById(promotion.id, promotion.shopperId);
      expect(reads).toBe(0);
      // Without the shopper's ID (an older instance's announcement) it reads, and finds no socket of theirs here.
      await other.deliverById(promotion.id);
      expect(reads).toBe(1);
      expect(stranger.sent.filter((m) => m.type === 'promotion')).toEqual([]);
    } finally {
      await other.close();
    }
    // Where the shopper's socket is, the announcement delivers it.
    await delivery.deliverById(promotion.id, promotion.shopperId);
    expect(socket.sent.map((m) => m.type)).toEqual(['hello', 'promotion', 'promotion']);
  });

  it('drops a hand-over of a promotion recorded before the fence, and takes one recorded after', async () => {
    const { promotion, socket } = await givenPendingPromotion();
    nowMs += 1;
    delivery.fence(promotion.shopperId);
    const copy = (id: string, createdAtMs: number): PromotionRecord => ({ ...promotion, id, createdAtMs, message: { ...promotion.message, id } });
    delivery.notify(copy('before', promotion.createdAtMs));
    delivery.notify(copy('after', nowMs + 1));
    await expect.poll(() => socket.sent.length).toBe(3);
    // Both hand-overs have been through their consent reads by now; a second poll turn shows nothing more came.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(socket.sent.map((m) => m.id ?? m.type)).toEqual(['hello', promotion.message.id, 'after']);
  });
});
