import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { parseAdStructures } from '#gateway/ble/ad-parser.ts';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/[\s:]/g, ''), 'hex'));
const summary = (data: Uint8Array) =>
  parseAdStructures(data).structures.map((s) => ({ type: s.type, offset: s.offset, data: Buffer.from(s.data).toString('hex') }));

describe('parseAdStructures', () => {
  it('splits an iBeacon advertisement into flags and manufacturer data', () => {
    const data = bytes('02 01 06 1A FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 00 02 C5');
    expect(summary(data)).toEqual([
      { type: 0x01, offset: 0, data: '06' },
      { type: 0xff, offset: 3, data: '4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5' },
    ]);
    expect(parseAdStructures(data).error).toBeUndefined();
  });

  it('returns views into the packet, not copies', () => {
    const data = bytes('02 01 06 03 03 AA FE');
    const [, list] = parseAdStructures(data).structures;
    expect(list?.data.buffer).toBe(data.buffer);
    expect(list?.data.byteOffset).toBe(data.byteOffset + 5);
  });

  it('reports a zero length byte followed by data, keeping the structures before it', () => {
    const result = parseAdStructures(bytes('02 01 06 00 1A FF 4C 00'));
    expect(result.structures.map((s) => s.type)).toEqual([0x01]);
    expect(result.error).toEqual({
      code: 'zero-length',
      offset: 3,
      message: 'zero-length AD structure at offset 3 is followed by data (non-zero byte at offset 4); the rest was not decoded',
    });
  });

  it('names the first non-zero byte after a zero length', () => {
    expect(parseAdStructures(bytes('02 01 06 00 00 00 07')).error).toMatchObject({ code: 'zero-length', offset: 3, message: expect.stringContaining('offset 6') });
  });

  it('accepts trailing zero padding up to 31 bytes', () => {
    const data = new Uint8Array(31);
    data.set([0x02, 0x01, 0x06]);
    expect(parseAdStructures(data)).toEqual({ structures: [expect.objectContaining({ type: 0x01, offset: 0 })] });
  });

  it('reports an overrun with its offset and both lengths, keeping the structures before it', () => {
    const result = parseAdStructures(bytes('02 01 06 1A FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2'));
    expect(result.structures.map((s) => s.type)).toEqual([0x01]);
    expect(result.error).toEqual({
      code: 'overrun',
      offset: 3,
      message: 'AD structure at offset 3 declares length 26 but only 13 bytes follow',
    });
  });

  it('reports a lone length byte at the end as an overrun', () => {
    expect(parseAdStructures(bytes('02 01 06 05')).error).toMatchObject({ code: 'overrun', offset: 3 });
  });

  it('reads a structure of length 1 as a type with no data', () => {
    expect(summary(bytes('01 FF 02 01 06'))).toEqual([
      { type: 0xff, offset: 0, data: '' },
      { type: 0x01, offset: 2, data: '06' },
    ]);
  });

  it('returns nothing for empty advertising data', () => {
    expect(parseAdStructures(new Uint8Array(0))).toEqual({ structures: [] });
  });

  it('reads extended advertising data past 31 bytes, with structures up to 254 bytes long', () => {
    const data = new Uint8Array(3 + 255 + 2);
    data.set([0x02, 0x01, 0x06, 0xfe, 0xff, 0x34, 0x12]);
    data.set([0x01, 0x09], 3 + 255);
    const result = parseAdStructures(data);
    expect(result.error).toBeUndefined();
    expect(result.structures.map((s) => [s.type, s.offset, s.data.length])).toEqual([
      [0x01, 0, 1],
      [0xff, 3, 253],
      [0x09, 258, 0],
    ]);
  });
});
