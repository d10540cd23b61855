// Splits advertising data into AD structures (Bluetooth Core Spec v5.4, Vol 3, Part C, §11):
// a run of `[length][AD type][AD data × (length − 1)]`. Pure: no I/O, no copies, never throws.

/** Why part of an advertisement could not be decoded. `offset` is a byte offset into the packet. */
export type DecodeError = {
  code: 'overrun' | 'truncated' | 'empty' | 'invalid';
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
  incompleteServiceUuids128: 0x06,
  completeServiceUuids128: 0x07,
  shortenedLocalName: 0x08,
  completeLocalName: 0x09,
  txPowerLevel: 0x0a,
  serviceData16: 0x16,
  manufacturerData: 0xff,
} as const;

/**
 * Parses legacy (≤ 31 bytes) and extended (≤ 254, or more when chained) advertising data alike.
 * A zero length byte ends the run: Core Spec Vol 3 Part C §11 lets the rest be zero padding.
 * A length that runs past the end is reported as `overrun`; the structures before it are kept.
 */
export function parseAdStructures(data: Uint8Array): AdParseResult {
  const structures: AdStructure[] = [];
  let offset = 0;
  while (offset < data.length) {
    const length = data[offset] ?? 0;
    if (length === 0) break;
    const available = data.length - offset - 1;
    if (length > available) {
      const error: DecodeError = {
        code: 'overrun',
        offset,
        message: `AD structure at offset ${offset} declares length ${length} but only ${available} byte${available === 1 ? '' : 's'} follow`,
      };
      return { structures, error };
    }
    structures.push({ type: data[offset + 1] ?? 0, offset, data: data.subarray(offset + 2, offset + 1 + length) });
    offset += 1 + length;
  }
  return { structures };
}
