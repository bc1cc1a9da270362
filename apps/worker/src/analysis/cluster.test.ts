import { describe, expect, it } from 'vitest';
import { analyzeFailure, buildClusters, compareWithPrevious, placeInHistory, toSummary } from './cluster.ts';
import type { ParsedTestCase, PreviousCycle, TestStatusMap } from './types.ts';

const tc = (name: string, status: ParsedTestCase['status'], message?: string, flaky?: boolean): ParsedTestCase => ({
  id: `e2e › ${name}`,
  suite: 'e2e',
  classname: 'e2e',
  name,
  status,
  durationMs: 5,
  suitePath: ['e2e'],
  source: { file: 'j.xml', line: 1 },
  ...(message ? { message } : {}),
  ...(flaky ? { flaky } : {}),
});

/** One cycle's results: which tests fail and how (ids and ports differ each cycle, as in real runs). */
function cycleTests(n: number, failing: Record<string, string>): ParsedTestCase[] {
  const names = ['start', 'stop', 'stream', 'threads', 'health'];
  return names.map((name) => (failing[name] ? tc(name, 'failed', failing[name]?.replace('{id}', `${n}a${n}b${n}c9f`)) : tc(name, 'passed')));
}

function analyze(n: number, tests: ParsedTestCase[], previous: PreviousCycle[], commit: string) {
  const failures = tests.filter((t) => t.status === 'failed' || t.flaky).map((t) => analyzeFailure(t));
  const clusters = buildClusters(failures, { previous, cycle: n });
  const comparison = compareWithPrevious(previous, new Map(tests.map((t) => [t.id, t])), clusters, commit);
  const statuses: TestStatusMap = Object.fromEntries(tests.map((t) => [t.id, t.status]));
  const live = clusters.filter((c) => c.tests.length > 0);
  const self: PreviousCycle = {
    n,
    commit,
    totals: { total: tests.length, passed: 0, failed: 0, skipped: 0, durationMs: 0 },
    clusters: live.map(toSummary),
    testStatuses: statuses,
  };
  return { clusters: live, comparison, self };
}

const ROUTE = 'POST /api/agents/start → 404';
const AUTH = 'expected 200 got 403 for POST /api/chat/{id}/stream';
const CRASH = 'expected 201 got 500 for POST /api/threads';

describe('cluster status across three cycles', () => {
  // cycle 1: start 404, threads 500            (both new)
  // cycle 2: start 404, stream 403             (start persisting, stream new, threads fixed by fix commit f1)
  // cycle 3: stream 403, threads 500           (stream persisting, threads regressed, start fixed)
  const c1 = analyze(1, cycleTests(1, { start: ROUTE, threads: CRASH }), [], 'c1');
  const c2 = analyze(
    2,
    cycleTests(2, { start: ROUTE, stream: AUTH }),
    [{ ...c1.self, fixedBy: { [c1.clusters.find((c) => c.triage === 'server-error')?.fingerprint ?? '']: 'f1' } }],
    'c2',
  );
  const c3 = analyze(3, cycleTests(3, { stream: AUTH, threads: CRASH }), [c1.self, c2.self], 'c3');
  const fpOf = (r: typeof c1, triage: string) => r.clusters.find((c) => c.triage === triage)?.fingerprint;

  it('cycle 1: everything is new', () => {
    expect(Object.fromEntries(c1.clusters.map((c) => [c.triage, [c.status, c.tests]]))).toEqual({
      'route-missing': ['new', ['e2e › start']],
      'server-error': ['new', ['e2e › threads']],
    });
    expect(c1.comparison).toEqual({ fixed: [], changed: [], notRun: [] });
  });

  it('cycle 2: persisting, new, and fixed by the recorded fix commit', () => {
    expect(fpOf(c2, 'route-missing')).toBe(fpOf(c1, 'route-missing'));
    const byTriage = Object.fromEntries(c2.clusters.map((c) => [c.triage, [c.status, c.cyclesFailing, c.firstSeenCycle]]));
    expect(byTriage).toEqual({ 'route-missing': ['persisting', 2, 1], 'auth-rejected': ['new', 1, 2] });
    expect(c2.comparison.fixed).toEqual([
      {
        fingerprint: fpOf(c1, 'server-error'),
        title: 'Server error: POST /api/threads → 500',
        commit: 'f1',
        attributed: true,
        tests: ['e2e › threads'],
        flakyNow: [],
      },
    ]);
  });

  it('cycle 3: regressed (fixed in 2, back in 3), persisting with a new id in the path, and fixed by this commit', () => {
    const byTriage = Object.fromEntries(c3.clusters.map((c) => [c.triage, [c.status, c.cyclesFailing, c.firstSeenCycle]]));
    expect(byTriage).toEqual({ 'auth-rejected': ['persisting', 2, 2], 'server-error': ['regressed', 1, 1] });
    expect(fpOf(c3, 'server-error')).toBe(fpOf(c1, 'server-error'));
    expect(c3.comparison.fixed.map((f) => [f.fingerprint, f.commit, f.attributed])).toEqual([[fpOf(c2, 'route-missing'), 'c3', false]]);
  });
});

describe('compareWithPrevious', () => {
  const prev: PreviousCycle = {
    n: 4,
    commit: 'p',
    totals: { total: 3, passed: 1, failed: 2, skipped: 0, durationMs: 0 },
    clusters: [
      { fingerprint: 'aaaaaaaaaaaa', title: 'A', triage: 'route-missing', status: 'new', tests: ['e2e › start'], sampleMessage: '', endpoints: [] },
      { fingerprint: 'bbbbbbbbbbbb', title: 'B', triage: 'assertion', status: 'new', tests: ['e2e › stop'], sampleMessage: '', endpoints: [] },
    ],
  };

  it('reports a cluster whose tests now fail differently as changed, and one whose tests did not run as not run', () => {
    const tests = [tc('start', 'failed', 'POST /api/agents/start → 500'), tc('stop', 'skipped')];
    const clusters = buildClusters(
      tests.filter((t) => t.status === 'failed').map((t) => analyzeFailure(t)),
      { previous: [prev], cycle: 5 },
    );
    const cmp = compareWithPrevious([prev], new Map(tests.map((t) => [t.id, t])), clusters, 'now');
    expect(cmp.fixed).toEqual([]);
    expect(cmp.changed).toEqual([{ fingerprint: 'aaaaaaaaaaaa', title: 'A', now: [clusters[0]?.fingerprint] }]);
    expect(cmp.notRun).toEqual([{ fingerprint: 'bbbbbbbbbbbb', title: 'B', tests: ['e2e › stop'] }]);
  });

  it('does not call a cluster regressed when the cycles in between never ran its tests', () => {
    const statuses = { 'e2e › start': 'skipped' as const };
    const history: PreviousCycle[] = [prev, { ...prev, n: 5, clusters: [], testStatuses: statuses }];
    expect(placeInHistory('aaaaaaaaaaaa', ['e2e › start'], history, 6).status).toBe('persisting');
    const passedBetween: PreviousCycle[] = [prev, { ...prev, n: 5, clusters: [], testStatuses: { 'e2e › start': 'passed' } }];
    expect(placeInHistory('aaaaaaaaaaaa', ['e2e › start'], passedBetween, 6).status).toBe('regressed');
  });
});

describe('flaky tests in clusters', () => {
  it('keeps flaky tests out of the dispatched tests and holds a flaky-only cluster', () => {
    const tests = [tc('start', 'failed', ROUTE), tc('stop', 'passed', ROUTE, true), tc('health', 'passed', 'read ECONNRESET', true)];
    const clusters = buildClusters(
      tests.filter((t) => t.status === 'failed' || t.flaky).map((t) => analyzeFailure(t)),
      { previous: [], cycle: 1 },
    );
    const route = clusters.find((c) => c.triage === 'route-missing');
    const reset = clusters.find((c) => c.triage === 'infrastructure');
    expect(route).toMatchObject({ tests: ['e2e › start'], flakyTests: ['e2e › stop'], dispatch: true });
    expect(reset).toMatchObject({ tests: [], flakyTests: ['e2e › health'], dispatch: false, holdReason: 'every test in it passed on a rerun (flaky)' });
  });

  it('holds clusters whose triage class goes to a person', () => {
    const clusters = buildClusters([analyzeFailure(tc('start', 'failed', 'connect ECONNREFUSED 127.0.0.1:4000'))], {
      previous: [],
      cycle: 1,
      skipTriage: ['infrastructure'],
    });
    expect(clusters[0]).toMatchObject({ dispatch: false, holdReason: 'triage class infrastructure goes to a person (fixer.skipTriage)' });
  });
});
