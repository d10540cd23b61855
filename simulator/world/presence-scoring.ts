import type { EdgeScore, Percentiles, StoreDayReport } from './store-report.ts';

// Detected presence against ground truth, per tracked shopper, pure. The truth is the zone the shopper
// stood in at each second; the detection is the server's arbitrated zone (entered / left transitions).
//   visits      a truth stay of at least minVisitS in one zone; a shorter one is passing through, and
//               neither counts for nor against the enter/exit scores;
//   enters      recall: each true visit's start matched one-to-one to a detected entry into the same
//               zone within ±toleranceS, the nearest first, over the visits; precision: the detected
//               entries matched the same way to any true entry, a pass-through included (walking
//               through a zone is being in it), over the detections. Exits alike, at the ends;
//   zone time   each second the system placed the shopper in a zone is correct if the shopper was truly
//               in that zone at some moment within ±toleranceS (detection lags by design); otherwise it
//               is a wrong zone, or no zone at all (corridor, or gone). zoneAccuracy = correct / placed:
//               the complement of "readings put in the wrong room" (the ESPresense harness's measure);
//   missed      seconds truly inside an instrumented zone, away from its edges by toleranceS, with no zone
//               detected;
//   flaps       a detected exit from a zone and re-entry into it within flapWindowS where the truth has no
//               leave-and-return of that zone in the same span (±toleranceS).
// Only zones a gateway serves (instrumented) can be detected, so only their visits are scored.

export type ScoringOptions = { toleranceS: number; minVisitS: number; flapWindowS: number; instrumented: ReadonlySet<string> };

export type Transition = { kind: 'entered' | 'left'; zoneId: string; atMs: number };

export type ScoredShopper = {
  /** Unix seconds of truth[0]. */
  startS: number;
  /** The true zone at each second from startS (null: in no zone); the shopper is gone after the last. */
  truth: readonly (string | null)[];
  /** The arbiter's transitions for this shopper, in time order. */
  transitions: readonly Transition[];
};

type Edge = { zoneId: string; atS: number };

export type PresenceScorer = {
  add(shopper: ScoredShopper): void;
  /** The scores so far; trackedHours (the tracked shoppers' time in the store) scales the flaps. */
  result(trackedHours: number): { presence: StoreDayReport['presence']; visits: Map<string, { truth: number; detected: number }> };
};

export function percentileOf(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const percentiles = (values: number[]): Percentiles => {
  const sorted = values.sort((a, b) => a - b);
  return { p50: percentileOf(sorted, 50), p99: percentileOf(sorted, 99), samples: sorted.length };
};

/** The true visits: runs of one instrumented zone lasting at least minVisitS seconds. */
export function truthVisits(truth: readonly (string | null)[], startS: number, options: Pick<ScoringOptions, 'minVisitS' | 'instrumented'>): { zoneId: string; fromS: number; toS: number }[] {
  const visits: { zoneId: string; fromS: number; toS: number }[] = [];
  let runStart = 0;
  for (let i = 1; i <= truth.length; i += 1) {
    if (i < truth.length && truth[i] === truth[runStart]) continue;
    const zoneId = truth[runStart];
    if (zoneId !== null && zoneId !== undefined && options.instrumented.has(zoneId) && i - runStart >= options.minVisitS) {
      visits.push({ zoneId, fromS: startS + runStart, toS: startS + i });
    }
    runStart = i;
  }
  return visits;
}

/** Greedy one-to-one matching, truth in time order, each to the nearest unmatched detection of its zone within the tolerance; returns the signed lags. */
function match(truth: readonly Edge[], detected: readonly Edge[], toleranceS: number): number[] {
  const used = new Uint8Array(detected.length);
  const lags: number[] = [];
  for (const edge of truth) {
    let best = -1;
    for (let i = 0; i < detected.length; i += 1) {
      const candidate = detected[i]!;
      if (used[i] || candidate.zoneId !== edge.zoneId || Math.abs(candidate.atS - edge.atS) > toleranceS) continue;
      if (best < 0 || Math.abs(candidate.atS - edge.atS) < Math.abs(detected[best]!.atS - edge.atS)) best = i;
    }
    if (best >= 0) {
      used[best] = 1;
      lags.push(detected[best]!.atS - edge.atS);
    }
  }
  return lags;
}

const score = (truth: number, detected: number, recalled: number, precise: number): EdgeScore => ({
  truth, detected, matched: recalled, precision: detected === 0 ? null : precise / detected, recall: truth === 0 ? null : recalled / truth,
});

export function createPresenceScorer(options: ScoringOptions): PresenceScorer {
  const { toleranceS, flapWindowS } = options;
  const totals = { truthEnters: 0, detectedEnters: 0, recalledEnters: 0, preciseEnters: 0, truthExits: 0, detectedExits: 0, recalledExits: 0, preciseExits: 0, flaps: 0 };
  const seconds = { detected: 0, correct: 0, wrongZone: 0, notInAnyZone: 0, missed: 0 };
  const enterLags: number[] = [];
  const exitLags: number[] = [];
  const visits = new Map<string, { truth: number; detected: number }>();
  const visitsOf = (zoneId: string) => {
    let entry = visits.get(zoneId);
    if (entry === undefined) visits.set(zoneId, (entry = { truth: 0, detected: 0 }));
    return entry;
  };

  return {
    add({ startS, truth, transitions }) {
      const at = (s: number): string | null => (s >= startS && s < startS + truth.length ? truth[s - startS]! : null);
      const wasIn = (zoneId: string, fromS: number, toS: number): boolean => {
        for (let s = Math.max(fromS, startS); s <= toS && s < startS + truth.length; s += 1) if (truth[s - startS] === zoneId) return true;
        return false;
      };

      // Edges: recall over the visits, precision over every true entry and exit (pass-throughs too).
      const trueVisits = truthVisits(truth, startS, options);
      const allStays = truthVisits(truth, startS, { ...options, minVisitS: 1 });
      for (const visit of trueVisits) visitsOf(visit.zoneId).truth += 1;
      const enters = transitions.filter((t) => t.kind === 'entered').map((t) => ({ zoneId: t.zoneId, atS: t.atMs / 1000 }));
      const exits = transitions.filter((t) => t.kind === 'left').map((t) => ({ zoneId: t.zoneId, atS: t.atMs / 1000 }));
      for (const enter of enters) visitsOf(enter.zoneId).detected += 1;
      const enterLagsHere = match(trueVisits.map((v) => ({ zoneId: v.zoneId, atS: v.fromS })), enters, toleranceS);
      const exitLagsHere = match(trueVisits.map((v) => ({ zoneId: v.zoneId, atS: v.toS })), exits, toleranceS);
      totals.truthEnters += trueVisits.length;
      totals.truthExits += trueVisits.length;
      totals.recalledEnters += enterLagsHere.length;
      totals.recalledExits += exitLagsHere.length;
      totals.detectedEnters += enters.length;
      totals.detectedExits += exits.length;
      totals.preciseEnters += match(enters, allStays.map((v) => ({ zoneId: v.zoneId, atS: v.fromS })), toleranceS).length;
      totals.preciseExits += match(exits, allStays.map((v) => ({ zoneId: v.zoneId, atS: v.toS })), toleranceS).length;
      enterLags.push(...enterLagsHere);
      exitLags.push(...exitLagsHere);

      // Zone time, second by second, until the truth and the detection have both ended.
      const lastTransitionS = transitions.length === 0 ? startS : Math.ceil(transitions.at(-1)!.atMs / 1000);
      const endS = Math.max(startS + truth.length, lastTransitionS + 1);
      let next = 0;
      let current: string | null = null;
      for (let s = startS; s < endS; s += 1) {
        while (next < transitions.length && transitions[next]!.atMs <= s * 1000) {
          const t = transitions[next]!;
          current = t.kind === 'entered' ? t.zoneId : current === t.zoneId ? null : current;
          next += 1;
        }
        const trueZone = at(s);
        if (current !== null) {
          seconds.detected += 1;
          if (wasIn(current, s - toleranceS, s + toleranceS)) seconds.correct += 1;
          else if (trueZone === null) seconds.notInAnyZone += 1;
          else seconds.wrongZone += 1;
        } else if (trueZone !== null && options.instrumented.has(trueZone) && at(s - toleranceS) === trueZone && at(s + toleranceS) === trueZone) {
          seconds.missed += 1;
        }
      }

      // Flaps: a detected leave and return that the truth does not have.
      const lastLeft = new Map<string, number>();
      for (const t of transitions) {
        if (t.kind === 'left') {
          lastLeft.set(t.zoneId, t.atMs / 1000);
          continue;
        }
        const leftS = lastLeft.get(t.zoneId);
        const enteredS = t.atMs / 1000;
        if (leftS === undefined || enteredS - leftS > flapWindowS) continue;
        if (!trulyLeftAndReturned(at, t.zoneId, Math.floor(leftS - toleranceS), Math.ceil(enteredS + toleranceS))) totals.flaps += 1;
      }
    },

    result(trackedHours) {
      return {
        presence: {
          toleranceS,
          minVisitS: options.minVisitS,
          enters: score(totals.truthEnters, totals.detectedEnters, totals.recalledEnters, totals.preciseEnters),
          exits: score(totals.truthExits, totals.detectedExits, totals.recalledExits, totals.preciseExits),
          zoneAccuracy: seconds.detected === 0 ? null : seconds.correct / seconds.detected,
          zoneSeconds: { ...seconds },
          enterLatencyS: percentiles(enterLags.slice()),
          exitLatencyS: percentiles(exitLags.slice()),
          flaps: totals.flaps,
          flapsPerShopperHour: trackedHours > 0 ? totals.flaps / trackedHours : null,
        },
        visits,
      };
    },
  };
}

/** Whether the truth shows the zone, then elsewhere, then the zone again, within [fromS, toS]. */
function trulyLeftAndReturned(at: (s: number) => string | null, zoneId: string, fromS: number, toS: number): boolean {
  let phase = 0; // 0: looking for the zone, 1: for leaving it, 2: for returning
  for (let s = fromS; s <= toS; s += 1) {
    const inside = at(s) === zoneId;
    if (phase === 0 && inside) phase = 1;
    else if (phase === 1 && !inside) phase = 2;
    else if (phase === 2 && inside) return true;
  }
  return false;
}
