import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { allCatalogTexts, DEFAULT_CONSENT_CATALOG, type ConsentCatalog } from '#server/domain/consent-texts.ts';
import { hashToken } from '#server/identity.ts';
import { counterValue } from '#server/metrics.ts';
import { startServer, type RunningServer, type ServerOptions } from '#server/server.ts';
import { aConsent, aShopper, START_MS } from '#test/helpers/builders.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { openTestStore, type TestStore } from '#test/helpers/open-test-store.ts';
import { startTestBroker } from '#test/helpers/start-broker.ts';

// The server archives its consent texts and runs the lapse job itself (server.ts): the texts before it
// listens, the job once at start and then hourly, on its injected clock.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

const withNewPresenceVersion: ConsentCatalog = {
  ...DEFAULT_CONSENT_CATALOG,
  presence: [...DEFAULT_CONSENT_CATALOG.presence, { version: '2027-06-01', texts: { en: 'Detect me in participating stores (new wording).' } }],
};

const masterKey = randomBytes(32);

async function start(testStore: TestStore, overrides: Partial<ServerOptions>): Promise<RunningServer> {
  const broker = await startTestBroker();
  closers.push(() => broker.close());
  const server = await startServer({
    store: testStore.store, masterKey, logger: createLogSink().logger, adminTokenHash: hashToken(randomBytes(24).toString('base64url')),
    mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' }, now: () => START_MS, ...overrides,
  });
  closers.push(() => server.close());
  return server;
}

describe('the server\'s consent ledger at start', () => {
  it('archives every text of its catalog and withdraws the grants of a superseded version at start', async () => {
    const testStore = await openTestStore('sqlite');
    closers.push(() => testStore.close());
    // No identity key: the resolver has nothing to unseal for this shopper.
    const shopper = aShopper({ identityKeySealed: null });
    await testStore.store.createShopper(shopper);
    const old = DEFAULT_CONSENT_CATALOG.presence[0]!.version;
    await testStore.store.appendConsent([aConsent({ shopperId: shopper.id, purpose: 'presence', textVersion: old, serverTimeMs: START_MS - 1000 })]);

    const server = await start(testStore, { consent: { catalog: withNewPresenceVersion } });
    for (const text of allCatalogTexts(withNewPresenceVersion)) expect((await server.store.getConsentText(text.sha256))?.text).toBe(text.text);
    await expect.poll(async () => (await server.store.getConsentState(shopper.id)).presence?.granted).toBe(false);
    expect((await server.store.listConsentRecords(shopper.id)).at(-1)).toMatchObject({ channel: 'system', reason: 'text-superseded', textVersion: old });
    expect(await counterValue(server.metrics.consentLapses, { reason: 'text-superseded' })).toBe(1);
    // Asked again: nothing more to do.
    expect((await server.lapseConsents()).lapsed).toEqual({ 'text-superseded': 0, expired: 0, 'age-gate': 0 });
  });

  it('refuses to start when a published text was edited without a new version', async () => {
    const testStore = await openTestStore('sqlite');
    closers.push(() => testStore.close());
    await start(testStore, {}).then((server) => server.close());
    const edited: ConsentCatalog = { ...DEFAULT_CONSENT_CATALOG, analytics: [{ version: DEFAULT_CONSENT_CATALOG.analytics[0]!.version, texts: { en: 'Count my visits.' } }] };
    await expect(start(testStore, { consent: { catalog: edited } })).rejects.toThrow(/consent text analytics 2026-11-01 en changed .*publish a changed text as a new version/);
  });
});
