import { createHmac, hkdfSync } from 'node:crypto';
import { HOLDOUT_VARIANT, type Experiment, type Variant } from './campaign.ts';

// A/B variants and the holdout (issue 6 item 1), pure. A shopper's group in a campaign is
//   u = first 52 bits of HMAC-SHA-256(K_exp, "vicino-experiment-v1" ‖ 0x00 ‖ campaignId ‖ 0x00 ‖ shopperId) / 2^52
// with K_exp = HKDF-SHA-256(master key, info "vicino experiment assignment v1"): u < holdoutPercent/100 is
// the holdout; the rest of [0, 1) is cut into the variants in proportion to their weights, in the order listed.
//
// Why a keyed hash under a key derived from the master key, rather than SHA-256 with a per-campaign salt:
// - stable across instances and restarts: every instance derives the same key from the same master key, and
//   nothing about the assignment is stored until a shopper is exposed (no race on a salt row);
// - nobody outside can compute it: the master key never enters the database, so a database dump (or a
//   campaign's published ID, or a salt kept beside it) does not let anyone work out who is — or would be —
//   in the control group, and a shopper cannot steer into or out of it;
// - HMAC is a PRF, so groups are independent of the shopper ID's structure and of other campaigns.
// A campaign's groups change only if its variants or holdout change (a new version keeps the same ID and
// so the same u; only the cut points move).

const ASSIGNMENT_LABEL = 'vicino-experiment-v1';

/** K_exp: the experiment assignment key, derived from the server's master (sealing) key. */
export function deriveExperimentKey(masterKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'vicino experiment assignment v1', 32));
}

/** The shopper's point u in [0, 1) for the campaign: 52 bits of the keyed hash, so u is exact in a double. */
export function assignmentPoint(key: Uint8Array, campaignId: string, shopperId: string): number {
  const digest = createHmac('sha256', key).update(`${ASSIGNMENT_LABEL}\0${campaignId}\0${shopperId}`).digest();
  // 52 bits: the first 6 bytes and the top 4 bits of the 7th.
  const high = digest.readUIntBE(0, 6) * 16 + (digest[6]! >> 4);
  return high / 2 ** 52;
}

/** What a shopper gets in a campaign: a variant (its message overrides) or nothing (held out, the control group). */
export type ExperimentGroup = { kind: 'variant'; variant: Variant } | { kind: 'holdout' };

/** The group at point u: below holdoutPercent/100 held out, else a variant by weight. */
export function groupAt(experiment: Experiment, u: number): ExperimentGroup {
  if (!(u >= 0 && u < 1)) throw new RangeError(`u must be in [0, 1), got ${u}`);
  const holdout = experiment.holdoutPercent / 100;
  if (u < holdout) return { kind: 'holdout' };
  // Rescale the treated share to [0, 1) and walk the cumulative weights.
  const v = (u - holdout) / (1 - holdout);
  const total = experiment.variants.reduce((sum, variant) => sum + variant.weight, 0);
  let cumulative = 0;
  for (const variant of experiment.variants) {
    cumulative += variant.weight;
    if (v * total < cumulative) return { kind: 'variant', variant };
  }
  // Rounding at the very top of [0, 1): the last variant.
  return { kind: 'variant', variant: experiment.variants.at(-1)! };
}

/** The shopper's group for the campaign's experiment. */
export function assignGroup(key: Uint8Array, campaign: { id: string; experiment: Experiment }, shopperId: string): ExperimentGroup {
  return groupAt(campaign.experiment, assignmentPoint(key, campaign.id, shopperId));
}

/** The variant label a promotion row records: the variant's ID, HOLDOUT_VARIANT, or null without an experiment. */
export function variantLabel(group: ExperimentGroup | undefined): string | null {
  if (group === undefined) return null;
  return group.kind === 'holdout' ? HOLDOUT_VARIANT : group.variant.id;
}
