// Splits advertising data into AD structures (Bluetooth Core Spec v5.4, Vol 3, Part C, §11):
// a run of `[length][AD type][AD data × (length − 1)]`. Pure: no I/O, no copies, never throws.

/**
 * Why part of an advertisement could not be decoded. `offset` is a byte offset into the packet.
 * - `overrun`: an AD structure's length runs past the end of the data;
 * - `zero-length`: a zero length byte followed by bytes that are not zero padding;
 * - `truncated`: a frame shorter than its format;
 * - `invalid`: a field value its format does not allow (or a frame longer than its format);
 * - `empty`: no bytes at all where some were required (hex input).
 */
export type DecodeError = {
  code: 'overrun' | 'zero-length' | 'truncated' | 'invalid' | 'empty';
  offset: number;
  message: string;
};

/** One AD structure. `offset` is where its length byte sits; `data` is a view into the packet. */
export type AdStructure = { type: number; offset: number; data: Uint8Array };

export type AdParseResult = { structures: AdStructure[]; error?: DecodeError };

/** AD types Vicino reads (Bluetooth Assigned Numbers, §2.3 "Common Data Types"). */
export const AdType = {
  flags: 0x01,
  incompleteServiceUuids16: 0x02,
  completeServiceUuids16: 0x03,
  incompleteServiceUuids32: 0x04,
  completeServiceUuids32: 0x05,
  incompleteServiceUuids128: 0x06,
  completeServiceUuids128: 0x07,
  shortenedLocalName: 0x08,
  completeLocalName: 0x09,
  txPowerLevel: 0x0a,
  serviceData16: 0x16,
  serviceData32: 0x20,
  serviceData128: 0x21,
  manufacturerData: 0xff,
} as const;

/** Legacy advertising carries at most 31 bytes of AdvData (Core Spec Vol 6 Part B §2.3.1.1). */
export const LEGACY_ADV_BYTES = 31;
/** An AD structure's data: its length byte counts the type byte too, so at most 254 bytes follow the type. */
export const MAX_AD_DATA_BYTES = 254;

/**
 * The error for a zero length byte at `offset`, or undefined when everything after it is zero padding.
 * Core Spec Vol 3 Part C §11: a zero length "shall only occur to allow an early termination", so
 * trailing zeros are padding, but a zero length followed by data means the packet is malformed.
 */
export function zeroLengthError(data: Uint8Array, offset: number): DecodeError | undefined {
  for (let i = offset + 1; i < data.length; i++) {
    if (data[i] !== 0) {
      return {
        code: 'zero-length',
        offset,
        message: `zero-length AD structure at offset ${offset} is followed by data (non-zero byte at offset ${i}); the rest was not decoded`,
      };
    }
  }
  return undefined;
}

/** The error for a length byte at `offset` that declares `length` bytes when only `available` follow. */
export function overrunError(offset: number, length: number, available: number): DecodeError {
  return {
    code: 'overrun',
    offset,
    message: `AD structure at offset ${offset} declares length ${length} but only ${available} byte${available === 1 ? '' : 's'} follow`,
  };
}

/**
 * Parses legacy (≤ 31 bytes) and extended (≤ 254, or more when chained) advertising data alike.
 * A zero length byte ends the run; it is an error only when non-zero bytes follow it.
 * A length that runs past the end is reported as `overrun`; the structures before it are kept.
 */
export function parseAdStructures(data: Uint8Array): AdParseResult {
  const structures: AdStructure[] = [];
  let offset = 0;
  while (offset < data.length) {
    const length = data[offset] ?? 0;
    if (length === 0) {
      const error = zeroLengthError(data, offset);
      return error === undefined ? { structures } : { structures, error };
    }
    const available = data.length - offset - 1;
    if (length > available) return { structures, error: overrunError(offset, length, available) };
    structures.push({ type: data[offset + 1] ?? 0, offset, data: data.subarray(offset + 2, offset + 1 + length) });
    offset += 1 + length;
  }
  return { structures };
}
