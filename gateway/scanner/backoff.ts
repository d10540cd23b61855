// Exponential backoff with "equal jitter" (half the delay fixed, half random): gateways that lose
// their adapters together (a power blip in a store) do not retry in step, and no retry comes sooner
// than half the nominal delay. The delay never exceeds maxDelayMs.

export type BackoffOptions = {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Growth per failed attempt. */
  factor?: number;
};

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialDelayMs: 1_000, maxDelayMs: 60_000, factor: 2 };

/** The wait before retry number `attempt` (1 for the first retry), with `random()` in [0, 1). */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number): number {
  const factor = options.factor ?? DEFAULT_BACKOFF.factor;
  const nominal = Math.min(options.maxDelayMs, options.initialDelayMs * factor ** Math.max(0, attempt - 1));
  return Math.round(nominal / 2 + (nominal / 2) * random());
}
