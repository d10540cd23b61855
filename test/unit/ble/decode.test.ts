import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement, decodeHexAdvertisement, decodeManufacturerBytes } from '#gateway/ble/decode.ts';
import type { Frame } from '#gateway/ble/frames.ts';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/[\s:]/g, ''), 'hex'));
const decodeHex = (hex: string) => decodeAdvertisement(bytes(hex));

// Spec examples (ble-frames.md, eid-vectors.md) and captures of the shapes real devices send.
const FLAGS = '02 01 06';
const IBEACON_BLOCK = '1A FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 00 02 C5';
// RadiusNetworks/altbeacon-reference `altbeacon_transmit`: company 0x0118, ID1 zero, ID2 1, ID3 1.
const ALTBEACON_BLOCK = '1B FF 18 01 BE AC 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 01 C5 01';
const EDDYSTONE_LIST = '03 03 AA FE';
const EID_BLOCK = '0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90';
const RPI = '8B 12 07 7E 51 0C 4F 3A 9D 63 E2 A1 5C 08 BB 70';

const IBEACON: Frame = { type: 'ibeacon', uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 };
const ALTBEACON: Frame = {
  type: 'altbeacon', companyId: 280, id1: '00000000-0000-0000-0000-000000000000', id2: 1, id3: 1, referenceRssiDbm: -59, reserved: 1,
};
const EID: Frame = { type: 'eddystone-eid', eid: 'a9b76a71c5f89290', txPowerDbm: -20 };

describe('decodeAdvertisement', () => {
  it.each<[string, string, Frame[]]>([
    ['an iBeacon (UUID e2c56db5…, major 1, minor 2, power C5 = −59 dBm)', `${FLAGS} ${IBEACON_BLOCK}`, [IBEACON]],
    ['an iBeacon with a positive measured power, flagged implausible',
      `${FLAGS} 1A FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 FF FF 00 00 05`,
      [{ type: 'ibeacon', uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 65535, minor: 0, measuredPowerDbm: 5, implausiblePower: true }]],
    ['the Eddystone-EID advertisement of eid-vectors.md', `${FLAGS} ${EDDYSTONE_LIST} ${EID_BLOCK}`, [EID]],
    ['the AltBeacon of the reference transmitter', `02 01 1A ${ALTBEACON_BLOCK}`, [ALTBEACON]],
    ['an Eddystone-URL for https://www.example.com/', `${FLAGS} ${EDDYSTONE_LIST} 0E 16 AA FE 10 EC 01 65 78 61 6D 70 6C 65 00`,
      [{ type: 'eddystone-url', url: 'https://www.example.com/', txPowerDbm: -20 }]],
    ['an Eddystone-URL with scheme http:// and a mid-URL expansion', `${FLAGS} ${EDDYSTONE_LIST} 0F 16 AA FE 10 00 02 76 69 63 69 6E 6F 07 2F 78`,
      [{ type: 'eddystone-url', url: 'http://vicino.com/x', txPowerDbm: 0 }]],
    ['an Eddystone-TLM (3000 mV, 21.5 °C, 1234 PDUs, 5678.9 s)', `${FLAGS} ${EDDYSTONE_LIST} 11 16 AA FE 20 00 0B B8 15 80 00 00 04 D2 00 00 DD D5`,
      [{ type: 'eddystone-tlm', version: 0, batteryMv: 3000, temperatureC: 21.5, advCount: 1234, uptimeS: 5678.9 }]],
    ['an Eddystone-TLM reporting battery and temperature unsupported', `${FLAGS} ${EDDYSTONE_LIST} 11 16 AA FE 20 00 00 00 80 00 00 00 00 01 00 00 00 0A`,
      [{ type: 'eddystone-tlm', version: 0, batteryMv: null, temperatureC: null, advCount: 1, uptimeS: 1 }]],
    ['an Eddystone-TLM below freezing', `${FLAGS} ${EDDYSTONE_LIST} 11 16 AA FE 20 00 0C E4 FF 80 FF FF FF FF FF FF FF FF`,
      [{ type: 'eddystone-tlm', version: 0, batteryMv: 3300, temperatureC: -0.5, advCount: 4294967295, uptimeS: 429496729.5 }]],
    ['an encrypted Eddystone-TLM', `${FLAGS} ${EDDYSTONE_LIST} 15 16 AA FE 20 01 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F`,
      [{ type: 'eddystone-etlm', version: 1, etlm: '000102030405060708090a0b', salt: '0c0d', mic: '0e0f' }]],
    ['an Eddystone-UID with its RFU bytes', `${FLAGS} ${EDDYSTONE_LIST} 17 16 AA FE 00 E7 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 00 00`,
      [{ type: 'eddystone-uid', namespace: '00010203040506070809', instance: '0a0b0c0d0e0f', txPowerDbm: -25 }]],
    ['an Eddystone-UID without its RFU bytes', `${FLAGS} ${EDDYSTONE_LIST} 15 16 AA FE 00 E7 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F`,
      [{ type: 'eddystone-uid', namespace: '00010203040506070809', instance: '0a0b0c0d0e0f', txPowerDbm: -25 }]],
    ['an Exposure Notification, never as a beacon', `02 01 1A 03 03 6F FD 17 16 6F FD ${RPI} 40 08 00 00`, [{ type: 'exposure-notification' }]],
    ['Apple Nearby Info as Continuity', '02 01 1A 0A FF 4C 00 10 05 0B 1C 6E 8B 40', [{ type: 'apple-continuity', subtype: 0x10 }]],
    ['the iOS background overflow area as Continuity', '14 FF 4C 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 80',
      [{ type: 'apple-continuity', subtype: 0x01 }]],
    ['Apple type 0x02 with a length other than 0x15 as Continuity', '09 FF 4C 00 02 04 01 02 03 04', [{ type: 'apple-continuity', subtype: 0x02 }]],
    ['an AirTag as Find My', `1E FF 4C 00 12 19 10 ${'A5 '.repeat(22)} 01 00`, [{ type: 'apple-findmy' }]],
    ['a Windows Connected Devices Platform beacon', `1E FF 06 00 01 09 20 02 ${'3C '.repeat(23)}`, [{ type: 'microsoft-cdp' }]],
    ['another company\'s manufacturer data', `${FLAGS} 05 FF 59 00 01 02`, [{ type: 'manufacturer', companyId: 0x59, data: '0102' }]],
    ['other 16-bit service data', '04 16 0F 18 64', [{ type: 'service-data', uuid: '180f', data: '64' }]],
    ['32-bit service data', '07 20 78 56 34 12 AB CD', [{ type: 'service-data', uuid: '12345678', data: 'abcd' }]],
    ['128-bit service data (UUID little-endian)', '13 21 9E CA DC 24 0E E5 A9 E0 93 F3 A3 B5 01 00 40 6E 01 02',
      [{ type: 'service-data', uuid: '6e400001-b5a3-f393-e0a9-e50e24dcca9e', data: '0102' }]],
    ['an AltBeacon under any company ID (here Nordic, 0x0059)', `1B FF 59 00 BE AC ${'11 '.repeat(16)} 00 07 00 08 BB 00`,
      [{ type: 'altbeacon', companyId: 0x59, id1: '11111111-1111-1111-1111-111111111111', id2: 7, id3: 8, referenceRssiDbm: -69, reserved: 0 }]],
  ])('decodes %s', (_name, hex, frames) => {
    const ad = decodeHex(hex);
    expect(ad.errors).toEqual([]);
    expect(ad.frames).toStrictEqual(frames);
    expect(JSON.parse(JSON.stringify(ad))).toStrictEqual(ad);
  });

  it('decodes both manufacturer blocks of one packet', () => {
    const ad = decodeHex(`${FLAGS} ${IBEACON_BLOCK} ${ALTBEACON_BLOCK}`);
    expect(ad.frames).toStrictEqual([IBEACON, ALTBEACON]);
    expect(ad.errors).toEqual([]);
  });

  it('decodes every service-data block of one packet', () => {
    const tlm = '11 16 AA FE 20 00 0B B8 15 80 00 00 04 D2 00 00 DD D5';
    const ad = decodeHex(`${FLAGS} ${EDDYSTONE_LIST} ${EID_BLOCK} ${tlm} 04 16 0F 18 64`);
    expect(ad.frames.map((frame) => frame.type)).toEqual(['eddystone-eid', 'eddystone-tlm', 'service-data']);
    expect(ad.errors).toEqual([]);
  });

  it('never reads an Apple or Microsoft block as an AltBeacon, whatever follows the company ID', () => {
    const altBeaconBody = ALTBEACON_BLOCK.slice('1B FF 18 01 '.length);
    expect(decodeHex(`1B FF 4C 00 ${altBeaconBody}`).frames).toStrictEqual([{ type: 'apple-continuity', subtype: 0xbe }]);
    expect(decodeHex(`1B FF 06 00 ${altBeaconBody}`).frames).toStrictEqual([{ type: 'microsoft-cdp' }]);
  });

  it('reads flags, names, TX power and service UUID lists', () => {
    const nordicUartLe = '9E CA DC 24 0E E5 A9 E0 93 F3 A3 B5 01 00 40 6E';
    const ad = decodeHex(`${FLAGS} 02 0A F4 ${EDDYSTONE_LIST} 05 05 78 56 34 12 11 07 ${nordicUartLe} 07 09 56 69 63 69 6E 6F`);
    expect(ad).toStrictEqual({
      frames: [],
      flags: 0x06,
      txPowerDbm: -12,
      serviceUuids16: ['feaa'],
      serviceUuids32: ['12345678'],
      serviceUuids128: ['6e400001-b5a3-f393-e0a9-e50e24dcca9e'],
      localName: 'Vicino',
      localNameComplete: true,
      errors: [],
    });
  });

  it('prefers a complete local name over a shortened one in either order', () => {
    for (const hex of ['04 08 56 69 63 07 09 56 69 63 69 6E 6F', '07 09 56 69 63 69 6E 6F 04 08 56 69 63']) {
      expect(decodeHex(hex)).toMatchObject({ localName: 'Vicino', localNameComplete: true });
    }
    expect(decodeHex('04 08 56 69 63')).toMatchObject({ localName: 'Vic', localNameComplete: false });
  });

  it('decodes 200+ bytes of extended advertising data', () => {
    const padding = `A2 FF 59 00 ${'EE '.repeat(159)}`;
    const data = bytes(`${FLAGS} ${IBEACON_BLOCK} ${ALTBEACON_BLOCK} ${EDDYSTONE_LIST} ${EID_BLOCK} ${padding}`);
    expect(data.length).toBe(239);
    const ad = decodeAdvertisement(data);
    expect(ad.errors).toEqual([]);
    expect(ad.frames).toStrictEqual([IBEACON, ALTBEACON, EID, { type: 'manufacturer', companyId: 0x59, data: 'ee'.repeat(159) }]);
  });

  it('reports a zero-length AD followed by data, and decodes nothing after it', () => {
    const ad = decodeHex(`${FLAGS} 00 ${IBEACON_BLOCK}`);
    expect(ad).toMatchObject({ flags: 0x06, frames: [] });
    expect(ad.errors).toEqual([{
      code: 'zero-length', offset: 3, message: 'zero-length AD structure at offset 3 is followed by data (non-zero byte at offset 4); the rest was not decoded',
    }]);
  });

  it('accepts zero padding after the last AD structure', () => {
    expect(decodeHex(`${FLAGS} ${EDDYSTONE_LIST} ${EID_BLOCK} 00 00 00 00 00 00 00 00 00 00`)).toMatchObject({ frames: [EID], errors: [] });
  });

  it('returns nothing, and no error, for empty advertising data', () => {
    expect(decodeAdvertisement(new Uint8Array(0))).toStrictEqual({ frames: [], serviceUuids16: [], serviceUuids32: [], serviceUuids128: [], errors: [] });
  });

  it('reports an overrun by offset and keeps what decoded before it', () => {
    const ad = decodeHex(`${FLAGS} ${EDDYSTONE_LIST} ${EID_BLOCK} 1A FF 4C 00 02 15 E2 C5`);
    expect(ad.frames).toStrictEqual([EID]);
    expect(ad.errors).toEqual([
      { code: 'overrun', offset: 21, message: 'AD structure at offset 21 declares length 26 but only 7 bytes follow' },
    ]);
  });

  it.each<[string, string, { code: string; offset: number; message: string }]>([
    ['an iBeacon cut short', `${FLAGS} 17 FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01`,
      { code: 'truncated', offset: 3, message: 'iBeacon: expected 23 bytes after the company ID, got 20' }],
    ['an iBeacon with a byte too many', `${FLAGS} 1B FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 00 02 C5 00`,
      { code: 'invalid', offset: 3, message: 'iBeacon: expected 23 bytes after the company ID, got 24' }],
    ['an AltBeacon cut short', `${FLAGS} 10 FF 18 01 BE AC 00 00 00 00 00 00 00 00 00 00 00`,
      { code: 'truncated', offset: 3, message: 'AltBeacon: expected 24 bytes after the company ID, got 13' }],
    ['an Eddystone-EID cut short', `${FLAGS} ${EDDYSTONE_LIST} 0A 16 AA FE 30 EC A9 B7 6A 71 C5`,
      { code: 'truncated', offset: 7, message: 'Eddystone-EID: expected 9 bytes after the frame type, got 6' }],
    ['an Eddystone-TLM cut short', `${FLAGS} ${EDDYSTONE_LIST} 08 16 AA FE 20 00 0B B8 15`,
      { code: 'truncated', offset: 7, message: 'Eddystone-TLM: expected 13 bytes after the frame type, got 4' }],
    ['an Eddystone-URL with an unknown scheme byte', `${FLAGS} ${EDDYSTONE_LIST} 0E 16 AA FE 10 EC 04 65 78 61 6D 70 6C 65 00`,
      { code: 'invalid', offset: 13, message: 'Eddystone-URL: unknown URL scheme prefix 0x04 at offset 13' }],
    ['an Eddystone-URL with a reserved byte', `${FLAGS} ${EDDYSTONE_LIST} 0E 16 AA FE 10 EC 01 65 78 61 0E 70 6C 65 00`,
      { code: 'invalid', offset: 17, message: 'Eddystone-URL: reserved URL byte 0x0e at offset 17' }],
    ['an unknown Eddystone frame type', `${FLAGS} ${EDDYSTONE_LIST} 05 16 AA FE 50 00`,
      { code: 'invalid', offset: 11, message: 'Eddystone: unknown frame type 0x50 at offset 11' }],
    ['an unknown Eddystone-TLM version', `${FLAGS} ${EDDYSTONE_LIST} 05 16 AA FE 20 02`,
      { code: 'invalid', offset: 12, message: 'Eddystone-TLM: unknown version 0x02 at offset 12' }],
    ['manufacturer data too short for a company ID', '02 FF 4C',
      { code: 'truncated', offset: 0, message: 'manufacturer data: expected at least 2 bytes after the AD type, got 1' }],
    ['a 16-bit UUID list with an odd byte', '04 03 AA FE 6F',
      { code: 'truncated', offset: 0, message: '16-bit service UUID list: 3 bytes is not a multiple of 2' }],
    ['128-bit service data too short for its UUID', '05 21 01 02 03 04',
      { code: 'truncated', offset: 0, message: '128-bit service data: expected at least 16 bytes after the AD type, got 4' }],
    ['flags with no byte', '01 01', { code: 'truncated', offset: 0, message: 'flags: expected at least 1 bytes after the AD type, got 0' }],
  ])('reports %s, without a frame', (_name, hex, error) => {
    const ad = decodeHex(hex);
    expect(ad.errors).toEqual([error]);
    expect(ad.frames).toEqual([]);
  });

  it('still decodes the other blocks of a packet when one is malformed', () => {
    const ad = decodeHex(`${FLAGS} 17 FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 ${ALTBEACON_BLOCK}`);
    expect(ad.frames).toStrictEqual([ALTBEACON]);
    expect(ad.errors).toMatchObject([{ code: 'truncated', offset: 3 }]);
  });
});

describe('decodeHexAdvertisement', () => {
  it('accepts hex separated by spaces or colons, in either case', () => {
    const expected = decodeHex(`${FLAGS} ${EDDYSTONE_LIST} ${EID_BLOCK}`);
    expect(decodeHexAdvertisement('02 01 06  03 03 AA FE  0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90')).toStrictEqual(expected);
    expect(decodeHexAdvertisement('02:01:06:03:03:aa:fe:0d:16:aa:fe:30:ec:a9:b7:6a:71:c5:f8:92:90')).toStrictEqual(expected);
    expect(decodeHexAdvertisement('0201060303AAFE0D16AAFE30ECA9B76A71C5F89290')).toMatchObject({ frames: [EID] });
  });

  it('rejects a character that is not hex, naming its position', () => {
    expect(decodeHexAdvertisement('02 01 0G')).toStrictEqual({
      error: { code: 'invalid', offset: 7, message: 'hex: "G" at position 7 is not a hex digit' },
    });
  });

  it('rejects an odd number of digits, naming the unpaired one', () => {
    expect(decodeHexAdvertisement('02 01 0')).toStrictEqual({
      error: { code: 'truncated', offset: 6, message: 'hex: odd number of digits; the digit at position 6 has no partner' },
    });
  });

  it('rejects text with no digits', () => {
    expect(decodeHexAdvertisement('')).toMatchObject({ error: { code: 'empty', offset: 0 } });
    expect(decodeHexAdvertisement(' : ')).toMatchObject({ error: { code: 'empty', offset: 0 } });
  });
});

describe('decodeManufacturerBytes', () => {
  it('decodes manufacturer data given on its own, company ID first', () => {
    expect(decodeManufacturerBytes(bytes(IBEACON_BLOCK.slice('1A FF '.length)))).toStrictEqual(IBEACON);
    expect(decodeManufacturerBytes(bytes(ALTBEACON_BLOCK.slice('1B FF '.length)))).toStrictEqual(ALTBEACON);
    expect(decodeManufacturerBytes(bytes('4C 00 10 05 0B 1C 6E 8B 40'))).toStrictEqual({ type: 'apple-continuity', subtype: 0x10 });
  });

  it('reports bytes too short for a company ID, or a frame cut short, at offset 0', () => {
    expect(decodeManufacturerBytes(bytes('4C'))).toStrictEqual({ code: 'truncated', offset: 0, message: 'manufacturer data: expected a 2-byte company ID, got 1 byte' });
    expect(decodeManufacturerBytes(bytes('4C 00 02 15 E2 C5'))).toMatchObject({ code: 'truncated', offset: 0, message: 'iBeacon: expected 23 bytes after the company ID, got 4' });
  });
});
