import type { ClusterSummary, FixerConfig, TriageClass } from '@greenloop/core';
import { budgetRefusal, type SpendLedger } from './budget.ts';

/**
 * Routing and budgets: which clusters of a cycle get a fixer, with how many attempts, and which go to a
 * person instead (their triage class is configured as not fixable, or the loop's budget for them is spent).
 */

/** Why a class is not for a code fixer, where that is not obvious from its name. */
const TRIAGE_WHY: Partial<Record<TriageClass, string>> = {
  infrastructure: ' (the suite could not reach the service: connection refused/reset, DNS, TLS or a timeout; an environment problem, not a code bug)',
};

export interface FixPlan {
  /** Clusters that get a fixer this cycle, in the order given. */
  dispatch: ClusterSummary[];
  /** Attempts allowed this cycle per dispatched fingerprint: `attemptsPerCycle`, capped by what is left of `attemptsPerLoop`. */
  maxAttempts: Record<string, number>;
  /** Clusters left to a person, with the reason ("needs a person: …"). */
  skipped: { fingerprint: string; reason: string }[];
}

/**
 * Plans a cycle's fixes. `attemptsSoFar` counts fixer attempts per fingerprint over the loop so far
 * (most precisely the sum of `FixResult.attempts` of earlier cycles). A fingerprint listed twice is planned once.
 * With `ledger` (the spend of earlier cycles), `fixer.budget` holds back clusters whose cap is reached and,
 * in order, those for which the loop's cap leaves no room (each dispatched run counted at the costliest run's price).
 */
export function planFixes(
  clusters: readonly ClusterSummary[],
  fixer: Pick<FixerConfig, 'skipTriage' | 'attemptsPerCycle' | 'attemptsPerLoop' | 'budget'>,
  attemptsSoFar: Readonly<Record<string, number>>,
  ledger?: SpendLedger,
): FixPlan {
  const plan: FixPlan = { dispatch: [], maxAttempts: {}, skipped: [] };
  const seen = new Set<string>();
  for (const cluster of clusters) {
    const fp = cluster.fingerprint;
    if (seen.has(fp)) continue;
    seen.add(fp);
    const spent = attemptsSoFar[fp] ?? 0;
    const overBudget = ledger && budgetRefusal(ledger, fixer.budget, fp, plan.dispatch.length);
    if (fixer.skipTriage.includes(cluster.triage)) {
      plan.skipped.push({ fingerprint: fp, reason: `needs a person: ${cluster.triage}${TRIAGE_WHY[cluster.triage] ?? ''}` });
    } else if (spent >= fixer.attemptsPerLoop) {
      plan.skipped.push({ fingerprint: fp, reason: `needs a person: ${spent} attempts did not fix it` });
    } else if (overBudget) {
      plan.skipped.push({ fingerprint: fp, reason: `not dispatched: ${overBudget}` });
    } else {
      plan.dispatch.push(cluster);
      plan.maxAttempts[fp] = Math.min(fixer.attemptsPerCycle, fixer.attemptsPerLoop - spent);
    }
  }
  return plan;
}
