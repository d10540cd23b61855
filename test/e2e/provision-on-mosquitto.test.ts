import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadGatewayConfig } from '#gateway/config.ts';
import { gatewayClientId, GatewayConfigMessageSchema, topics, unwrapEpochKey } from '#gateway/protocol/index.ts';
import { SERVER_MQTT_USERNAME } from '#server/broker/broker-access.ts';
import { runCli, type CliRun } from '#test/helpers/run-cli.ts';
import { startMosquitto, type TestMosquitto } from '#test/helpers/start-mosquitto.ts';

// Provisioning as an operator does it, on Mosquitto run from the shipped configuration: `vicino
// server` logs in as vicino-server over TLS, `vicino gateway provision --mosquitto-passwd` issues the
// gateway's config file and adds its derived login to Mosquitto's password file, and that login —
// derived from the file exactly as the gateway does — reads the gateway's own retained config.

describe('vicino gateway provision', () => {
  const adminToken = randomBytes(24).toString('base64url');
  const serverPassword = randomBytes(24).toString('base64url');
  let dir: string;
  let mosquitto: TestMosquitto;
  let server: CliRun;
  let serverUrl: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vicino-provision-'));
    mosquitto = await startMosquitto({ servers: { [SERVER_MQTT_USERNAME]: serverPassword } });
    server = runCli(['server'], {
      env: {
        MQTT_URL: mosquitto.serverUrl, GATEWAY_MQTT_URL: mosquitto.gatewayUrl, MQTT_USERNAME: SERVER_MQTT_USERNAME, MQTT_PASSWORD: serverPassword,
        // Node trusts the throwaway CA for the server's mqtts:// connection.
        NODE_EXTRA_CA_CERTS: join(mosquitto.dir, 'ca.crt'),
        ADMIN_TOKEN: adminToken, DATA_DIR: join(dir, 'server'), PORT: '0', LOG_LEVEL: 'warn',
      },
    });
    await vi.waitFor(() => {
      if (!/vicino server on http/.test(server.stdout())) throw new Error(`server not up:\n${server.stdout()}\n${server.stderr()}`);
    }, { timeout: 15_000, interval: 100 });
    serverUrl = /vicino server on (http:\/\/[^ ]+)/.exec(server.stdout())![1]!;
    const store = await fetch(`${serverUrl}/v1/admin/stores/shop-1`, {
      method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ name: 'Shop 1', timezone: 'UTC', zones: [{ id: 'entrance', name: 'Entrance' }] }),
    });
    expect(store.status).toBe(200);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    if (server) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await mosquitto?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints the config file, adds the gateway's derived login to Mosquitto, and that login reads its own config", async () => {
    const passwordFile = join(mosquitto.dir, 'passwd');
    const run = runCli([
      'gateway', 'provision', '--store', 'shop-1', '--gateway', 'gw-1', '--zone', 'entrance',
      '--server', serverUrl, `--admin-token=${adminToken}`, '--mosquitto-passwd', passwordFile,
    ]);
    expect((await run.exited).code).toBe(0);
    const config = JSON.parse(run.stdout()) as { secret: string; mqtt: { url: string; username: string; password?: string } };
    expect(config).toMatchObject({ storeId: 'shop-1', gatewayId: 'gw-1', zoneId: 'entrance', mqtt: { url: mosquitto.gatewayUrl, username: 'gw-1' } });
    expect(config.mqtt.password).toBeUndefined();
    expect(run.stderr()).toContain(`added MQTT user gw-1 to ${passwordFile} and its topics to ${join(mosquitto.dir, 'acl')}`);
    // The gateway's own topics, its store segment included; nothing with a wildcard.
    const acl = await readFile(join(mosquitto.dir, 'acl'), 'utf8');
    expect(acl).toContain('user gw-1\ntopic write vicino/v1/stores/shop-1/gateways/gw-1/events\n');
    expect(acl.split('\n').filter((line) => /^(topic|pattern)\b/.test(line) && /[+#]/.test(line))).toEqual(['topic readwrite vicino/v1/#']);

    // The gateway's login, derived from its config file as `vicino gateway` derives it.
    const loaded = loadGatewayConfig({}, run.stdout());
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const { credentials } = loaded.config;
    const passwords = await readFile(passwordFile, 'utf8');
    expect(passwords).toMatch(/^gw-1:\$7\$/m);
    expect(passwords).not.toContain(credentials.password);

    mosquitto.reload();
    // Mosquitto re-reads the file on SIGHUP, asynchronously: poll until the new login is accepted.
    const gateway = await vi.waitFor(() => mqtt.connectAsync(config.mqtt.url, {
      ...credentials, clientId: gatewayClientId('gw-1'), ca: mosquitto.ca, clean: true, reconnectPeriod: 0,
    }), { timeout: 10_000, interval: 100 });
    clients.push(gateway);
    const received: Buffer[] = [];
    gateway.on('message', (_topic, payload) => received.push(payload));
    await gateway.subscribeAsync(topics.config('shop-1', 'gw-1'), { qos: 1 });
    await vi.waitFor(() => expect(received.length).toBeGreaterThan(0), { timeout: 5_000 });
    const message = GatewayConfigMessageSchema.parse(JSON.parse(String(received.at(-1))));
    const [wrapped] = message.epochKeys;
    expect(unwrapEpochKey(loaded.config.secretBytes, 'gw-1', wrapped!.keyId, wrapped!.wrapped)).toHaveLength(32);
  }, 30_000);

  it('says mosquitto_passwd is missing before provisioning anything', async () => {
    // A PATH with no programs on it (node itself is started by its full path); the server URL is never
    // reached (nothing listens on port 1), which shows the check comes first.
    const run = runCli([
      'gateway', 'provision', '--store', 'shop-1', '--gateway', 'gw-2', '--zone', 'entrance',
      '--server', 'http://127.0.0.1:1', `--admin-token=${adminToken}`, '--mosquitto-passwd', join(dir, 'passwd'),
    ], { env: { PATH: join(dir, 'no-programs') } });
    expect((await run.exited).code).toBe(1);
    expect(run.stderr().trim()).toBe('vicino gateway: mosquitto_passwd is not installed (it comes with Mosquitto, e.g. `apt install mosquitto`); nothing was provisioned');
    expect(run.stdout()).toBe('');
  });

  it('says the ACL file is missing before provisioning anything', async () => {
    const run = runCli([
      'gateway', 'provision', '--store', 'shop-1', '--gateway', 'gw-2', '--zone', 'entrance', '--server', 'http://127.0.0.1:1',
      `--admin-token=${adminToken}`, '--mosquitto-passwd', join(dir, 'passwd'), '--mosquitto-acl', join(dir, 'no-such-acl'),
    ]);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toContain(`cannot read and write the Mosquitto ACL file ${join(dir, 'no-such-acl')}`);
    expect(run.stderr()).toContain('nothing was provisioned');
    expect(run.stdout()).toBe('');
  });

  it('needs --store, --gateway and --zone', async () => {
    const run = runCli(['gateway', 'provision', '--store', 'shop-1', '--gateway', 'gw-3']);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toMatch(/^vicino: vicino gateway provision needs --store, --gateway and --zone/);
  });
});
