import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { createGateway, type Gateway } from '#gateway/gateway.ts';
import { deriveEventMacKey, gatewayMqttCredentials, type PresenceEvent } from '#gateway/protocol/index.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import type { Publisher } from '#gateway/publisher/publisher.ts';
import { createNobleScanner, type NobleLike } from '#gateway/scanner/noble-scanner.ts';
import { createSimulatedBindings, type SimulatedBindings } from '../noble-bindings.ts';

// In-store gateways for the simulator: the real gateway code (decode, presence, pseudonyms, the MQTT
// publisher) on a real noble instance, built through noble's bindings seam on simulated adapters.

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings') as (bindings: unknown) => NobleLike;

export type GatewayCredentials = { storeId: string; gatewayId: string; zoneId: string; secret: Buffer };

/**
 * A simulated gateway's publisher to the broker, with the same login a real gateway derives from its
 * secret, so the simulator passes a broker's ACL (SEC-1).
 */
export function simulatedGatewayPublisher(options: { mqttUrl: string; storeId: string; gatewayId: string; secret: Buffer; logger: Logger; now: () => number }): Publisher {
  return createMqttPublisher({
    url: options.mqttUrl, ...gatewayMqttCredentials(options.gatewayId, options.secret),
    storeId: options.storeId, gatewayId: options.gatewayId, logger: options.logger, now: options.now, version: 'simulated',
    messageKey: deriveEventMacKey(options.secret, options.gatewayId),
  });
}

export type VirtualGateway = { id: string; zoneId: string; bindings: SimulatedBindings; gateway: Gateway };

export async function startVirtualGateways(options: {
  credentials: readonly GatewayCredentials[];
  mqttUrl: string;
  logger: Logger;
  now: () => number;
  onPublished?: (event: PresenceEvent, causedByMs: number) => void;
  /** How long to wait for each gateway's retained config (its epoch keys). */
  configTimeoutMs?: number;
}): Promise<VirtualGateway[]> {
  const started: VirtualGateway[] = [];
  try {
    for (const credentials of options.credentials) {
      const bindings = createSimulatedBindings();
      const logger = options.logger.child({ component: 'gateway', gatewayId: credentials.gatewayId });
      const gateway = createGateway({
        scanner: createNobleScanner({ noble: withBindings(bindings), now: options.now }),
        publisher: simulatedGatewayPublisher({ ...credentials, mqttUrl: options.mqttUrl, logger, now: options.now }),
        logger,
        now: options.now,
        settings: { ...credentials },
        onPublished: options.onPublished,
      });
      await gateway.start();
      started.push({ id: credentials.gatewayId, zoneId: credentials.zoneId, bindings, gateway });
    }
    const deadline = options.now() + (options.configTimeoutMs ?? 10_000);
    while (started.some((g) => g.gateway.stats().liveKeys === 0)) {
      if (options.now() > deadline) {
        const waiting = started.filter((g) => g.gateway.stats().liveKeys === 0).map((g) => g.id);
        throw new Error(`gateways ${waiting.join(', ')} received no epoch key within ${options.configTimeoutMs ?? 10_000} ms: is the server connected to the same broker?`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return started;
  } catch (error) {
    await Promise.all(started.map((g) => g.gateway.stop()));
    throw error;
  }
}
