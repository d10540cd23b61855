import { describe, expect, it } from 'vitest';
import { decodeKey, loadServerEnv, storeLocation } from '#server/config.ts';

describe('loadServerEnv', () => {
  it('fills every default from an empty environment', () => {
    expect(loadServerEnv({})).toEqual({
      ok: true,
      env: { PORT: 3000, HOST: '127.0.0.1', DATA_DIR: './data', DATABASE_POOL_MAX: 20, MQTT_URL: 'mqtt://127.0.0.1:1883', MQTT_PRESENCE_CONNECTIONS: 1, MQTT_MAX_IN_FLIGHT: 64, EPOCH_ROTATION_S: 86_400,
        RETENTION_PRESENCE_H: 24, RETENTION_DELIVERY_DAYS: 730, ANALYTICS_K: 10, APP_TOKEN_MAX_AGE_DAYS: 180, LOG_LEVEL: 'info',
        CONSENT_VALIDITY_DAYS: 365, CONSENT_AGE_BY_COUNTRY: {}, CONSENT_AGE_DEFAULT: 16, WEBHOOK_MAX_ATTEMPTS: 8,
        CONSOLE_IDLE_MINUTES: 30, CONSOLE_SESSION_HOURS: 12, CONSOLE_SECURE_COOKIE: true,
        CONTROLLER_NAME: '(not configured: set CONTROLLER_NAME)', CONTROLLER_CONTACT: '(not configured: set CONTROLLER_CONTACT)' },
    });
  });

  it('takes the push webhook\'s URL, secret and attempts, and refuses a plain-http remote URL, a short secret or half a configuration', () => {
    const secret = 's'.repeat(32);
    expect(loadServerEnv({ WEBHOOK_URL: 'https://push.example.com/hook', WEBHOOK_SECRET: secret, WEBHOOK_MAX_ATTEMPTS: '5' }))
      .toMatchObject({ ok: true, env: { WEBHOOK_URL: 'https://push.example.com/hook', WEBHOOK_SECRET: secret, WEBHOOK_MAX_ATTEMPTS: 5 } });
    expect(loadServerEnv({ WEBHOOK_URL: 'http://localhost:8080/hook', WEBHOOK_SECRET: secret }).ok).toBe(true);
    expect(loadServerEnv({ WEBHOOK_URL: 'http://push.example.com/hook', WEBHOOK_SECRET: 'short', WEBHOOK_MAX_ATTEMPTS: '0' })).toEqual({
      ok: false,
      problems: [
        'WEBHOOK_URL: WEBHOOK_URL must be an https:// URL (http:// only for localhost)',
        'WEBHOOK_SECRET: WEBHOOK_SECRET must be at least 32 characters',
        'WEBHOOK_MAX_ATTEMPTS: WEBHOOK_MAX_ATTEMPTS must be at least 1',
      ],
    });
    expect(loadServerEnv({ WEBHOOK_URL: 'https://push.example.com/hook' })).toEqual({ ok: false, problems: ['WEBHOOK_URL, WEBHOOK_SECRET: set both to enable the push webhook, or neither'] });
  });

  it('takes the app credential\'s maximum age in whole days, and refuses anything else, naming it', () => {
    expect(loadServerEnv({ APP_TOKEN_MAX_AGE_DAYS: '30' })).toMatchObject({ ok: true, env: { APP_TOKEN_MAX_AGE_DAYS: 30 } });
    for (const bad of ['0', '1.5', 'soon', '4000']) {
      const loaded = loadServerEnv({ APP_TOKEN_MAX_AGE_DAYS: bad });
      expect(loaded.ok).toBe(false);
      expect(loaded.ok ? [] : loaded.problems).toEqual([expect.stringMatching(/^APP_TOKEN_MAX_AGE_DAYS: .*APP_TOKEN_MAX_AGE_DAYS|^APP_TOKEN_MAX_AGE_DAYS: /)]);
    }
  });

  it('takes the console session timeouts and the cookie flag, and refuses bad values, naming each', () => {
    expect(loadServerEnv({ CONSOLE_IDLE_MINUTES: '15', CONSOLE_SESSION_HOURS: '8', CONSOLE_SECURE_COOKIE: 'false' }))
      .toMatchObject({ ok: true, env: { CONSOLE_IDLE_MINUTES: 15, CONSOLE_SESSION_HOURS: 8, CONSOLE_SECURE_COOKIE: false } });
    const loaded = loadServerEnv({ CONSOLE_IDLE_MINUTES: '0', CONSOLE_SESSION_HOURS: '1000', CONSOLE_SECURE_COOKIE: 'no' });
    expect(loaded.ok ? [] : loaded.problems).toEqual([
      'CONSOLE_IDLE_MINUTES: CONSOLE_IDLE_MINUTES must be at least 1',
      'CONSOLE_SESSION_HOURS: CONSOLE_SESSION_HOURS may not exceed 168',
      'CONSOLE_SECURE_COOKIE: CONSOLE_SECURE_COOKIE must be "true" or "false"',
    ]);
  });

  it('takes a stricter analytics k, and refuses one below 10 (AN-1), naming it', () => {
    expect(loadServerEnv({ ANALYTICS_K: '25' })).toMatchObject({ ok: true, env: { ANALYTICS_K: 25 } });
    for (const bad of ['9', '0', '12.5', 'many']) {
      const loaded = loadServerEnv({ ANALYTICS_K: bad });
      expect(loaded.ok ? [] : loaded.problems).toEqual([expect.stringMatching(/^ANALYTICS_K: /)]);
    }
  });

  it('takes the consent validity and the digital-consent ages, and names every bad value', () => {
    expect(loadServerEnv({ CONSENT_VALIDITY_DAYS: '180', CONSENT_AGE_BY_COUNTRY: 'IT=14, DE=16,FR=15', CONSENT_AGE_DEFAULT: '15' }))
      .toMatchObject({ ok: true, env: { CONSENT_VALIDITY_DAYS: 180, CONSENT_AGE_BY_COUNTRY: { IT: 14, DE: 16, FR: 15 }, CONSENT_AGE_DEFAULT: 15 } });
    expect(loadServerEnv({ CONSENT_VALIDITY_DAYS: '400', CONSENT_AGE_BY_COUNTRY: 'it=14,DE=12,FR,DE=16', CONSENT_AGE_DEFAULT: '21' })).toEqual({
      ok: false,
      problems: [
        'CONSENT_VALIDITY_DAYS: CONSENT_VALIDITY_DAYS may not exceed 365 (12 months, CON-6)',
        'CONSENT_AGE_BY_COUNTRY: CONSENT_AGE_BY_COUNTRY: "it=14": the country must be an upper-case ISO 3166-1 alpha-2 code, like IT',
        'CONSENT_AGE_BY_COUNTRY: CONSENT_AGE_BY_COUNTRY: "DE=12": the age must be a whole number of years from 13 to 18, got 12',
        'CONSENT_AGE_BY_COUNTRY: CONSENT_AGE_BY_COUNTRY: "FR" is not COUNTRY=AGE (like IT=14)',
        'CONSENT_AGE_DEFAULT: CONSENT_AGE_DEFAULT must be a whole number of years from 13 to 18, got 21',
      ],
    });
  });

  it('takes the controller\'s name and an email or URL contact, and refuses any other contact', () => {
    expect(loadServerEnv({ CONTROLLER_NAME: ' Example Retail ', CONTROLLER_CONTACT: 'dpo@example.com' }))
      .toMatchObject({ ok: true, env: { CONTROLLER_NAME: 'Example Retail', CONTROLLER_CONTACT: 'dpo@example.com' } });
    expect(loadServerEnv({ CONTROLLER_CONTACT: 'https://example.com/privacy' })).toMatchObject({ ok: true, env: { CONTROLLER_CONTACT: 'https://example.com/privacy' } });
    expect(loadServerEnv({ CONTROLLER_NAME: '', CONTROLLER_CONTACT: 'ring the bell' })).toEqual({
      ok: false,
      problems: ['CONTROLLER_NAME: CONTROLLER_NAME must not be empty', 'CONTROLLER_CONTACT: CONTROLLER_CONTACT must be an email address or an http(s):// URL'],
    });
  });

  it('coerces numbers and keeps what it is given', () => {
    const loaded = loadServerEnv({ PORT: '0', EPOCH_ROTATION_S: '3600', DATABASE_URL: 'postgres://db/vicino', MQTT_SHARED_GROUP: 'servers', LOG_LEVEL: 'silent' });
    expect(loaded).toMatchObject({ ok: true, env: { PORT: 0, EPOCH_ROTATION_S: 3600, DATABASE_URL: 'postgres://db/vicino', MQTT_SHARED_GROUP: 'servers', LOG_LEVEL: 'silent' } });
  });

  it('lists every problem at once, each naming its variable', () => {
    const loaded = loadServerEnv({ PORT: '70000', MQTT_URL: 'http://broker', ADMIN_TOKEN: 'short', EPOCH_ROTATION_S: '10', LOG_LEVEL: 'loud', MQTT_SHARED_GROUP: '$bad', MQTT_PRESENCE_CONNECTIONS: '0' });
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.problems).toHaveLength(7);
    const named = loaded.problems.map((problem) => problem.split(':')[0]);
    expect(named.sort()).toEqual(['ADMIN_TOKEN', 'EPOCH_ROTATION_S', 'LOG_LEVEL', 'MQTT_PRESENCE_CONNECTIONS', 'MQTT_SHARED_GROUP', 'MQTT_URL', 'PORT']);
    expect(loaded.problems).toContain('MQTT_URL: MQTT_URL must start with mqtt://, mqtts://, ws:// or wss://');
    expect(loaded.problems).toContain('ADMIN_TOKEN: ADMIN_TOKEN must be at least 20 characters');
  });

  it('takes stricter retention windows and refuses longer or fractional ones, naming the variable', () => {
    expect(loadServerEnv({ RETENTION_PRESENCE_H: '6', RETENTION_DELIVERY_DAYS: '365' })).toMatchObject({ ok: true, env: { RETENTION_PRESENCE_H: 6, RETENTION_DELIVERY_DAYS: 365 } });
    const loaded = loadServerEnv({ RETENTION_PRESENCE_H: '48', RETENTION_DELIVERY_DAYS: '1.5' });
    expect(loaded).toMatchObject({ ok: false });
    if (loaded.ok) return;
    expect(loaded.problems).toEqual(['RETENTION_PRESENCE_H: RETENTION_PRESENCE_H may not exceed 24 (RET-2)', 'RETENTION_DELIVERY_DAYS: RETENTION_DELIVERY_DAYS must be whole days']);
    expect(loadServerEnv({ RETENTION_DELIVERY_DAYS: '0' })).toMatchObject({ ok: false, problems: [expect.stringMatching(/^RETENTION_DELIVERY_DAYS: .*at least 1/)] });
  });

  it('takes a PostgreSQL pool size from 1 to 200 and names DATABASE_POOL_MAX when it is off', () => {
    expect(loadServerEnv({ DATABASE_POOL_MAX: '8' })).toMatchObject({ ok: true, env: { DATABASE_POOL_MAX: 8 } });
    expect(loadServerEnv({ DATABASE_POOL_MAX: '0' })).toEqual({ ok: false, problems: ['DATABASE_POOL_MAX: DATABASE_POOL_MAX must be at least 1'] });
    expect(loadServerEnv({ DATABASE_POOL_MAX: '500' })).toEqual({ ok: false, problems: ['DATABASE_POOL_MAX: DATABASE_POOL_MAX may not exceed 200'] });
    expect(loadServerEnv({ DATABASE_POOL_MAX: '2.5' })).toEqual({ ok: false, problems: ['DATABASE_POOL_MAX: DATABASE_POOL_MAX must be a whole number'] });
  });

  it('rejects a port that is not a number', () => {
    expect(loadServerEnv({ PORT: 'eighty' })).toMatchObject({ ok: false, problems: [expect.stringMatching(/^PORT: /)] });
  });

  it('never echoes a secret it rejects', () => {
    const loaded = loadServerEnv({ ADMIN_TOKEN: 'hunter2-secret' });
    expect(JSON.stringify(loaded)).not.toContain('hunter2-secret');
  });
});

describe('storeLocation', () => {
  it('defaults to an SQLite file in DATA_DIR', () => {
    expect(storeLocation({ DATA_DIR: '/var/lib/vicino', DATABASE_URL: undefined })).toEqual({ kind: 'sqlite', path: '/var/lib/vicino/vicino.db' });
  });

  it.each([
    ['file:/tmp/v.db', { kind: 'sqlite', path: '/tmp/v.db' }],
    ['file:./data/v.db', { kind: 'sqlite', path: './data/v.db' }],
    ['sqlite:/tmp/v.db', { kind: 'sqlite', path: '/tmp/v.db' }],
    ['/srv/vicino.db', { kind: 'sqlite', path: '/srv/vicino.db' }],
    [':memory:', { kind: 'sqlite', path: ':memory:' }],
    ['postgres://u:p@db:5432/vicino', { kind: 'postgres', url: 'postgres://u:p@db:5432/vicino' }],
    ['postgresql://db/vicino', { kind: 'postgres', url: 'postgresql://db/vicino' }],
  ])('reads %s', (url, expected) => {
    expect(storeLocation({ DATA_DIR: './data', DATABASE_URL: url })).toEqual(expected);
  });
});

describe('decodeKey', () => {
  it('accepts 32 bytes as hex or base64', () => {
    const key = Buffer.alloc(32, 7);
    expect(decodeKey(key.toString('hex'), 'K')).toEqual(key);
    expect(decodeKey(key.toString('base64'), 'K')).toEqual(key);
  });

  it('refuses another length, naming the variable', () => {
    expect(() => decodeKey(Buffer.alloc(16).toString('base64'), 'VICINO_MASTER_KEY')).toThrow(/^VICINO_MASTER_KEY must be 32 bytes .* got 16$/);
  });
});
