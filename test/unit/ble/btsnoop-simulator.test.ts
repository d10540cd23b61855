import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { parseBtsnoop } from '#gateway/ble/btsnoop.ts';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import { createSimulatedBindings } from '#simulator/noble-bindings.ts';
import { createBtsnoopWriter, recordBindings } from '#simulator/radio/btsnoop-writer.ts';
import { encodeAppleContinuity, encodeEddystoneEid, encodeIBeacon } from '#simulator/radio/encoders.ts';
import { createVirtualRadio } from '#simulator/radio/virtual-radio.ts';
import { createRng } from '#simulator/rng.ts';

// A capture the simulator writes: what one virtual gateway's adapter hears, recorded in btsnoop and
// read back by the gateway's parser, report for report.

describe('a btsnoop capture of a virtual gateway', () => {
  it('holds exactly the reports the adapter passed on, with their bytes, RSSI and time', () => {
    const startMs = Date.UTC(2026, 10, 30, 9);
    const chunks: Uint8Array[] = [];
    let nowMs = startMs;
    const writer = createBtsnoopWriter((chunk) => chunks.push(chunk));
    const bindings = recordBindings(createSimulatedBindings(), writer, () => nowMs);
    bindings.init();
    bindings.startScanning([], true);
    const told: { eir: string; rssi: number; atMs: number }[] = [];
    const report = bindings.report.bind(bindings);
    bindings.report = (r) => {
      const passed = report(r);
      if (passed) told.push({ eir: r.eir.toString('hex'), rssi: Math.round(r.rssi), atMs: nowMs });
      return passed;
    };
    const radio = createVirtualRadio({ rng: createRng(42), startMs, receivers: [{ id: 'gw', position: { x: 0, y: 0 }, bindings, rssiOffsetDb: 0 }] });
    const payloads = {
      beacon: encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 }),
      app: encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 }),
      phone: encodeAppleContinuity({ subtype: 0x10, payload: '0b1c6e8b40' }),
    };
    for (const [id, payload] of Object.entries(payloads)) {
      radio.addAdvertiser({ id, position: () => ({ x: 2, y: 1 }), intervalMs: 100, txPowerAt1mDbm: -59, payload: () => payload, addressRotationMs: id === 'phone' ? 1_000 : undefined });
    }
    for (let t = startMs; t <= startMs + 5_000; t += 20) {
      nowMs = t;
      radio.advance(t);
    }

    const capture = parseBtsnoop(Buffer.concat(chunks));
    expect(capture.errors).toEqual([]);
    expect(told.length).toBeGreaterThan(100);
    expect(capture.records).toBe(writer.records());
    expect(capture.reports.map((r) => ({ eir: Buffer.from(r.data).toString('hex'), rssi: r.rssiDbm, atMs: r.unixMs }))).toEqual(told);
    const types = new Set(capture.reports.flatMap((r) => decodeAdvertisement(r.data).frames.map((f) => f.type)));
    expect([...types].sort()).toEqual(['apple-continuity', 'eddystone-eid', 'ibeacon']);
    // The phone rotates its address every second; the beacons keep theirs.
    expect(new Set(capture.reports.map((r) => r.address)).size).toBeGreaterThanOrEqual(2 + 5);
    expect(capture.reports.every((r) => r.addressType === 'random' && !r.extended)).toBe(true);
  });
});
