import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeAdvertisement } from './ble/decode.ts';
import type { Frame } from './ble/frames.ts';
import { createOccupancyCounter, type OccupancyConfig, type OccupancyWindow } from './presence/occupancy.ts';
import { createPresenceTracker, resolvePresenceConfig, type PresenceOverrides, type PresenceTransition } from './presence/presence-tracker.ts';
import { measuredPowerAt1mDbm } from './presence/proximity.ts';
import { createPseudonymiser, type EpochKey } from './presence/pseudonymiser.ts';
import {
  deriveEventMacKey, PROTOCOL_VERSION, signMessage, signPresenceEvent, unwrapEpochKey,
  type GatewayConfigMessage, type IdentifierKind, type PresenceEvent, type Pseudonym,
} from './protocol/index.ts';
import type { Publisher } from './publisher/publisher.ts';
import type { RawAdvertisement, Scanner } from './scanner/scanner.ts';

// The gateway pipeline: radio report → decode this packet's own bytes → keep only app tokens and
// registered beacons → pseudonymise under the epoch key → presence (enter/dwell/exit) → publish.
// The raw identifier lives only inside handle(); everything after it carries a Pseudonym. Each event
// leaves signed (protocol/event-auth.ts) with this process's boot ID and the next sequence number.

export type GatewaySettings = {
  storeId: string;
  gatewayId: string;
  zoneId: string;
  /** This gateway's own secret: it unwraps the epoch keys on its config topic and keys the events' MAC. */
  secret: Buffer;
  /** Presence tuning (presence-tracker.ts), and anonymous occupancy counting, off unless enabled (occupancy.ts). */
  presence?: PresenceOverrides & { occupancy?: Partial<OccupancyConfig> & { enabled?: boolean } };
  tickMs?: number;
  /** Bound of the identifier → pseudonym cache (0 disables it; benchmarks compare both). */
  pseudonymCacheEntries?: number;
};

export type DropReason = 'not-a-beacon' | 'no-epoch-key' | 'unregistered-beacon' | 'malformed';

export type GatewayStats = {
  advertisements: number;
  dropped: Record<DropReason, number>;
  transitions: number;
  tracked: number;
  present: number;
  liveKeys: number;
  /** Frames decoded, by frame type (a report may carry several). */
  decoded: Record<string, number>;
  pseudonymCacheEntries: number;
  /** Receive time of the last advertisement, or null before the first. */
  lastAdvertisementAtMs: number | null;
  /** Between start() and stop(). */
  scanning: boolean;
};

export type GatewayDeps = {
  scanner: Scanner;
  publisher: Publisher;
  logger: Logger;
  now: () => number;
  settings: GatewaySettings;
  /** Observes each published event with the receive time of the advertisement that caused it. */
  onPublished?: (event: PresenceEvent, causedByMs: number) => void;
  /**
   * Runs `task` every intervalMs until the returned function is called: the presence tick (timeouts,
   * dwell marks). A timer by default; a virtual clock (the simulator's store day) passes its own.
   */
  every?: (intervalMs: number, task: () => void) => () => void;
};

/** The default `every`: an unref'd interval, so the tick never keeps the process alive. */
export function everyInterval(intervalMs: number, task: () => void): () => void {
  const timer = setInterval(task, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

export type Gateway = {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Feeds one report through the pipeline (the scanner calls this; so can a replay). */
  handle(advertisement: RawAdvertisement): void;
  applyConfig(config: GatewayConfigMessage): void;
  stats(): GatewayStats;
};

/** UUID (16 bytes) ‖ u16 BE ‖ u16 BE: the 20-byte identity of an iBeacon (UUID, major, minor) or AltBeacon (id1, id2, id3). */
function uuidAndTwoU16(uuid: string, first: number, second: number): Buffer {
  const bytes = Buffer.alloc(20);
  Buffer.from(uuid.replaceAll('-', ''), 'hex').copy(bytes, 0);
  bytes.writeUInt16BE(first, 16);
  bytes.writeUInt16BE(second, 18);
  return bytes;
}

/** The identifier a frame carries, as bytes, if it is a kind the gateway tracks. */
export function identifierOf(frame: Frame): { kind: IdentifierKind; bytes: Buffer } | undefined {
  switch (frame.type) {
    case 'eddystone-eid':
      return { kind: 'eddystone-eid', bytes: Buffer.from(frame.eid, 'hex') };
    case 'ibeacon':
      return { kind: 'ibeacon', bytes: uuidAndTwoU16(frame.uuid, frame.major, frame.minor) };
    case 'altbeacon':
      return { kind: 'altbeacon', bytes: uuidAndTwoU16(frame.id1, frame.id2, frame.id3) };
    case 'eddystone-uid':
      return { kind: 'eddystone-uid', bytes: Buffer.from(frame.namespace + frame.instance, 'hex') };
    default:
      return undefined;
  }
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { scanner, publisher, logger, now, settings } = deps;
  const { occupancy: occupancySettings, ...presenceOverrides } = settings.presence ?? {};
  const tracker = createPresenceTracker(presenceOverrides);
  const { enabled: countOccupancy = false, ...occupancyConfig } = occupancySettings ?? {};
  const occupancy = countOccupancy ? createOccupancyCounter(occupancyConfig, now()) : undefined;
  const pseudonymiser = createPseudonymiser({ maxCacheEntries: settings.pseudonymCacheEntries });
  let registeredBeacons = new Set<Pseudonym>();
  let liveKeys = 0;
  // The zone comes from the config file and then from the server's config message (applyConfig).
  let zoneId = settings.zoneId;
  let presenceSignature = '';
  let scanning = false;
  let lastAdvertisementAtMs: number | null = null;
  const decoded: Record<string, number> = Object.create(null) as Record<string, number>;
  let stopTicking: (() => void) | undefined;
  const macKey = deriveEventMacKey(settings.secret, settings.gatewayId);
  // A new boot ID per process start lets seq start again at 1 without looking like a replay.
  const boot = randomUUID();
  let seq = 0;
  const stats = {
    advertisements: 0,
    dropped: { 'not-a-beacon': 0, 'no-epoch-key': 0, 'unregistered-beacon': 0, malformed: 0 } satisfies Record<DropReason, number>,
    transitions: 0,
  };

  const emit = (transitions: PresenceTransition[]): void => {
    for (const t of transitions) {
      seq += 1;
      const event = signPresenceEvent(macKey, {
        v: PROTOCOL_VERSION,
        eventId: randomUUID(),
        storeId: settings.storeId,
        gatewayId: settings.gatewayId,
        zoneId,
        keyId: t.keyId,
        idKind: t.idKind,
        pseudonym: t.pseudonym,
        kind: t.kind,
        atS: Math.floor(t.atMs / 1000),
        dwellS: Math.floor(t.dwellMs / 1000),
        proximity: t.proximity,
        boot,
        seq,
      });
      stats.transitions += 1;
      if (t.kind === 'enter') occupancy?.add(t.pseudonym);
      publisher.publish(event);
      deps.onPublished?.(event, t.causedByMs);
    }
  };

  const publishOccupancy = (window: OccupancyWindow): void => {
    if (window.saturated) logger.warn({ windowStartS: Math.floor(window.startMs / 1000) }, 'occupancy window held its maximum of devices; the count is a lower bound');
    publisher.publishOccupancy(signMessage(macKey, 'occupancy', {
      v: PROTOCOL_VERSION, storeId: settings.storeId, gatewayId: settings.gatewayId, zoneId,
      windowStartS: Math.floor(window.startMs / 1000), windowEndS: Math.floor(window.endMs / 1000), count: window.count,
    }));
  };

  const handle = (advertisement: RawAdvertisement): void => {
    stats.advertisements += 1;
    lastAdvertisementAtMs = advertisement.receivedAtMs;
    const decodeResult = decodeAdvertisement(advertisement.data);
    let identifier: ReturnType<typeof identifierOf>;
    let measuredPowerDbm: number | undefined;
    for (const frame of decodeResult.frames) {
      decoded[frame.type] = (decoded[frame.type] ?? 0) + 1;
      if (identifier !== undefined) continue;
      identifier = identifierOf(frame);
      if (identifier !== undefined) measuredPowerDbm = measuredPowerAt1mDbm(frame);
    }
    if (identifier === undefined) {
      stats.dropped[decodeResult.errors.length > 0 && decodeResult.frames.length === 0 ? 'malformed' : 'not-a-beacon'] += 1;
      return;
    }
    const result = pseudonymiser.pseudonym(identifier.kind, identifier.bytes, advertisement.receivedAtMs);
    if (result === undefined) {
      stats.dropped['no-epoch-key'] += 1;
      return;
    }
    // MIN-2: a beacon nobody registered is dropped here; app tokens are resolved (or not) by the server.
    if (identifier.kind !== 'eddystone-eid' && !registeredBeacons.has(result.pseudonym)) {
      stats.dropped['unregistered-beacon'] += 1;
      return;
    }
    emit(tracker.observe(result.pseudonym, identifier.kind, result.keyId, advertisement.rssiDbm, advertisement.receivedAtMs, measuredPowerDbm));
  };

  /** Zone and presence settings from the server, over the config file's, without a restart. */
  const applyPresence = (config: GatewayConfigMessage): void => {
    if (config.zoneId !== zoneId) {
      // Close presences in the old zone first: their exits carry the zone they happened in.
      emit(tracker.flush());
      logger.info({ from: zoneId, to: config.zoneId }, 'zone changed by remote configuration');
      zoneId = config.zoneId;
    }
    // The file's settings, then the server's over them; a setting the server drops falls back to the file's.
    const overrides: PresenceOverrides = { ...presenceOverrides, ...config.presence };
    const signature = JSON.stringify(overrides);
    if (signature === presenceSignature) return;
    try {
      tracker.reconfigure(resolvePresenceConfig(overrides));
      presenceSignature = signature;
      if (config.presence !== undefined) logger.info({ presence: config.presence }, 'presence settings applied');
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'remote presence settings rejected; keeping the current ones');
    }
  };

  const applyConfig = (config: GatewayConfigMessage): void => {
    const keys: EpochKey[] = [];
    for (const wrapped of config.epochKeys) {
      const key = unwrapEpochKey(settings.secret, settings.gatewayId, wrapped.keyId, wrapped.wrapped);
      if (key === undefined) {
        logger.error({ keyId: wrapped.keyId }, 'epoch key does not unwrap with this gateway secret; check the provisioned credentials');
        continue;
      }
      keys.push({ keyId: wrapped.keyId, key, notBeforeS: wrapped.notBeforeS, notAfterS: wrapped.notAfterS });
    }
    pseudonymiser.setKeys(keys);
    liveKeys = keys.length;
    registeredBeacons = new Set(config.registeredBeacons);
    applyPresence(config);
    logger.info({ liveKeys, registeredBeacons: registeredBeacons.size, activeKeyId: pseudonymiser.activeKeyId(now()) }, 'configuration applied');
  };

  return {
    async start() {
      publisher.onConfig(applyConfig);
      await publisher.start();
      try {
        await scanner.start(handle);
      } catch (error) {
        // Nothing was heard, so nothing is lost: close the broker connection, or it would keep the process alive.
        await publisher.stop();
        throw error;
      }
      scanning = true;
      stopTicking = (deps.every ?? everyInterval)(settings.tickMs ?? 1_000, () => {
        const nowMs = now();
        emit(tracker.tick(nowMs));
        const closed = occupancy?.roll(nowMs, tracker.present());
        if (closed) publishOccupancy(closed);
        pseudonymiser.expire(nowMs);
      });
      logger.info({ storeId: settings.storeId, gatewayId: settings.gatewayId, zoneId }, 'gateway started');
    },
    async stop() {
      stopTicking?.();
      await scanner.stop();
      scanning = false;
      // Close open presences, so servers see the exits rather than waiting for a timeout.
      emit(tracker.flush());
      await publisher.stop();
      logger.info({ ...stats, dropped: stats.dropped }, 'gateway stopped');
    },
    handle,
    applyConfig,
    stats: () => ({
      advertisements: stats.advertisements,
      dropped: { ...stats.dropped },
      transitions: stats.transitions,
      tracked: tracker.size(),
      present: tracker.presentCount(),
      liveKeys,
      decoded: { ...decoded },
      pseudonymCacheEntries: pseudonymiser.cacheSize(),
      lastAdvertisementAtMs,
      scanning,
    }),
  };
}
