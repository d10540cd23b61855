import { CampaignDefinitionSchema, ExperimentSchema, MessageSchema, type LoyaltyTier } from './campaign.ts';
import { checkCampaignAgainstStores, type StoreForChecks } from './campaign-checks.ts';
import { fieldIssues, type FieldIssue } from './errors.ts';
import { renderMessage, variantMessage } from './promotion.ts';

// The campaign builder's check and preview (issue 8), pure: a draft definition is checked exactly as
// PUT /v1/admin/campaigns/:id checks it — the same schema (CampaignDefinitionSchema, with its messages),
// then, once it parses, the same checks against the stores as configured (campaign-checks.ts) — and its
// message is rendered with the renderer the send path uses (promotion.ts renderMessage): personalised
// with sample values, as a shopper with personalisation consent (P2) would read it, and generic, as
// everyone else does. The preview needs only a valid message, so the builder shows it while other parts
// are still being written. Sample values are the marketer's, not a shopper's.

export type PreviewSample = { firstName?: string | undefined; loyaltyTier?: LoyaltyTier | undefined };

/** What {{firstName}} and {{loyaltyTier}} show when the builder gives no sample. */
export const DEFAULT_PREVIEW_SAMPLE = { firstName: 'Alex', loyaltyTier: 'gold' } as const satisfies PreviewSample;

export type RenderedMessage = { title: string; body: string; deepLink?: string };
export type MessagePreview = { personalised: RenderedMessage; generic: RenderedMessage };
export type CampaignPreview = {
  /** Whether a PUT of this definition would be accepted (as of the stores' configuration now). */
  valid: boolean;
  /** Every problem, each at its field's dotted path within the definition (e.g. "caps.perShopper.count"). */
  issues: FieldIssue[];
  /** The message as shoppers would read it, and each experiment variant's; null while the message itself is not valid. */
  preview: (MessagePreview & { variants: ({ id: string } & MessagePreview)[] }) | null;
};

export function previewCampaign(definition: unknown, stores: readonly StoreForChecks[], nowMs: number, sample: PreviewSample = {}): CampaignPreview {
  const parsed = CampaignDefinitionSchema.safeParse(definition);
  const issues = parsed.success ? checkCampaignAgainstStores(parsed.data, stores, nowMs) : fieldIssues(parsed.error);
  return { valid: issues.length === 0, issues, preview: previewMessage(definition, sample) };
}

function previewMessage(definition: unknown, sample: PreviewSample): CampaignPreview['preview'] {
  if (typeof definition !== 'object' || definition === null) return null;
  const parts = definition as Record<string, unknown>;
  const message = MessageSchema.safeParse(parts.message);
  if (!message.success) return null;
  const attributes = { firstName: sample.firstName ?? DEFAULT_PREVIEW_SAMPLE.firstName, loyaltyTier: sample.loyaltyTier ?? DEFAULT_PREVIEW_SAMPLE.loyaltyTier };
  const both = (m: { title: string; body: string; deepLink?: string | undefined }): MessagePreview => ({
    personalised: renderMessage(m, attributes, true),
    generic: renderMessage(m, {}, false),
  });
  const experiment = parts.experiment === undefined ? undefined : ExperimentSchema.safeParse(parts.experiment);
  const variants = experiment?.success === true ? experiment.data.variants.map((variant) => ({ id: variant.id, ...both(variantMessage(message.data, variant)) })) : [];
  return { ...both(message.data), variants };
}
