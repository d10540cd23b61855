import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gatewayClientId, gatewayMqttCredentials, topics } from '#gateway/protocol/index.ts';
import { createStoreBrokerAccess, SERVER_MQTT_USERNAME } from '#server/broker/broker-access.ts';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { createSealer, type Sealer } from '#server/domain/sealing.ts';
import { counterValue, createMetrics, type Metrics } from '#server/metrics.ts';
import { openSqliteStore } from '#server/store/sqlite-store.ts';
import type { Store } from '#server/store/store.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { describeBrokerAcl, subackCodes, type AclBroker, type GatewayLogin } from './broker-acl.contract.ts';

// The embedded aedes broker with access control over a real (in-memory SQLite) Store: the gateways'
// logins are checked against their sealed secrets, as in the demo.

const STORE_ID = 'shop-1';

/** Provisions gateways as the admin API does — a random secret, sealed — and returns their derived logins. */
async function givenGateways(store: Store, sealer: Sealer, ids: readonly string[]): Promise<GatewayLogin[]> {
  await store.upsertStore({ id: STORE_ID, name: 'Shop 1', timezone: 'UTC' });
  await store.upsertZone({ storeId: STORE_ID, id: 'entrance', name: 'Entrance', sensitive: false });
  const logins: GatewayLogin[] = [];
  for (const id of ids) {
    const secret = randomBytes(32);
    await store.upsertGateway({ id, storeId: STORE_ID, zoneId: 'entrance', secretSealed: sealer.seal(secret, `gateway-secret:${id}`) }, true);
    logins.push({ storeId: STORE_ID, gatewayId: id, clientId: gatewayClientId(id), ...gatewayMqttCredentials(id, secret) });
  }
  return logins;
}

type AedesWithAccess = AclBroker & { store: Store; sealer: Sealer };

async function startAedesWithAccess(options: { logger?: Logger; metrics?: Metrics } = {}): Promise<AedesWithAccess> {
  const store = openSqliteStore(':memory:');
  const sealer = createSealer(randomBytes(32));
  const [gatewayA, gatewayB] = (await givenGateways(store, sealer, ['gw-a', 'gw-b'])) as [GatewayLogin, GatewayLogin];
  const server = { username: SERVER_MQTT_USERNAME, password: randomBytes(24).toString('base64url') };
  const broker = await startEmbeddedBroker({
    port: 0, logger: options.logger ?? pino({ level: 'silent' }),
    access: createStoreBrokerAccess({ store, sealer, serverPassword: server.password, metrics: options.metrics }),
  });
  return {
    url: broker.url, gatewayA, gatewayB, server, store, sealer,
    async close() {
      await broker.close();
      await store.close();
    },
  };
}

describeBrokerAcl('embedded aedes, server/broker/broker-access.ts over SQLite', () => startAedesWithAccess());

describe('embedded broker access control, beyond the shared table', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  const started = async (options: Parameters<typeof startAedesWithAccess>[0] = {}): Promise<AedesWithAccess> => {
    const broker = await startAedesWithAccess(options);
    cleanups.push(() => broker.close());
    return broker;
  };
  const connect = async (url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0, ...options });
    cleanups.push(() => client.endAsync(true));
    return client;
  };

  it('closes the connection of a gateway that publishes under another store, even with its own gateway ID', async () => {
    const broker = await started();
    const { gatewayA: A } = broker;
    const gateway = await connect(broker.url, A);
    const closed = new Promise<void>((resolve) => gateway.once('close', () => resolve()));
    gateway.publish(topics.events('shop-2', A.gatewayId), 'elsewhere', { qos: 1 });
    await expect(closed).resolves.toBeUndefined();
  });

  it('answers a forbidden SUBSCRIBE with 0x80 and keeps the connection', async () => {
    const broker = await started();
    const { gatewayA: A, gatewayB: B } = broker;
    const gateway = await connect(broker.url, A);
    expect(await subackCodes(gateway, [topics.config(B.storeId, B.gatewayId), topics.config(A.storeId, A.gatewayId)])).toEqual([128, 1]);
    expect(gateway.connected).toBe(true);
  });

  it('refuses a CONNECT whose will names another gateway', async () => {
    const broker = await started();
    const { gatewayA: A, gatewayB: B } = broker;
    const will = { topic: topics.status(B.storeId, B.gatewayId), payload: Buffer.from('{"online":false}'), qos: 1 as const, retain: true };
    await expect(connect(broker.url, { ...A, will })).rejects.toMatchObject({ code: 5 });
  });

  it('counts each refusal by reason, and never logs a password', async () => {
    const metrics = createMetrics();
    const sink = createLogSink();
    const broker = await started({ metrics, logger: sink.logger });
    const { gatewayA: A, gatewayB: B } = broker;
    await expect(connect(broker.url, { username: A.username, password: B.password })).rejects.toMatchObject({ code: 5 });
    // A password typed into the username field is not logged either.
    await expect(connect(broker.url, { username: A.password, password: A.password })).rejects.toMatchObject({ code: 5 });
    await expect(connect(broker.url, { ...A, will: { topic: topics.status(B.storeId, B.gatewayId), payload: Buffer.from('x'), qos: 1, retain: false } })).rejects.toMatchObject({ code: 5 });
    const gateway = await connect(broker.url, A);
    expect(await subackCodes(gateway, topics.config(B.storeId, B.gatewayId))).toEqual([128]);
    const closed = new Promise<void>((resolve) => gateway.once('close', () => resolve()));
    gateway.publish(topics.events(B.storeId, B.gatewayId), 'forged', { qos: 1 });
    await closed;

    await vi.waitFor(async () => expect(await counterValue(metrics.brokerRefusals, { reason: 'publish' })).toBe(1));
    expect(await counterValue(metrics.brokerRefusals, { reason: 'credentials' })).toBe(2);
    expect(await counterValue(metrics.brokerRefusals, { reason: 'will' })).toBe(1);
    expect(await counterValue(metrics.brokerRefusals, { reason: 'subscribe' })).toBe(1);
    const refusals = sink.lines().filter((line) => line.msg === 'mqtt access refused');
    expect(refusals.map((line) => line.reason)).toEqual(['credentials', 'credentials', 'will', 'subscribe', 'publish']);
    expect(refusals[1]).toMatchObject({ username: '(not an ID)' });
    for (const password of [A.password, B.password]) expect(sink.text()).not.toContain(password);
  });

  it('stops accepting the old password once the gateway secret is rotated', async () => {
    const broker = await started();
    const old = broker.gatewayA;
    const secret = randomBytes(32);
    await broker.store.upsertGateway({ id: old.gatewayId, storeId: old.storeId, zoneId: 'entrance', secretSealed: broker.sealer.seal(secret, `gateway-secret:${old.gatewayId}`) }, true);
    await expect(connect(broker.url, old)).rejects.toMatchObject({ code: 5 });
    await expect(connect(broker.url, { ...gatewayMqttCredentials(old.gatewayId, secret), clientId: gatewayClientId(old.gatewayId) })).resolves.toMatchObject({ connected: true });
  });

  it('refuses a gateway under any client ID but its own with CONNACK "identifier rejected", counts it, and logs no client ID', async () => {
    const metrics = createMetrics();
    const sink = createLogSink();
    const broker = await started({ metrics, logger: sink.logger });
    const { gatewayA: A } = broker;
    for (const clientId of ['mqttjs_0123abcd', 'vicino-server-1', `${A.gatewayId}-2`]) {
      await expect(connect(broker.url, { ...A, clientId })).rejects.toMatchObject({ code: 2 });
    }
    await vi.waitFor(async () => expect(await counterValue(metrics.brokerRefusals, { reason: 'client-id' })).toBe(3));
    expect(sink.text()).not.toContain('mqttjs_0123abcd');
    await expect(connect(broker.url, A)).resolves.toMatchObject({ connected: true });
  });

  it('lets anyone do anything when started without access, for tests that do not care', async () => {
    const broker = await startEmbeddedBroker({ port: 0, logger: pino({ level: 'silent' }) });
    cleanups.push(() => broker.close());
    const client = await connect(broker.url);
    expect(await subackCodes(client, '#')).toEqual([1]);
  });
});
