import { parseArgs } from 'node:util';
import { loadServerEnv } from '#server/config.ts';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import { DAY_MS, HOUR_MS } from '#server/domain/retention.ts';
import { renderRecordMarkdown } from '#server/domain/record-markdown.ts';
import { buildRecordOfProcessing, stableJson, type StoreConfiguration, type TransparencySettings } from '#server/domain/transparency.ts';
import { loadStoreConfigurations } from '#server/routes/notice-routes.ts';
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
    stores = await loadStoreConfigurations(store);
  } finally {
    await store.close();
  }
  const record = buildRecordOfProcessing(settings, stores);
  io.stdout.write(format === 'json' ? `${stableJson(record)}\n` : renderRecordMarkdown(record));
  return 0;
}
