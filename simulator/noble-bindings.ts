import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

// A Bluetooth adapter that exists only in memory, behind noble's bindings seam
// (`require('@abandonware/noble/with-bindings')(bindings)`), so the real gateway code — noble
// included — runs without hardware. The virtual radio calls `report()` for each packet this adapter
// hears.
//
// It is built like noble's Linux bindings (lib/hci-socket/bindings.js), layer for layer, so a packet
// takes the path it takes on hardware:
//   `_hci`   the controller and hci.js: scan enable/parameters, the controller's duplicate filter, and
//            one 'leAdvertisingReport' / 'leExtendedAdvertisingReport' per report, with the same
//            arguments hci.js emits (the extended data a view into the event, as hci.js slices it);
//   `_gap`   noble's own gap.js, unchanged: it parses and merges each address's advertisement and
//            decides which reports become 'discover' (a connectable one waits for its scan response);
//   the bindings: the service filter and the per-address maps of bindings.js, then 'discover' to noble.
// The gateway's scanner taps `_hci` (gateway/scanner/report-tap.ts) exactly as on hardware, and prunes
// the same per-address maps.

const require = createRequire(import.meta.url);
type GapInstance = EventEmitter & { _discoveries: Record<string, unknown>; startScanning(allowDuplicates: boolean): void; stopScanning(): void; setScanParameters(interval?: number, window?: number): void };
// gap.js is plain JavaScript (no native code), unlike hci.js, which opens the socket.
const Gap = require('@abandonware/noble/lib/hci-socket/gap') as new (hci: EventEmitter) => GapInstance;

export type AddressType = 'public' | 'random';

export type AdvertisingReport = {
  /** `aa:bb:cc:dd:ee:ff`, lowercase. */
  address: string;
  addressType: AddressType;
  /** The packet's AD bytes. Shared, not copied: do not mutate it after reporting. */
  eir: Buffer;
  rssi: number;
  /** ADV_IND rather than ADV_NONCONN_IND. */
  connectable?: boolean;
  /** A SCAN_RSP to an earlier ADV_IND. */
  scanResponse?: boolean;
  /** Delivered as an LE Extended Advertising Report (Bluetooth 5 controller, legacy PDU) rather than an LE Advertising Report. */
  extended?: boolean;
};

export type AdapterState = 'unknown' | 'poweredOn' | 'poweredOff';

type Dict = Record<string, unknown>;

export type SimulatedBindings = EventEmitter & {
  /** The controller and HCI layer, as noble's hci.js emits to its gap (and to the gateway's tap). */
  _hci: EventEmitter;
  /** noble's own gap.js on the simulated HCI. */
  _gap: GapInstance;
  _addresses: Dict;
  _addresseTypes: Dict;
  _connectable: Dict;
  scannable: Dict;
  _handles: Dict;
  init(): void;
  setScanParameters(interval?: number, window?: number): void;
  startScanning(serviceUuids?: string[], allowDuplicates?: boolean): void;
  stopScanning(): void;
  reset(): void;
  /** Hands the adapter one received packet. Returns whether noble was told of it ('discover'). */
  report(report: AdvertisingReport): boolean;
  /** The adapter goes away (unplugged, rfkill): noble sees 'poweredOff' and scanning stops. */
  poweredOff(): void;
  /** The adapter comes back. */
  poweredOn(): void;
  /** The controller stops reporting while it says it scans (a firmware hiccup), until scanning is enabled again. */
  stall(): void;
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

// Legacy Event_Type (§7.7.65.2) and extended Event_Type bits (§7.7.65.13) for legacy PDUs.
const ADV_IND = 0x00;
const ADV_NONCONN_IND = 0x03;
const SCAN_RSP = 0x04;
const EXT_LEGACY_ADV_IND = 0b0010011; // legacy | scannable | connectable
const EXT_LEGACY_NONCONN = 0b0010000;
const EXT_LEGACY_SCAN_RSP_TO_ADV_IND = 0b0011011;

const NOT_CONNECTABLE = 'simulated advertisers are not connectable';

/** The controller and hci.js in one: what noble's gap (and the gateway's tap) listens to. */
function createSimulatedHci(adapterAddress: string) {
  const hci = new EventEmitter();
  let state: AdapterState = 'unknown';
  let scanning = false;
  let stalled = false;
  let filterDuplicates = false;
  const seen = new Set<string>();
  const later = (event: string, ...args: unknown[]): void => {
    process.nextTick(() => hci.emit(event, ...args));
  };

  return Object.assign(hci, {
    state: () => state,
    isScanning: () => scanning,
    init() {
      state = 'poweredOn';
      later('addressChange', adapterAddress);
      later('stateChange', 'poweredOn');
    },
    setScanParameters() {
      later('leScanParametersSet');
    },
    // LE Set Scan Enable: a Command Complete (status 0) for each, in order.
    setScanEnabled(enabled: boolean, duplicates: boolean) {
      if (state !== 'poweredOn') return; // a command to a downed device goes nowhere
      scanning = enabled;
      stalled = false;
      filterDuplicates = duplicates;
      seen.clear();
      later('leScanEnableSet', 0);
    },
    reset() {
      scanning = false;
      seen.clear();
    },
    powerOff() {
      if (state === 'poweredOff') return false;
      state = 'poweredOff';
      scanning = false;
      seen.clear();
      later('stateChange', 'poweredOff');
      return true;
    },
    powerOn() {
      if (state === 'poweredOn') return false;
      state = 'poweredOn';
      later('stateChange', 'poweredOn');
      return true;
    },
    stall() {
      stalled = true;
    },
    /** One received packet, as an HCI LE (Extended) Advertising Report event. Returns whether it left the controller. */
    receive(report: AdvertisingReport): boolean {
      if (!scanning || stalled) return false;
      const address = report.address.toLowerCase();
      if (filterDuplicates) {
        if (seen.has(address)) return false;
        if (seen.size >= DUPLICATE_FILTER_SIZE) seen.clear();
        seen.add(address);
      }
      if (report.extended) {
        const type = report.scanResponse ? EXT_LEGACY_SCAN_RSP_TO_ADV_IND : report.connectable ? EXT_LEGACY_ADV_IND : EXT_LEGACY_NONCONN;
        // §7.7.65.13 report: Event_Type(2) Address_Type Address(6) PHYs(2) SID TX_Power RSSI Interval(2) Direct(7) Data_Length Data.
        const event = Buffer.alloc(24 + report.eir.length);
        event.writeUInt16LE(type, 0);
        event.writeUInt8(report.addressType === 'random' ? 1 : 0, 2);
        Buffer.from(address.split(':').reverse().join(''), 'hex').copy(event, 3);
        event.writeUInt8(1, 9); // LE 1M
        event.writeUInt8(0xff, 11); // no ADI
        event.writeUInt8(0x7f, 12); // TX power not available
        event.writeInt8(report.rssi, 13);
        event.writeUInt8(report.eir.length, 23);
        report.eir.copy(event, 24);
        hci.emit('leExtendedAdvertisingReport', 0, type, address, report.addressType, 0x7f, report.rssi, event.subarray(24));
      } else {
        const type = report.scanResponse ? SCAN_RSP : report.connectable ? ADV_IND : ADV_NONCONN_IND;
        hci.emit('leAdvertisingReport', 0, type, address, report.addressType, report.eir, report.rssi);
      }
      return true;
    },
  });
}

export function createSimulatedBindings(options: SimulatedBindingsOptions = {}): SimulatedBindings {
  const hci = createSimulatedHci(options.address ?? '00:00:5e:00:53:01'); // RFC 7042 documentation range
  const gap = new Gap(hci);
  const emitter = new EventEmitter();
  let adapterState: string | null = null;
  let scanServiceUuids: string[] | undefined;
  let told = false;
  const maps = { _addresses: {} as Dict, _addresseTypes: {} as Dict, _connectable: {} as Dict, scannable: {} as Dict, _handles: {} as Dict };

  const later = (event: string, ...args: unknown[]): void => {
    process.nextTick(() => emitter.emit(event, ...args));
  };
  const unsupported = (operation: string) => (peripheralUuid: string): void => {
    later('warning', `${operation} ${peripheralUuid}: ${NOT_CONNECTABLE}`);
  };

  // bindings.js onDiscover: the service filter, then the per-address maps, then 'discover' by uuid.
  gap.on('discover', (_status: number, address: string, addressType: string, connectable: boolean, advertisement: { serviceUuids?: string[]; serviceData?: { uuid: string }[] }, rssi: number, scannable: boolean) => {
    if (scanServiceUuids === undefined) return;
    if (scanServiceUuids.length > 0) {
      const mentioned = [...(advertisement.serviceUuids ?? []), ...(advertisement.serviceData ?? []).map(({ uuid }) => uuid)];
      if (!mentioned.some((uuid) => scanServiceUuids!.includes(uuid))) return;
    }
    const uuid = address.replaceAll(':', '');
    // Through the bindings object, as bindings.js does through `this`: a user may swap these maps.
    self._addresses[uuid] = address;
    self._addresseTypes[uuid] = addressType;
    self._connectable[uuid] = connectable;
    self.scannable[uuid] = scannable;
    told = true;
    emitter.emit('discover', uuid, address, addressType, connectable, advertisement, rssi, scannable);
  });
  gap.on('scanParametersSet', () => emitter.emit('scanParametersSet'));
  gap.on('scanStart', (filterDuplicates: boolean) => emitter.emit('scanStart', filterDuplicates));
  gap.on('scanStop', () => emitter.emit('scanStop'));
  // bindings.js onStateChange: only changes are passed on.
  hci.on('stateChange', (state: string) => {
    if (adapterState === state) return;
    adapterState = state;
    emitter.emit('stateChange', state);
  });
  hci.on('addressChange', (address: string) => emitter.emit('addressChange', address));

  const bindings: Omit<SimulatedBindings, keyof EventEmitter> = {
    _hci: hci,
    _gap: gap,
    ...maps,
    init() {
      hci.init();
    },
    setScanParameters(interval, window) {
      gap.setScanParameters(interval, window);
    },
    startScanning(serviceUuids = [], allowDuplicates = false) {
      scanServiceUuids = serviceUuids;
      gap.startScanning(allowDuplicates);
    },
    stopScanning() {
      gap.stopScanning();
    },
    reset() {
      hci.reset();
    },
    report(report) {
      told = false;
      hci.receive(report);
      return told;
    },
    poweredOff() {
      hci.powerOff();
    },
    poweredOn() {
      hci.powerOn();
    },
    stall() {
      hci.stall();
    },
    state: () => hci.state(),
    isScanning: () => hci.isScanning(),
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
  const self: SimulatedBindings = Object.assign(emitter, bindings);
  return self;
}
