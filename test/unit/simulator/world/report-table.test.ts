import { describe, expect, it } from 'vitest';
import { formatDuration, renderReportTable } from '#simulator/world/report-table.ts';
import type { StoreDayReport, ZoneReport } from '#simulator/world/store-report.ts';

type Overrides = { [K in Exclude<keyof StoreDayReport, 'zones'>]?: Partial<StoreDayReport[K]> } & { zones?: ZoneReport[] };

const aZone = (overrides: Partial<ZoneReport> = {}): ZoneReport => ({
  id: 'bakery',
  name: 'Bakery',
  sensitive: false,
  instrumented: true,
  truthVisits: 1_204,
  detectedVisits: 1_150,
  occupancyS: 44_280, // 12.3 shopper-hours
  ...overrides,
});

const aReport = (overrides: Overrides = {}): StoreDayReport => {
  const report: StoreDayReport = {
    scenario: { name: 'high-street-saturday', seed: 42, storeId: 'store-1', date: '2025-03-15', timezone: 'Europe/London', startLocal: '08:00', simulatedS: 13 * 3600 },
    run: { clock: 'virtual', wallMs: 41_200, speedup: 1_136, cpuMs: 39_800 },
    calibration: [{
      gatewayId: 'gw-bakery', zoneId: 'bakery', clearanceM: 3, captureM: 2.4, releaseM: 3.9, source: 'floor-plan',
      presence: { enterRssiDbm: -68.5, exitRssiDbm: -73.8, awayTimeoutMs: 8_000, enterHoldMs: 6_000 },
    }],
    population: {
      arrivals: 12_345,
      withApp: 4_321,
      byPlatform: { android: 2_100, iosForeground: 900, iosBackground: 1_021, loyaltyBeacon: 300 },
      consented: { presence: 3_900, promotions: 3_100, personalisation: 1_200, analytics: 2_500 },
      tracked: 3_456,
      trackedHours: 1_728.04,
      withdrew: 17,
    },
    radio: { emitted: 9_876_543, received: 12_345_678, lost: 1_234_567, byGateway: { 'gw-tills': 5_000_000, 'gw-door': 7_345_678 }, foreignEmitted: 54_321, spamEmitted: 4_321 },
    gateways: { advertisements: 12_000_000, dropped: { 'no-consent': 3_000, malformed: 12 }, events: 98_765 },
    presence: {
      toleranceS: 10,
      minVisitS: 30,
      enters: { truth: 1_234, detected: 1_200, matched: 1_100, precision: 1_100 / 1_200, recall: 1_100 / 1_234 },
      exits: { truth: 0, detected: 0, matched: 0, precision: null, recall: null },
      zoneAccuracy: 0.9345,
      zoneSeconds: { detected: 500_000, correct: 467_250, wrongZone: 20_000, notInAnyZone: 12_750, missed: 40_000 },
      enterLatencyS: { p50: 3.24, p99: 12, samples: 1_100 },
      exitLatencyS: { p50: null, p99: null, samples: 0 },
      flaps: 1_234,
      flapsPerShopperHour: 0.714,
    },
    zones: [aZone(), aZone({ id: 'pharmacy', name: 'Pharmacy', sensitive: true, instrumented: false, truthVisits: 321, detectedVisits: 0, occupancyS: 7_200 })],
    heat: { cellM: 1, columns: 2, rows: 1, minShoppers: 5, seconds: [10, null] },
  };
  const { zones, ...sections } = overrides;
  for (const [key, value] of Object.entries(sections)) Object.assign(report[key as keyof typeof sections] ?? {}, value);
  return { ...report, zones: zones ?? report.zones };
};

const lineOf = (text: string, start: string): string => text.split('\n').find((line) => line.trimStart().startsWith(start)) ?? '';

/** A labelled field's value, its wrapped continuation lines joined back with the separator. */
const fieldOf = (text: string, label: string): string => {
  const lines = text.split('\n');
  const at = lines.findIndex((line) => line.trimStart().startsWith(label));
  const continued = lines.slice(at + 1).findIndex((line) => !/^ {10,}\S/.test(line));
  return lines
    .slice(at, at + 1 + (continued === -1 ? lines.length : continued))
    .map((line) => line.trim())
    .join(' · ')
    .slice(label.length)
    .trim();
};

describe('formatDuration', () => {
  it.each([
    [0, '0:00:00'],
    [61, '0:01:01'],
    [59.6, '0:01:00'],
    [13 * 3600, '13:00:00'],
    [25 * 3600 + 61, '25:01:01'],
    [-90, '-0:01:30'],
  ])('prints %d s as %s', (seconds, printed) => {
    expect(formatDuration(seconds)).toBe(printed);
  });
});

describe('renderReportTable', () => {
  it('heads the report with the scenario, seed, date, start, simulated duration and speed-up', () => {
    const text = renderReportTable(aReport());
    const head = text.split('\n').slice(0, 3).join('\n');
    expect(head).toContain('high-street-saturday');
    expect(head).toContain('seed 42');
    expect(head).toContain('2025-03-15 from 08:00 Europe/London');
    expect(head).toContain('simulated 13:00:00');
    expect(head).toContain('a 13 h day in 41.2 s, 1,136× real time');
  });

  it('describes a short run in minutes', () => {
    expect(renderReportTable(aReport({ scenario: { simulatedS: 1_800 }, run: { wallMs: 900, speedup: 2_000 } }))).toContain('a 30 min day in 0.9 s, 2,000× real time');
  });

  it('prints every section, with thousands separators', () => {
    const text = renderReportTable(aReport());
    for (const section of ['Population', 'Radio', 'Gateways', 'Presence against ground truth', 'Zones']) expect(text).toMatch(new RegExp(`^${section}`, 'm'));
    expect(lineOf(text, 'arrivals')).toMatch(/12,345$/);
    expect(lineOf(text, 'with the app')).toContain('4,321 (35.0 % of arrivals)');
    expect(lineOf(text, 'advertisements emitted')).toContain('9,876,543 · foreign 54,321 · spam 4,321');
    expect(lineOf(text, 'received by gateway')).toContain('gw-door 7,345,678 · gw-tills 5,000,000');
    expect(lineOf(text, 'dropped')).toContain('malformed 12 · no-consent 3,000');
    const gateways = renderReportTable(aReport({ radio: { byGateway: { 'gw-10': 10, 'gw-2': 2, 'gw-1': 1 } } }));
    expect(lineOf(gateways, 'received by gateway')).toMatch(/gw-1 1 · gw-2 2 · gw-10 10$/);
    expect(lineOf(text, 'tracked')).toContain('3,456 shoppers · 1,728.0 shopper-hours');
    expect(fieldOf(text, 'platforms')).toBe('Android 2,100 · iOS foreground 900 · iOS background 1,021 · loyalty beacon 300');
    expect(fieldOf(text, 'consented')).toBe('presence 3,900 · promotions 3,100 · personalisation 1,200 · analytics 2,500');
  });

  it('scores enters and exits against the truth, with precision and recall to one decimal', () => {
    const text = renderReportTable(aReport());
    expect(lineOf(text, 'truth')).toMatch(/truth\s+detected\s+matched\s+precision\s+recall$/);
    expect(lineOf(text, 'enters')).toMatch(/^ {2}enters\s+1,234\s+1,200\s+1,100\s+91\.7 %\s+89\.1 %$/);
    expect(lineOf(text, 'exits')).toMatch(/^ {2}exits\s+0\s+0\s+0\s+n\/a\s+n\/a$/);
  });

  it('prints accuracy, zone-seconds, latencies and flaps, with n/a for what is undefined', () => {
    const text = renderReportTable(aReport());
    expect(lineOf(text, 'zone accuracy')).toMatch(/93\.5 %$/);
    expect(fieldOf(text, 'zone-seconds')).toBe('detected 500,000 · correct 467,250 · wrong zone 20,000 · not in any zone 12,750 · missed 40,000');
    expect(lineOf(text, 'enter latency')).toContain('p50 3.2 s · p99 12.0 s · 1,100 samples');
    expect(lineOf(text, 'exit latency')).toContain('p50 n/a · p99 n/a · 0 samples');
    expect(lineOf(text, 'flaps')).toContain('1,234 · 0.71 per shopper-hour');

    const undefinedRatios = renderReportTable(aReport({ presence: { zoneAccuracy: null, flapsPerShopperHour: null }, population: { arrivals: 0 } }));
    expect(lineOf(undefinedRatios, 'zone accuracy')).toMatch(/n\/a$/);
    expect(lineOf(undefinedRatios, 'flaps')).toContain('n/a per shopper-hour');
    expect(lineOf(undefinedRatios, 'with the app')).toContain('(n/a of arrivals)');
  });

  it('lists each zone with its marks, visits and occupancy in shopper-hours', () => {
    const text = renderReportTable(aReport());
    expect(lineOf(text, 'id')).toMatch(/id\s+name\s+sensitive\s+instrumented\s+truth visits\s+detected visits\s+shopper-hours$/);
    expect(lineOf(text, 'bakery')).toMatch(/^ {2}bakery\s+Bakery\s+no\s+yes\s+1,204\s+1,150\s+12\.3$/);
    expect(lineOf(text, 'pharmacy')).toMatch(/^ {2}pharmacy\s+Pharmacy\s+yes\s+no\s+321\s+0\s+2\.0$/);
    expect(renderReportTable(aReport({ zones: [] }))).toMatch(/^Zones\n {2}none$/m);
  });

  it('keeps every line within 100 columns, however long the names and however many the gateways', () => {
    const long = 'x'.repeat(300);
    const report = aReport({
      scenario: { name: long, timezone: long },
      radio: { byGateway: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`gateway-${String(i).padStart(3, '0')}`, 1_000_000 + i])) },
      gateways: { dropped: { [long]: 1 } },
    });
    report.zones = [aZone({ id: long, name: `${long} & more` }), aZone({ truthVisits: 1e12, detectedVisits: 1e12, occupancyS: 3.6e15 })];
    const text = renderReportTable(report);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(text).toContain('gateway-059 1,000,059');
    expect(text.indexOf('gateway-009 ')).toBeLessThan(text.indexOf('gateway-010 '));
    expect(text).toContain('1,000,000,000,000');
  });

  it('gives the same text for the same report', () => {
    expect(renderReportTable(aReport())).toBe(renderReportTable(aReport()));
  });

  it('adds the promotions of a day run against a server, and nothing when there were none', () => {
    const live = renderReportTable({
      ...aReport(),
      promotions: { delivered: 12, toNonConsenting: 0, latencyMs: { p50: 18.7, p99: 256.5, samples: 12 }, redemptions: { attempted: 5, redeemed: 4, refused: { COUPON_CANCELLED: 1 } }, iosSightings: { reported: 9, refused: 0 } },
    });
    expect(lineOf(live, 'delivered')).toContain('12 · to shoppers without marketing consent 0');
    expect(lineOf(live, 'advertisement → app')).toContain('p50 19 ms · p99 257 ms');
    expect(lineOf(live, 'redeemed at the till')).toContain('4 of 5 · refused COUPON_CANCELLED 1');
    expect(lineOf(live, 'iOS sightings')).toContain('9 reported · 0 refused');
    expect(renderReportTable(aReport())).not.toContain('Promotions');
  });
});
