import { ScannerUnavailableError, type ScannerProblem } from './scanner.ts';

// What goes wrong between noble and a Linux Bluetooth adapter, and what the operator does about it.
// One line each, no identifiers (the adapter's own address included), so it can go to a log and a
// health endpoint as it is.

const SETCAP = 'sudo setcap cap_net_raw,cap_net_admin+eip "$(readlink -f "$(which node)")"';

export const PROBLEM_MESSAGES = {
  EAFNOSUPPORT: 'no Bluetooth HCI support in this kernel or container (EAFNOSUPPORT): the gateway needs a BlueZ adapter (check `hciconfig` or `bluetoothctl list`; `modprobe bluetooth`; a container needs --net=host and the host\'s adapter) and CAP_NET_RAW',
  EPERM: `not permitted to open the HCI socket (EPERM): run with CAP_NET_RAW/CAP_NET_ADMIN (\`${SETCAP}\`, or AmbientCapabilities= in the systemd unit) or as root`,
  NO_ADAPTER: 'no Bluetooth adapter at the configured HCI index (ENODEV): check `hciconfig` or `bluetoothctl list` and set scanner.deviceId; a BlueZ adapter is what the gateway needs',
  NOT_BUILT: 'noble\'s native HCI binding is not built: run `npm rebuild @abandonware/noble @abandonware/bluetooth-hci-socket` (package.json allowScripts approves them); the gateway needs a BlueZ adapter and CAP_NET_RAW',
  NOT_LINUX: 'noble HCI scanning runs on Linux only: the gateway needs a BlueZ adapter and CAP_NET_RAW',
  UNAUTHORIZED: `the Bluetooth adapter refused access (unauthorized): run with CAP_NET_RAW/CAP_NET_ADMIN (\`${SETCAP}\`) or as root`,
  UNSUPPORTED: 'the Bluetooth adapter does not support Bluetooth Low Energy (unsupported): use a Bluetooth 4.0+ adapter, or pick another with scanner.deviceId (see `hciconfig`)',
  POWERED_OFF: 'the Bluetooth adapter is powered off: check `rfkill list` (`rfkill unblock bluetooth`), that it is plugged in, and `hciconfig hciN up`; stop bluetoothd from taking it (`systemctl stop bluetooth`)',
  SCAN_TIMEOUT: 'the Bluetooth adapter did not confirm the scan command in time: another process (bluetoothd?) may be using it, or it needs a reset (`hciconfig hciN reset`)',
  OPEN_FAILED: 'cannot open the Bluetooth adapter: the gateway needs a BlueZ adapter (check `hciconfig` or `bluetoothctl list`) and CAP_NET_RAW',
} as const satisfies Record<ScannerProblem, string>;

/** The problem a noble adapter state stands for, if any ('poweredOn' and 'unknown' are not problems). */
export function problemOfState(state: string): ScannerProblem | undefined {
  switch (state) {
    case 'unauthorized': return 'UNAUTHORIZED';
    case 'unsupported': return 'UNSUPPORTED';
    case 'poweredOff': return 'POWERED_OFF';
    default: return undefined;
  }
}

/** Classifies an error thrown while opening noble's HCI bindings (errno codes come from bluetooth-hci-socket). */
export function problemOfError(error: unknown): ScannerProblem {
  if (error instanceof ScannerUnavailableError) return error.problem;
  const code = String((error as NodeJS.ErrnoException | undefined)?.code ?? '');
  const message = String((error as Error | undefined)?.message ?? error);
  if (code === 'EAFNOSUPPORT' || /EAFNOSUPPORT|Address family not supported/.test(message)) return 'EAFNOSUPPORT';
  if (code === 'EPERM' || code === 'EACCES' || /EPERM|EACCES|Operation not permitted|Permission denied/.test(message)) return 'EPERM';
  if (code === 'ENODEV' || /ENODEV|No such device/.test(message)) return 'NO_ADAPTER';
  if (/Cannot find module|Could not locate the bindings|bluetooth_hci_socket\.node/.test(message)) return 'NOT_BUILT';
  return 'OPEN_FAILED';
}

/** The error to throw or report for a problem; the cause stays attached for debugging, outside the message. */
export function unavailable(problem: ScannerProblem, cause?: unknown): ScannerUnavailableError {
  return new ScannerUnavailableError(PROBLEM_MESSAGES[problem], { problem, cause });
}
