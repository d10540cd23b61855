// Decoding one advertising packet, Vicino's decoder against node-beacon-scanner's on the same
// frames in the same process (`npm run bench:gateway`, section 1).
//
// node-beacon-scanner (npm, 0.2.2) does not read bytes: it reads the advertisement object noble's
// HCI layer builds from them (@abandonware/noble lib/hci-socket/gap.js `parseServices`). So two
// figures for it: "noble + nbs" runs noble's own parseServices on the packet's bytes and then
// node-beacon-scanner's parser (lib/parser.js), which is the work a node-beacon-scanner gateway does
// per report; "nbs alone" hands its parser an advertisement noble parsed once beforehand, so it
// times the parser only (most favourable to it). Vicino's decoder starts from the bytes, as the
// first figure does, and does more (every AD structure and manufacturer block, typed errors).
// Importing this file does nothing; call runDecodeBench.

import { createRequire } from 'node:module';
import { decodeAdvertisement } from '#gateway/ble/decode.ts';
import {
  encodeAltBeacon,
  encodeAppleContinuity,
  encodeEddystoneEid,
  encodeEddystoneTlm,
  encodeEddystoneUid,
  encodeEddystoneUrl,
  encodeIBeacon,
} from '#simulator/radio/encoders.ts';

const require = createRequire(import.meta.url);

type NobleAdvertisement = { manufacturerData?: Buffer; serviceData: { uuid: string; data: Buffer }[]; localName?: string; txPowerLevel?: number };
type NoblePeripheral = { id: string; address: string; rssi: number; advertisement: NobleAdvertisement };
type NbsResult = { beaconType: string; [key: string]: unknown } | null;

/** node-beacon-scanner's parser module and noble's gap parser, loaded only when the bench runs. */
function loadReference(): { parse: (peripheral: NoblePeripheral) => NbsResult; parseServices: (eir: Buffer) => NobleAdvertisement } {
  const nbs = require('node-beacon-scanner/lib/parser.js') as { parse: (peripheral: NoblePeripheral) => NbsResult };
  const Gap = require('@abandonware/noble/lib/hci-socket/gap.js') as { prototype: { parseServices: (address: string, eir: Buffer, previouslyDiscovered: boolean, type: number) => NobleAdvertisement } };
  // A fresh address each time (previouslyDiscovered false): noble builds a new advertisement object, as for a new device.
  const gap = { _discoveries: {} };
  // ADV_NONCONN_IND (0x03), as beacons send.
  return { parse: (p) => nbs.parse(p), parseServices: (eir) => Gap.prototype.parseServices.call(gap, 'aa:bb:cc:dd:ee:ff', eir, false, 0x03) };
}

export type DecodeBenchCase = { name: string; packet: Buffer; frame: string };

export function decodeBenchCases(): DecodeBenchCase[] {
  const uuid = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';
  return [
    // The controller reports the 30-byte iBeacon; 31 with the zero padding some controllers add.
    { name: 'ibeacon', packet: Buffer.from([...encodeIBeacon({ uuid, major: 1, minor: 2, measuredPowerDbm: -59 }), 0x00]), frame: 'ibeacon' },
    { name: 'altbeacon', packet: encodeAltBeacon({ companyId: 0x0118, id1: uuid, id2: 1, id3: 2, referenceRssiDbm: -59, reserved: 0 }), frame: 'altbeacon' },
    { name: 'eddystone-uid', packet: encodeEddystoneUid({ namespace: '00010203040506070809', instance: '0a0b0c0d0e0f', txPowerDbm: -20 }), frame: 'eddystone-uid' },
    { name: 'eddystone-url', packet: encodeEddystoneUrl({ url: 'https://www.example.com/', txPowerDbm: -20 }), frame: 'eddystone-url' },
    { name: 'eddystone-tlm', packet: encodeEddystoneTlm({ batteryMv: 3000, temperatureC: 21.5, advCount: 1234, uptimeS: 5678.9 }), frame: 'eddystone-tlm' },
    // eid-vectors.md: `02 01 06 03 03 AA FE 0D 16 AA FE 30 EC A9 B7 6A 71 C5 F8 92 90`, the app's token.
    { name: 'eddystone-eid', packet: encodeEddystoneEid({ eid: 'a9b76a71c5f89290', txPowerDbm: -20 }), frame: 'eddystone-eid' },
    { name: 'apple-continuity', packet: encodeAppleContinuity({ subtype: 0x10, payload: '0b1c6e8b40' }), frame: 'apple-continuity' },
  ];
}

export type DecodeBenchRow = {
  name: string;
  /** Vicino's decodeAdvertisement, bytes in. */
  vicinoPerSec: number;
  /** noble's parseServices + node-beacon-scanner's parser, bytes in. */
  nobleNbsPerSec: number;
  /** node-beacon-scanner's parser on an advertisement noble parsed beforehand. */
  nbsAlonePerSec: number;
  /** What node-beacon-scanner made of the frame (its beacon type, or "nothing"). */
  nbsSaw: string;
};

export type DecodeBenchOptions = {
  /** Decodes per round, per case and per decoder. Default 500,000. */
  iterations?: number;
  /** Timed rounds; each decoder's rate is its median over rounds. Default 5. */
  rounds?: number;
  print?: (line: string) => void;
};

export type DecodeBenchResult = {
  rows: DecodeBenchRow[];
  /** The seven frames in turn, one after another: each decoder's median rate. */
  mix: Omit<DecodeBenchRow, 'name' | 'nbsSaw'>;
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Seconds taken by `loop` (which returns a count the caller checks, so no call can be elided), as calls per second. */
function rate(iterations: number, loop: (iterations: number) => number): number {
  const start = process.hrtime.bigint();
  const count = loop(iterations);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (count < 0) throw new Error('unreachable');
  return iterations / seconds;
}

export const formatRate = (perSec: number): string => (perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)} M/s` : `${Math.round(perSec / 1e3).toLocaleString('en')} k/s`);

export async function runDecodeBench(options: DecodeBenchOptions = {}): Promise<DecodeBenchResult> {
  const iterations = options.iterations ?? 500_000;
  const rounds = options.rounds ?? 5;
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const reference = loadReference();
  const cases = decodeBenchCases();
  const peripheral = (packet: Buffer): NoblePeripheral => ({ id: 'aabbccddeeff', address: 'aa:bb:cc:dd:ee:ff', rssi: -60, advertisement: reference.parseServices(packet) });

  const measure = async (packets: Buffer[]): Promise<Omit<DecodeBenchRow, 'name' | 'nbsSaw'>> => {
    const prebuilt = packets.map(peripheral);
    // One loop per decoder, each with its own call site, so no decoder pays for a call site shared with another.
    const vicino = (n: number): number => {
      let frames = 0;
      for (let i = 0; i < n; i++) frames += decodeAdvertisement(packets[i % packets.length]!).frames.length;
      return frames;
    };
    const nobleNbs = (n: number): number => {
      let found = 0;
      for (let i = 0; i < n; i++) if (reference.parse(peripheral(packets[i % packets.length]!)) !== null) found += 1;
      return found;
    };
    const nbsAlone = (n: number): number => {
      let found = 0;
      for (let i = 0; i < n; i++) if (reference.parse(prebuilt[i % prebuilt.length]!) !== null) found += 1;
      return found;
    };
    const runs = { vicino: [] as number[], nobleNbs: [] as number[], nbsAlone: [] as number[] };
    // Warm every path first, then interleave the decoders round by round so drift on a shared machine hits all alike.
    for (const loop of [vicino, nobleNbs, nbsAlone]) rate(iterations / 5, loop);
    for (let round = 0; round < rounds; round++) {
      runs.vicino.push(rate(iterations, vicino));
      runs.nobleNbs.push(rate(iterations, nobleNbs));
      runs.nbsAlone.push(rate(iterations, nbsAlone));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { vicinoPerSec: median(runs.vicino), nobleNbsPerSec: median(runs.nobleNbs), nbsAlonePerSec: median(runs.nbsAlone) };
  };

  // The mix first: a gateway hears every kind of frame from the start, so each decoder is optimised for
  // all of them; starting with one frame kind alone would tune it for that kind, then deoptimise it.
  const mix = await measure(cases.map((c) => c.packet));
  const rows: DecodeBenchRow[] = [];
  print(`${'frame'.padEnd(17)} ${'Vicino'.padStart(10)} ${'noble+nbs'.padStart(10)} ${'ratio'.padStart(7)} ${'nbs alone'.padStart(10)} ${'ratio'.padStart(7)}  node-beacon-scanner saw`);
  for (const { name, packet, frame } of cases) {
    const decoded = decodeAdvertisement(packet);
    if (decoded.errors.length > 0 || decoded.frames[0]?.type !== frame) throw new Error(`${name}: the bench packet does not decode to one ${frame} frame`);
    const nbs = reference.parse(peripheral(packet));
    const row: DecodeBenchRow = { name, ...(await measure([packet])), nbsSaw: nbs === null ? 'nothing' : nbs.beaconType };
    rows.push(row);
    print(`${name.padEnd(17)} ${formatRate(row.vicinoPerSec).padStart(10)} ${formatRate(row.nobleNbsPerSec).padStart(10)} ${`${(row.vicinoPerSec / row.nobleNbsPerSec).toFixed(1)}×`.padStart(7)} ${
      formatRate(row.nbsAlonePerSec).padStart(10)} ${`${(row.vicinoPerSec / row.nbsAlonePerSec).toFixed(1)}×`.padStart(7)}  ${row.nbsSaw}`);
  }
  print(`${'all seven in turn'.padEnd(17)} ${formatRate(mix.vicinoPerSec).padStart(10)} ${formatRate(mix.nobleNbsPerSec).padStart(10)} ${`${(mix.vicinoPerSec / mix.nobleNbsPerSec).toFixed(1)}×`.padStart(7)} ${
    formatRate(mix.nbsAlonePerSec).padStart(10)} ${`${(mix.vicinoPerSec / mix.nbsAlonePerSec).toFixed(1)}×`.padStart(7)}`);
  return { rows, mix };
}
