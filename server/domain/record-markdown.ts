import type { RecordOfProcessing } from './transparency.ts';

// The record of processing activities (domain/transparency.ts buildRecordOfProcessing) as Markdown: what
// `vicino ropa --format markdown` prints and GET /v1/admin/privacy/ropa?format=markdown answers. Pure.

/** Markdown table cells: pipes escaped, line breaks flattened. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

export function renderRecordMarkdown(record: RecordOfProcessing): string {
  const lines: string[] = [
    '# Record of processing activities',
    '',
    `${record.legalReference}. Generated from the live configuration (\`vicino ropa\`, or the console).`,
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
