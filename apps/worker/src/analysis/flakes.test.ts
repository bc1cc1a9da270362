import { describe, expect, it } from 'vitest';
import { judgeFlakes, labelFlaky, MemoryFlakeHistory } from './flakes.ts';
import type { ParsedTestCase } from './types.ts';

const tc = (id: string, status: ParsedTestCase['status'], over: Partial<ParsedTestCase> = {}): ParsedTestCase => ({
  id,
  suite: 's',
  classname: 'c',
  name: id.split(' › ').at(-1) ?? id,
  status,
  durationMs: 1,
  suitePath: ['s'],
  source: { file: 'j.xml', line: 1 },
  ...over,
});

describe('labelFlaky', () => {
  const first = [
    tc('s › a', 'passed'),
    tc('s › b', 'failed', { message: 'read ECONNRESET', type: 'Error' }),
    tc('s › c', 'failed', { message: 'POST /x → 404' }),
    tc('s › d', 'error'),
    tc('s › e', 'skipped'),
  ];
  const rerun = [tc('s › b', 'passed'), tc('s › c', 'failed'), tc('other › d', 'skipped', { classname: 'c', name: 'd' })];
  const out = labelFlaky(first, rerun);

  it('labels tests that failed, then passed on the rerun, keeping the first failure', () => {
    expect(out.flaky).toEqual(['s › b']);
    expect(out.tests.find((t) => t.id === 's › b')).toMatchObject({
      status: 'passed',
      flaky: true,
      message: 'read ECONNRESET',
      attempts: [{ kind: 'first-run', message: 'read ECONNRESET', type: 'Error' }],
    });
  });

  it('keeps tests that failed again, or were not rerun, failed', () => {
    expect(out.confirmed).toEqual(['s › c']);
    expect(out.notRerun).toEqual(['s › d']);
    expect(out.tests.map((t) => t.status)).toEqual(['passed', 'passed', 'failed', 'error', 'skipped']);
  });

  it('does not mutate its inputs', () => {
    expect(first[1]?.status).toBe('failed');
    expect(first[1]?.flaky).toBeUndefined();
  });

  it('matches by classname and name when the rerun nests suites differently', () => {
    const r = labelFlaky([tc('s › c › x', 'failed', { name: 'x' })], [tc('other › c › x', 'passed', { name: 'x' })]);
    expect(r.flaky).toEqual(['s › c › x']);
  });
});

describe('MemoryFlakeHistory', () => {
  it('records across loops, idempotently per loop + cycle + test', async () => {
    const h = new MemoryFlakeHistory();
    const at = '2025-09-08T21:00:00.000Z';
    await h.record([
      { testId: 't', loopId: 'l1', cycle: 1, at, outcome: 'flaky' },
      { testId: 't', loopId: 'l1', cycle: 1, at, outcome: 'flaky' },
      { testId: 't', loopId: 'l2', cycle: 3, at: '2025-09-09T08:00:00.000Z', outcome: 'flaky' },
      { testId: 't', loopId: 'l2', cycle: 4, at, outcome: 'failed' },
      { testId: 'u', loopId: 'l2', cycle: 4, at, outcome: 'failed' },
    ]);
    const stats = await h.get(['t', 'u', 'never']);
    expect(stats.get('t')).toEqual({ testId: 't', failures: 1, flakes: 2, flakyLoops: 2, lastFlakyAt: '2025-09-09T08:00:00.000Z' });
    expect(stats.get('u')).toEqual({ testId: 'u', failures: 1, flakes: 0, flakyLoops: 0 });
    expect(stats.has('never')).toBe(false);
  });
});

describe('flake verdict over several reruns and the shared history', () => {
  const first = [tc('s › x', 'failed'), tc('s › y', 'failed'), tc('s › z', 'failed')];

  it('passed on any rerun is flaky; failing every one of two reruns is broken', () => {
    // x: fail, pass (rerun 2 only reran what had not passed); y: fail, fail. The second file renumbers ids.
    const reruns = [tc('s › x', 'failed'), tc('s › y', 'failed'), tc('s › x [2]', 'passed', { name: 'x' }), tc('s › y [2]', 'failed', { name: 'y' })];
    const out = labelFlaky(first.slice(0, 2), reruns);
    expect(out.flaky).toEqual(['s › x']);
    expect(out.reasons['s › x']).toBe('passed on rerun 2 of 2');
    expect(out.confirmed).toEqual(['s › y']);
    expect(out.reasons['s › y']).toBe('failed 2 of 2 rerun(s)');
  });

  it('one failed rerun: broken, unless the history shows a known flake', async () => {
    const history = new MemoryFlakeHistory();
    await history.record([
      { testId: 's › z', loopId: 'l1', cycle: 1, at: '2026-12-01T10:00:00Z', outcome: 'flaky' },
      { testId: 's › z', loopId: 'l2', cycle: 2, at: '2026-12-01T11:00:00Z', outcome: 'flaky' },
      { testId: 's › z', loopId: 'l2', cycle: 3, at: '2026-12-01T12:00:00Z', outcome: 'failed' },
      { testId: 's › y', loopId: 'l1', cycle: 1, at: '2026-12-01T10:00:00Z', outcome: 'failed' },
      { testId: 's › y', loopId: 'l1', cycle: 2, at: '2026-12-01T11:00:00Z', outcome: 'flaky' },
    ]);
    const out = await judgeFlakes(first.slice(1), [tc('s › y', 'failed'), tc('s › z', 'failed')], history);
    expect(out.flaky).toEqual(['s › z']);
    expect(out.reasons['s › z']).toBe('failed its only rerun but is a known flake; flaked in 2 earlier cycle(s) of 2 loop(s), failed for real in 1');
    // One flake in the history is not enough to overrule a failed rerun.
    expect(out.confirmed).toEqual(['s › y']);
  });
});
