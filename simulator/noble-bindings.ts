import { EventEmitter } from 'node:events';
import { parseAdStructures } from '#gateway/ble/ad-parser.ts';

// A Bluetooth adapter that exists only in memory, behind noble's bindings seam
// (`require('@abandonware/noble/with-bindings')(bindings)`), so the real gateway code — noble
// included — runs without hardware. The virtual radio calls `report()` for each packet this
// adapter hears; noble sees exactly what its HCI bindings would emit (lib/hci-socket/bindings.js).
//
// Like the gateway's HCI tap (gateway/scanner/noble-hci.ts), every advertisement carries `eir`:
// this report's own AD bytes. noble merges fields per address (`for (const i in advertisement)`),
// and since `eir` is defined on every report it is always overwritten, never stale.
// These bindings keep no per-address state, so there is nothing here for the scanner's sweep to bound.

export type AddressType = 'public' | 'random';

export type AdvertisingReport = {
  /** `aa:bb:cc:dd:ee:ff`, lowercase. */
  address: string;
  addressType: AddressType;
  /** The packet's AD bytes. Shared, not copied: do not mutate it after reporting. */
  eir: Buffer;
  rssi: number;
  connectable?: boolean;
};

/** The advertisement object noble's HCI gap builds (lib/hci-socket/gap.js parseServices), plus `eir`. */
export type NobleAdvertisement = {
  localName: string | undefined;
  txPowerLevel: number | undefined;
  manufacturerData: Buffer | undefined;
  serviceData: { uuid: string; data: Buffer }[];
  serviceUuids: string[];
  solicitationServiceUuids: string[];
  eir: Buffer;
};

export type AdapterState = 'unknown' | 'poweredOn' | 'poweredOff';

export type SimulatedBindings = EventEmitter & {
  init(): void;
  setScanParameters(interval?: number, window?: number): void;
  startScanning(serviceUuids?: string[], allowDuplicates?: boolean): void;
  stopScanning(): void;
  reset(): void;
  /** Hands the adapter one received packet. Returns whether noble was told (only while scanning, and past the filters). */
  report(report: AdvertisingReport): boolean;
  /** The adapter goes away (unplugged, rfkill): noble sees 'poweredOff' and scanning stops. */
  poweredOff(): void;
  /** The adapter comes back. */
  poweredOn(): void;
  state(): AdapterState;
  isScanning(): boolean;
  connect(peripheralUuid: string): void;
  cancelConnect(peripheralUuid: string): void;
  disconnect(peripheralUuid: string): void;
  updateRssi(peripheralUuid: string): void;
  discoverServices(peripheralUuid: string): void;
  discoverIncludedServices(peripheralUuid: string): void;
  discoverCharacteristics(peripheralUuid: string): void;
  discoverDescriptors(peripheralUuid: string): void;
  read(peripheralUuid: string): void;
  write(peripheralUuid: string): void;
  broadcast(peripheralUuid: string): void;
  notify(peripheralUuid: string): void;
  readValue(peripheralUuid: string): void;
  writeValue(peripheralUuid: string): void;
  readHandle(peripheralUuid: string): void;
  writeHandle(peripheralUuid: string): void;
};

export type SimulatedBindingsOptions = {
  /** The adapter's own (public) address, as noble reports in `noble.address`. */
  address?: string;
};

/**
 * A controller's duplicate filter holds a bounded table of addresses (Core Spec Vol 4 Part E
 * §7.8.11 leaves the size to the implementation); when full, ours starts over.
 */
const DUPLICATE_FILTER_SIZE = 1024;

const NOT_CONNECTABLE = 'simulated advertisers are not connectable';

export function createSimulatedBindings(options: SimulatedBindingsOptions = {}): SimulatedBindings {
  const emitter = new EventEmitter();
  const adapterAddress = options.address ?? '00:00:5e:00:53:01'; // RFC 7042 documentation range
  let state: AdapterState = 'unknown';
  let scanning = false;
  let filterDuplicates = false;
  let scanServiceUuids: string[] = [];
  const seen = new Set<string>();

  const later = (event: string, ...args: unknown[]): void => {
    process.nextTick(() => emitter.emit(event, ...args));
  };
  const unsupported = (operation: string) => (peripheralUuid: string): void => {
    later('warning', `${operation} ${peripheralUuid}: ${NOT_CONNECTABLE}`);
  };

  const bindings: Omit<SimulatedBindings, keyof EventEmitter> = {
    init() {
      state = 'poweredOn';
      later('addressChange', adapterAddress);
      later('stateChange', 'poweredOn');
    },
    setScanParameters() {
      later('scanParametersSet');
    },
    startScanning(serviceUuids = [], allowDuplicates = false) {
      if (state !== 'poweredOn') return; // noble checks its state before it gets here
      scanServiceUuids = serviceUuids;
      filterDuplicates = !allowDuplicates;
      seen.clear();
      scanning = true;
      later('scanStart', filterDuplicates);
    },
    stopScanning() {
      scanning = false;
      later('scanStop');
    },
    reset() {
      scanning = false;
      seen.clear();
    },
    report(report) {
      if (!scanning) return false;
      const address = report.address.toLowerCase();
      if (filterDuplicates) {
        if (seen.has(address)) return false;
        if (seen.size >= DUPLICATE_FILTER_SIZE) seen.clear();
        seen.add(address);
      }
      const advertisement = toNobleAdvertisement(report.eir);
      if (scanServiceUuids.length > 0 && !mentionsAny(advertisement, scanServiceUuids)) return false;
      // noble's peripheral id is the address without colons (lib/hci-socket/bindings.js onDiscover).
      const uuid = address.replaceAll(':', '');
      emitter.emit('discover', uuid, address, report.addressType, report.connectable ?? false, advertisement, report.rssi, false);
      return true;
    },
    poweredOff() {
      if (state === 'poweredOff') return;
      state = 'poweredOff';
      scanning = false;
      seen.clear();
      later('stateChange', 'poweredOff');
    },
    poweredOn() {
      if (state === 'poweredOn') return;
      state = 'poweredOn';
      later('stateChange', 'poweredOn');
    },
    state: () => state,
    isScanning: () => scanning,
    // noble waits for 'connect' (with an error) and 'disconnect'; answer so its promises settle.
    connect(peripheralUuid) {
      later('connect', peripheralUuid, new Error(NOT_CONNECTABLE));
    },
    disconnect(peripheralUuid) {
      later('disconnect', peripheralUuid, 'not connected');
    },
    cancelConnect: unsupported('cancelConnect'),
    updateRssi: unsupported('updateRssi'),
    discoverServices: unsupported('discoverServices'),
    discoverIncludedServices: unsupported('discoverIncludedServices'),
    discoverCharacteristics: unsupported('discoverCharacteristics'),
    discoverDescriptors: unsupported('discoverDescriptors'),
    read: unsupported('read'),
    write: unsupported('write'),
    broadcast: unsupported('broadcast'),
    notify: unsupported('notify'),
    readValue: unsupported('readValue'),
    writeValue: unsupported('writeValue'),
    readHandle: unsupported('readHandle'),
    writeHandle: unsupported('writeHandle'),
  };
  return Object.assign(emitter, bindings);
}

/**
 * Builds the advertisement exactly as noble's HCI gap would for a fresh address, including its
 * quirks: 16/32-bit UUIDs in unpadded hex, 128-bit ones byte-reversed, and only the last 0xFF
 * block kept (company ID included). Byte fields are views into `eir`, as noble's slices are.
 */
export function toNobleAdvertisement(eir: Buffer): NobleAdvertisement {
  const advertisement: NobleAdvertisement = {
    localName: undefined,
    txPowerLevel: undefined,
    manufacturerData: undefined,
    serviceData: [],
    serviceUuids: [],
    solicitationServiceUuids: [],
    eir,
  };
  // A malformed tail is dropped, as noble's parser does; the structures before it stand.
  for (const { type, data } of parseAdStructures(eir).structures) {
    // The parser's views into a Buffer are Buffers already; anything else is wrapped, not copied.
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    switch (type) {
      case 0x02: case 0x03: // 16-bit service UUIDs, little-endian
        for (let j = 0; j + 1 < bytes.length; j += 2) addUnique(advertisement.serviceUuids, bytes.readUInt16LE(j).toString(16));
        break;
      case 0x06: case 0x07: // 128-bit service UUIDs, little-endian
        for (let j = 0; j + 15 < bytes.length; j += 16) addUnique(advertisement.serviceUuids, reversedHex(bytes.subarray(j, j + 16)));
        break;
      case 0x08: case 0x09: // shortened / complete local name
        advertisement.localName = bytes.toString('utf8');
        break;
      case 0x0a: // TX power level, int8 dBm
        if (bytes.length >= 1) advertisement.txPowerLevel = bytes.readInt8(0);
        break;
      case 0x14: // 16-bit solicitation UUIDs
        for (let j = 0; j + 1 < bytes.length; j += 2) addUnique(advertisement.solicitationServiceUuids, bytes.readUInt16LE(j).toString(16));
        break;
      case 0x1f: // 32-bit solicitation UUIDs
        for (let j = 0; j + 3 < bytes.length; j += 4) addUnique(advertisement.solicitationServiceUuids, bytes.readUInt32LE(j).toString(16));
        break;
      case 0x15: // 128-bit solicitation UUIDs
        for (let j = 0; j + 15 < bytes.length; j += 16) addUnique(advertisement.solicitationServiceUuids, reversedHex(bytes.subarray(j, j + 16)));
        break;
      case 0x16: case 0x20: case 0x21: { // service data with a 16-, 32- or 128-bit UUID
        const uuidLength = type === 0x16 ? 2 : type === 0x20 ? 4 : 16;
        advertisement.serviceData.push({ uuid: reversedHex(bytes.subarray(0, uuidLength)), data: bytes.subarray(uuidLength) });
        break;
      }
      case 0xff: // manufacturer specific data; noble keeps only the last block
        advertisement.manufacturerData = bytes;
        break;
    }
  }
  return advertisement;
}

function addUnique(list: string[], value: string): void {
  if (!list.includes(value)) list.push(value);
}

function reversedHex(bytes: Buffer): string {
  return Buffer.from(bytes).reverse().toString('hex');
}

function mentionsAny(advertisement: NobleAdvertisement, uuids: readonly string[]): boolean {
  return advertisement.serviceUuids.some((uuid) => uuids.includes(uuid))
    || advertisement.serviceData.some(({ uuid }) => uuids.includes(uuid));
}
