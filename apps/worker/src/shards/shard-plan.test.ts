import { describe, expect, it } from 'vitest';
import { balanceFiles, failingFirst, fileOfTest } from './shard-plan.ts';

describe('balanceFiles', () => {
  it('splits by file count when no file has a history', () => {
    const { shards } = balanceFiles(['a', 'b', 'c', 'd', 'e'], new Map(), 2);
    expect(shards.map((s) => s.length).sort()).toEqual([2, 3]);
    expect(shards.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('balances by the duration history: one slow file gets a shard to itself', () => {
    const durations = new Map([
      ['slow', 9000],
      ['a', 1000],
      ['b', 1000],
      ['c', 1000],
      ['d', 1000],
    ]);
    const { shards, expectedMs } = balanceFiles(['a', 'b', 'c', 'd', 'slow'], durations, 2);
    expect(shards).toEqual([['slow'], ['a', 'b', 'c', 'd']]);
    expect(expectedMs).toEqual([9000, 4000]);
  });

  it('weighs a file without history as the mean of those with one', () => {
    const durations = new Map([
      ['a', 4000],
      ['b', 2000],
    ]);
    // new ≈ 3000: a | b + new (5000) rather than a + new | b.
    const { expectedMs } = balanceFiles(['a', 'b', 'new'], durations, 2);
    expect(expectedMs).toEqual([4000, 5000]);
  });

  it('leaves a shard empty rather than inventing files when there are fewer files than shards', () => {
    expect(balanceFiles(['a'], new Map(), 3).shards).toEqual([['a'], [], []]);
  });
});

describe('failingFirst', () => {
  it('moves the failing files to the front, each group in its order', () => {
    expect(failingFirst(['a', 'b', 'c', 'd'], new Set(['d', 'b']))).toEqual({ first: ['b', 'd'], rest: ['a', 'c'] });
  });
});

describe('fileOfTest', () => {
  const files = ['tests/test_orders.py', 'tests/api/test_users.py', 'test/s001.test.js'];
  it('reads the file attribute, absolute (node --test) or relative', () => {
    expect(fileOfTest({ file: '/w/cycle-2/test/s001.test.js', classname: 'test' }, files, '/w/cycle-2')).toBe('test/s001.test.js');
    // The previous cycle's checkout: a different root, the same suite-relative path.
    expect(fileOfTest({ file: '/w/cycle-1/test/s001.test.js', classname: 'test' }, files, '/w/cycle-2')).toBe('test/s001.test.js');
    expect(fileOfTest({ file: 'tests/test_orders.py', classname: 'x' }, files, '/w')).toBe('tests/test_orders.py');
  });
  it('reads a dotted classname (pytest), with or without a class', () => {
    expect(fileOfTest({ classname: 'tests.test_orders' }, files, '/w')).toBe('tests/test_orders.py');
    expect(fileOfTest({ classname: 'tests.api.test_users.TestUsers' }, files, '/w')).toBe('tests/api/test_users.py');
  });
  it('is undefined for a test of no listed file', () => {
    expect(fileOfTest({ classname: 'tests.test_other' }, files, '/w')).toBeUndefined();
  });
});
