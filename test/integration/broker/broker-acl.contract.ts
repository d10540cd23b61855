import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { topics } from '#gateway/protocol/index.ts';
import { SERVER_BUS_TOPIC } from '#server/server-bus.ts';

// SEC-1 as one table of cases, run against every broker Vicino ships a configuration for — the
// embedded aedes with server/broker/broker-access.ts, and Mosquitto with server/broker/mosquitto/ —
// through real MQTT.js clients. A gateway logs in with the credentials derived from its secret.
//
// The brokers refuse differently on the wire, and the table asserts only what matters: nothing a
// gateway may not send reaches anyone, and nothing it may not read reaches it. (aedes refuses a
// SUBSCRIBE with 0x80, closes a connection that publishes where it may not, and refuses a CONNECT
// whose will names another gateway; Mosquitto 2.0 grants the SUBSCRIBE but delivers nothing the
// read ACL forbids, acknowledges and drops the PUBLISH, and drops the will.)
//
// "Never receives" is shown without sleeping: after the attempt, the server publishes a sentinel,
// and the broker delivers in order, so once the sentinel is in, anything forwarded would be too.

/** A login; gateways' and servers' carry the client ID they connect with (gatewayClientId, vicino-server-…). */
export type Login = { username: string; password: string; clientId?: string };
export type GatewayLogin = Login & { storeId: string; gatewayId: string };

export type AclBroker = {
  /** Where gateways connect. */
  url: string;
  /** Where servers connect, when not at `url` (Mosquitto gives them a listener of their own). */
  serverUrl?: string;
  /** Extra client options every login needs (the CA, for TLS). */
  clientOptions?: IClientOptions;
  /** Two gateways the broker knows, in the same store. */
  gatewayA: GatewayLogin;
  gatewayB: GatewayLogin;
  server: Login;
  close(): Promise<void>;
};

/** The SUBACK return codes: the granted QoS per filter, or 0x80 where refused (MQTT.js rejects on any 0x80). */
export async function subackCodes(client: MqttClient, filters: string | string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((grant) => grant.qos);
  } catch (error) {
    const granted = (error as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted === undefined) throw error;
    return granted;
  }
}

export function describeBrokerAcl(name: string, start: () => Promise<AclBroker>): void {
  describe(`broker access control (SEC-1): ${name}`, () => {
    let broker: AclBroker;
    const clients: MqttClient[] = [];
    beforeAll(async () => {
      broker = await start();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
    });
    afterAll(async () => {
      await broker?.close();
    });

    const connectAs = async (login: Partial<Login>, extra: IClientOptions = {}, url = broker.url): Promise<MqttClient> => {
      const client = await mqtt.connectAsync(url, { ...broker.clientOptions, ...login, clean: true, reconnectPeriod: 0, connectTimeout: 5_000, ...extra });
      clients.push(client);
      return client;
    };

    type Received = { topic: string; payload: string };
    /** The server's view of the whole namespace, as server instances have it. */
    const serverWatching = async (): Promise<{ server: MqttClient; received: Received[]; barrier(): Promise<void> }> => {
      const server = await connectAs(broker.server, { clientId: `vicino-server-${randomUUID().slice(0, 8)}` }, broker.serverUrl ?? broker.url);
      const received: Received[] = [];
      server.on('message', (topic, payload) => received.push({ topic, payload: String(payload) }));
      await server.subscribeAsync('vicino/v1/#', { qos: 1 });
      return {
        server,
        received,
        async barrier() {
          const sentinel = randomUUID();
          await server.publishAsync(SERVER_BUS_TOPIC, sentinel, { qos: 1 });
          await vi.waitFor(() => expect(received).toContainEqual({ topic: SERVER_BUS_TOPIC, payload: sentinel }), { timeout: 5_000 });
        },
      };
    };

    /** A QoS 1 publish that either is acknowledged or gets the connection closed (aedes' refusal). */
    const attemptPublish = async (client: MqttClient, topic: string, payload: string): Promise<void> => {
      await Promise.race([client.publishAsync(topic, payload, { qos: 1 }).catch(() => undefined), new Promise<void>((resolve) => client.once('close', () => resolve()))]);
    };

    it('lets a gateway publish its own events, status and occupancy, and the server receives them', async () => {
      const A = broker.gatewayA;
      const watch = await serverWatching();
      const gateway = await connectAs(A);
      const marker = randomUUID();
      await gateway.publishAsync(topics.events(A.storeId, A.gatewayId), `event ${marker}`, { qos: 1 });
      await gateway.publishAsync(topics.status(A.storeId, A.gatewayId), `status ${marker}`, { qos: 1 });
      await gateway.publishAsync(topics.occupancy(A.storeId, A.gatewayId), `occupancy ${marker}`, { qos: 1 });
      await vi.waitFor(() => expect(watch.received).toEqual(expect.arrayContaining([
        { topic: topics.events(A.storeId, A.gatewayId), payload: `event ${marker}` },
        { topic: topics.status(A.storeId, A.gatewayId), payload: `status ${marker}` },
        { topic: topics.occupancy(A.storeId, A.gatewayId), payload: `occupancy ${marker}` },
      ])), { timeout: 5_000 });
    });

    it.each([
      ["gateway B's events", (_a: GatewayLogin, b: GatewayLogin) => topics.events(b.storeId, b.gatewayId)],
      ["gateway B's status", (_a: GatewayLogin, b: GatewayLogin) => topics.status(b.storeId, b.gatewayId)],
      ["gateway B's occupancy", (_a: GatewayLogin, b: GatewayLogin) => topics.occupancy(b.storeId, b.gatewayId)],
      ["gateway B's config", (_a: GatewayLogin, b: GatewayLogin) => topics.config(b.storeId, b.gatewayId)],
      ['its own gateway ID under another store', (a: GatewayLogin) => topics.events(`${a.storeId}-elsewhere`, a.gatewayId)],
      ['its own status under another store', (a: GatewayLogin) => topics.status(`${a.storeId}-elsewhere`, a.gatewayId)],
      ['its own config (only servers write configs)', (a: GatewayLogin) => topics.config(a.storeId, a.gatewayId)],
      ['the server bus', () => SERVER_BUS_TOPIC],
    ])('keeps gateway A from publishing to %s: the server never receives it', async (_name, topicFor) => {
      const topic = topicFor(broker.gatewayA, broker.gatewayB);
      const watch = await serverWatching();
      const gateway = await connectAs(broker.gatewayA);
      const forged = `forged ${randomUUID()}`;
      await attemptPublish(gateway, topic, forged);
      await watch.barrier();
      expect(watch.received.filter((m) => m.payload === forged)).toEqual([]);
    });

    it('lets a gateway read its own retained config', async () => {
      const A = broker.gatewayA;
      const config = `config for A ${randomUUID()}`;
      const { server } = await serverWatching();
      await server.publishAsync(topics.config(A.storeId, A.gatewayId), config, { qos: 1, retain: true });
      const gateway = await connectAs(A);
      const received: Received[] = [];
      gateway.on('message', (topic, payload) => received.push({ topic, payload: String(payload) }));
      await gateway.subscribeAsync(topics.config(A.storeId, A.gatewayId), { qos: 1 });
      await vi.waitFor(() => expect(received).toContainEqual({ topic: topics.config(A.storeId, A.gatewayId), payload: config }), { timeout: 5_000 });
    });

    it("keeps gateway A from reading gateway B's retained config — by name, by wildcard or by #", async () => {
      const { gatewayA: A, gatewayB: B } = broker;
      const configB = `config for B ${randomUUID()}`;
      const { server } = await serverWatching();
      await server.publishAsync(topics.config(B.storeId, B.gatewayId), configB, { qos: 1, retain: true });
      const gateway = await connectAs(A);
      const received: Received[] = [];
      gateway.on('message', (topic, payload) => received.push({ topic, payload: String(payload) }));
      for (const filter of [topics.config(B.storeId, B.gatewayId), `vicino/v1/stores/${B.storeId}/gateways/+/config`, 'vicino/v1/#', '#']) {
        await subackCodes(gateway, filter);
      }
      expect(await subackCodes(gateway, topics.config(A.storeId, A.gatewayId))).toEqual([1]);
      // Barrier: a live message on A's own config arrives after anything the subscriptions above let through.
      const sentinel = `sentinel ${randomUUID()}`;
      await server.publishAsync(topics.config(A.storeId, A.gatewayId), sentinel, { qos: 1 });
      await vi.waitFor(() => expect(received.map((m) => m.payload)).toContain(sentinel), { timeout: 5_000 });
      expect(received.filter((m) => m.topic !== topics.config(A.storeId, A.gatewayId))).toEqual([]);
      expect(received.map((m) => m.payload)).not.toContain(configB);
    });

    it("does not let gateway A's will speak for gateway B, while its own will goes out when it drops", async () => {
      const { gatewayA: A, gatewayB: B } = broker;
      const watch = await serverWatching();
      const forged = `forged will ${randomUUID()}`;
      const own = `own will ${randomUUID()}`;
      const dropWithWill = async (topic: string, payload: string): Promise<void> => {
        const client = await connectAs(A, { will: { topic, payload: Buffer.from(payload), qos: 1, retain: false } })
          .catch(() => undefined); // aedes refuses this CONNECT outright
        // A broken connection, not a DISCONNECT: the broker publishes the will [MQTT-3.1.2-8].
        client?.stream.destroy();
      };
      await dropWithWill(topics.status(B.storeId, B.gatewayId), forged);
      await dropWithWill(topics.status(A.storeId, A.gatewayId), own);
      await vi.waitFor(() => expect(watch.received).toContainEqual({ topic: topics.status(A.storeId, A.gatewayId), payload: own }), { timeout: 5_000 });
      await watch.barrier();
      expect(watch.received.filter((m) => m.payload === forged)).toEqual([]);
    });

    /** Whether a connected client still is: a message published to a topic it reads comes through. */
    const stillConnected = async (client: MqttClient, topic: string, server: MqttClient): Promise<void> => {
      const sentinel = `still here ${randomUUID()}`;
      const got = new Promise<void>((resolve) => client.on('message', (_t, payload) => String(payload) === sentinel && resolve()));
      await client.subscribeAsync(topic, { qos: 1 });
      await server.publishAsync(topic, sentinel, { qos: 1 });
      await vi.waitFor(async () => {
        expect(client.connected).toBe(true);
        await got;
      }, { timeout: 5_000 });
    };

    it("keeps gateway A from taking over gateway B's session by connecting with B's client ID", async () => {
      const { gatewayA: A, gatewayB: B } = broker;
      const { server } = await serverWatching();
      const gatewayB = await connectAs(B);
      let bClosed = false;
      gatewayB.on('close', () => (bClosed = true));
      // aedes refuses this CONNECT; Mosquitto's gateway listener replaces the client ID with A's login.
      await connectAs(A, { clientId: B.clientId }).catch(() => undefined);
      await stillConnected(gatewayB, topics.config(B.storeId, B.gatewayId), server);
      expect(bClosed).toBe(false);
    });

    it("keeps a gateway from taking over a server's session by connecting with its client ID", async () => {
      const { server, received, barrier } = await serverWatching();
      let serverClosed = false;
      server.on('close', () => (serverClosed = true));
      await connectAs(broker.gatewayA, { clientId: server.options.clientId }).catch(() => undefined);
      await barrier();
      expect(server.connected).toBe(true);
      expect(serverClosed).toBe(false);
      expect(received.length).toBeGreaterThan(0);
    });

    it.each([
      ['a wrong password', (a: GatewayLogin) => ({ username: a.username, password: `${a.password}x` })],
      ["gateway B's password for gateway A", (a: GatewayLogin, b: GatewayLogin) => ({ username: a.username, password: b.password })],
      ['an unknown gateway', (a: GatewayLogin) => ({ username: 'gw-nobody', password: a.password })],
      ['the server name with a gateway password', (a: GatewayLogin) => ({ username: 'vicino-server', password: a.password })],
      ['no credentials at all', () => ({})],
    ])('refuses %s with CONNACK "not authorized"', async (_name, loginFor) => {
      await expect(connectAs(loginFor(broker.gatewayA, broker.gatewayB))).rejects.toMatchObject({ code: 5 });
    });
  });
}
