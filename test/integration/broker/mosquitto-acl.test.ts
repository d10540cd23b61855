import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { gatewayClientId, gatewayMqttCredentials } from '#gateway/protocol/index.ts';
import { SERVER_MQTT_USERNAME } from '#server/broker/broker-access.ts';
import { MOSQUITTO_DIR, startMosquitto, type TestMosquitto } from '#test/helpers/start-mosquitto.ts';
import { describeBrokerAcl, subackCodes, type GatewayLogin } from './broker-acl.contract.ts';

// A real Mosquitto run from the shipped server/broker/mosquitto/ files (test CA, password file,
// acl, mosquitto.conf with temp paths and free ports) — its own process, never the machine's broker.
// Every case of the shared table runs over TLS, verified against the throwaway CA.

const STORE_ID = 'shop-1';
const aGateway = (gatewayId: string): GatewayLogin => ({ storeId: STORE_ID, gatewayId, clientId: gatewayClientId(gatewayId), ...gatewayMqttCredentials(gatewayId, randomBytes(32)) });

describeBrokerAcl('Mosquitto with the shipped mosquitto.conf and acl, over TLS', async () => {
  const gatewayA = aGateway('gw-a');
  const gatewayB = aGateway('gw-b');
  const server = { username: SERVER_MQTT_USERNAME, password: randomBytes(24).toString('base64url') };
  const mosquitto = await startMosquitto({ gateways: [gatewayA, gatewayB], servers: { [server.username]: server.password } });
  return {
    url: mosquitto.gatewayUrl, serverUrl: mosquitto.serverUrl, clientOptions: { ca: mosquitto.ca }, gatewayA, gatewayB, server,
    close: () => mosquitto.close(),
  };
});

describe('Mosquitto with the shipped configuration: TLS and the health listener', () => {
  const gatewayA = aGateway('gw-a');
  let mosquitto: TestMosquitto;
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    mosquitto = await startMosquitto({ gateways: [gatewayA] });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  });
  afterAll(async () => {
    await mosquitto?.close();
  });
  const connect = async (url: string, options: mqtt.IClientOptions): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    clients.push(client);
    return client;
  };

  it('serves TLS with a certificate for 127.0.0.1 that the test CA verifies', async () => {
    const client = await connect(mosquitto.gatewayUrl, { ...gatewayA, ca: mosquitto.ca });
    expect(client.connected).toBe(true);
  });

  it('fails certificate verification for a client that does not trust the CA', async () => {
    await expect(connect(mosquitto.gatewayUrl, gatewayA)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('does not speak plain MQTT on the TLS port', async () => {
    await expect(connect(mosquitto.gatewayUrl.replace('mqtts:', 'mqtt:'), { ...gatewayA, connectTimeout: 2_000 })).rejects.toThrow();
  });

  it('lets anonymous clients on the loopback health listener read the uptime and nothing under vicino/v1/', async () => {
    const health = await connect(mosquitto.plainUrl, {});
    const topicsSeen: string[] = [];
    health.on('message', (topic) => topicsSeen.push(topic));
    await subackCodes(health, 'vicino/v1/#');
    await subackCodes(health, '$SYS/broker/uptime');
    await vi.waitFor(() => expect(topicsSeen).toContain('$SYS/broker/uptime'), { timeout: 15_000 });
    expect(topicsSeen.filter((topic) => topic.startsWith('vicino/'))).toEqual([]);
  });

  it("refuses a gateway's login on the servers' listener, where client IDs are not tied to logins", async () => {
    await expect(connect(mosquitto.serverUrl, { ...gatewayA, ca: mosquitto.ca })).rejects.toMatchObject({ code: 5 });
  });

  it('refuses anonymous clients on the TLS listener', async () => {
    await expect(connect(mosquitto.gatewayUrl, { ca: mosquitto.ca })).rejects.toMatchObject({ code: 5 });
  });

  it('ships Nagle off and a per-client queue that does not drop QoS 1 bursts (performance-notes.md)', async () => {
    // In the shipped file and in the one this broker runs (Mosquitto refuses to start on an option it does not know).
    for (const file of [join(MOSQUITTO_DIR, 'mosquitto.conf'), join(mosquitto.dir, 'mosquitto.conf')]) {
      const conf = await readFile(file, 'utf8');
      expect(conf).toMatch(/^set_tcp_nodelay true$/m);
      expect(conf).toMatch(/^max_queued_messages 100000$/m);
    }
  });
});
