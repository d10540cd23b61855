import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBtsnoopWriter } from '#simulator/radio/btsnoop-writer.ts';
import { encodeEddystoneEid, encodeIBeacon } from '#simulator/radio/encoders.ts';
import { runCli } from '../helpers/run-cli.ts';

// `vicino decode` as an operator runs it: the real command in a child process.

const lines = (text: string): unknown[] => text.trim().split('\n').map((line) => JSON.parse(line) as unknown);
const squash = (hex: string): string => hex.replace(/\s+/g, '');

const IBEACON = '02 01 06 1A FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 00 02 C5';
const ALTBEACON = '02 01 06 1B FF 18 01 BE AC E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 00 02 C5 00';
const UID = '02 01 06 03 03 AA FE 17 16 AA FE 00 EC 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 00 00';
const URL = '02 01 06 03 03 AA FE 0E 16 AA FE 10 EC 01 65 78 61 6D 70 6C 65 00';
const TLM = '02 01 06 03 03 AA FE 11 16 AA FE 20 00 0B B8 15 80 00 00 04 D2 00 00 DD D5';
const TLM_UNSUPPORTED = '02 01 06 03 03 AA FE 11 16 AA FE 20 00 00 00 80 00 00 00 00 01 00 00 00 0A';
const EID = '02 01 06 03 03 AA FE 0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90';
const CONTINUITY = '02 01 1A 0A FF 4C 00 10 05 0B 1C 6E 8B 40';
const OVERRUN = '02 01 06 1A FF 4C 00 02 15 E2 C5';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicino-decode-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vicino decode', () => {
  it('prints one JSON object per advertisement, in the documented shapes', async () => {
    const run = runCli(['decode', IBEACON, squash(ALTBEACON), UID, URL, TLM, TLM_UNSUPPORTED, EID.replaceAll(' ', ':'), CONTINUITY, OVERRUN]);
    expect((await run.exited).code).toBe(0);
    expect(run.stderr()).toBe('');
    const uuid = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';
    expect(lines(run.stdout())).toEqual([
      { input: 1, flags: 6, frames: [{ type: 'ibeacon', uuid, major: 1, minor: 2, measuredPowerDbm: -59 }] },
      { input: 2, flags: 6, frames: [{ type: 'altbeacon', companyId: 280, id1: uuid, id2: 1, id3: 2, referenceRssiDbm: -59, reserved: 0 }] },
      { input: 3, flags: 6, serviceUuids16: ['feaa'], frames: [{ type: 'eddystone-uid', namespace: '00010203040506070809', instance: '0a0b0c0d0e0f', txPowerDbm: -20 }] },
      { input: 4, flags: 6, serviceUuids16: ['feaa'], frames: [{ type: 'eddystone-url', url: 'https://www.example.com/', txPowerDbm: -20 }] },
      { input: 5, flags: 6, serviceUuids16: ['feaa'], frames: [{ type: 'eddystone-tlm', version: 0, batteryMv: 3000, temperatureC: 21.5, advCount: 1234, uptimeS: 5678.9 }] },
      { input: 6, flags: 6, serviceUuids16: ['feaa'], frames: [{ type: 'eddystone-tlm', version: 0, batteryMv: null, temperatureC: null, advCount: 1, uptimeS: 1 }] },
      { input: 7, flags: 6, serviceUuids16: ['feaa'], frames: [{ type: 'eddystone-eid', eid: 'a9b76a71c5f89290', txPowerDbm: -20 }] },
      { input: 8, flags: 0x1a, frames: [{ type: 'other', kind: 'apple-continuity' }] },
      { input: 9, flags: 6, frames: [{ type: 'malformed', offset: 3, reason: 'AD structure at offset 3 declares length 26 but only 7 bytes follow' }] },
    ]);
    // Key order too, as documented: the exact text of one line.
    expect(run.stdout().split('\n')[0]).toBe(`{"input":1,"frames":[{"type":"ibeacon","uuid":"${uuid}","major":1,"minor":2,"measuredPowerDbm":-59}],"flags":6}`);
  }, 30_000);

  it('reads one advertisement per line from stdin; a bad line is named by input and character, and the others still decode', async () => {
    const run = runCli(['decode', '-'], { stdin: `${EID}\n02 01 0G\n\n${IBEACON}\n` });
    expect((await run.exited).code).toBe(1);
    expect(run.stderr().trim()).toBe('vicino decode: input 2: hex: "G" at position 7 is not a hex digit');
    expect(lines(run.stdout())).toEqual([
      expect.objectContaining({ input: 1, frames: [expect.objectContaining({ type: 'eddystone-eid' })] }),
      { input: 2, error: { offset: 7, reason: 'hex: "G" at position 7 is not a hex digit' } },
      expect.objectContaining({ input: 4, frames: [expect.objectContaining({ type: 'ibeacon', major: 1 })] }),
    ]);
  }, 30_000);

  it('decodes manufacturer data on its own with --manufacturer', async () => {
    const run = runCli(['decode', '--manufacturer', '4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 07 00 08 BB', '0600 01092002', '4C00 0215 E2C5']);
    expect((await run.exited).code).toBe(0);
    expect(lines(run.stdout())).toEqual([
      { input: 1, frames: [{ type: 'ibeacon', uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 7, minor: 8, measuredPowerDbm: -69 }] },
      { input: 2, frames: [{ type: 'other', kind: 'microsoft-cdp' }] },
      { input: 3, frames: [{ type: 'malformed', offset: 0, reason: 'iBeacon: expected 23 bytes after the company ID, got 4' }] },
    ]);
  }, 30_000);

  it('decodes every report of a btsnoop capture, without addresses unless --show-address', async () => {
    const chunks: Uint8Array[] = [];
    const writer = createBtsnoopWriter((chunk) => chunks.push(chunk));
    const atMs = Date.UTC(2026, 10, 30, 9, 0, 0);
    writer.advertisingReport({ address: 'c4:11:22:33:44:55', addressType: 'random', data: encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 }), rssiDbm: -61, atMs });
    writer.extendedAdvertisingReport({ address: '4a:bb:cc:dd:ee:ff', addressType: 'random', data: encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 }), rssiDbm: -70, atMs: atMs + 250 });
    const file = join(dir, 'capture.btsnoop');
    await writeFile(file, Buffer.concat(chunks));

    const run = runCli(['decode', '--btsnoop', file]);
    expect((await run.exited).code).toBe(0);
    expect(run.stdout()).not.toMatch(/c4:11|4a:bb|address/);
    expect(lines(run.stdout())).toEqual([
      expect.objectContaining({ record: 1, time: '2026-11-30T09:00:00.000Z', rssiDbm: -61, extended: false, frames: [expect.objectContaining({ type: 'ibeacon' })] }),
      expect.objectContaining({ record: 2, time: '2026-11-30T09:00:00.250Z', rssiDbm: -70, extended: true, frames: [{ type: 'eddystone-eid', eid: 'a9b76a71c5f89290', txPowerDbm: -20 }] }),
    ]);

    const shown = runCli(['decode', '--btsnoop', file, '--show-address']);
    expect((await shown.exited).code).toBe(0);
    expect(lines(shown.stdout())).toMatchObject([{ address: 'c4:11:22:33:44:55', addressType: 'random' }, { address: '4a:bb:cc:dd:ee:ff' }]);

    // A capture cut in its last record: the reports before it are printed, the cut named by byte offset.
    const cut = join(dir, 'cut.btsnoop');
    const whole = Buffer.concat(chunks);
    await writeFile(cut, whole.subarray(0, whole.length - 5));
    const partial = runCli(['decode', '--btsnoop', cut]);
    expect((await partial.exited).code).toBe(1);
    expect(lines(partial.stdout())).toHaveLength(1);
    expect(partial.stderr()).toMatch(/cut\.btsnoop: byte offset \d+: btsnoop: record 2 at offset \d+ declares \d+ bytes but only \d+ follow/);
  }, 45_000);

  it('refuses a file that is not a btsnoop capture, and options that do not go together', async () => {
    const notCapture = join(dir, 'not.btsnoop');
    await writeFile(notCapture, 'hello, this is text\n');
    const run = runCli(['decode', '--btsnoop', notCapture]);
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toMatch(/byte offset 0: btsnoop: not a btsnoop file/);
    const usage = runCli(['decode', '--show-address', IBEACON]);
    expect((await usage.exited).code).toBe(2);
    expect(usage.stderr()).toMatch(/--show-address goes with --btsnoop FILE/);
  }, 30_000);
});
