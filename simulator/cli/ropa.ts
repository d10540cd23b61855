import { parseArgs } from 'node:util';
import { loadServerEnv } from '#server/config.ts';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import { DAY_MS, HOUR_MS } from '#server/domain/retention.ts';
import { buildRecordOfProcessing, stableJson, type RecordOfProcessing, type StoreConfiguration, type TransparencySettings } from '#server/domain/transparency.ts';
import { loadStoreConfiguration } from '#server/routes/notice-routes.ts';
import { openExistingStore } from './existing-store.ts';

// `vicino ropa`: the record of processing activities (GDPR art. 30, ACC-2), generated from the live
// configuration — the stores, zones and campaigns in the server's database (DATABASE_URL, else
// DATA_DIR/vicino.db) and the server's environment (CONTROLLER_NAME, CONTROLLER_CONTACT,
// RETENTION_PRESENCE_H, RETENTION_DELIVERY_DAYS, EPOCH_ROTATION_S) — as JSON or Markdown.

export const ROPA_USAGE = `vicino ropa [--format json|markdown] [--data-dir DIR]
                   print the record of processing activities (GDPR art. 30), generated from the server's
                   database and environment (CONTROLLER_NAME, CONTROLLER_CONTACT, RETENTION_*, EPOCH_ROTATION_S)
`;

export type RopaCommandIo = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

/** Runs `vicino ropa …`; returns the exit code. */
export async function runRopaCommand(args: string[], environment: Record<string, string | undefined>, io: RopaCommandIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`vicino ropa: ${message}\n\n${ROPA_USAGE}`);
    return 2;
  };
  let values: { format?: string; 'data-dir'?: string };
  try {
    ({ values } = parseArgs({ args, options: { format: { type: 'string' }, 'data-dir': { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    return usage((error as Error).message);
  }
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'markdown') return usage(`--format must be json or markdown, got "${format}"`);
  const loaded = loadServerEnv({ ...environment, ...(values['data-dir'] === undefined ? {} : { DATA_DIR: values['data-dir'] }) });
  if (!loaded.ok) {
    for (const problem of loaded.problems) io.stderr.write(`vicino ropa: ${problem}\n`);
    return 2;
  }
  const env = loaded.env;
  const settings: TransparencySettings = {
    controller: { name: env.CONTROLLER_NAME, contact: env.CONTROLLER_CONTACT },
    retention: { presenceEventsMs: env.RETENTION_PRESENCE_H * HOUR_MS, deliveryRecordsMs: env.RETENTION_DELIVERY_DAYS * DAY_MS },
    epochRotationS: env.EPOCH_ROTATION_S,
    consentTexts: CURRENT_CONSENT_TEXTS,
  };
  // The record describes the deployment as it is: an empty database created here would describe nothing.
  const store = await openExistingStore('ropa', env, io.stderr);
  if (store === undefined) return 1;
  let stores: StoreConfiguration[];
  try {
    stores = [];
    for (const record of await store.listStores()) {
      const configuration = await loadStoreConfiguration(store, record.id);
      if (configuration !== undefined) stores.push(configuration);
    }
  } finally {
    await store.close();
  }
  const record = buildRecordOfProcessing(settings, stores);
  io.stdout.write(format === 'json' ? `${stableJson(record)}\n` : renderRecordMarkdown(record));
  return 0;
}

/** Markdown table cells: pipes escaped, line breaks flattened. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

export function renderRecordMarkdown(record: RecordOfProcessing): string {
  const lines: string[] = [
    '# Record of processing activities',
    '',
    `${record.legalReference}. Generated from the live configuration by \`vicino ropa\`.`,
    '',
    '## Controller',
    '',
    `- Name: ${record.controller.name}`,
    `- Contact: ${record.controller.contact}`,
    ...(record.controller.configured ? [] : ['', '**Not ready for use: set CONTROLLER_NAME and CONTROLLER_CONTACT.**']),
    '',
    '## Purposes and legal basis',
    '',
    '| code | purpose | description | legal basis | consent text (version, locale, SHA-256) |',
    '|---|---|---|---|---|',
    ...record.purposes.map((p) => `| ${p.code} | ${p.purpose} | ${cell(p.description)} | ${cell(p.legalBasis)} | ${p.consentText.version}, ${p.consentText.locale}, \`${p.consentText.sha256}\` |`),
    '',
    '## Data subjects',
    '',
    ...record.dataSubjects.map((subject) => `- ${subject}`),
    '',
    '## Categories of personal data and retention',
    '',
    '| category | description | purposes | retention |',
    '|---|---|---|---|',
    ...record.dataCategories.map((c) => `| ${c.id} | ${cell(c.description)} | ${c.purposes.join(', ')} | ${cell(c.retention)} |`),
    '',
    '## Recipients',
    '',
    ...record.recipients.map((recipient) => `- ${recipient}`),
    '',
    '## Transfers to third countries',
    '',
    record.transfers,
    '',
    '## Security measures',
    '',
    ...record.securityMeasures.map((measure) => `- ${measure}`),
    '',
    '## Stores',
    '',
  ];
  if (record.stores.length === 0) lines.push('No store is configured.', '');
  for (const store of record.stores) {
    lines.push(`### ${cell(store.name)} (\`${store.id}\`, ${store.timezone})`, '');
    lines.push(`- Zones: ${store.zoneIds.map((id) => `\`${id}\``).join(', ') || 'none'}`);
    lines.push(`- Sensitive zones (never targeted): ${store.sensitiveZoneIds.map((id) => `\`${id}\``).join(', ') || 'none'}`);
    lines.push(`- Campaigns: ${store.campaigns.map((c) => `\`${c.id}\` ${cell(c.name)} (${c.status}; zones ${c.zoneIds.join(', ')})`).join('; ') || 'none'}`, '');
  }
  return `${lines.join('\n')}\n`;
}
