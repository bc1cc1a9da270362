import {
  addSpend,
  type BudgetCap,
  budgetOverrun,
  type ClusterSummary,
  type FixerBudget,
  type FixerConfig,
  type FixResult,
  type LoopStore,
  maxSpend,
  recordFixerSpend,
  remainingBudget,
  type Spend,
  type StopReason,
  scaleSpend,
  tighterBudget,
} from '@greenloop/core';
import type { WorkerContext } from '../context.ts';

/**
 * What a loop's fixers have spent, from the records (fix outcomes and fixes re-done at integration), and
 * the `fixer.budget` decisions made from it. Budgets are checked BEFORE a fixer starts: by the controller
 * when it plans a cycle's fixes, by each fix job when it is about to run its fixer (other fixers of the
 * cycle may have reported in the meantime), and by the fix between its attempts.
 */

export interface SpendLedger {
  /** Everything the loop's fixers reported. */
  loop: Spend | undefined;
  byCycle: Record<number, Spend | undefined>;
  byCluster: Record<string, Spend | undefined>;
  /**
   * What one fixer run could cost: the costliest run of the loop so far (a fix's spend over its attempts).
   * Unknown before any run reported; the first run of a loop is therefore only refused once the cap is reached.
   */
  costliestRun: Spend | undefined;
}

/** The ledger of cycles 1..`upTo`, including outcomes of fix jobs of a cycle still in progress. */
export async function spendLedger(store: LoopStore, loopId: string, upTo: number): Promise<SpendLedger> {
  const ledger: SpendLedger = { loop: undefined, byCycle: {}, byCluster: {}, costliestRun: undefined };
  const add = (n: number, fingerprint: string, spend: Spend | undefined, attempts: number) => {
    if (!spend) return;
    ledger.loop = addSpend(ledger.loop, spend);
    ledger.byCycle[n] = addSpend(ledger.byCycle[n], spend);
    ledger.byCluster[fingerprint] = addSpend(ledger.byCluster[fingerprint], spend);
    ledger.costliestRun = maxSpend(ledger.costliestRun, scaleSpend(spend, 1 / Math.max(1, attempts)));
  };
  for (let n = 1; n <= upTo; n++) {
    const fix = (await store.getStage(loopId, n, 'fix'))?.result;
    for (const fingerprint of fix?.planned ?? []) {
      const r = fix?.results.find((x) => x.fingerprint === fingerprint) ?? (await store.getFixOutcome(loopId, n, fingerprint));
      if (r) add(n, fingerprint, r.spend, r.attempts);
    }
    for (const x of (await store.getStage(loopId, n, 'integrate'))?.result?.redone ?? []) add(n, x.fingerprint, x.spend, x.attempts);
  }
  return ledger;
}

/**
 * Why a cluster's fixer may not start now (`fixer.budget`), or `undefined`. `alreadyDispatched` runs of
 * this cycle that have not reported yet are counted at the costliest run's price.
 */
export function budgetRefusal(ledger: SpendLedger, budget: FixerBudget | undefined, fingerprint: string, alreadyDispatched = 0): string | undefined {
  if (!budget) return undefined;
  if (budget.perCluster) {
    const over = budgetOverrun(ledger.byCluster[fingerprint], budget.perCluster, ledger.costliestRun);
    if (over) return `fixer.budget.perCluster: this cluster's fixers ${over}`;
  }
  if (budget.perLoop) {
    const runs = alreadyDispatched + 1;
    const over = budgetOverrun(ledger.loop, budget.perLoop, scaleSpend(ledger.costliestRun, runs), runs > 1 ? `this cycle's ${runs} runs` : 'the next run');
    if (over) return `fixer.budget.perLoop: the loop's fixers ${over}`;
  }
  return undefined;
}

/**
 * The `budget` stop when every failing cluster a fixer could take has reached (or would pass with its next
 * run) its `perCluster` cap: another cycle could dispatch no fixer, so it would only redeploy and retest.
 */
export function clusterBudgetStop(
  ledger: SpendLedger,
  fixer: Pick<FixerConfig, 'budget' | 'skipTriage'>,
  clusters: readonly ClusterSummary[],
): StopReason | undefined {
  const cap = fixer.budget?.perCluster;
  const fixable = clusters.filter((c) => !fixer.skipTriage.includes(c.triage));
  if (!cap || fixable.length === 0) return undefined;
  const reasons = fixable.map((c) => budgetOverrun(ledger.byCluster[c.fingerprint], cap, ledger.costliestRun));
  if (reasons.some((r) => r === undefined)) return undefined;
  return {
    rule: 'budget',
    message: `fixer.budget.perCluster: each of the ${fixable.length} failure cluster(s) left to fix has reached its cap or could pass it with one more run (e.g. ${reasons[0]})`,
    clusters: fixable.map((c) => c.fingerprint),
  };
}

/** What one fix may spend on its attempts: what is left of its cluster's cap and of the loop's, the tighter. */
export function fixAllowance(ledger: SpendLedger, budget: FixerBudget | undefined, fingerprint: string): BudgetCap | undefined {
  if (!budget) return undefined;
  return tighterBudget(remainingBudget(budget.perCluster, ledger.byCluster[fingerprint]), remainingBudget(budget.perLoop, ledger.loop));
}

/** Counts a fix's spend in /metrics under its loop's environment; metrics never fail a fix. */
export async function recordSpendMetric(ctx: WorkerContext, loopId: string, r: FixResult): Promise<void> {
  const environment = (await ctx.store.getLoop(loopId))?.environment;
  if (r.spend && environment) await recordFixerSpend(ctx.store.redis, ctx.store.prefix, environment, r.spend).catch(() => undefined);
}
