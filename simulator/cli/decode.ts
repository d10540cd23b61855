import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseBtsnoop, type BtsnoopAdvertisingReport } from '#gateway/ble/btsnoop.ts';
import { decodeAdvertisement, decodeManufacturerBytes, type Advertisement, type DecodeError } from '#gateway/ble/decode.ts';
import { parseHex, type BeaconFrame, type Frame } from '#gateway/ble/frames.ts';

// `vicino decode`: an operator's view of what the gateway's decoder makes of an advertisement, a
// manufacturer block or a whole btsnoop capture. One JSON object per advertisement on stdout, in
// the documented shapes (README, "Decoding advertisements"); problems also go to stderr.

export const DECODE_USAGE = `vicino decode HEX… | vicino decode - [--manufacturer] | vicino decode --btsnoop FILE [--show-address]
  HEX…            advertising data (AD structures), one advertisement per argument ('02 01 06 …', '020106…' or '02:01:06:…')
  -               read one hex advertisement per line from stdin
  --manufacturer  the input is manufacturer-specific data only (company ID first, little-endian)
  --btsnoop FILE  decode every LE (extended) advertising report in a btsnoop HCI capture (Android's
                  "Bluetooth HCI snoop log", btmon -w), one JSON line per report
  --show-address  with --btsnoop, print each report's device address too (for debugging your own
                  devices: addresses are left out by default)`;

/** A frame as `vicino decode` prints it: beacons as decoded; recognised non-beacons and problems summarised. */
export type CliFrame =
  | BeaconFrame
  | { type: 'other'; kind: 'apple-continuity' | 'apple-find-my' | 'exposure-notification' | 'microsoft-cdp' }
  | { type: 'other'; kind: 'manufacturer'; companyId: number; data: string }
  | { type: 'other'; kind: 'service-data'; uuid: string; data: string }
  | { type: 'malformed'; offset: number; reason: string };

export type DecodeIo = {
  stdin: NodeJS.ReadableStream;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
};

export function cliFrame(frame: Frame): CliFrame {
  switch (frame.type) {
    case 'apple-continuity':
      return { type: 'other', kind: 'apple-continuity' };
    case 'apple-findmy':
      return { type: 'other', kind: 'apple-find-my' };
    case 'exposure-notification':
      return { type: 'other', kind: 'exposure-notification' };
    case 'microsoft-cdp':
      return { type: 'other', kind: 'microsoft-cdp' };
    case 'manufacturer':
      return { type: 'other', kind: 'manufacturer', companyId: frame.companyId, data: frame.data };
    case 'service-data':
      return { type: 'other', kind: 'service-data', uuid: frame.uuid, data: frame.data };
    default:
      return frame;
  }
}

const malformed = (error: DecodeError): CliFrame => ({ type: 'malformed', offset: error.offset, reason: error.message });

/** The advertisement as printed: its frames (then its problems, in packet order), then what else it carries. */
export function cliAdvertisement(ad: Advertisement): Record<string, unknown> {
  const printed: Record<string, unknown> = { frames: [...ad.frames.map(cliFrame), ...ad.errors.map(malformed)] };
  if (ad.flags !== undefined) printed.flags = ad.flags;
  if (ad.localName !== undefined) printed.localName = ad.localName;
  if (ad.txPowerDbm !== undefined) printed.txPowerDbm = ad.txPowerDbm;
  if (ad.serviceUuids16.length > 0) printed.serviceUuids16 = ad.serviceUuids16;
  if (ad.serviceUuids32.length > 0) printed.serviceUuids32 = ad.serviceUuids32;
  if (ad.serviceUuids128.length > 0) printed.serviceUuids128 = ad.serviceUuids128;
  return printed;
}

/** One report of a capture as printed: where and when, then its advertisement. No address unless asked. */
export function cliReport(report: BtsnoopAdvertisingReport, showAddress: boolean): Record<string, unknown> {
  return {
    record: report.record,
    time: Number.isFinite(report.unixMs) && Math.abs(report.unixMs) < 8.64e15 ? new Date(report.unixMs).toISOString() : null,
    timestampUs: report.timestampUs.toString(),
    rssiDbm: report.rssiDbm,
    extended: report.extended,
    ...(showAddress ? { address: report.address, addressType: report.addressType } : {}),
    ...cliAdvertisement(decodeAdvertisement(report.data)),
  };
}

async function readLines(stdin: NodeJS.ReadableStream): Promise<{ input: number; text: string }[]> {
  const lines: { input: number; text: string }[] = [];
  let input = 0;
  for await (const line of createInterface({ input: stdin, crlfDelay: Infinity })) {
    input += 1;
    if (line.trim() !== '') lines.push({ input, text: line });
  }
  return lines;
}

/** Runs `vicino decode` with the arguments after `decode`; returns the exit code (0 ok, 1 a bad input, 2 usage). */
export async function runDecodeCommand(args: string[], io: DecodeIo): Promise<number> {
  const out = (value: unknown): void => void io.stdout.write(`${JSON.stringify(value)}\n`);
  const problem = (text: string): void => void io.stderr.write(`vicino decode: ${text}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { manufacturer: { type: 'boolean' }, btsnoop: { type: 'string' }, 'show-address': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    problem(`${(error as Error).message}\n\n${DECODE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${DECODE_USAGE}\n`);
    return 0;
  }

  if (values.btsnoop !== undefined) {
    if (positionals.length > 0 || values.manufacturer) {
      problem(`--btsnoop FILE takes no hex inputs and no --manufacturer\n\n${DECODE_USAGE}`);
      return 2;
    }
    let bytes: Uint8Array;
    try {
      bytes = await readFile(values.btsnoop);
    } catch (error) {
      problem(`cannot read ${values.btsnoop}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return 1;
    }
    const capture = parseBtsnoop(bytes);
    for (const report of capture.reports) out(cliReport(report, values['show-address'] === true));
    for (const error of capture.errors) problem(`${values.btsnoop}: byte offset ${error.offset}: ${error.message}`);
    return capture.errors.length === 0 ? 0 : 1;
  }
  if (values['show-address']) {
    problem(`--show-address goes with --btsnoop FILE\n\n${DECODE_USAGE}`);
    return 2;
  }

  let inputs: { input: number; text: string }[];
  if (positionals.length === 1 && positionals[0] === '-') inputs = await readLines(io.stdin);
  else if (positionals.includes('-')) {
    problem(`'-' (read stdin) cannot be mixed with hex arguments\n\n${DECODE_USAGE}`);
    return 2;
  } else inputs = positionals.map((text, i) => ({ input: i + 1, text }));
  if (inputs.length === 0) {
    problem(`give one or more hex advertisements, or - to read them from stdin\n\n${DECODE_USAGE}`);
    return 2;
  }

  let failed = 0;
  for (const { input, text } of inputs) {
    const bytes = parseHex(text);
    const error = bytes instanceof Uint8Array ? (bytes.length === 0 ? { offset: 0, message: 'hex: no digits' } : undefined) : bytes.error;
    if (!(bytes instanceof Uint8Array) || error !== undefined) {
      failed += 1;
      const message = error?.message ?? 'hex: no digits';
      // The offset is a character position in this input's text.
      problem(`input ${input}: ${message}`);
      out({ input, error: { offset: error?.offset ?? 0, reason: message } });
      continue;
    }
    if (values.manufacturer) {
      const result = decodeManufacturerBytes(bytes);
      out({ input, frames: ['code' in result ? malformed(result) : cliFrame(result)] });
    } else {
      out({ input, ...cliAdvertisement(decodeAdvertisement(bytes)) });
    }
  }
  return failed === 0 ? 0 : 1;
}
