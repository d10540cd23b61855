import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import {
  encodeAltBeacon,
  encodeAppleContinuity,
  encodeEddystoneEid,
  encodeEddystoneTlm,
  encodeEddystoneUid,
  encodeEddystoneUrl,
  encodeExposureNotification,
  encodeIBeacon,
  encodeLocalName,
  encodeMicrosoftCdp,
  encodeUrl,
} from '#simulator/radio/encoders.ts';

const hex = (text: string): string => text.replace(/[\s:]/g, '').toLowerCase();
const RPI = '8b12077e510c4f3a9d63e2a15c08bb70';

describe('encoders', () => {
  it('encodes the eid-vectors.md EID advertisement byte for byte', () => {
    const expected = '02 01 06 03 03 AA FE 0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90';
    expect(encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 }).toString('hex')).toBe(hex(expected));
    expect(encodeEddystoneEid({ eid: Buffer.from('a9b76a71c5f89290', 'hex'), txPowerDbm: -20 }).toString('hex')).toBe(hex(expected));
  });

  it('encodes the spec iBeacon byte for byte', () => {
    const ad = encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 });
    expect(ad.toString('hex')).toBe(hex('02 01 06 1A FF 4C 00 02 15 E2 C5 6D B5 DF FB 48 D2 B0 60 D0 F5 A7 10 96 E0 00 01 00 02 C5'));
  });

  it('encodes an AltBeacon as the reference transmitter does, after beacon flags', () => {
    const ad = encodeAltBeacon({
      companyId: 0x0118, id1: '00000000-0000-0000-0000-000000000000', id2: 1, id3: 1, referenceRssiDbm: -59, reserved: 1,
    });
    expect(ad.toString('hex')).toBe(hex(`02 01 06 1B FF 18 01 BE AC ${'00 '.repeat(16)} 00 01 00 01 C5 01`));
    expect(ad.length).toBe(31);
  });

  it('encodes an Eddystone-TLM with big-endian fields and 8.8 fixed-point temperature', () => {
    const ad = encodeEddystoneTlm({ batteryMv: 3000, temperatureC: 21.5, advCount: 1234, uptimeS: 5678.9 });
    expect(ad.toString('hex')).toBe(hex('02 01 06 03 03 AA FE 11 16 AA FE 20 00 0B B8 15 80 00 00 04 D2 00 00 DD D5'));
  });

  it('sends "unsupported" battery and temperature as 0 and 0x8000', () => {
    const ad = encodeEddystoneTlm({ batteryMv: null, temperatureC: null, advCount: 0, uptimeS: 0 });
    expect(ad.subarray(12, 17).toString('hex')).toBe('0000008000');
  });

  it('encodes an Eddystone-UID with two zero RFU bytes', () => {
    const ad = encodeEddystoneUid({ namespace: '00010203040506070809', instance: '0a0b0c0d0e0f', txPowerDbm: -25 });
    expect(ad.toString('hex')).toBe(hex('02 01 06 03 03 AA FE 17 16 AA FE 00 E7 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 00 00'));
  });

  it.each([
    ['https://www.example.com/', '01 65 78 61 6D 70 6C 65 00'],
    ['http://www.example.org', '00 65 78 61 6D 70 6C 65 08'],
    ['https://vicino.info/a', '03 76 69 63 69 6E 6F 04 61'],
    ['http://a.com.b', '02 61 07 2E 62'],
    ['https://', '03'],
  ])('encodes %s as its shortest Eddystone-URL bytes', (url, expected) => {
    expect(Buffer.from(encodeUrl(url)).toString('hex')).toBe(hex(expected));
    expect(decodeAdvertisement(encodeEddystoneUrl({ url, txPowerDbm: -20 })).frames).toStrictEqual([
      { type: 'eddystone-url', url, txPowerDbm: -20 },
    ]);
  });

  it('encodes an Exposure Notification that decodes as one and as no beacon', () => {
    const ad = encodeExposureNotification({ rpi: RPI, metadata: '40080000' });
    expect(ad.toString('hex')).toBe(hex(`02 01 1A 03 03 6F FD 17 16 6F FD ${RPI} 40 08 00 00`));
    expect(decodeAdvertisement(ad).frames).toStrictEqual([{ type: 'exposure-notification' }]);
  });

  it('encodes Apple Continuity as a type-length-value message after phone flags', () => {
    const ad = encodeAppleContinuity({ subtype: 0x10, payload: '0b1c6e8b40' });
    expect(ad.toString('hex')).toBe(hex('02 01 1A 0A FF 4C 00 10 05 0B 1C 6E 8B 40'));
    expect(decodeAdvertisement(ad).frames).toStrictEqual([{ type: 'apple-continuity', subtype: 0x10 }]);
  });

  it('encodes Find My as a full 31-byte packet without flags', () => {
    const ad = encodeAppleContinuity({ subtype: 0x12, payload: new Uint8Array(25).fill(0xa5) });
    expect(ad.length).toBe(31);
    expect(ad.subarray(0, 6).toString('hex')).toBe('1eff4c001219');
    expect(decodeAdvertisement(ad).frames).toStrictEqual([{ type: 'apple-findmy' }]);
  });

  it('encodes a Microsoft CDP beacon without flags', () => {
    const ad = encodeMicrosoftCdp(`01092002${'3c'.repeat(23)}`);
    expect(ad.subarray(0, 8).toString('hex')).toBe('1eff060001092002');
    expect(decodeAdvertisement(ad).frames).toStrictEqual([{ type: 'microsoft-cdp' }]);
  });

  it('encodes a short name as the complete local name', () => {
    const ad = encodeLocalName('Vicino');
    expect(ad.toString('hex')).toBe(hex('02 01 06 07 09 56 69 63 69 6E 6F'));
    expect(decodeAdvertisement(ad)).toMatchObject({ localName: 'Vicino', localNameComplete: true });
  });

  it('shortens a long name at a UTF-8 character boundary to fit 31 bytes', () => {
    const ad = encodeLocalName('Vicino shop assistant ünïcødé');
    expect(ad.length).toBeLessThanOrEqual(31);
    expect(decodeAdvertisement(ad)).toMatchObject({ localName: 'Vicino shop assistant ün', localNameComplete: false, errors: [] });
  });

  it.each<[string, () => unknown]>([
    ['a major above 65535', () => encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 65536, minor: 0, measuredPowerDbm: -59 })],
    ['a UUID of the wrong length', () => encodeIBeacon({ uuid: 'e2c56db5', major: 1, minor: 2, measuredPowerDbm: -59 })],
    ['a measured power outside int8', () => encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -129 })],
    ['a URL with an unknown scheme', () => encodeEddystoneUrl({ url: 'ftp://example.com', txPowerDbm: 0 })],
    ['a URL longer than 17 encoded bytes', () => encodeEddystoneUrl({ url: 'https://abcdefghijklmnopqr', txPowerDbm: 0 })],
    ['a URL with a space', () => encodeEddystoneUrl({ url: 'https://a b', txPowerDbm: 0 })],
    ['a battery reading of 0 mV, which means unsupported', () => encodeEddystoneTlm({ batteryMv: 0, temperatureC: null, advCount: 0, uptimeS: 0 })],
    ['a temperature of −128 °C, which means unsupported', () => encodeEddystoneTlm({ batteryMv: null, temperatureC: -128, advCount: 0, uptimeS: 0 })],
    ['an EID that is not 8 bytes', () => encodeEddystoneEid({ eid: 'a9b76a71', txPowerDbm: 0 })],
    ['an EID with non-hex characters', () => encodeEddystoneEid({ eid: 'a9b76a71c5f8929z', txPowerDbm: 0 })],
    ['an Apple type 0x02 message that would be an iBeacon', () => encodeAppleContinuity({ subtype: 2, payload: new Uint8Array(21) })],
    ['a packet past 31 bytes', () => encodeMicrosoftCdp(new Uint8Array(28))],
  ])('refuses %s', (_name, encode) => {
    expect(encode).toThrow(RangeError);
  });
});
