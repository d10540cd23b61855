import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectMqttIngress } from '#server/ingest/mqtt-ingress.ts';

// The ingress's pipelined acknowledgements (server/ingest/ack-pipeline.ts) against a real broker (aedes,
// whose 'ack' event shows each PUBACK the subscriber sends): several messages of one connection are handled
// at once, none is acknowledged before its handling ends, the acknowledgements leave in arrival order, at
// most maxInFlight are handled at once, and a PUBACK held when the connection drops is never sent — the
// broker redelivers the message instead. If MQTT.js stops sending PUBACKs through `_sendPacket`, these fail.

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const TOPIC = 'vicino/v1/stores/s1/gateways/g1/events';

type Observed = { url: string; acked: string[]; sockets: Set<Socket> };

async function startObservedBroker(): Promise<Observed> {
  const broker = await Aedes.createBroker();
  const acked: string[] = [];
  broker.on('ack', (packet) => {
    // aedes reports the message acknowledged (it keeps it only for a persistent session: the tests' clients have one).
    if (packet !== undefined && packet !== null && 'payload' in packet && packet.payload !== undefined) acked.push(String(packet.payload));
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  });
  return { url: `mqtt://127.0.0.1:${port}`, acked, sockets };
}

/** A handler whose messages each finish only when the test says so (a message handled twice, the oldest first). */
function heldHandler() {
  const started: string[] = [];
  const releases = new Map<string, (() => void)[]>();
  return {
    started,
    release: (message: string) => releases.get(message)!.shift()!(),
    handle: (_topic: string, payload: Buffer): Promise<void> => {
      const message = String(payload);
      started.push(message);
      return new Promise<void>((resolve) => releases.set(message, [...(releases.get(message) ?? []), resolve]));
    },
  };
}

/** Every delivery in a lane of its own, so a redelivery is handled while the first delivery still is. */
let deliveries = 0;
const laneOfItsOwn = (): string => `delivery-${(deliveries += 1)}`;

async function publishAll(url: string, payloads: string[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
  for (const payload of payloads) await client.publishAsync(TOPIC, payload, { qos: 1 });
  await client.endAsync();
}

describe('pipelined acknowledgements (MQTT ingress)', () => {
  it('handles several messages of one connection at once, and acknowledges each only after it is handled, in arrival order', async () => {
    const broker = await startObservedBroker();
    const handler = heldHandler();
    const ingress = await connectMqttIngress({ url: broker.url, logger: silent, clientId: 'vicino-server-order-test', maxInFlight: 8, orderKey: (_t, p) => String(p), handle: handler.handle });
    cleanups.push(() => ingress.close());
    await publishAll(broker.url, ['m1', 'm2', 'm3', 'm4']);
    // All four are being handled at once: one connection, no ack yet.
    await vi.waitFor(() => expect(handler.started).toEqual(['m1', 'm2', 'm3', 'm4']), { timeout: 5_000 });
    expect(broker.acked).toEqual([]);

    // The later ones finish first: nothing is acknowledged while m1 is still being handled.
    handler.release('m4');
    handler.release('m2');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(broker.acked).toEqual([]);
    handler.release('m1');
    await vi.waitFor(() => expect(broker.acked).toEqual(['m1', 'm2']), { timeout: 5_000 });
    handler.release('m3');
    await vi.waitFor(() => expect(broker.acked).toEqual(['m1', 'm2', 'm3', 'm4']), { timeout: 5_000 });
  });

  it('handles at most maxInFlight at once and reads the rest as they finish', async () => {
    const broker = await startObservedBroker();
    const handler = heldHandler();
    const ingress = await connectMqttIngress({ url: broker.url, logger: silent, clientId: 'vicino-server-limit-test', maxInFlight: 2, orderKey: (_t, p) => String(p), handle: handler.handle });
    cleanups.push(() => ingress.close());
    await publishAll(broker.url, ['m1', 'm2', 'm3', 'm4', 'm5']);
    await vi.waitFor(() => expect(handler.started.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Two handled, a third read and waiting for its turn to be acknowledged; no more read.
    expect(handler.started.length).toBeLessThanOrEqual(3);
    for (const message of ['m1', 'm2', 'm3', 'm4', 'm5']) {
      await vi.waitFor(() => expect(handler.started).toContain(message), { timeout: 5_000 });
      handler.release(message);
    }
    await vi.waitFor(() => expect(broker.acked).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']), { timeout: 5_000 });
  });

  it('never sends an acknowledgement held when the connection dropped: the broker redelivers the message', async () => {
    const broker = await startObservedBroker();
    const handler = heldHandler();
    const ingress = await connectMqttIngress({
      url: broker.url, logger: silent, clientId: 'vicino-server-pipeline-test', maxInFlight: 8, orderKey: laneOfItsOwn, handle: handler.handle,
    });
    cleanups.push(() => ingress.close());
    await publishAll(broker.url, ['m1', 'm2']);
    await vi.waitFor(() => expect(handler.started).toEqual(['m1', 'm2']), { timeout: 5_000 });
    handler.release('m1');
    await vi.waitFor(() => expect(broker.acked).toEqual(['m1']), { timeout: 5_000 });

    // The connection drops while m2 is being handled; the client reconnects to its persistent session.
    for (const socket of broker.sockets) socket.destroy();
    await vi.waitFor(() => expect(handler.started.filter((m) => m === 'm2')).toHaveLength(2), { timeout: 10_000 });
    // The first handling ends now: its ack was for the dropped connection and is not sent.
    handler.release('m2');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(broker.acked).toEqual(['m1']);
    // The redelivery's own handling acknowledges it.
    handler.release('m2');
    await vi.waitFor(() => expect(broker.acked).toEqual(['m1', 'm2']), { timeout: 5_000 });
  });
});
