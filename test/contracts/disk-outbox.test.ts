import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll } from 'vitest';
import { createDiskOutbox } from '#gateway/publisher/disk-outbox.ts';
import { eventOutboxContract } from './event-outbox.contract.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

eventOutboxContract('disk outbox', async (options) => {
  const dir = await mkdtemp(join(tmpdir(), 'vicino-outbox-'));
  dirs.push(dir);
  const outbox = createDiskOutbox({ ...options, dir, logger: pino({ level: 'silent' }) });
  await outbox.open();
  return outbox;
});
