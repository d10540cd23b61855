import type { Campaign } from '../domain/campaign.ts';
import type { StoreContext } from '../domain/decision.ts';
import type { GatewayRecord, Store } from '../store/store.ts';

// What the presence ingest reads for every event but what changes rarely — each gateway (its store, zone
// and sealed secret), each store's time zone, hours and sensitive zones, and its campaigns — kept in
// memory and re-read only when the configuration moved. Store.configVersion is raised in the transaction
// of every such change, by any instance, so a change made anywhere is seen by the next event here: the
// check is one small read per event (shared by the events that ask at the same time), instead of four
// reads and the parse of every campaign. Nothing is cached that failed to read (fail closed, CON-5: the
// error reaches the caller), and no shopper data is kept here.

export type ConfigView = {
  gateway(id: string): Promise<GatewayRecord | undefined>;
  /** What decide() needs of a store; undefined for a store the server does not know (it counts as closed, MKT-3). */
  storeContext(storeId: string): Promise<StoreContext | undefined>;
  /** The campaigns placed in the store, of every status (decide() filters). */
  campaigns(storeId: string): Promise<Campaign[]>;
};

/** Entries per kind before the view starts over: gateway IDs come from topics, which a misbehaving client may vary. */
const MAX_ENTRIES = 10_000;

export function createConfigView(store: Store): ConfigView {
  const gateways = new Map<string, Promise<GatewayRecord | undefined>>();
  const contexts = new Map<string, Promise<StoreContext | undefined>>();
  const campaigns = new Map<string, Promise<Campaign[]>>();
  let version: number | undefined;
  let checking: Promise<void> | undefined;

  /** Reads the version (one read for every caller waiting at the time) and forgets everything if it moved. */
  const check = (): Promise<void> => {
    checking ??= store.configVersion()
      .then((current) => {
        if (current === version) return;
        gateways.clear();
        contexts.clear();
        campaigns.clear();
        version = current;
      })
      .finally(() => {
        checking = undefined;
      });
    return checking;
  };

  /** The entry under key, read through `load` once per version; a failed read is not kept. */
  const cached = async <T>(entries: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    await check();
    let entry = entries.get(key);
    if (entry === undefined) {
      if (entries.size >= MAX_ENTRIES) entries.clear();
      entry = load();
      entries.set(key, entry);
      const settled = entry;
      settled.catch(() => {
        if (entries.get(key) === settled) entries.delete(key);
      });
    }
    return entry;
  };

  return {
    gateway: (id) => cached(gateways, id, () => store.getGateway(id)),
    storeContext: (storeId) => cached(contexts, storeId, () => readStoreContext(store, storeId)),
    campaigns: (storeId) => cached(campaigns, storeId, () => store.listCampaigns(storeId)),
  };
}

/** A store's context, read from the Store: its record and zones, read together. */
async function readStoreContext(store: Store, storeId: string): Promise<StoreContext | undefined> {
  const [record, zones] = await Promise.all([store.getStore(storeId), store.listZones(storeId)]);
  if (record === undefined) return undefined;
  const sensitiveZoneIds = zones.filter((zone) => zone.sensitive).map((zone) => zone.id);
  return { id: record.id, timezone: record.timezone, openingHours: record.openingHours, quietHours: record.quietHours, sensitiveZoneIds };
}
