import { performance } from 'node:perf_hooks';
import { createRng } from '#simulator/rng.ts';
import { createSimulatedBindings } from '#simulator/noble-bindings.ts';
import { createVirtualRadio, type Receiver } from '#simulator/radio/virtual-radio.ts';

// How fast the virtual radio runs: a crowded store (1,000 advertisers, 20 gateway adapters) for
// 10 s of virtual time, every report parsed into a noble-shaped advertisement and emitted as
// 'discover' to a counting listener. A real-time factor above 1 means the simulator keeps up with
// the clock on one core. For scale: one real scanner radio receives at most about 490
// advertisements/s in a crowd (shared/reference/performance-notes.md, "The radio is the real limit").

export type RadioBenchOptions = {
  advertisers?: number;
  receivers?: number;
  virtualSeconds?: number;
  intervalMs?: number;
  /** How far each advance() call moves time, as runRealtime's step would. */
  stepMs?: number;
  seed?: number;
  /** The store floor, metres. */
  widthM?: number;
  depthM?: number;
};

export type RadioBenchResult = {
  advertisers: number;
  receivers: number;
  virtualMs: number;
  wallMs: number;
  emitted: number;
  delivered: number;
  lost: number;
  /** 'discover' events the listeners counted; equals `delivered` while every adapter scans. */
  discovered: number;
  reportsPerSecond: number;
  realTimeFactor: number;
};

export function runRadioBench(options: RadioBenchOptions = {}): RadioBenchResult {
  const advertiserCount = options.advertisers ?? 1_000;
  const receiverCount = options.receivers ?? 20;
  const virtualMs = (options.virtualSeconds ?? 10) * 1_000;
  const intervalMs = options.intervalMs ?? 100;
  const stepMs = options.stepMs ?? 20;
  const widthM = options.widthM ?? 60;
  const depthM = options.depthM ?? 40;
  const rng = createRng(options.seed ?? 1);
  const placement = rng.fork('placement');

  let discovered = 0;
  const count = (): void => {
    discovered += 1;
  };
  // Adapters on a grid across the ceiling.
  const columns = Math.ceil(Math.sqrt((receiverCount * widthM) / depthM));
  const rows = Math.ceil(receiverCount / columns);
  const receivers: Receiver[] = Array.from({ length: receiverCount }, (_, i) => {
    const bindings = createSimulatedBindings();
    bindings.init();
    bindings.startScanning([], true);
    bindings.on('discover', count);
    const position = { x: ((i % columns) + 0.5) * (widthM / columns), y: (Math.floor(i / columns) + 0.5) * (depthM / rows) };
    return { id: `gw-${i}`, position, bindings, rssiOffsetDb: placement.normal(0, 2) };
  });

  const radio = createVirtualRadio({ rng, receivers });
  for (let i = 0; i < advertiserCount; i += 1) {
    const position = { x: placement.next() * widthM, y: placement.next() * depthM };
    // An iBeacon-sized legacy payload (30 bytes), distinct per advertiser.
    const eir = Buffer.from('0201061aff4c000215f7826da64fa24e988024bc5b71e0893e00010002c5', 'hex');
    eir.writeUInt16BE(i, 27);
    radio.addAdvertiser({
      id: `adv-${i}`,
      position: () => position,
      intervalMs,
      txPowerAt1mDbm: -59,
      payload: () => eir,
      addressRotationMs: i % 2 === 0 ? 15 * 60_000 : undefined,
    });
  }

  const started = performance.now();
  for (let t = stepMs; t <= virtualMs; t += stepMs) radio.advance(t);
  radio.advance(virtualMs);
  const wallMs = performance.now() - started;

  const { emitted, delivered, lost } = radio.stats();
  return {
    advertisers: advertiserCount,
    receivers: receiverCount,
    virtualMs,
    wallMs,
    emitted,
    delivered,
    lost,
    discovered,
    reportsPerSecond: delivered / (wallMs / 1_000),
    realTimeFactor: virtualMs / wallMs,
  };
}
