import type { MqttClient } from 'mqtt';

// Pipelined acknowledgements for one MQTT.js connection. MQTT.js hands a QoS 1 message to handleMessage
// and reads the connection's next packet only once the PUBACK is sent, which it does when handleMessage
// calls back — so a subscriber that acknowledges after handling (at-least-once: a message whose handling
// a crash cut short is redelivered) has one message in flight per connection, and the time of a round
// trip to the database bounds its rate.
//
// Here handleMessage calls back at once, but the PUBACK that MQTT.js then sends is held back until the
// message has been handled; MQTT.js goes on reading meanwhile. Up to `maxInFlight` messages are handled at
// once (beyond that the callback waits, and MQTT.js reads nothing more: TCP backpressure). PUBACKs leave in
// the order the messages arrived, as MQTT requires ([MQTT-4.6.0-2]): a message's ack waits for every
// earlier one. An ack held when the connection drops is never sent — on that connection or a later one —
// and the broker redelivers the message, whose handling is idempotent. MQTT 5 brokers are told the same
// limit (Receive Maximum), so they send no more unacknowledged messages than that.
//
// It relies on MQTT.js sending the PUBACK through the client's `_sendPacket` (MQTT.js 5, handlers/publish.ts);
// test/integration/server/ack-pipeline.test.ts fails if that changes.

type SendPacket = (packet: { cmd: string; messageId?: number }, cb?: (error?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;

export type AckPipeline = {
  /**
   * Called from handleMessage for a QoS 1 message: `handled` settles once it may be acknowledged;
   * `callback` is handleMessage's, called as soon as another message may be read.
   */
  track(messageId: number, handled: Promise<void>, callback: () => void): void;
  /** Messages being handled now. */
  inFlight(): number;
};

export function pipelineAcks(client: MqttClient, maxInFlight: number): AckPipeline {
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a whole number of at least 1, not ${maxInFlight}`);
  const internals = client as unknown as { _sendPacket: SendPacket };
  const send = internals._sendPacket.bind(client);
  /** Messages handled or being handled whose PUBACK MQTT.js has not asked to send yet. */
  const handling = new Map<number, Promise<void>>();
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  /** The previous PUBACK's turn: each waits for the one before it. */
  let tail: Promise<void> = Promise.resolve();
  /** Bumped on every (re)connect: acks held for an earlier connection are dropped. */
  let connection = 0;
  client.on('connect', () => {
    connection += 1;
  });

  internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
    const handled = packet.cmd === 'puback' && packet.messageId !== undefined ? handling.get(packet.messageId) : undefined;
    if (handled === undefined) {
      send(packet, cb, cbStorePut, noStore);
      return;
    }
    handling.delete(packet.messageId!);
    const heldFor = connection;
    // A handling that failed (the ingress retries and settles, so this is a bug's path) leaves its message
    // unacknowledged, for the broker to redeliver; the acks after it still go.
    tail = tail.then(() => handled).then(
      () => {
        if (client.connected && heldFor === connection) send(packet);
      },
      () => undefined,
    );
    // MQTT.js reads the next packet now; the PUBACK goes when its turn comes.
    cb?.();
  };

  return {
    track(messageId, handled, callback) {
      inFlight += 1;
      handling.set(messageId, handled);
      const settled = (): void => {
        inFlight -= 1;
        waiting.shift()?.();
      };
      handled.then(settled, settled);
      if (inFlight <= maxInFlight) callback();
      else waiting.push(callback);
    },
    inFlight: () => inFlight,
  };
}
