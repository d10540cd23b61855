import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SimulatedStore, SimulationSummary } from '#simulator/store/simulated-store.ts';
import { createLogCapture } from '../helpers/log-capture.ts';
import type { TestStore } from '../helpers/open-test-store.ts';
import { aTestScenario } from '../helpers/scenarios.ts';
import type { CapturedMessage } from '../helpers/start-broker.ts';
import { startTestSystem, type TestSystem } from '../helpers/test-system.ts';

// The iOS path end to end: every app runs on iOS in the background, so none advertises anything a gateway
// can read. Each monitors the store-beacon regions the server lists and reports entering and leaving a
// zone beacon's range over its authenticated API; the server turns a report into the same presence event,
// through the same consent checks. Consenting shoppers get the campaign; the others get nothing.

describe('iOS apps in the background, end to end', () => {
  let system: TestSystem;
  let testStore: TestStore;
  let sim: SimulatedStore;
  let summary: SimulationSummary;
  let captured: CapturedMessage[];
  const logs = createLogCapture('info');
  const scenario = aTestScenario({
    optedInApps: 2, presenceOnlyApps: 1, registeredWithoutConsentApps: 1, phonesWithoutApp: 0, foreignBeacons: 0, iosBackgroundShare: 1,
  });

  beforeAll(async () => {
    system = await startTestSystem({ scenario, logger: logs.logger });
    ({ testStore, sim, captured } = system);
    const optedIn = sim.apps().filter((a) => a.kind === 'opted-in');
    await vi.waitFor(() => {
      if (!optedIn.every(({ app }) => app.shown.length > 0)) throw new Error('waiting for every opted-in iOS app to receive a promotion');
      // The app without consent must have tried, or its silence would prove nothing.
      if (sim.sightings().refused === 0) throw new Error('waiting for the unconsented app to report a sighting');
    }, { timeout: 30_000, interval: 100 });
    summary = await sim.stop();
  }, 60_000);

  afterAll(async () => {
    await system?.close();
  });

  it('delivers the campaign to every consenting iOS app, with nothing on the air for a gateway to forward', () => {
    expect(sim.apps().every((a) => a.ios)).toBe(true);
    for (const { app } of sim.apps().filter((a) => a.kind === 'opted-in')) {
      expect(app.shown.length).toBeGreaterThan(0);
      expect(app.shown[0]!.why).toMatchObject({ zoneId: 'entrance' });
    }
    expect(captured.filter((m) => m.topic.endsWith('/events'))).toEqual([]);
    expect(summary.promotionsToNonConsenting).toBe(0);
  });

  it('sends nothing to an app without promotions consent, though its presence is recorded', async () => {
    const [presenceOnly] = sim.apps().filter((a) => a.kind === 'presence-only');
    expect(presenceOnly!.app.shown).toEqual([]);
    expect(await testStore.rows(`SELECT event_id FROM presence_events WHERE shopper_id = '${presenceOnly!.app.shopperId}'`)).not.toEqual([]);
  });

  it('refuses every report of an app without presence consent, recording nothing for it', async () => {
    const [unconsented] = sim.apps().filter((a) => a.kind === 'registered-no-consent');
    expect(unconsented!.app.shown).toEqual([]);
    expect(sim.sightings().refused).toBeGreaterThan(0);
    expect(await testStore.rows(`SELECT event_id FROM presence_events WHERE shopper_id = '${unconsented!.app.shopperId}'`)).toEqual([]);
    expect(await testStore.rows(`SELECT id FROM promotions WHERE shopper_id = '${unconsented!.app.shopperId}'`)).toEqual([]);
  });
});
