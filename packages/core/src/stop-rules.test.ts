import { describe, expect, it } from 'vitest';
import { type CycleOutcome, evaluateStopRules } from './stop-rules.ts';

const limits = { maxCycles: 10, maxDuration: 3_600_000, noProgressCycles: 3 };
const c = (n: number, failing: string[], extra: Partial<CycleOutcome> = {}): CycleOutcome => ({
  n,
  green: failing.length === 0,
  real: true,
  realnessReasons: [],
  failing,
  ...extra,
});

describe('stop rules', () => {
  it('keeps going while failures shrink', () => {
    expect(evaluateStopRules([c(1, ['a', 'b', 'c']), c(2, ['d'])], limits, 1000)).toBeUndefined();
  });

  it('stops green only when the run is real', () => {
    expect(evaluateStopRules([c(1, ['a']), c(2, [])], limits, 1000)).toMatchObject({ rule: 'green' });
    const fake = evaluateStopRules([c(1, [], { real: false, realnessReasons: ['no test was collected'] })], limits, 1000);
    expect(fake).toMatchObject({ rule: 'not-real' });
    expect(fake?.message).toContain('no test was collected');
  });

  it('stops on an environment failure with its evidence, before any budget rule', () => {
    const stop = evaluateStopRules(
      [c(1, ['a'], { environment: '9 of 10 tests failed, 9 of them unable to reach a working service' })],
      { ...limits, maxCycles: 1 },
      10,
    );
    expect(stop).toEqual({ rule: 'environment', message: 'cycle 1: 9 of 10 tests failed, 9 of them unable to reach a working service', clusters: ['a'] });
  });

  it('enforces maxCycles and maxDuration, naming the clusters left', () => {
    expect(evaluateStopRules([c(1, ['a'])], { ...limits, maxCycles: 1 }, 10)).toMatchObject({ rule: 'max-cycles', clusters: ['a'] });
    expect(evaluateStopRules([c(1, ['a'])], limits, 3_600_000)).toMatchObject({ rule: 'max-duration' });
  });

  it('stops on the loop budget before dispatching when spent, or spent plus the next run, passes the cap', () => {
    const cycles = [c(1, ['a', 'b']), c(2, ['a'])];
    // Within: $0.40 spent, runs cost at most $0.30, cap $1.
    expect(evaluateStopRules(cycles, limits, 10, { cap: { usd: 1 }, spent: { usd: 0.4 }, nextRun: { usd: 0.3 } })).toBeUndefined();
    // The next run could pass it: $0.80 + $0.30 > $1.
    const next = evaluateStopRules(cycles, limits, 10, { cap: { usd: 1 }, spent: { usd: 0.8 }, nextRun: { usd: 0.3 } });
    expect(next).toMatchObject({ rule: 'budget', clusters: ['a'] });
    expect(next?.message).toContain('spent $0.80 of a $1.00 cap, and the next run could cost $0.30');
    // Tokens count input + output.
    const tokens = evaluateStopRules(cycles, limits, 10, { cap: { tokens: 10_000 }, spent: { inputTokens: 9_000, outputTokens: 1_000 }, nextRun: undefined });
    expect(tokens?.message).toContain('spent 10,000 tokens of a 10,000-token cap');
    // Green still wins over a spent budget.
    expect(evaluateStopRules([c(1, ['a']), c(2, [])], limits, 10, { cap: { usd: 1 }, spent: { usd: 5 }, nextRun: undefined })).toMatchObject({ rule: 'green' });
  });

  it('stops with no-progress when the same clusters fail noProgressCycles times in a row', () => {
    const cycles = [c(1, ['a', 'b']), c(2, ['b', 'a'])];
    expect(evaluateStopRules(cycles, limits, 10)).toBeUndefined();
    const stop = evaluateStopRules([...cycles, c(3, ['a', 'b'])], limits, 10);
    expect(stop).toMatchObject({ rule: 'no-progress', clusters: ['a', 'b'] });
    expect(stop?.message).toContain('cycles 1–3');
  });

  it('detects oscillation: the failing set returns to an earlier one', () => {
    expect(evaluateStopRules([c(1, ['a']), c(2, ['b']), c(3, ['a'])], limits, 10)).toMatchObject({ rule: 'oscillation', clusters: ['a'] });
    expect(evaluateStopRules([c(1, ['a', 'b']), c(2, ['b']), c(3, ['c'])], limits, 10)).toBeUndefined();
  });
});
