import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveEventMacKey, pseudonymise, signPresenceEvent, topics, type PresenceEvent, type UnsignedPresenceEvent } from '#gateway/protocol/index.ts';
import type { Delivery } from '#server/delivery/delivery.ts';
import type { Sealer } from '#server/domain/sealing.ts';
import { createPresenceIngest, type EventWindow, type PresenceIngest } from '#server/ingest/presence-ingest.ts';
import { counterValue } from '#server/metrics.ts';
import type { PromotionRecord, StoreCounts } from '#server/store/store.ts';
import { aCampaign, aPresenceEvent, generousCaps, SECOND_MS } from '#test/helpers/builders.ts';
import {
  buildTestApp, expectStatus, givenStoreWithGateway, grant, provisionGateway, putCampaign, registerShopper,
  type GatewayConfigFile, type RegisteredShopper, type TestApp,
} from '#test/helpers/build-test-app.ts';

// Issue 3.7: a presence message proves which gateway sent it (MAC), that it is current (time window)
// and that it is new (sequence number) — each failure is counted under its own outcome, logged with
// the gateway and the reason only, and leaves nothing behind. Driven through createPresenceIngest
// over the real store, resolver, keys and sealer of a test app.

const GW1_TOPIC = topics.events('store-1', 'gw-1');

let t: TestApp;
let notified: PromotionRecord[];
let ingest: PresenceIngest;
let ada: RegisteredShopper;
let gw1Secret: Buffer;
let gw2Secret: Buffer;

const secretOf = (config: GatewayConfigFile): Buffer => Buffer.from(config.secret, 'base64url');

function ingestWith(options: { eventWindow?: Partial<EventWindow>; sealer?: Sealer } = {}): PresenceIngest {
  const delivery: Delivery = { notify: (promotion) => void notified.push(promotion), close: async () => undefined };
  return createPresenceIngest({
    store: t.deps.store, config: t.deps.config, resolver: t.deps.resolver, delivery, metrics: t.deps.metrics, logger: t.logs.logger.child({ component: 'ingest' }),
    now: t.deps.now, sealer: options.sealer ?? t.deps.sealer, experimentKey: t.deps.experimentKey, eventWindow: options.eventWindow,
  });
}

beforeEach(async () => {
  t = await buildTestApp();
  notified = [];
  ingest = ingestWith();
  gw1Secret = secretOf(await givenStoreWithGateway(t, { storeId: 'store-1', gatewayId: 'gw-1', zones: [{ id: 'entrance' }, { id: 'bakery' }] }));
  gw2Secret = secretOf(expectStatus<{ config: GatewayConfigFile }>(await provisionGateway(t, 'store-1', { id: 'gw-2', zoneId: 'bakery' }), 201).config);
  ada = await registerShopper(t.app, { firstName: 'Ada' });
  await grant(t.app, ada.token, { presence: true, promotions: true });
  expectStatus(await putCampaign(t, aCampaign({ storeId: 'store-1', zoneIds: ['entrance', 'bakery'], caps: generousCaps })), 200);
});
afterEach(async () => {
  await t.close();
});

const nowS = (): number => Math.floor(t.deps.now() / 1000);
const liveKey = () => t.deps.keys.liveKeys().find((k) => k.storeId === 'store-1')!;

/** What gw-1 publishes about Ada now, signed with gw-1's secret. */
const sighting = (overrides: Partial<UnsignedPresenceEvent> = {}, secret: Buffer = gw1Secret): PresenceEvent =>
  aPresenceEvent({
    storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', keyId: liveKey().keyId,
    pseudonym: pseudonymise(liveKey().key, 'eddystone-eid', ada.tokens.eidAt(nowS())), atS: nowS(), ...overrides,
  }, secret);

const send = (event: unknown, topic = GW1_TOPIC, to = ingest) => to.handle(topic, Buffer.from(JSON.stringify(event)));
const rejectionLines = () => t.logs.lines().filter((line) => line.msg === 'presence message rejected');

describe('presence message authentication', () => {
  let before: StoreCounts;
  beforeEach(async () => {
    before = await t.deps.store.counts();
  });

  async function expectNothingKept(): Promise<void> {
    expect(await t.deps.store.counts()).toEqual(before);
    expect(notified).toEqual([]);
  }

  it('accepts a message signed with its own gateway’s secret', async () => {
    expect(await send(sighting())).toBe('sent');
    expect(notified).toHaveLength(1);
  });

  it.each<[string, (event: PresenceEvent) => Partial<PresenceEvent>]>([
    ['a later time', (event) => ({ atS: event.atS + 1 })],
    ['another kind', () => ({ kind: 'exit' })],
    ['a longer dwell', () => ({ dwellS: 600 })],
    ['another proximity', () => ({ proximity: 'immediate' })],
    ['another pseudonym', () => ({ pseudonym: aPresenceEvent().pseudonym })],
    ['another key ID', () => ({ keyId: 'store-1-0' })],
    ['another event ID', () => ({ eventId: randomUUID() })],
    ['another sequence number', (event) => ({ seq: event.seq + 1 })],
    ['another boot ID', () => ({ boot: randomUUID() })],
  ])('rejects a message changed after signing (%s) as forged', async (_name, change) => {
    const event = sighting();
    expect(await send({ ...event, ...change(event) })).toBe('forged');
    await expectNothingKept();
    expect(await counterValue(t.deps.metrics.presence, { outcome: 'forged' })).toBe(1);
  });

  it('rejects a MAC made with a secret the gateway was never issued as forged', async () => {
    expect(await send(sighting({}, randomBytes(32)))).toBe('forged');
    await expectNothingKept();
  });

  it('rejects gw-2 publishing under gw-1’s ID, even with a MAC valid for gw-2, as forged', async () => {
    const claim = sighting();
    const asItself = signPresenceEvent(deriveEventMacKey(gw2Secret, 'gw-2'), claim);
    const asGw1 = signPresenceEvent(deriveEventMacKey(gw2Secret, 'gw-1'), claim);
    expect(await send(asItself)).toBe('forged');
    expect(await send(asGw1)).toBe('forged');
    await expectNothingKept();
    // The same secret signs for gw-2 itself, in its own zone, under its own topic.
    const own = aPresenceEvent({ ...claim, gatewayId: 'gw-2', zoneId: 'bakery', eventId: randomUUID() }, gw2Secret);
    expect(await send(own, topics.events('store-1', 'gw-2'))).toBe('sent');
  });

  it('accepts a message signed with a rotated secret at once, and refuses the old secret', async () => {
    expect(await send(sighting())).toBe('sent');
    const rotated = secretOf(expectStatus<{ config: GatewayConfigFile }>(await provisionGateway(t, 'store-1', { id: 'gw-1', zoneId: 'entrance', rotateSecret: true }), 201).config);
    expect(await send(sighting({}, gw1Secret))).toBe('forged');
    // Accepted: the shopper is in the zone already, so the zone arbiter enters nothing new.
    expect(await send(sighting({}, rotated))).toBe('no-campaign');
  });

  it('opens a gateway’s sealed secret once a minute, not once a message', async () => {
    let opened = 0;
    const counting: Sealer = { seal: t.deps.sealer.seal, open: (sealed, label) => { opened += 1; return t.deps.sealer.open(sealed, label); } };
    const cached = ingestWith({ sealer: counting });
    // The first enter sends; the next are accepted, the shopper being in the zone already (the zone arbiter).
    for (let i = 0; i < 5; i += 1) expect(await send(sighting(), GW1_TOPIC, cached)).toBe(i === 0 ? 'sent' : 'no-campaign');
    expect(opened).toBe(1);
    t.clock.advance(61 * SECOND_MS);
    expect(await send(sighting(), GW1_TOPIC, cached)).toBe('no-campaign');
    expect(opened).toBe(2);
  });

  it('names an unknown gateway before checking any MAC', async () => {
    const stranger = sighting({ gatewayId: 'gw-9' }, randomBytes(32));
    expect(await send(stranger, topics.events('store-1', 'gw-9'))).toBe('unknown-gateway');
  });
});

describe('presence message freshness', () => {
  it.each([
    ['120 s old', -120, 'sent'],
    ['121 s old: still presence, too late for a promotion', -121, 'too-late'],
    ['3,600 s old (an outbox after a broker outage)', -3_600, 'too-late'],
    ['3,601 s old', -3_601, 'stale'],
    ['30 s ahead', 30, 'sent'],
    ['31 s ahead', 31, 'stale'],
  ])('takes a message %s as %s by default', async (_name, offsetS, expected) => {
    const before = await t.deps.store.counts();
    expect(await send(sighting({ atS: nowS() + offsetS }))).toBe(expected);
    if (expected === 'stale') {
      expect(await t.deps.store.counts()).toEqual(before);
      expect(notified).toEqual([]);
    }
  });

  it('takes its window from the options', async () => {
    const strict = ingestWith({ eventWindow: { pastS: 10, futureS: 0 } });
    expect(await send(sighting({ atS: nowS() - 11 }), GW1_TOPIC, strict)).toBe('stale');
    expect(await send(sighting({ atS: nowS() + 1 }), GW1_TOPIC, strict)).toBe('stale');
    expect(await send(sighting({ atS: nowS() - 10 }), GW1_TOPIC, strict)).toBe('sent');
    expect(await counterValue(t.deps.metrics.presence, { outcome: 'stale' })).toBe(2);
  });

  it('calls a forged message forged, however old', async () => {
    const event = sighting({ atS: nowS() - 3_600 });
    expect(await send({ ...event, kind: 'exit' })).toBe('forged');
  });
});

describe('presence message replay', () => {
  it('rejects another event under a sequence number already accepted as replayed, sending nothing', async () => {
    const first = sighting();
    expect(await send(first)).toBe('sent');
    const before = await t.deps.store.counts();
    const again = sighting({ boot: first.boot, seq: first.seq, kind: 'exit', dwellS: 40 });
    expect(again.eventId).not.toBe(first.eventId);

    expect(await send(again)).toBe('replayed');
    expect(await t.deps.store.counts()).toEqual(before);
    expect(notified).toHaveLength(1);
    expect(await counterValue(t.deps.metrics.presence, { outcome: 'replayed' })).toBe(1);
  });

  it('still treats a redelivered message as a duplicate, here and on another instance after a restart', async () => {
    const payload = Buffer.from(JSON.stringify(sighting()));
    expect(await ingest.handle(GW1_TOPIC, payload)).toBe('sent');
    expect(await ingest.handle(GW1_TOPIC, payload)).toBe('duplicate');
    expect(await ingestWith().handle(GW1_TOPIC, payload)).toBe('duplicate');
    expect(await t.deps.store.counts()).toMatchObject({ presenceEvents: 1, promotions: 1 });
    expect(await counterValue(t.deps.metrics.presence, { outcome: 'replayed' })).toBe(0);
  });

  it('remembers a sequence number on another instance after a restart', async () => {
    const first = sighting();
    expect(await send(first)).toBe('sent');
    expect(await send(sighting({ boot: first.boot, seq: first.seq }), GW1_TOPIC, ingestWith())).toBe('replayed');
  });

  it('accepts seq 1 again from a gateway that rebooted under a new boot ID', async () => {
    const [boot, reboot] = [randomUUID(), randomUUID()];
    expect(await send(sighting({ boot, seq: 1 }))).toBe('sent');
    expect(await send(sighting({ boot: reboot, seq: 1, kind: 'exit', dwellS: 60 }))).toBe('no-campaign');
  });

  it('leaves the sequence number of a rejected message free for the genuine one', async () => {
    const genuine = sighting();
    expect(await send({ ...genuine, eventId: randomUUID() })).toBe('forged');
    expect(await send(sighting({ boot: genuine.boot, seq: genuine.seq, atS: nowS() - 4_000 }))).toBe('stale');
    expect(await send(genuine)).toBe('sent');
  });

  it('claims no sequence number for a pseudonym that does not resolve: it leaves no row (ID-2)', async () => {
    const unresolved = sighting({ pseudonym: aPresenceEvent().pseudonym });
    expect(await send(unresolved)).toBe('unresolved');
    expect(await t.deps.store.acceptSequence('gw-1', unresolved.boot, unresolved.seq, randomUUID(), t.deps.now())).toBe('new');
  });
});

describe('logging rejections', () => {
  it('logs each with the gateway and the reason only: no payload, pseudonym, MAC or IDs', async () => {
    const accepted = sighting();
    expect(await send(accepted)).toBe('sent');
    const forged = { ...sighting(), dwellS: 5 };
    const stale = sighting({ atS: nowS() - 3_601 });
    const replayed = sighting({ boot: accepted.boot, seq: accepted.seq });
    t.logs.clear();

    expect(await send(forged)).toBe('forged');
    expect(await send(stale)).toBe('stale');
    expect(await send(replayed)).toBe('replayed');

    const lines = rejectionLines();
    expect(lines.map((line) => [line.gatewayId, line.reason])).toEqual([['gw-1', 'forged'], ['gw-1', 'stale'], ['gw-1', 'replayed']]);
    for (const line of lines) expect(Object.keys(line).sort()).toEqual(['component', 'gatewayId', 'hostname', 'level', 'msg', 'pid', 'reason', 'time']);
    const text = t.logs.text();
    for (const event of [forged, stale, replayed]) {
      for (const value of [event.pseudonym, event.tag, event.eventId, event.boot, event.keyId]) expect(text).not.toContain(value);
    }
  });
});
