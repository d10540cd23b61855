import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createDiskOutbox, decodeSegment } from '#gateway/publisher/disk-outbox.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';

// What only the disk outbox promises: it survives a restart and a kill, reclaims its files, and a
// damaged file costs only the damaged records, each counted and logged with its byte offset.

const silent = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length > 0) await rm(dirs.pop()!, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vicino-outbox-'));
  dirs.push(dir);
  return dir;
}

const payload = (i: number): string => JSON.stringify({ i, pseudonym: 'b'.repeat(32) });
const segmentsIn = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => n.startsWith('segment-')).sort();

describe('disk outbox', () => {
  it('replays, after a restart, exactly the events that were never acknowledged, in order', async () => {
    const dir = await tempDir();
    const first = createDiskOutbox({ dir, maxBytes: 1 << 20, now: () => 0, logger: silent, fsyncIntervalMs: 0 });
    await first.open();
    for (let i = 0; i < 10; i += 1) first.append(payload(i), 60_000);
    const taken = first.take(4);
    for (const entry of taken.slice(0, 3)) first.ack(entry.n);
    // No close(): the process is gone as far as the outbox is concerned.
    const second = createDiskOutbox({ dir, maxBytes: 1 << 20, now: () => 0, logger: silent });
    await second.open();
    expect(second.take(100).map((e) => e.payload)).toEqual([3, 4, 5, 6, 7, 8, 9].map(payload));
    second.append(payload(10), 60_000);
    expect(second.take(100).map((e) => e.payload)).toEqual([payload(10)]);
    await second.close();
  });

  it('loses nothing a killed process had appended (SIGKILL right after the last append)', async () => {
    const dir = await tempDir();
    const moduleUrl = new URL('../../gateway/publisher/disk-outbox.ts', import.meta.url).href;
    const script = `
      const { createDiskOutbox } = await import(${JSON.stringify(moduleUrl)});
      const { pino } = await import('pino');
      const outbox = createDiskOutbox({ dir: ${JSON.stringify(dir)}, maxBytes: 1 << 20, now: () => 0, logger: pino({ level: 'silent' }), fsyncIntervalMs: 60000 });
      await outbox.open();
      for (let i = 0; i < 500; i += 1) outbox.append(JSON.stringify({ i, pseudonym: 'b'.repeat(32) }), 60000);
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    expect(signal).toBe('SIGKILL');
    const reopened = createDiskOutbox({ dir, maxBytes: 1 << 20, now: () => 0, logger: silent });
    await reopened.open();
    expect(reopened.take(1_000).map((e) => e.payload)).toEqual(Array.from({ length: 500 }, (_, i) => payload(i)));
    expect(reopened.stats().dropped.corrupt).toBe(0);
    await reopened.close();
  }, 20_000);

  it('drops events that expired while the gateway was down, and counts them', async () => {
    const dir = await tempDir();
    const first = createDiskOutbox({ dir, maxBytes: 1 << 20, now: () => 0, logger: silent });
    await first.open();
    first.append(payload(0), 10_000);
    first.append(payload(1), 30_000);
    await first.close();
    const second = createDiskOutbox({ dir, maxBytes: 1 << 20, now: () => 20_000, logger: silent });
    await second.open();
    expect(second.stats()).toMatchObject({ depth: 1, dropped: { expired: 1 } });
    expect(second.take(10).map((e) => e.payload)).toEqual([payload(1)]);
    await second.close();
  });

  it('skips a corrupt record and a truncated tail, logs their byte offsets, and keeps every other event', async () => {
    const dir = await tempDir();
    const first = createDiskOutbox({ dir, maxBytes: 1 << 20, now: () => 0, logger: silent });
    await first.open();
    for (let i = 0; i < 6; i += 1) first.append(payload(i), 60_000);
    await first.close();
    const [segment] = await segmentsIn(dir);
    const path = join(dir, segment!);
    const data = await readFile(path);
    const records = decodeSegment(data, () => undefined);
    const events = records.filter((r) => r.type === 1);
    // Flip a byte inside the third event's payload, and cut the last event in half.
    const flipped = events[2]!.offset + 30;
    data.writeUInt8(data.readUInt8(flipped) ^ 0xff, flipped);
    await writeFile(path, data);
    await truncate(path, events[5]!.offset + 30);

    const sink = createLogSink();
    const second = createDiskOutbox({ dir, maxBytes: 1 << 20, now: () => 0, logger: sink.logger });
    await second.open();
    expect(second.take(10).map((e) => e.payload)).toEqual([0, 1, 3, 4].map(payload));
    expect(second.stats().dropped.corrupt).toBe(2);
    const warnings = sink.lines().filter((line) => line.msg === 'outbox record corrupt; skipped');
    expect(warnings.map((line) => line.offset)).toEqual([events[2]!.offset, events[5]!.offset]);
    expect(warnings.map((line) => line.reason)).toEqual(['CRC-32 mismatch', 'record length runs past the end of the segment']);
    await second.close();
  });

  it('deletes segment files once every event in them is acknowledged', async () => {
    const dir = await tempDir();
    const outbox = createDiskOutbox({ dir, maxBytes: 64 * 1024, segmentBytes: 4_096, now: () => 0, logger: silent, fsyncIntervalMs: 0 });
    await outbox.open();
    for (let i = 0; i < 200; i += 1) outbox.append(payload(i), 60_000);
    expect((await segmentsIn(dir)).length).toBeGreaterThan(3);
    for (const entry of outbox.take(200)) outbox.ack(entry.n);
    expect(await segmentsIn(dir)).toHaveLength(1);
    expect(outbox.stats()).toMatchObject({ depth: 0, inFlight: 0 });
    await outbox.close();
    const reopened = createDiskOutbox({ dir, maxBytes: 64 * 1024, now: () => 0, logger: silent });
    await reopened.open();
    expect(reopened.stats().depth).toBe(0);
    await reopened.close();
  });

  it('names the field at fault for a bound too small to hold a segment', () => {
    expect(() => createDiskOutbox({ dir: '/nonexistent', maxBytes: 100, now: () => 0, logger: silent })).toThrow(/maxBytes/);
  });
});

describe('disk outbox on a failing disk', () => {
  it('counts and logs a write it cannot make, once, and keeps working', async () => {
    const dir = await tempDir();
    const sink = createLogSink();
    const outbox = createDiskOutbox({ dir, maxBytes: 64 * 1024, segmentBytes: 4_096, now: () => 0, logger: sink.logger });
    await outbox.open();
    outbox.append(payload(0), 60_000);
    // The directory disappears (an unmounted card, say): the next segment cannot be created.
    await rm(dir, { recursive: true, force: true });
    for (let i = 1; i < 200; i += 1) expect(() => outbox.append(payload(i), 60_000)).not.toThrow();
    const { dropped, depth } = outbox.stats();
    expect(dropped['write-error']).toBeGreaterThan(0);
    expect(depth + dropped['write-error']).toBe(200);
    expect(sink.lines().filter((line) => line.msg === 'outbox write failed; event dropped').map((line) => line.err)).toEqual(['ENOENT']);
    // What it holds is still handed out in order.
    const taken = outbox.take(1_000).map((e) => e.payload);
    expect(taken[0]).toBe(payload(0));
    await outbox.close();
  });
});
