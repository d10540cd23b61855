import { createEidGenerator } from '#gateway/protocol/index.ts';
import { encodeAltBeacon, encodeAppleContinuity, encodeEddystoneEid, encodeEddystoneUid, encodeExposureNotification, encodeIBeacon } from '../radio/encoders.ts';
import type { LoyaltyBeaconIdentifier } from '../app/virtual-app.ts';
import type { Rng } from '../rng.ts';

// The devices people carry that are *not* an opted-in app: what the gateway must drop on receipt.
// Each returns its advertisement for a moment, with identifiers that rotate the way the real
// platforms rotate them.

export type ForeignKind = 'apple-phone' | 'android-en-phone' | 'foreign-ibeacon' | 'foreign-altbeacon' | 'foreign-eddystone-uid' | 'foreign-eddystone-eid';

export type ForeignDevice = {
  kind: ForeignKind;
  txPowerAt1mDbm: number;
  intervalMs: number;
  /** Phones rotate their address (resolvable private, ~15 min); beacons keep a static one. */
  addressRotationMs?: number;
  payload(nowMs: number): Buffer;
  /** The raw identifiers this device exposes, for privacy tests that search every output for them. */
  identifiers(): string[];
};

const PHONE_KINDS: ForeignKind[] = ['apple-phone', 'android-en-phone'];
const BEACON_KINDS: ForeignKind[] = ['foreign-ibeacon', 'foreign-altbeacon', 'foreign-eddystone-uid', 'foreign-eddystone-eid'];

export function foreignPhone(rng: Rng, index: number): ForeignDevice {
  return foreignDevice(rng, PHONE_KINDS[index % PHONE_KINDS.length]!);
}

export function foreignBeacon(rng: Rng, index: number): ForeignDevice {
  return foreignDevice(rng, BEACON_KINDS[index % BEACON_KINDS.length]!);
}

function foreignDevice(rng: Rng, kind: ForeignKind): ForeignDevice {
  switch (kind) {
    case 'apple-phone': {
      // Continuity "Nearby Info" (type 0x10): Apple's payload changes with the phone's state.
      const seen: string[] = [];
      return {
        kind, txPowerAt1mDbm: -60, intervalMs: 300, addressRotationMs: 15 * 60_000,
        payload: () => encodeAppleContinuity({ subtype: 0x10, payload: rng.bytes(5) }),
        identifiers: () => seen,
      };
    }
    case 'android-en-phone': {
      // Exposure Notification: a rolling proximity identifier that changes every ~10 minutes.
      const rpis = new Map<number, Buffer>();
      const rpiAt = (nowMs: number): Buffer => {
        const slot = Math.floor(nowMs / 600_000);
        if (!rpis.has(slot)) rpis.set(slot, rng.bytes(16));
        return rpis.get(slot)!;
      };
      return {
        kind, txPowerAt1mDbm: -62, intervalMs: 250, addressRotationMs: 10 * 60_000,
        payload: (nowMs) => encodeExposureNotification({ rpi: rpiAt(nowMs), metadata: rng.bytes(4) }),
        identifiers: () => [...rpis.values()].map((b) => b.toString('hex')),
      };
    }
    case 'foreign-ibeacon': {
      const uuid = randomUUIDFrom(rng);
      const major = rng.int(1, 65_000);
      const minor = rng.int(1, 65_000);
      const frame = encodeIBeacon({ uuid, major, minor, measuredPowerDbm: -59 });
      return { kind, txPowerAt1mDbm: -59, intervalMs: 350, payload: () => frame, identifiers: () => [uuid, uuid.replaceAll('-', ''), frame.subarray(9, 29).toString('hex')] };
    }
    case 'foreign-altbeacon': {
      const id1 = randomUUIDFrom(rng);
      const frame = encodeAltBeacon({ companyId: 0x0118, id1, id2: rng.int(1, 65_000), id3: rng.int(1, 65_000), referenceRssiDbm: -59, reserved: 0 });
      return { kind, txPowerAt1mDbm: -59, intervalMs: 500, payload: () => frame, identifiers: () => [id1, id1.replaceAll('-', '')] };
    }
    case 'foreign-eddystone-eid': {
      // An EID tag registered with some other resolver: the gateway cannot tell it from an app token and
      // forwards its pseudonym; the server finds no consenting shopper and only counts it.
      const eid = createEidGenerator(rng.bytes(16), 10);
      const seen = new Map<number, string>();
      return {
        kind, txPowerAt1mDbm: -61, intervalMs: 400,
        payload: (nowMs) => {
          const token = eid(Math.floor(nowMs / 1000));
          seen.set(Math.floor(nowMs / 1024_000), token.toString('hex'));
          return encodeEddystoneEid({ eid: token, txPowerDbm: -20 });
        },
        identifiers: () => [...seen.values()],
      };
    }
    case 'foreign-eddystone-uid': {
      const namespace = rng.bytes(10).toString('hex');
      const instance = rng.bytes(6).toString('hex');
      const frame = encodeEddystoneUid({ namespace, instance, txPowerDbm: -20 });
      return { kind, txPowerAt1mDbm: -61, intervalMs: 500, payload: () => frame, identifiers: () => [namespace + instance] };
    }
  }
}

/** A shopper's own loyalty iBeacon (a key fob), with a static identifier that their app links to them. */
export type LoyaltyBeacon = {
  identifier: Extract<LoyaltyBeaconIdentifier, { kind: 'ibeacon' }>;
  txPowerAt1mDbm: number;
  intervalMs: number;
  payload(): Buffer;
  identifiers(): string[];
};

export function loyaltyBeacon(rng: Rng): LoyaltyBeacon {
  const identifier = { kind: 'ibeacon' as const, uuid: randomUUIDFrom(rng), major: rng.int(1, 65_000), minor: rng.int(1, 65_000) };
  const frame = encodeIBeacon({ uuid: identifier.uuid, major: identifier.major, minor: identifier.minor, measuredPowerDbm: -59 });
  return {
    identifier, txPowerAt1mDbm: -59, intervalMs: 300, payload: () => frame,
    identifiers: () => [identifier.uuid, identifier.uuid.replaceAll('-', ''), frame.subarray(9, 29).toString('hex')],
  };
}

/** A v4-shaped UUID drawn from the seeded stream (crypto.randomUUID would break replay). */
export function randomUUIDFrom(rng: Rng): string {
  const hex = rng.bytes(16);
  hex[6] = (hex[6]! & 0x0f) | 0x40;
  hex[8] = (hex[8]! & 0x3f) | 0x80;
  const s = hex.toString('hex');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

