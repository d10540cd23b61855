import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import { identifierOf } from '#gateway/gateway.ts';
import {
  beaconDigest, beaconIdentifierBytes, beaconIdentifierFromBytes, BeaconIdentifierSchema, type BeaconIdentifier,
} from '#server/domain/beacon-identifier.ts';
import { encodeEddystoneUid, encodeIBeacon } from '#simulator/radio/encoders.ts';

const IBEACON: BeaconIdentifier = { kind: 'ibeacon', uuid: 'f7826da6-4fa2-4e98-8024-bc5b71e0893e', major: 1, minor: 2 };
const EDDYSTONE_UID: BeaconIdentifier = { kind: 'eddystone-uid', namespace: 'edd1ebeac04e5defa017', instance: '0123456789ab' };

/** What the gateway hashes for the frame it decodes from these advertisement bytes. */
function gatewayIdentifier(advertisement: Buffer) {
  for (const frame of decodeAdvertisement(advertisement).frames) {
    const identifier = identifierOf(frame);
    if (identifier) return identifier;
  }
  throw new Error('the gateway found no identifier');
}

describe('beacon identifiers', () => {
  it('lays out an iBeacon exactly as the gateway does: UUID, major and minor big-endian', () => {
    const bytes = beaconIdentifierBytes(IBEACON);
    expect(bytes.toString('hex')).toBe('f7826da64fa24e988024bc5b71e0893e00010002');
    expect(gatewayIdentifier(encodeIBeacon({ uuid: IBEACON.uuid, major: 1, minor: 2, measuredPowerDbm: -59 }))).toEqual({ kind: 'ibeacon', bytes });
  });

  it('lays out an Eddystone-UID exactly as the gateway does: namespace then instance', () => {
    const bytes = beaconIdentifierBytes(EDDYSTONE_UID);
    expect(bytes.toString('hex')).toBe('edd1ebeac04e5defa0170123456789ab');
    expect(gatewayIdentifier(encodeEddystoneUid({ namespace: 'edd1ebeac04e5defa017', instance: '0123456789ab', txPowerDbm: -20 }))).toEqual({ kind: 'eddystone-uid', bytes });
  });

  it('matches the gateway for any iBeacon, and reads back what it laid out', () => {
    fc.assert(fc.property(fc.uuid(), fc.integer({ min: 0, max: 65_535 }), fc.integer({ min: 0, max: 65_535 }), (uuid, major, minor) => {
      const beacon = BeaconIdentifierSchema.parse({ kind: 'ibeacon', uuid, major, minor });
      const bytes = beaconIdentifierBytes(beacon);
      expect(gatewayIdentifier(encodeIBeacon({ uuid, major, minor, measuredPowerDbm: -59 })).bytes).toEqual(bytes);
      expect(beaconIdentifierFromBytes('ibeacon', bytes)).toEqual(beacon);
    }));
  });

  it('normalises hex to lower case, so one beacon has one digest however the app spells it', () => {
    const upper = BeaconIdentifierSchema.parse({ ...IBEACON, uuid: IBEACON.uuid.toUpperCase() });
    expect(upper).toEqual(IBEACON);
    const key = Buffer.alloc(32, 7);
    expect(beaconDigest(key, 'ibeacon', beaconIdentifierBytes(upper))).toBe(beaconDigest(key, 'ibeacon', beaconIdentifierBytes(IBEACON)));
  });

  it('gives different digests under different keys and for different kinds of the same bytes', () => {
    const bytes = beaconIdentifierBytes(EDDYSTONE_UID);
    const digest = beaconDigest(Buffer.alloc(32, 1), 'eddystone-uid', bytes);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(beaconDigest(Buffer.alloc(32, 2), 'eddystone-uid', bytes)).not.toBe(digest);
    expect(beaconDigest(Buffer.alloc(32, 1), 'ibeacon', bytes)).not.toBe(digest);
  });

  it.each([
    [{ ...IBEACON, uuid: 'f7826da64fa24e988024bc5b71e0893e' }, 'uuid'],
    [{ ...IBEACON, uuid: 'g7826da6-4fa2-4e98-8024-bc5b71e0893e' }, 'uuid'],
    [{ ...IBEACON, major: 65_536 }, 'major'],
    [{ ...IBEACON, minor: -1 }, 'minor'],
    [{ ...IBEACON, minor: 1.5 }, 'minor'],
    [{ ...EDDYSTONE_UID, namespace: 'edd1ebeac04e5defa0' }, 'namespace'],
    [{ ...EDDYSTONE_UID, instance: '0123456789abcd' }, 'instance'],
    [{ ...IBEACON, extra: 1 }, '(root)'],
  ])('refuses %j, naming %s', (input, field) => {
    const result = BeaconIdentifierSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.') || '(root)')).toContain(field);
  });
});
