// Types of model.js (plain JavaScript, served to the browser as it is), for the TypeScript that imports
// it: the unit tests. The builder's state keeps what the user typed, as text; the definition is what
// PUT /v1/admin/campaigns/:campaignId takes (server/domain/campaign.ts CampaignDefinitionInput).

export type BuilderState = {
  campaignId: string;
  name: string;
  placement: { level: string; storeIds: string[]; storeId: string; zoneIds: string[] };
  trigger: { kind: string; minDwellS: string; minDaysAway: string; nth: string; repeat: boolean };
  audience: { kind: string; segment: { loyaltyTiers: string[]; interests: string; minPastVisits: string; maxPastVisits: string } };
  schedule: { from: string; until: string; windows: { days: string[]; from: string; to: string }[] };
  caps: { perShopper: { count: string; periodS: string }; minGapS: string; perShopperDaily: string; cooldownS: string };
  budget: { maxDeliveries: string; maxRedemptions: string };
  experiment: { enabled: boolean; holdoutPercent: string; variants: { id: string; weight: string; message: { title: string; body: string; deepLink: string } }[] };
  attribution: { enabled: boolean; conversionZoneIds: string[]; windowS: string };
  message: { title: string; body: string; deepLink: string; validForS: string };
  priority: string;
};

export const WEEKDAYS: readonly string[];
export const LOYALTY_TIERS: readonly string[];
export const TRIGGER_KINDS: readonly { value: string; label: string }[];
export const PLACEMENT_LEVELS: readonly { value: string; label: string }[];
export function emptyState(stores?: readonly { id: string }[]): BuilderState;
export function newWindow(): BuilderState['schedule']['windows'][number];
export function newVariant(state: BuilderState): BuilderState['experiment']['variants'][number];
export function fromDefinition(definition: Record<string, unknown>, campaignId?: string): BuilderState;
export function toDefinition(state: BuilderState): Record<string, unknown>;
export function getPath(object: unknown, path: string): unknown;
export function setPath(object: unknown, path: string, value: unknown): void;
export function placementText(placement: unknown): string;
export function triggerText(trigger: unknown): string;
