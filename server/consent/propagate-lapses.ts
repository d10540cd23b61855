import type { Logger } from 'pino';
import type { BeaconService } from '../beacon-service.ts';
import type { ConsentRecord } from '../domain/consent.ts';
import type { EpochKeyService } from '../keys/epoch-keys.ts';
import type { Resolver } from '../resolver.ts';
import type { BusMessage } from '../server-bus.ts';
import type { Store } from '../store/store.ts';

// What a presence lapse must reach once its record is committed, as a withdrawal through the consent
// route does (CON-4): this instance's resolver forgets the shopper at once, the other instances are told
// (server bus; their minute resync would catch it too, since it reads consent_state changes), and the
// shopper's loyalty beacons leave the gateways' configs. Other purposes need nothing: every send re-reads
// the state.

export type LapsePropagationDeps = {
  store: Pick<Store, 'listBeacons'>;
  resolver: Pick<Resolver, 'refresh'>;
  beacons: Pick<BeaconService, 'sync'>;
  keys: Pick<EpochKeyService, 'publishAllConfigs'>;
  announce: (message: BusMessage) => void;
  logger: Logger;
};

export function propagateLapses(deps: LapsePropagationDeps): (records: readonly ConsentRecord[]) => Promise<void> {
  return async (records) => {
    const presence = [...new Set(records.filter((r) => r.purpose === 'presence').map((r) => r.shopperId))];
    if (presence.length === 0) return;
    for (const shopperId of presence) {
      await deps.resolver.refresh(shopperId);
      deps.announce({ type: 'shopper', id: shopperId });
    }
    // Republished when this sync changed the beacons, or when a lapsed shopper has any (another sync may have taken the change).
    const hadBeacons = (await Promise.all(presence.map((id) => deps.store.listBeacons(id)))).some((linked) => linked.length > 0);
    if ((await deps.beacons.sync()) || hadBeacons) {
      await deps.keys.publishAllConfigs().catch((error: Error) => deps.logger.warn({ err: error.message }, 'republishing gateway configs after consent lapses failed'));
    }
  };
}
