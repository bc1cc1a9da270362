import { describe, expect, it } from 'vitest';
import { budgetRefusal, clusterBudgetStop, fixAllowance, type SpendLedger } from './budget.ts';
import { planFixes } from './dispatch.ts';
import { fixerConfig, testCluster } from './testing.ts';

const ledger = (over: Partial<SpendLedger>): SpendLedger => ({ loop: undefined, byCycle: {}, byCluster: {}, costliestRun: undefined, ...over });

describe('fixer.budget before dispatch', () => {
  const clusters = ['aaaaaa', 'bbbbbb', 'cccccc', 'dddddd'].map((fp) => testCluster(fp));

  it('dispatches, in order, only the runs the loop cap has room for, each counted at the costliest run so far', () => {
    const fixer = fixerConfig(['fix'], { budget: { perLoop: { usd: 2 } } });
    // $0.50 spent, runs cost up to $0.40: room for 3 more ($1.70), not 4 ($2.10).
    const plan = planFixes(clusters, fixer, {}, ledger({ loop: { usd: 0.5 }, costliestRun: { usd: 0.4 } }));
    expect(plan.dispatch.map((c) => c.fingerprint)).toEqual(['aaaaaa', 'bbbbbb', 'cccccc']);
    expect(plan.skipped).toEqual([
      {
        fingerprint: 'dddddd',
        reason: "not dispatched: fixer.budget.perLoop: the loop's fixers spent $0.50 of a $2.00 cap, and this cycle's 4 runs could cost $1.60",
      },
    ]);
    // Nothing known yet about what a run costs: everything is dispatched (the fix jobs check again as they start).
    expect(planFixes(clusters, fixer, {}, ledger({})).dispatch).toHaveLength(4);
  });

  it('holds back a cluster whose own cap is reached, and one whose next run could pass it', () => {
    const fixer = fixerConfig(['fix'], { budget: { perCluster: { tokens: 10_000 } } });
    const spent = ledger({
      loop: { inputTokens: 14_000, outputTokens: 1_000 },
      byCluster: { aaaaaa: { inputTokens: 9_500, outputTokens: 500 }, bbbbbb: { inputTokens: 4_500, outputTokens: 500 } },
      costliestRun: { inputTokens: 5_000, outputTokens: 500 },
    });
    const plan = planFixes(clusters, fixer, {}, spent);
    expect(plan.dispatch.map((c) => c.fingerprint)).toEqual(['cccccc', 'dddddd']);
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      "not dispatched: fixer.budget.perCluster: this cluster's fixers spent 10,000 tokens of a 10,000-token cap",
      "not dispatched: fixer.budget.perCluster: this cluster's fixers spent 5,000 tokens of a 10,000-token cap, and the next run could use 5,500 tokens",
    ]);
  });

  it('refuses nothing without a budget, and gives each fix the tighter of what its cluster and the loop have left', () => {
    expect(budgetRefusal(ledger({ loop: { usd: 1e6 } }), undefined, 'aaaaaa')).toBeUndefined();
    const budget = fixerConfig(['fix'], { budget: { perCluster: { usd: 1 }, perLoop: { usd: 3, tokens: 100_000 } } }).budget;
    const spent = ledger({ loop: { usd: 2.5, inputTokens: 10_000 }, byCluster: { aaaaaa: { usd: 0.2 } } });
    expect(fixAllowance(spent, budget, 'aaaaaa')).toEqual({ usd: 0.5, tokens: 90_000 });
    expect(fixAllowance(spent, undefined, 'aaaaaa')).toBeUndefined();
  });

  it('rejects a budget without a limit and names the field', () => {
    expect(() => fixerConfig(['fix'], { budget: { perLoop: {} } })).toThrow(/usd, tokens or both/);
    expect(() => fixerConfig(['fix'], { budget: { perLoop: { usd: -1 } } })).toThrow(/positive number of US dollars/);
    expect(() => fixerConfig(['fix'], { budget: { perRun: { usd: 1 } } })).toThrow();
    expect(() => fixerConfig(['fix'], { budget: { perCluster: { tokens: 1.5 } } })).toThrow(/positive whole number of tokens/);
    expect(() => fixerConfig(['fix'], { budget: { perLoop: { usd: 'five' } } })).toThrow(/positive number of US dollars/);
  });

  it('stops the loop when every cluster a fixer could take has spent its own cap', () => {
    const fixer = fixerConfig(['fix'], { budget: { perCluster: { usd: 1 } } });
    const infra = { ...testCluster('eeeeee'), triage: 'infrastructure' as const };
    const spent = ledger({ byCluster: { aaaaaa: { usd: 1 }, bbbbbb: { usd: 0.7 } }, costliestRun: { usd: 0.5 } });
    // bbbbbb: $0.70 + a $0.50 run would pass $1; the infrastructure cluster is never a fixer's.
    const stop = clusterBudgetStop(
      spent,
      fixer,
      [clusters[0], clusters[1], infra].filter((c) => c !== undefined),
    );
    expect(stop).toMatchObject({ rule: 'budget', clusters: ['aaaaaa', 'bbbbbb'] });
    expect(stop?.message).toBe(
      'fixer.budget.perCluster: each of the 2 failure cluster(s) left to fix has reached its cap or could pass it with one more run (e.g. spent $1.00 of a $1.00 cap)',
    );
    // One cluster with room left: the loop goes on.
    expect(clusterBudgetStop(spent, fixer, clusters)).toBeUndefined();
    expect(
      clusterBudgetStop(
        spent,
        fixerConfig(['fix']),
        [clusters[0]].filter((c) => c !== undefined),
      ),
    ).toBeUndefined();
  });
});
