import type { EdgeScore, Percentiles, Ratio, StoreDayReport, ZoneReport } from './store-report.ts';

// A store day's report as plain text for a terminal: no colours, at most 100 columns, numbers with
// en-GB thousands separators, ratios as percentages with one decimal and "n/a" where undefined.

const REPORT_WIDTH = 100;
const INDENT = '  ';
const LABEL_WIDTH = 26;

const integer = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const upToOneDecimal = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 1 });

/** A count with thousands separators: 1136 → "1,136". */
const formatCount = (n: number): string => integer.format(n);

/** A ratio in [0, 1] as a percentage with one decimal, or "n/a" when it is undefined: 0.9174 → "91.7 %". */
const formatPercent = (ratio: Ratio): string => (ratio === null || !Number.isFinite(ratio) ? 'n/a' : `${oneDecimal.format(ratio * 100)} %`);

/** Seconds as h:mm:ss (hours unbounded): 46800 → "13:00:00", 61 → "0:01:01". */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return 'n/a';
  const total = Math.round(Math.abs(seconds));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  return `${seconds < 0 && total > 0 ? '-' : ''}${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
};

const secondsOrNa = (s: number | null): string => (s === null ? 'n/a' : `${oneDecimal.format(s)} s`);

const truncate = (text: string, width: number): string => (text.length <= width ? text : `${text.slice(0, Math.max(width - 1, 0))}…`);

/** "label    value" lines; a long value wraps at " · " separators under its own column. */
const field = (label: string, items: string[]): string[] => {
  const head = `${INDENT}${label.padEnd(LABEL_WIDTH - INDENT.length)}`;
  const room = REPORT_WIDTH - head.length;
  const lines: string[] = [];
  let current = '';
  for (const item of items.map((i) => truncate(i, room))) {
    const next = current === '' ? item : `${current} · ${item}`;
    if (next.length > room && current !== '') {
      lines.push(current);
      current = item;
    } else current = next;
  }
  lines.push(current);
  return lines.map((line, i) => `${i === 0 ? head : ' '.repeat(head.length)}${line}`.trimEnd());
};

type Align = 'left' | 'right';

/** Columns padded to their widest cell; `flexible` (a left-aligned column) is truncated to keep the row within the report width. */
const table = (header: string[], rows: string[][], align: Align[], flexible: number): string[] => {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  const gap = 2;
  const others = widths.reduce((sum, w, c) => (c === flexible ? sum : sum + w), 0) + gap * (widths.length - 1);
  widths[flexible] = Math.max(Math.min(widths[flexible] ?? 0, REPORT_WIDTH - INDENT.length - others), 4);
  return all.map((row) =>
    `${INDENT}${row
      .map((cell, c) => {
        const width = widths[c] ?? 0;
        const text = truncate(cell, width);
        return align[c] === 'right' ? text.padStart(width) : text.padEnd(width);
      })
      .join(' '.repeat(gap))}`.trimEnd(),
  );
};

const header = (report: StoreDayReport): string[] => {
  const { scenario, run } = report;
  const hours = scenario.simulatedS / 3600;
  const span = hours >= 1 ? `${upToOneDecimal.format(hours)} h` : `${upToOneDecimal.format(scenario.simulatedS / 60)} min`;
  const speedup = run.speedup >= 10 ? integer.format(run.speedup) : upToOneDecimal.format(run.speedup);
  return [
    truncate(`Store day: ${scenario.name} (store ${scenario.storeId})`, REPORT_WIDTH),
    truncate(
      `seed ${scenario.seed} · ${scenario.date} from ${scenario.startLocal} ${scenario.timezone} · simulated ${formatDuration(scenario.simulatedS)}`,
      REPORT_WIDTH,
    ),
    `a ${span} day in ${oneDecimal.format(run.wallMs / 1000)} s, ${speedup}× real time (${run.clock} clock, CPU ${oneDecimal.format(run.cpuMs / 1000)} s)`,
  ];
};

const population = ({ population: p }: StoreDayReport): string[] => [
  'Population',
  ...field('arrivals', [formatCount(p.arrivals)]),
  ...field('with the app', [`${formatCount(p.withApp)} (${formatPercent(p.arrivals > 0 ? p.withApp / p.arrivals : null)} of arrivals)`]),
  ...field('platforms', [
    `Android ${formatCount(p.byPlatform.android)}`,
    `iOS foreground ${formatCount(p.byPlatform.iosForeground)}`,
    `iOS background ${formatCount(p.byPlatform.iosBackground)}`,
    `loyalty beacon ${formatCount(p.byPlatform.loyaltyBeacon)}`,
  ]),
  ...field('consented', [
    `presence ${formatCount(p.consented.presence)}`,
    `promotions ${formatCount(p.consented.promotions)}`,
    `personalisation ${formatCount(p.consented.personalisation)}`,
    `analytics ${formatCount(p.consented.analytics)}`,
  ]),
  ...field('tracked', [`${formatCount(p.tracked)} shoppers`, `${oneDecimal.format(p.trackedHours)} shopper-hours`]),
  ...field('withdrew consent', [formatCount(p.withdrew)]),
];

const counts = (record: Record<string, number>): string[] => {
  // Natural order, fixed locale: gw-2 before gw-10, the same on every machine.
  const entries = Object.entries(record).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  return entries.length === 0 ? ['none'] : entries.map(([key, n]) => `${key} ${formatCount(n)}`);
};

const radio = ({ radio: r }: StoreDayReport): string[] => [
  'Radio',
  ...field('advertisements emitted', [formatCount(r.emitted), `foreign ${formatCount(r.foreignEmitted)}`, `spam ${formatCount(r.spamEmitted)}`]),
  ...field('received', [formatCount(r.received)]),
  ...field('lost', [formatCount(r.lost)]),
  ...field('received by gateway', counts(r.byGateway)),
];

const gateways = ({ gateways: g }: StoreDayReport): string[] => [
  'Gateways',
  ...field('advertisements decoded', [formatCount(g.advertisements)]),
  ...field('dropped', counts(g.dropped)),
  ...field('presence events', [formatCount(g.events)]),
];

const calibration = ({ calibration: list }: StoreDayReport): string[] =>
  list.length === 0
    ? ['Gateway calibration', `${INDENT}none: every gateway ran on its own settings`]
    : [
        'Gateway calibration from the floor plan',
        `${INDENT}(an installer pushes these with PUT /v1/admin/stores/:store/gateways/:gateway/settings)`,
        ...table(
          ['gateway', 'zone', 'clearance m', 'capture m', 'release m', 'enter dBm', 'hold s', 'exit dBm', 'away s'],
          list.map((c) => [
            truncate(c.gatewayId, ZONE_ID_WIDTH), truncate(c.zoneId, ZONE_ID_WIDTH), c.clearanceM === null ? 'n/a' : oneDecimal.format(c.clearanceM),
            oneDecimal.format(c.captureM), oneDecimal.format(c.releaseM), oneDecimal.format(c.presence.enterRssiDbm), oneDecimal.format(c.presence.enterHoldMs / 1000),
            oneDecimal.format(c.presence.exitRssiDbm),
            formatCount(c.presence.awayTimeoutMs / 1000),
          ]),
          ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
          1,
        ).map((line) => truncate(line, REPORT_WIDTH)),
      ];

const edgeRow = (label: string, e: EdgeScore): string[] =>
  [label, formatCount(e.truth), formatCount(e.detected), formatCount(e.matched), formatPercent(e.precision), formatPercent(e.recall)];

const latency = (p: Percentiles): string[] => [`p50 ${secondsOrNa(p.p50)}`, `p99 ${secondsOrNa(p.p99)}`, `${formatCount(p.samples)} samples`];

const presence = ({ presence: p }: StoreDayReport): string[] => {
  const z = p.zoneSeconds;
  return [
    `Presence against ground truth (tolerance ${formatCount(p.toleranceS)} s, minimum visit ${formatCount(p.minVisitS)} s)`,
    ...table(
      ['', 'truth', 'detected', 'matched', 'precision', 'recall'],
      [edgeRow('enters', p.enters), edgeRow('exits', p.exits)],
      ['left', 'right', 'right', 'right', 'right', 'right'],
      0,
    ),
    ...field('zone accuracy', [formatPercent(p.zoneAccuracy)]),
    ...field('zone-seconds', [
      `detected ${formatCount(z.detected)}`,
      `correct ${formatCount(z.correct)}`,
      `wrong zone ${formatCount(z.wrongZone)}`,
      `not in any zone ${formatCount(z.notInAnyZone)}`,
      `missed ${formatCount(z.missed)}`,
    ]),
    ...field('enter latency', latency(p.enterLatencyS)),
    ...field('exit latency', latency(p.exitLatencyS)),
    ...field('flaps', [formatCount(p.flaps), `${p.flapsPerShopperHour === null ? 'n/a' : p.flapsPerShopperHour.toFixed(2)} per shopper-hour`]),
  ];
};

const promotions = ({ promotions: p }: StoreDayReport): string[] =>
  p === undefined
    ? []
    : [
        'Promotions (against the server)',
        ...field('delivered', [formatCount(p.delivered), `to shoppers without marketing consent ${formatCount(p.toNonConsenting)}`]),
        ...field('advertisement → app', [`p50 ${p.latencyMs.p50 === null ? 'n/a' : `${Math.round(p.latencyMs.p50)} ms`}`, `p99 ${p.latencyMs.p99 === null ? 'n/a' : `${Math.round(p.latencyMs.p99)} ms`}`]),
        ...field('redeemed at the till', [
          `${formatCount(p.redemptions.redeemed)} of ${formatCount(p.redemptions.attempted)}`,
          ...(Object.keys(p.redemptions.refused).length === 0 ? [] : counts(p.redemptions.refused).map((refused) => `refused ${refused}`)),
        ]),
        ...field('iOS sightings', [`${formatCount(p.iosSightings.reported)} reported`, `${formatCount(p.iosSightings.refused)} refused`]),
      ];

const ZONE_ID_WIDTH = 20;

const zoneRow = (z: ZoneReport): string[] => [
  truncate(z.id, ZONE_ID_WIDTH),
  z.name,
  z.sensitive ? 'yes' : 'no',
  z.instrumented ? 'yes' : 'no',
  formatCount(z.truthVisits),
  formatCount(z.detectedVisits),
  oneDecimal.format(z.occupancyS / 3600),
];

const zones = ({ zones: list }: StoreDayReport): string[] => [
  'Zones',
  ...(list.length === 0
    ? [`${INDENT}none`]
    : table(
        ['id', 'name', 'sensitive', 'instrumented', 'truth visits', 'detected visits', 'shopper-hours'],
        list.map(zoneRow),
        ['left', 'left', 'left', 'left', 'right', 'right', 'right'],
        1,
      ).map((line) => truncate(line, REPORT_WIDTH))),
];

/** The report as plain text, one section per concern, every line at most 100 columns. */
export const renderReportTable = (report: StoreDayReport): string =>
  [header(report), population(report), radio(report), gateways(report), calibration(report), presence(report), promotions(report), zones(report)].filter((lines) => lines.length > 0).map((lines) => lines.join('\n')).join('\n\n') + '\n';
