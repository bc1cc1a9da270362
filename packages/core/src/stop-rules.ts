import type { LoopLimits } from './config/schema.ts';
import type { StopReason } from './domain.ts';
import { type BudgetCap, budgetOverrun, formatSpend, type Spend } from './spend.ts';

/** What the stop rules need to know about each analyzed cycle, oldest first. */
export interface CycleOutcome {
  n: number;
  green: boolean;
  real: boolean;
  realnessReasons: string[];
  /** Fingerprints of the failing clusters (flaky ones excluded). */
  failing: string[];
  /** Set when the run failed because of its environment (connection refused, DNS, TLS…, or most tests failing the same way), with the evidence. */
  environment?: string;
}

/** The loop's fixer spend against `fixer.budget.perLoop`, checked before any fixer of the cycle is dispatched. */
export interface LoopBudgetState {
  cap: BudgetCap;
  /** What the loop's fixers reported so far. */
  spent: Spend | undefined;
  /** What the next fixer run could cost: the most one run of this loop has cost so far. */
  nextRun: Spend | undefined;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * Decides, after a cycle has been analyzed, whether the loop stops and why. Pure: the controller
 * persists the answer. Order matters: green wins, then realness, then the budgets, then progress rules.
 */
export function evaluateStopRules(
  cycles: readonly CycleOutcome[],
  limits: Pick<LoopLimits, 'maxCycles' | 'maxDuration' | 'noProgressCycles'>,
  elapsedMs: number,
  budget?: LoopBudgetState,
): StopReason | undefined {
  const last = cycles.at(-1);
  if (!last) return undefined;
  if (last.green && last.real) return { rule: 'green', message: `all tests passed in cycle ${last.n}` };
  if (!last.real && last.failing.length === 0) {
    return { rule: 'not-real', message: `cycle ${last.n} had no failures but the run cannot be trusted: ${last.realnessReasons.join('; ')}` };
  }
  // No code fix can make an unreachable service pass: stop and say so before any fixer is dispatched.
  if (last.environment) return { rule: 'environment', message: `cycle ${last.n}: ${last.environment}`, clusters: last.failing };
  if (last.n >= limits.maxCycles) {
    return {
      rule: 'max-cycles',
      message: `reached maxCycles (${limits.maxCycles}) with ${last.failing.length} failure cluster(s) left`,
      clusters: last.failing,
    };
  }
  if (elapsedMs >= limits.maxDuration) {
    return {
      rule: 'max-duration',
      message: `ran ${Math.round(elapsedMs / 1000)}s, over maxDuration (${Math.round(limits.maxDuration / 1000)}s)`,
      clusters: last.failing,
    };
  }
  const overrun = budget && budgetOverrun(budget.spent, budget.cap, budget.nextRun);
  if (overrun) {
    return {
      rule: 'budget',
      message: `fixer.budget.perLoop: the loop's fixers ${overrun} (${formatSpend(budget.spent)} in all), so no fixer is dispatched; ${last.failing.length} failure cluster(s) left`,
      clusters: last.failing,
    };
  }
  const window = cycles.slice(-limits.noProgressCycles);
  if (limits.noProgressCycles > 1 && window.length === limits.noProgressCycles && window.every((c) => sameSet(c.failing, last.failing))) {
    return {
      rule: 'no-progress',
      message: `the same ${last.failing.length} failure cluster(s) failed in ${limits.noProgressCycles} cycles in a row (cycles ${window[0]?.n}–${last.n})`,
      clusters: last.failing,
    };
  }
  // Oscillation: A → B → A. The failing set came back to an earlier, non-adjacent cycle's set.
  const prev = cycles.at(-2);
  if (prev && last.failing.length > 0 && !sameSet(prev.failing, last.failing)) {
    const earlier = cycles.slice(0, -2).find((c) => sameSet(c.failing, last.failing));
    if (earlier) {
      return {
        rule: 'oscillation',
        message: `cycle ${last.n} fails the same clusters as cycle ${earlier.n}: fixes are undoing each other`,
        clusters: last.failing,
      };
    }
  }
  return undefined;
}
