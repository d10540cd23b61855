import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { createOutboxQueue, type EventOutbox } from './event-outbox.ts';

// The durable outbox of a real gateway: append-only segment files in its state directory
// (StateDirectory= in the systemd unit). It holds only what the publisher hands it: signed,
// pseudonymised PresenceEvent JSON (MIN-3: nothing else of the gateway touches disk).
//
// Record layout (big-endian), 25 header bytes then the payload:
//   0  magic "VOB" 0x01      4  type: 1 event, 2 cursor     5  payload length u32
//   9  n u48                 15 expiresAtMs u48 (0 for a cursor)
//   21 CRC-32 of bytes 4..20 and the payload                 25 payload (UTF-8 JSON)
// A cursor record says "every event below n is done" (acknowledged or dropped). Each segment starts
// with one, so the newest segment always knows the cursor and older segments can be deleted as soon as
// all their events are below it. The magic ends in 0x01, a byte JSON text never holds, so after a
// corrupt or truncated record the loader finds the next record by scanning for the magic.
//
// Durability: append() returns after write(2), so a killed process loses nothing it was given (the
// data is in the kernel). fsync runs every fsyncIntervalMs while anything is unsynced (0: after every
// append), which bounds what a power cut can take.

const MAGIC = Buffer.from([0x56, 0x4f, 0x42, 0x01]);
const HEADER_BYTES = 25;
const TYPE_EVENT = 1;
const TYPE_CURSOR = 2;
const SEGMENT_PATTERN = /^segment-(\d{12})\.log$/;

export type DiskOutboxOptions = {
  dir: string;
  /** Bound on the segment files' total size; past it whole segments go, oldest first, each event counted. */
  maxBytes: number;
  now: () => number;
  logger: Logger;
  /** 0 syncs after every append; otherwise at most this long between a write and its fsync. */
  fsyncIntervalMs?: number;
  /** Default maxBytes / 8, at least 4 KiB: the unit in which disk space is reclaimed or dropped. */
  segmentBytes?: number;
};

type Segment = { index: number; path: string; bytes: number; lastN: number };

export function encodeRecord(type: number, n: number, expiresAtMs: number, payload: Buffer): Buffer {
  const record = Buffer.alloc(HEADER_BYTES + payload.length);
  MAGIC.copy(record, 0);
  record.writeUInt8(type, 4);
  record.writeUInt32BE(payload.length, 5);
  record.writeUIntBE(n, 9, 6);
  record.writeUIntBE(expiresAtMs, 15, 6);
  payload.copy(record, HEADER_BYTES);
  record.writeUInt32BE(crc32(payload, crc32(record.subarray(4, 21))), 21);
  return record;
}

export type DecodedRecord = { offset: number; type: number; n: number; expiresAtMs: number; payload: Buffer };

/**
 * Reads every intact record of a segment. A bad region (wrong magic, a length past the end, a CRC
 * mismatch, a truncated tail) is reported once, with its byte offset, and skipped up to the next magic.
 */
export function decodeSegment(data: Buffer, onCorrupt: (offset: number, reason: string) => void): DecodedRecord[] {
  const records: DecodedRecord[] = [];
  let offset = 0;
  let badSince: number | undefined;
  const bad = (reason: string): void => {
    if (badSince === undefined) {
      badSince = offset;
      onCorrupt(offset, reason);
    }
    const found = data.indexOf(MAGIC, offset + 1);
    offset = found === -1 ? data.length : found;
  };
  while (offset < data.length) {
    if (data.length - offset < HEADER_BYTES) {
      bad('truncated record header');
      continue;
    }
    if (!data.subarray(offset, offset + 4).equals(MAGIC)) {
      bad('no record magic');
      continue;
    }
    const length = data.readUInt32BE(offset + 5);
    const end = offset + HEADER_BYTES + length;
    if (end > data.length) {
      bad('record length runs past the end of the segment');
      continue;
    }
    const payload = data.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload, crc32(data.subarray(offset + 4, offset + 21))) !== data.readUInt32BE(offset + 21)) {
      bad('CRC-32 mismatch');
      continue;
    }
    const type = data.readUInt8(offset + 4);
    if (type !== TYPE_EVENT && type !== TYPE_CURSOR) {
      bad(`unknown record type ${type}`);
      continue;
    }
    records.push({ offset, type, n: data.readUIntBE(offset + 9, 6), expiresAtMs: data.readUIntBE(offset + 15, 6), payload });
    badSince = undefined;
    offset = end;
  }
  return records;
}

export function createDiskOutbox(options: DiskOutboxOptions): EventOutbox {
  const { dir, maxBytes, logger } = options;
  if (!Number.isInteger(maxBytes) || maxBytes < 16_384) throw new RangeError(`outbox maxBytes must be an integer of at least 16384, got ${maxBytes}`);
  const fsyncIntervalMs = options.fsyncIntervalMs ?? 100;
  const segmentBytes = options.segmentBytes ?? Math.max(4_096, Math.floor(maxBytes / 8));
  const segments: Segment[] = [];
  let fd: number | undefined;
  let nextN = 1;
  let cursorWritten = 0;
  let unsynced = false;
  let syncTimer: NodeJS.Timeout | undefined;
  let opened = false;

  const queue = createOutboxQueue({ now: options.now, onRemoved: () => scheduleSync() });
  const active = (): Segment => segments[segments.length - 1]!;
  const totalBytes = (): number => segments.reduce((sum, s) => sum + s.bytes, 0);
  const cursor = (): number => queue.firstLive() ?? nextN;
  const segmentPath = (index: number): string => join(dir, `segment-${String(index).padStart(12, '0')}.log`);

  const write = (record: Buffer): void => {
    writeSync(fd!, record);
    active().bytes += record.length;
    unsynced = true;
  };

  const writeCursor = (): void => {
    const at = cursor();
    write(encodeRecord(TYPE_CURSOR, at, 0, Buffer.alloc(0)));
    cursorWritten = at;
  };

  const startSegment = (): void => {
    const index = segments.length > 0 ? active().index + 1 : 1;
    const path = segmentPath(index);
    // Open the next file first: if that fails, the current segment stays the active one.
    const previous = fd;
    fd = openSync(path, 'a', 0o600);
    segments.push({ index, path, bytes: 0, lastN: 0 });
    if (previous !== undefined) {
      try {
        fsyncSync(previous);
      } finally {
        closeSync(previous);
      }
    }
    writeCursor();
  };

  /** Deletes the old segments whose events are all done, once the cursor saying so is on disk. */
  const reclaim = (): void => {
    if (segments.length < 2 || segments[0]!.lastN >= cursor()) return;
    if (cursorWritten !== cursor()) writeCursor();
    fsyncSync(fd!);
    unsynced = false;
    while (segments.length > 1 && segments[0]!.lastN < cursor()) unlinkSync(segments.shift()!.path);
  };

  let lastIoError = '';
  const ioFailed = (error: unknown, message: string): void => {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    // Once per distinct error, not once per event while the disk stays full.
    if (code !== lastIoError) logger.error({ err: code }, message);
    lastIoError = code;
  };

  const sync = (): void => {
    syncTimer = undefined;
    if (fd === undefined) return;
    try {
      if (cursorWritten !== cursor()) writeCursor();
      reclaim();
      if (unsynced) {
        fsyncSync(fd);
        unsynced = false;
      }
      lastIoError = '';
    } catch (error) {
      // Retried at the next write or acknowledgement; until then a restart may resend acknowledged events.
      ioFailed(error, 'outbox sync failed');
    }
  };

  function scheduleSync(): void {
    if (!opened) return;
    if (fsyncIntervalMs === 0) {
      sync();
      return;
    }
    syncTimer ??= setTimeout(sync, fsyncIntervalMs);
    syncTimer.unref?.();
  }

  /** Makes room for `bytes` more: whole segments go, oldest first, their events counted as overflow. */
  const makeRoom = (bytes: number): void => {
    while (totalBytes() + bytes > maxBytes) {
      if (segments.length === 1) startSegment();
      const oldest = segments[0]!;
      queue.dropSegment(oldest.index, 'overflow');
      writeCursor();
      fsyncSync(fd!);
      unlinkSync(oldest.path);
      segments.shift();
    }
  };

  return {
    async open() {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const found = readdirSync(dir)
        .map((name) => SEGMENT_PATTERN.exec(name))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => Number(match[1]))
        .sort((a, b) => a - b);
      let loadedCursor = 0;
      const events: { n: number; expiresAtMs: number; payload: Buffer; segment: number }[] = [];
      for (const index of found) {
        const path = segmentPath(index);
        const data = readFileSync(path);
        const records = decodeSegment(data, (offset, reason) => {
          queue.count('corrupt');
          logger.warn({ segment: `segment-${String(index).padStart(12, '0')}.log`, offset, reason }, 'outbox record corrupt; skipped');
        });
        let lastN = 0;
        for (const record of records) {
          if (record.type === TYPE_CURSOR) loadedCursor = Math.max(loadedCursor, record.n);
          else {
            events.push({ n: record.n, expiresAtMs: record.expiresAtMs, payload: record.payload, segment: index });
            lastN = Math.max(lastN, record.n);
          }
          nextN = Math.max(nextN, record.n + 1);
        }
        segments.push({ index, path, bytes: data.length, lastN });
      }
      let replayed = 0;
      for (const event of events) {
        if (event.n < loadedCursor) continue;
        queue.push({ n: event.n, payload: event.payload.toString('utf8'), expiresAtMs: event.expiresAtMs, bytes: event.payload.length, segment: event.segment });
        replayed += 1;
      }
      queue.purgeExpired();
      // A fresh segment each start: never append after a tail that a crash may have cut short.
      startSegment();
      opened = true;
      reclaim();
      fsyncSync(fd!);
      unsynced = false;
      if (found.length > 0) logger.info({ segments: found.length, replayed, expired: queue.stats().dropped.expired }, 'outbox loaded');
    },
    append(payload, expiresAtMs) {
      if (fd === undefined) throw new Error('disk outbox used before open()');
      const bytes = Buffer.from(payload, 'utf8');
      const record = encodeRecord(TYPE_EVENT, nextN, expiresAtMs, bytes);
      if (record.length + HEADER_BYTES > maxBytes / 2) {
        queue.count('overflow');
        return;
      }
      try {
        if (active().bytes + record.length > segmentBytes) startSegment();
        makeRoom(record.length);
        write(record);
      } catch (error) {
        // A full or failing disk must not stop the gateway: the event is lost, counted and logged.
        queue.count('write-error');
        ioFailed(error, 'outbox write failed; event dropped');
        return;
      }
      const n = nextN;
      nextN += 1;
      active().lastN = n;
      queue.push({ n, payload, expiresAtMs, bytes: bytes.length, segment: active().index });
      scheduleSync();
    },
    take: (max) => queue.take(max),
    ack: (n) => queue.ack(n),
    release: (n) => queue.release(n),
    purgeExpired: () => queue.purgeExpired(),
    stats() {
      const { liveBytes: _liveBytes, ...rest } = queue.stats();
      return { ...rest, bytes: totalBytes() };
    },
    async close() {
      if (syncTimer) clearTimeout(syncTimer);
      if (fd === undefined) return;
      sync();
      closeSync(fd);
      fd = undefined;
      opened = false;
    },
  };
}
