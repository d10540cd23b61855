import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { EPOCH_KEY_BYTES, PROTOCOL_VERSION, wrapEpochKey, type GatewayConfigMessage, type Pseudonym } from '#gateway/protocol/index.ts';
import type { Sealer } from '../domain/sealing.ts';
import type { LiveEpochKey } from '../domain/resolver-index.ts';
import type { Store } from '../store/store.ts';

// Epoch keys (ID-3): one random 256-bit key per store per period (a day by default). A key's ID is
// derived from its period, so concurrent server instances converge on one key (first insert wins).
// A key is destroyed once its period (plus grace) has passed: yesterday's pseudonyms can then not be
// recomputed by anyone. Each gateway receives the live keys on its retained config topic, wrapped
// under its own secret.

export type EpochKeyServiceOptions = {
  store: Store;
  sealer: Sealer;
  logger: Logger;
  now: () => number;
  /** Publishes one gateway's retained config. */
  publishConfig: (config: GatewayConfigMessage) => Promise<void>;
  rotationS?: number;
  /** Overlap around a boundary, so events published just before rotation still resolve. Default: 300 s, at most a quarter of the period. */
  graceS?: number;
  /**
   * The beacon pseudonyms a store's gateways may forward, under that store's live keys (MIN-2);
   * none by default. The loyalty beacons of resolvable shoppers (beacon-service.ts).
   */
  registeredBeacons?: (storeKeys: readonly Buffer[]) => Pseudonym[];
};

export type EpochKeyService = {
  /** Creates due keys, destroys aged ones, republishes configs if anything changed. Returns the live keys. */
  maintain(force?: boolean): Promise<LiveEpochKey[]>;
  liveKeys(): LiveEpochKey[];
  publishGatewayConfig(gatewayId: string): Promise<void>;
  /** Republishes every gateway's config: after the registered beacons changed. */
  publishAllConfigs(): Promise<void>;
};

const label = (keyId: string): string => `epoch-key:${keyId}`;

export const DEFAULT_EPOCH_ROTATION_S = 86_400;

/** Five minutes of overlap, but never more than a quarter of the period (short periods are for proofs and tests). */
export const defaultGraceS = (rotationS: number): number => Math.min(300, Math.floor(rotationS / 4));

/**
 * How often keys must be maintained so that the next key exists before the current one ends (it is
 * created 2 × grace before the boundary) and an aged key is destroyed promptly: every minute, or a
 * quarter of the grace period when that is shorter.
 */
export const maintenanceIntervalMs = (rotationS: number): number => Math.max(250, Math.min(60_000, Math.floor((defaultGraceS(rotationS) * 1000) / 2)));

export function createEpochKeyService(options: EpochKeyServiceOptions): EpochKeyService {
  const { store, sealer, logger, now } = options;
  const rotationS = options.rotationS ?? DEFAULT_EPOCH_ROTATION_S;
  if (!Number.isInteger(rotationS) || rotationS < 1) throw new RangeError(`the epoch key period must be a whole number of seconds ≥ 1, got ${rotationS}`);
  const graceS = options.graceS ?? defaultGraceS(rotationS);
  let live: LiveEpochKey[] = [];
  let signature = '';

  const configFor = async (gatewayId: string): Promise<GatewayConfigMessage | undefined> => {
    const gateway = await store.getGateway(gatewayId);
    if (gateway === undefined) return undefined;
    const secret = sealer.open(gateway.secretSealed, `gateway-secret:${gateway.id}`);
    const keys = (await store.listEpochKeys(gateway.storeId)).map((k) => ({ ...k, key: sealer.open(k.keySealed, label(k.keyId)) }));
    const settings = await store.getGatewaySettings(gateway.id);
    return {
      v: PROTOCOL_VERSION,
      storeId: gateway.storeId,
      gatewayId: gateway.id,
      zoneId: gateway.zoneId,
      issuedAtS: Math.floor(now() / 1000),
      epochKeys: keys.map((k) => ({
        keyId: k.keyId,
        wrapped: wrapEpochKey(secret, gateway.id, k.keyId, k.key),
        notBeforeS: k.notBeforeS,
        notAfterS: k.notAfterS,
      })),
      registeredBeacons: options.registeredBeacons?.(keys.map((k) => k.key)) ?? [],
      // The operator's presence settings for this gateway (PUT …/gateways/:id/settings), if any.
      ...(settings === undefined ? {} : { presence: settings.presence }),
    };
  };

  const publishGatewayConfig = async (gatewayId: string): Promise<void> => {
    const config = await configFor(gatewayId);
    if (config) await options.publishConfig(config);
  };

  return {
    async maintain(force = false) {
      const nowS = Math.floor(now() / 1000);
      const period = Math.floor(nowS / rotationS);
      for (const s of await store.listStores()) {
        // The current period's key and, near its end, the next one.
        const periods = nowS >= (period + 1) * rotationS - graceS * 2 ? [period, period + 1] : [period];
        for (const p of periods) {
          await store.insertEpochKey({
            keyId: `${s.id}-${p}`,
            storeId: s.id,
            keySealed: sealer.seal(randomBytes(EPOCH_KEY_BYTES), label(`${s.id}-${p}`)),
            notBeforeS: p * rotationS - graceS,
            notAfterS: (p + 1) * rotationS + graceS,
          });
        }
      }
      const destroyed = await store.destroyEpochKeys(nowS);
      if (destroyed > 0) logger.info({ destroyed }, 'epoch keys destroyed');
      const records = await store.listEpochKeys();
      live = records.map((r) => ({ keyId: r.keyId, storeId: r.storeId, key: sealer.open(r.keySealed, label(r.keyId)) }));
      const nextSignature = records.map((r) => r.keyId).join(',');
      if (force || nextSignature !== signature) {
        signature = nextSignature;
        for (const gateway of await store.listGateways()) await publishGatewayConfig(gateway.id);
        logger.info({ liveKeys: live.length }, 'gateway configs published');
      }
      return live;
    },
    liveKeys: () => live,
    publishGatewayConfig,
    async publishAllConfigs() {
      for (const gateway of await store.listGateways()) await publishGatewayConfig(gateway.id);
    },
  };
}
