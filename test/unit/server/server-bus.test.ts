import { describe, expect, it } from 'vitest';
import { createServerBus, type BusMessage } from '#server/server-bus.ts';

// The servers' own channel (server/server-bus.ts): two buses wired to one in-memory topic, as two instances
// subscribed to the bus topic are — each also hears what it published itself.

function twoInstances() {
  const heard = { a: [] as BusMessage[], b: [] as BusMessage[] };
  const wire: { a?: ReturnType<typeof createServerBus>; b?: ReturnType<typeof createServerBus> } = {};
  const deliveries: Promise<unknown>[] = [];
  const publish = async (_topic: string, payload: string): Promise<void> => {
    for (const bus of [wire.a!, wire.b!]) deliveries.push(bus.handle(Buffer.from(payload)));
  };
  const onError = (error: Error): void => {
    throw error;
  };
  wire.a = createServerBus({ publish, onError, onMessage: async (m) => void heard.a.push(m) });
  wire.b = createServerBus({ publish, onError, onMessage: async (m) => void heard.b.push(m) });
  return { a: wire.a, b: wire.b, heard, settled: () => Promise.all(deliveries) };
}

describe('the server bus', () => {
  it('hands a promotion to every other instance and skips the announcing one\'s own echo', async () => {
    const { a, heard, settled } = twoInstances();
    a.announce({ type: 'promotion', id: 'pr_0123456789abcdef', shopperId: `sh_${'a'.repeat(32)}` });
    expect(await settled()).toEqual([true, true]);
    expect(heard.a).toEqual([]);
    expect(heard.b).toEqual([{ type: 'promotion', id: 'pr_0123456789abcdef', shopperId: `sh_${'a'.repeat(32)}`, from: expect.stringMatching(/^[0-9a-f]{16}$/) }]);
  });

  it('hands consent, key and beacon changes to every instance, the announcing one included', async () => {
    const { a, heard, settled } = twoInstances();
    const messages: BusMessage[] = [{ type: 'shopper', id: `sh_${'b'.repeat(32)}` }, { type: 'keys' }, { type: 'beacons' }];
    for (const message of messages) a.announce(message);
    await settled();
    expect(heard.a).toEqual(messages);
    expect(heard.b).toEqual(messages);
  });

  it('accepts a promotion without an origin (an instance of an earlier version) and ignores malformed payloads', async () => {
    const { a, heard } = twoInstances();
    expect(await a.handle(Buffer.from(JSON.stringify({ type: 'promotion', id: 'pr_0123456789abcdef' })))).toBe(true);
    expect(await a.handle(Buffer.from('{"type":"promotion","id":"pr_0123456789abcdef","from":"not-hex"}'))).toBe(false);
    expect(await a.handle(Buffer.from('not json'))).toBe(false);
    expect(heard.a).toEqual([{ type: 'promotion', id: 'pr_0123456789abcdef' }]);
  });
});
