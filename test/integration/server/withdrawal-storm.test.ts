import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonymise, topics, type PresenceEvent } from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import type { Purpose } from '#server/domain/consent.ts';
import { createPresenceIngest, type IngestOutcome, type PresenceIngest } from '#server/ingest/presence-ingest.ts';
import type { PromotionRecord, Store } from '#server/store/store.ts';
import { createRng, type Rng } from '#simulator/rng.ts';
import { aCampaign, aPresenceEvent, generousCaps, START_MS } from '#test/helpers/builders.ts';
import {
  buildTestApp, expectStatus, givenStoreWithGateway, grant, putCampaign, registerShopper, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';

// CON-4: a withdrawal takes effect before its response returns. A storm of signed presence events for
// one consenting shopper goes through the real ingest — resolver, arbiter, decision, the Store's atomic
// check-and-record — while PUT /v1/me/consents withdraws promotions (or presence) in the middle of it,
// sent once a set number of its events have settled, so many are recorded before and many still in flight.
// Once the acknowledgement has arrived: no promotion is recorded (none created after it), none is
// handed to delivery, no frame reaches the app's socket, and none is left pending. Several rounds, each
// with the withdrawal at another point of the storm and a seeded scatter of yields, so the interleavings
// differ. SQLite, and PostgreSQL when DATABASE_URL is set.
//
// The app's clock is the wall clock (offset to the tests' epoch), so promotion creation times, delivery
// and the acknowledgement are comparable instants; it moves forward only.

const STORE_KINDS: ('sqlite' | 'postgres')[] = process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const EVENTS_PER_ROUND = 200;
const ROUNDS = 5;
/** Events in flight at any moment. */
const IN_FLIGHT = 40;
const PRESENCE_TOPIC = topics.events('store-1', 'gw-1');

/**
 * The embedded driver answers synchronously, so without help every SQLite call completes in the turn it
 * was made and concurrent requests barely interleave. This decorator gives each call of the port the
 * latency of a networked store — a seeded 0–2 event-loop turns before and after it — so the storm's
 * events and the withdrawal overlap inside each other's steps, as they do on PostgreSQL.
 */
function withLatency(inner: Store, rng: Rng): Store {
  const turns = async (): Promise<void> => {
    for (let n = rng.int(0, 2); n > 0; n -= 1) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'close') return value;
      return async (...args: unknown[]): Promise<unknown> => {
        await turns();
        const result: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
        await turns();
        return result;
      };
    },
  });
}

/** Orders what happens in this process exactly, where milliseconds could tie: the ack, each hand-over, each frame. */
let happened = 0;
const tick = (): number => (happened += 1);

/** The app's socket, recording every frame the server's delivery writes to it, and when. */
class RecordingSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly frames: { order: number; message: { type: string; id?: string } }[] = [];
  send(data: string): void {
    this.frames.push({ order: tick(), message: JSON.parse(data) as { type: string; id?: string } });
  }
  close(): void {
    this.readyState = 3;
    this.emit('close');
  }
}

describe.each(STORE_KINDS)('withdrawal during a presence storm (%s)', (kind) => {
  let testStore: TestStore;
  let t: TestApp;
  let ingest: PresenceIngest;
  let ada: RegisteredShopper;
  let gatewaySecret: Buffer;
  let socket: RecordingSocket;
  /** Every promotion the ingest handed to delivery, and when. */
  let notified: { order: number; promotion: PromotionRecord }[];
  const origin = performance.now();
  const now = (): number => START_MS + Math.floor(performance.now() - origin);

  beforeEach(async () => {
    testStore = await openTestStore(kind);
    t = await buildTestApp({ store: kind === 'sqlite' ? withLatency(testStore.store, createRng(1)) : testStore.store, now });
    notified = [];
    const delivery: Delivery = {
      notify: (promotion) => {
        notified.push({ order: tick(), promotion });
        t.deps.delivery.notify(promotion);
      },
      close: async () => undefined,
    };
    ingest = createPresenceIngest({
      store: t.deps.store, config: t.deps.config, resolver: t.deps.resolver, delivery, metrics: t.deps.metrics, logger: t.logs.logger.child({ component: 'ingest' }), now, sealer: t.deps.sealer, experimentKey: t.deps.experimentKey,
    });
    gatewaySecret = Buffer.from((await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1' })).secret, 'base64url');
    ada = await registerShopper(t.app);
    await grant(t.app, ada.token, { presence: true, promotions: true });
    // Every dwell event of the current zone fires it: nothing caps the storm but consent.
    expectStatus(await putCampaign(t, aCampaign({ id: 'linger', storeId: 'store-1', zoneIds: ['entrance'], trigger: { kind: 'dwell', minDwellS: 30 }, caps: generousCaps })), 200);
    socket = new RecordingSocket();
    t.deps.delivery.attach(ada.shopperId, socket as unknown as WebSocket);
    // Ada walks in: the arbiter makes the entrance her current zone.
    expect(await send(heard('enter'))).toBe('no-campaign');
  });
  afterEach(async () => {
    await t.close();
    await testStore.close();
  });

  const nowS = (): number => Math.floor(now() / 1000);
  const heard = (eventKind: 'enter' | 'dwell', dwellS = 0): PresenceEvent => {
    const key = t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;
    return aPresenceEvent({
      storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', keyId: key.keyId, pseudonym: pseudonymise(key.key, 'eddystone-eid', ada.tokens.eidAt(nowS())),
      kind: eventKind, atS: nowS(), dwellS, proximity: 'immediate',
    }, gatewaySecret);
  };
  const send = (event: PresenceEvent): Promise<IngestOutcome> => ingest.handle(PRESENCE_TOPIC, Buffer.from(JSON.stringify(event)));
  const yieldSometimes = async (rng: Rng): Promise<void> => {
    if (rng.next() < 0.3) await new Promise<void>((resolve) => setImmediate(resolve));
  };

  /** One round: the storm, with the withdrawal of `purpose` sent once `withdrawAfter` of its events have settled. */
  async function round(purpose: Purpose, withdrawAfter: number, rng: Rng) {
    const events = Array.from({ length: EVENTS_PER_ROUND }, () => heard('dwell', 60));
    const settled: { atMs: number; outcome: IngestOutcome }[] = [];
    let ackAtMs = Number.POSITIVE_INFINITY;
    let ackOrder = Number.POSITIVE_INFINITY;
    let sentAtMs = Number.POSITIVE_INFINITY;
    let withdrawal: Promise<unknown> | undefined;
    const withdraw = (): void => {
      sentAtMs = now();
      withdrawal = grant(t.app, ada.token, { [purpose]: false }).then((state) => {
        ackAtMs = now();
        ackOrder = tick();
        return state;
      });
    };
    // A steady stream: IN_FLIGHT events at a time, each settled one replaced by the next, so events keep
    // arriving before, during and after the withdrawal (with all 200 launched at once, PostgreSQL's lock
    // queue would put the withdrawal behind every one of them).
    let next = 0;
    const stream = async (): Promise<void> => {
      while (next < events.length) {
        const event = events[next]!;
        next += 1;
        const outcome = await send(event);
        settled.push({ atMs: now(), outcome });
        if (settled.length === withdrawAfter) withdraw();
        await yieldSometimes(rng);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, stream));
    await withdrawal;
    const promotions = (await testStore.rows(`SELECT id, created_at_ms, status FROM promotions WHERE shopper_id = '${ada.shopperId}'`))
      .map((row) => ({ id: String(row.id), createdAtMs: Number(row.created_at_ms), status: String(row.status) }));
    return { ackAtMs, ackOrder, sentAtMs, settled, promotions };
  }

  it.each<[Purpose]>([['promotions'], ['presence']])('records, hands over and sends nothing once the withdrawal of %s is acknowledged', async (purpose) => {
    let recordedBeforeAck = 0;
    let inFlightAcross = 0;
    let refusedByWithdrawal = 0;
    const earlierRounds = new Set<string>();
    for (let r = 0; r < ROUNDS; r += 1) {
      const rng = createRng(1_000 + r);
      const sentBefore = new Set(socket.frames.map((frame) => frame.message.id));
      const { ackAtMs, ackOrder, sentAtMs, settled, promotions } = await round(purpose, 10 + r * 30, rng);
      expect(ackAtMs).toBeLessThan(Number.POSITIVE_INFINITY);

      const late = promotions.filter((p) => p.createdAtMs > ackAtMs);
      expect(late, `round ${r}: promotions created after the acknowledgement`).toEqual([]);
      expect(promotions.filter((p) => p.status === 'pending'), `round ${r}: promotions left pending`).toEqual([]);
      // The ingest may hand a promotion to delivery just after the acknowledgement when its own commit, made
      // before the withdrawal's, answered late: it must be one recorded before the acknowledgement and
      // cancelled since, and delivery must drop it (the fence: no frame below). Nothing recorded after is handed over.
      for (const handed of notified.filter((n) => n.order > ackOrder)) {
        expect(handed.promotion.createdAtMs, `round ${r}: a promotion handed over after the acknowledgement`).toBeLessThanOrEqual(ackAtMs);
        expect(promotions.find((p) => p.id === handed.promotion.id)?.status).toBe('cancelled');
      }
      expect(socket.frames.filter((f) => f.message.type === 'promotion' && f.order > ackOrder), `round ${r}: frames sent after the acknowledgement`).toEqual([]);
      expect(await t.deps.store.listUnackedPromotions(ada.shopperId, now())).toEqual([]);
      // Nothing sent in this round is still deliverable: every promotion it sent had been recorded before the ack.
      for (const frame of socket.frames.filter((f) => f.message.type === 'promotion' && !sentBefore.has(f.message.id))) {
        expect(promotions.find((p) => p.id === frame.message.id)?.createdAtMs).toBeLessThanOrEqual(ackAtMs);
      }

      const thisRound = promotions.filter((p) => !earlierRounds.has(p.id));
      for (const p of thisRound) earlierRounds.add(p.id);
      recordedBeforeAck += thisRound.length;
      inFlightAcross += settled.filter((s) => s.atMs > sentAtMs).length;
      refusedByWithdrawal += settled.filter((s) => s.outcome === 'no-consent' || s.outcome === 'unresolved').length;
      // Consent again, for the next round.
      await grant(t.app, ada.token, { [purpose]: true });
    }
    // The storm really straddled the withdrawals: promotions were made before them, events were still in
    // flight when they were sent, and some of those met the withdrawal (refused for consent, or no longer resolved).
    expect(recordedBeforeAck).toBeGreaterThan(0);
    expect(inFlightAcross).toBeGreaterThan(0);
    expect(refusedByWithdrawal).toBeGreaterThan(0);
  }, 120_000);
});
