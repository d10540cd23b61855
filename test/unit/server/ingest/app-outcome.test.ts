import { describe, expect, it } from 'vitest';
import { appOutcome, type PresenceOutcome } from '#server/ingest/resolved-presence.ts';

// What the app is told about its own sighting report: whether a promotion went out, never the campaign's
// reasons. Every outcome the send path can give is listed, so a new one must be placed here on purpose.

const INTERNAL: readonly (Exclude<PresenceOutcome, 'no-presence'> | 'replayed')[] = [
  'held-out', 'capped', 'budget', 'not-in-audience', 'outside-schedule', 'quiet-hours', 'closed', 'sensitive-zone', 'too-late', 'no-campaign',
];

describe('appOutcome', () => {
  it('passes on what the shopper may know: sent, a retry of a sent report, and their own missing consent', () => {
    expect([appOutcome('sent'), appOutcome('duplicate'), appOutcome('no-consent'), appOutcome('replayed')]).toEqual(['sent', 'duplicate', 'no-consent', 'duplicate']);
  });

  it.each(INTERNAL)('folds the campaign\'s reason %s into not-sent', (outcome) => {
    expect(appOutcome(outcome)).toBe('not-sent');
  });
});
