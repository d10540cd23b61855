import { describe, expect, it } from 'vitest';
import { decodeSecret, loadGatewayConfig } from '#gateway/config.ts';
import { gatewayMqttCredentials } from '#gateway/protocol/index.ts';

const HEX_SECRET = '00112233445566778899aabbccddeeff';
const aFile = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  storeId: 'store-1',
  gatewayId: 'gw-entrance',
  zoneId: 'entrance',
  secret: HEX_SECRET,
  mqtt: { url: 'mqtts://broker.example:8883', username: 'gw-entrance', password: 'from-file' },
  ...overrides,
});
const load = (file: unknown, env: Record<string, string | undefined> = {}) => loadGatewayConfig(env, JSON.stringify(file), '/etc/vicino/gateway.json');

describe('loadGatewayConfig', () => {
  it('accepts a minimal file and fills in the defaults', () => {
    const result = load(aFile());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({ storeId: 'store-1', gatewayId: 'gw-entrance', zoneId: 'entrance', scanner: { kind: 'noble-hci', extended: false }, presence: {} });
    expect(result.config.secretBytes).toEqual(Buffer.from(HEX_SECRET, 'hex'));
  });

  it('lists every problem at once, each with its path and the file name', () => {
    const result = load(aFile({ storeId: 'Store 1', zoneId: undefined, secret: 'short', mqtt: { url: 'http://broker' }, presence: { minSightings: 0, colour: 'blue' } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.problems.map((problem) => problem.split(': ')[1]);
    expect(paths).toEqual(expect.arrayContaining(['storeId', 'zoneId', 'secret', 'mqtt.url', 'presence.minSightings', 'presence']));
    expect(result.problems.length).toBeGreaterThanOrEqual(6);
    for (const problem of result.problems) expect(problem.startsWith('/etc/vicino/gateway.json: ')).toBe(true);
  });

  it('takes a replay scanner by `kind` or by `type`, and refuses a file that gives both', () => {
    for (const scanner of [{ kind: 'replay', file: '/var/lib/vicino/store.btsnoop' }, { type: 'replay', file: '/var/lib/vicino/store.btsnoop', speed: 'max' }]) {
      const result = load(aFile({ scanner }));
      expect(result.ok && result.config.scanner).toMatchObject({ kind: 'replay', file: '/var/lib/vicino/store.btsnoop' });
    }
    const both = load(aFile({ scanner: { kind: 'replay', type: 'noble-hci', file: 'x' } }));
    expect(both).toEqual({ ok: false, problems: [expect.stringMatching(/^\/etc\/vicino\/gateway\.json: scanner/)] });
    const noFile = load(aFile({ scanner: { type: 'replay' } }));
    expect(noFile).toEqual({ ok: false, problems: [expect.stringContaining('scanner.file')] });
  });

  it('does not echo the secret in a problem', () => {
    const secret = 'not!a*valid&secret-but-long-enough';
    const result = load(aFile({ secret }));
    expect(result).toEqual({ ok: false, problems: [expect.stringContaining('secret: ')] });
    if (!result.ok) expect(result.problems.join('\n')).not.toContain(secret);
  });

  it('takes MQTT_URL, MQTT_USERNAME and MQTT_PASSWORD from the environment over the file', () => {
    const result = load(aFile(), { MQTT_URL: 'mqtt://localhost:1883', MQTT_USERNAME: 'env-user', MQTT_PASSWORD: 'env-pass' });
    expect(result.ok && result.config.mqtt).toEqual({ url: 'mqtt://localhost:1883', username: 'env-user', password: 'env-pass' });
  });

  it('logs in with the credentials derived from the secret when neither file nor environment names any', () => {
    const result = load(aFile({ mqtt: { url: 'mqtts://broker.example:8883' } }));
    expect(result.ok && result.config.credentials).toEqual(gatewayMqttCredentials('gw-entrance', Buffer.from(HEX_SECRET, 'hex')));
  });

  it('derives only the password when the file names just the username, as provisioning writes it', () => {
    const result = load(aFile({ mqtt: { url: 'mqtts://broker.example:8883', username: 'gw-entrance' } }));
    expect(result.ok && result.config.credentials).toEqual({ username: 'gw-entrance', password: gatewayMqttCredentials('gw-entrance', Buffer.from(HEX_SECRET, 'hex')).password });
  });

  it('logs in with explicit credentials over derived ones', () => {
    const fromFile = load(aFile());
    expect(fromFile.ok && fromFile.config.credentials).toEqual({ username: 'gw-entrance', password: 'from-file' });
    const fromEnv = load(aFile({ mqtt: { url: 'mqtts://broker.example:8883' } }), { MQTT_USERNAME: 'env-user', MQTT_PASSWORD: 'env-pass' });
    expect(fromEnv.ok && fromEnv.config.credentials).toEqual({ username: 'env-user', password: 'env-pass' });
  });

  it('lets MQTT_URL supply a URL the file lacks', () => {
    const result = load(aFile({ mqtt: undefined }), { MQTT_URL: 'mqtt://localhost:1883' });
    expect(result.ok && result.config.mqtt.url).toBe('mqtt://localhost:1883');
  });

  it('ignores an empty MQTT_URL', () => {
    const result = load(aFile(), { MQTT_URL: '' });
    expect(result.ok && result.config.mqtt.url).toBe('mqtts://broker.example:8883');
  });

  it('checks an MQTT_URL from the environment like one from the file', () => {
    const result = load(aFile(), { MQTT_URL: 'http://localhost' });
    expect(result).toEqual({ ok: false, problems: [expect.stringContaining('mqtt.url: ')] });
  });

  it('names the file when it is not JSON', () => {
    const result = loadGatewayConfig({}, '{ "storeId": ', '/etc/vicino/gateway.json');
    expect(result).toEqual({ ok: false, problems: [expect.stringMatching(/^\/etc\/vicino\/gateway\.json is not valid JSON/)] });
  });

  it.each([['null', 'null'], ['an array', '[]'], ['a string', '"gateway"']])('reports a file holding %s at the root', (_name, text) => {
    const result = loadGatewayConfig({ MQTT_URL: 'mqtt://localhost' }, text, 'gateway.json');
    expect(result).toEqual({ ok: false, problems: [expect.stringMatching(/^gateway\.json: \(root\): /)] });
  });
});

describe('decodeSecret', () => {
  it('reads even-length lowercase hex as hex', () => {
    expect(decodeSecret(HEX_SECRET)).toEqual(Buffer.from(HEX_SECRET, 'hex'));
  });

  it('reads anything else as base64url', () => {
    const bytes = Buffer.from('a 16-byte secret');
    expect(decodeSecret(bytes.toString('base64url'))).toEqual(bytes);
  });
});
