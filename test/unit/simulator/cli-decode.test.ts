import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import type { Frame } from '#gateway/ble/frames.ts';
import { cliAdvertisement, cliFrame, runDecodeCommand } from '#simulator/cli/decode.ts';
import { encodeExposureNotification } from '#simulator/radio/encoders.ts';

// The CLI layer's mapping from the decoder's frames to the documented output shapes, in process.

describe('cliFrame', () => {
  it.each<[Frame, unknown]>([
    [{ type: 'apple-continuity', subtype: 0x10 }, { type: 'other', kind: 'apple-continuity' }],
    [{ type: 'apple-findmy' }, { type: 'other', kind: 'apple-find-my' }],
    [{ type: 'exposure-notification' }, { type: 'other', kind: 'exposure-notification' }],
    [{ type: 'microsoft-cdp' }, { type: 'other', kind: 'microsoft-cdp' }],
    [{ type: 'manufacturer', companyId: 0x59, data: '0102' }, { type: 'other', kind: 'manufacturer', companyId: 0x59, data: '0102' }],
    [{ type: 'service-data', uuid: '180f', data: '64' }, { type: 'other', kind: 'service-data', uuid: '180f', data: '64' }],
    [{ type: 'eddystone-eid', eid: 'a9b76a71c5f89290', txPowerDbm: -20 }, { type: 'eddystone-eid', eid: 'a9b76a71c5f89290', txPowerDbm: -20 }],
  ])('prints %j as %j', (frame, printed) => {
    expect(cliFrame(frame)).toStrictEqual(printed);
  });
});

describe('cliAdvertisement', () => {
  it('lists the frames, then the problems as malformed entries, then what else the packet carries', () => {
    const packet = Buffer.concat([encodeExposureNotification({ rpi: '8b12077e510c4f3a9d63e2a15c08bb70', metadata: '40080000' }), Buffer.from('05ff4c', 'hex')]);
    expect(cliAdvertisement(decodeAdvertisement(packet))).toStrictEqual({
      frames: [
        { type: 'other', kind: 'exposure-notification' },
        { type: 'malformed', offset: 31, reason: 'AD structure at offset 31 declares length 5 but only 2 bytes follow' },
      ],
      flags: 0x1a,
      serviceUuids16: ['fd6f'],
    });
  });
});

describe('runDecodeCommand', () => {
  const run = async (args: string[], stdin = '') => {
    let out = '';
    let err = '';
    const input = new PassThrough();
    input.end(stdin);
    const code = await runDecodeCommand(args, { stdin: input, stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
    return { code, out, err };
  };

  it('reads stdin line by line, numbering inputs by line', async () => {
    const { code, out } = await run(['-'], '\n02 01 06\r\n');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toStrictEqual({ input: 2, frames: [], flags: 6 });
  });

  it('explains usage problems with exit code 2', async () => {
    expect(await run([])).toMatchObject({ code: 2, err: expect.stringContaining('give one or more hex advertisements') });
    expect(await run(['-', '020106'])).toMatchObject({ code: 2, err: expect.stringContaining("'-' (read stdin) cannot be mixed") });
    expect(await run(['--btsnoop', 'x', '020106'])).toMatchObject({ code: 2 });
    expect(await run(['--colour'])).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--colour'") });
    expect(await run(['--help'])).toMatchObject({ code: 0, out: expect.stringContaining('--btsnoop FILE') });
  });

  it('reports empty hex as a bad input', async () => {
    expect(await run([' : '])).toMatchObject({ code: 1, err: 'vicino decode: input 1: hex: no digits\n' });
  });
});
