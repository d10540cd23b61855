import { randomBytes } from 'node:crypto';
import { z } from 'zod';

// The servers' own channel. Several stateless instances share the gateways' presence through an MQTT 5
// shared subscription; this (non-shared) topic tells every instance what another one changed, so each
// keeps its in-memory views — the resolver index, the live epoch keys, the app sockets — current:
//   promotion: one was recorded; the instance holding the shopper's app socket delivers it at once (the
//              shopper's ID comes along, so the instances without their socket read nothing)
//   shopper:   a shopper's consent or erasure changed; every resolver re-reads that shopper
//   keys:      a store or its epoch keys changed; every instance reloads the live keys
//   beacons:   a loyalty beacon was linked or unlinked; every instance re-reads the resolvable beacons
//              (the announcing instance has already republished the gateways' registeredBeacons)
// Only opaque internal IDs travel. Everything is re-read from the Store, which stays the single
// source of truth, and a periodic resync covers a missed message.

/** Outside the gateways' namespace: store IDs cannot start with "_". */
export const SERVER_BUS_TOPIC = 'vicino/v1/_servers/bus';

export const BusMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('promotion'), id: z.string().regex(/^pr_[A-Za-z0-9_-]{10,40}$/), shopperId: z.string().regex(/^sh_[0-9a-f]{32}$/).optional(),
    /** The announcing instance (a random ID per process): it delivered the promotion itself, so its own echo is skipped. */
    from: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  }).strict(),
  z.object({ type: z.literal('shopper'), id: z.string().regex(/^sh_[0-9a-f]{32}$/) }).strict(),
  z.object({ type: z.literal('keys') }).strict(),
  z.object({ type: z.literal('beacons') }).strict(),
]);
export type BusMessage = z.infer<typeof BusMessageSchema>;

export type ServerBus = {
  announce(message: BusMessage): void;
  /** Handles one bus payload; malformed payloads are ignored (and counted by the caller's metrics). */
  handle(payload: Buffer): Promise<boolean>;
};

export function createServerBus(deps: {
  publish: (topic: string, payload: string) => Promise<void>;
  onMessage: (message: BusMessage) => Promise<void>;
  onError: (error: Error) => void;
}): ServerBus {
  // The broker sends an instance its own announcements too. A promotion's is skipped: the announcing instance
  // handed the promotion to its deliveries before announcing it, and re-reading it there (one Store read per
  // promotion) found it already on its way.
  const instanceId = randomBytes(8).toString('hex');
  return {
    announce(message) {
      deps.publish(SERVER_BUS_TOPIC, JSON.stringify(message.type === 'promotion' ? { ...message, from: instanceId } : message)).catch(deps.onError);
    },
    async handle(payload) {
      let json: unknown;
      try {
        json = JSON.parse(String(payload));
      } catch {
        return false;
      }
      const parsed = BusMessageSchema.safeParse(json);
      if (!parsed.success) return false;
      if (parsed.data.type === 'promotion' && parsed.data.from === instanceId) return true;
      await deps.onMessage(parsed.data);
      return true;
    },
  };
}
