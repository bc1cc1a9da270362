import { describe, expect, it } from 'vitest';
import { addSpend, budgetOverrun, formatSpend, maxSpend, scaleSpend, spendTokens, sumSpend } from './spend.ts';

describe('spend', () => {
  it('adds field by field, keeping only fields someone reported', () => {
    expect(addSpend({ usd: 0.1 }, { usd: 0.2, inputTokens: 5 })).toEqual({ usd: 0.3, inputTokens: 5 });
    expect(addSpend(undefined, { outputTokens: 3 })).toEqual({ outputTokens: 3 });
    expect(sumSpend([undefined, undefined])).toBeUndefined();
    expect(sumSpend([{ usd: 1 }, undefined, { usd: 2, outputTokens: 7 }])).toEqual({ usd: 3, outputTokens: 7 });
  });

  it('takes the larger of each field and scales', () => {
    expect(maxSpend({ usd: 1, inputTokens: 10 }, { usd: 0.5, outputTokens: 4 })).toEqual({ usd: 1, inputTokens: 10, outputTokens: 4 });
    expect(scaleSpend({ usd: 0.25, inputTokens: 3 }, 3)).toEqual({ usd: 0.75, inputTokens: 9 });
    expect(spendTokens({ usd: 1 })).toBeUndefined();
    expect(spendTokens({ inputTokens: 2, outputTokens: 3 })).toBe(5);
  });

  it('formats dollars and tokens', () => {
    expect(formatSpend({ usd: 0.4213, inputTokens: 12345, outputTokens: 2345 })).toBe('$0.42, 12,345 input + 2,345 output tokens');
    expect(formatSpend({ usd: 0.0042 })).toBe('$0.0042');
    expect(formatSpend(undefined)).toBe('no usage reported');
  });

  it('says which cap is reached, or would be passed by the next run', () => {
    expect(budgetOverrun({ usd: 0.5 }, { usd: 1 })).toBeUndefined();
    expect(budgetOverrun({ usd: 1 }, { usd: 1 })).toBe('spent $1.00 of a $1.00 cap');
    expect(budgetOverrun({ usd: 0.5 }, { usd: 1 }, { usd: 0.5 })).toBeUndefined();
    expect(budgetOverrun({ usd: 0.5 }, { usd: 1 }, { usd: 0.6 })).toContain('the next run could cost $0.60');
    expect(budgetOverrun({ usd: 0.5 }, { tokens: 100 }, { usd: 9 })).toBeUndefined();
    expect(budgetOverrun({ inputTokens: 60 }, { usd: 1, tokens: 100 }, { outputTokens: 50 })).toContain('the next run could use 50');
    expect(budgetOverrun(undefined, { usd: 1 })).toBeUndefined();
  });
});
