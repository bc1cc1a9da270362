import { describe, expect, test } from 'vitest';
import { RequestBudget } from './request-budget.ts';

describe('RequestBudget', () => {
  test('allows max requests per window per key, then says how long to wait', () => {
    const b = new RequestBudget({ max: 2, windowMs: 10_000 });
    expect([b.take('a', 0), b.take('a', 1000), b.take('a', 2000)]).toEqual([undefined, undefined, 8]);
    expect(b.take('b', 2000)).toBeUndefined();
    expect(b.take('a', 9_999)).toBe(1);
    // A new window starts when the old one ends.
    expect(b.take('a', 10_000)).toBeUndefined();
  });

  test('spent() reports without counting', () => {
    const b = new RequestBudget({ max: 1, windowMs: 60_000 });
    expect(b.spent('x', 0)).toBeUndefined();
    b.take('x', 0);
    expect(b.spent('x', 30_000)).toBe(30);
    expect(b.spent('x', 60_000)).toBeUndefined();
  });

  test('stays bounded under a flood of distinct keys, dropping finished windows first', () => {
    const b = new RequestBudget({ max: 1, windowMs: 1000, maxKeys: 3 });
    b.take('old', 0);
    b.take('k1', 500);
    b.take('k2', 500);
    // "old" has expired at 1200: it goes, the live ones stay (k1 is still spent).
    b.take('k3', 1200);
    expect(b.spent('k1', 1200)).toBe(1);
    expect(b.spent('old', 1200)).toBeUndefined();
    // All live and full: the map starts over rather than growing.
    b.take('k4', 1300);
    expect(b.spent('k1', 1300)).toBeUndefined();
  });
});
