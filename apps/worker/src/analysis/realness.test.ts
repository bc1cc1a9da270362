import type { DeployedService, LogEntry, TestRunResult } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import type { LogPull } from '../logs/types.ts';
import type { RecordedRequest } from '../proxy/request-record.ts';
import { assessRealness, type RealnessInput } from './realness.ts';
import type { CycleTotals, PreviousCycle } from './types.ts';

const run: TestRunResult = {
  runId: 'run-1',
  startedAt: '2025-09-08T21:00:00.000Z',
  finishedAt: '2025-09-08T21:10:00.000Z',
  exitCode: 1,
  signal: null,
  timedOut: false,
  junitFiles: ['/a/junit.xml'],
  stdoutFile: '/a/stdout',
  stderrFile: '/a/stderr',
  truncatedBytes: 0,
};
const services: DeployedService[] = [
  { service: 'api', provider: 'local', url: 'http://127.0.0.1:4000', revision: 'local-1', readyAt: '2025-09-08T20:59:00.000Z' },
];
const request = (over: Partial<LogEntry> = {}): LogEntry => ({
  time: '2025-09-08T21:05:00.000Z',
  severity: 'INFO',
  service: 'api',
  message: 'request completed',
  httpRequest: { method: 'GET', path: '/api/agents', status: 200 },
  runId: 'run-1',
  ...over,
});
const logs = (entries: LogEntry[], query = 'local files: api.log'): LogPull => ({ entries, truncated: false, failingRequests: [], query });
const totals = (over: Partial<CycleTotals> = {}): CycleTotals => ({
  total: 25,
  passed: 22,
  failed: 3,
  skipped: 0,
  durationMs: 35 * 60_000,
  errors: 0,
  flaky: 0,
  ...over,
});
const prev = (n: number, total: number): PreviousCycle => ({
  n,
  commit: 'c',
  totals: { total, passed: total, failed: 0, skipped: 0, durationMs: 1 },
  clusters: [],
});

function assess(over: Partial<RealnessInput> = {}) {
  return assessRealness({
    totals: totals(),
    suiteTimeMs: 0,
    junitFiles: 1,
    run,
    logs: logs([request()]),
    services,
    previous: [],
    minDurationMs: 60_000,
    maxCountDrop: 0.2,
    ...over,
  });
}
const check = (r: ReturnType<typeof assess>, id: string) => r.checks.find((c) => c.id === id);

describe('realness', () => {
  it('passes a normal run and shows the evidence', () => {
    const r = assess({ previous: [prev(1, 25)] });
    expect(r.real).toBe(true);
    expect(r.reasons).toEqual([]);
    expect(check(r, 'requests-seen')?.detail).toBe('1 log entries carry run id run-1; 1 request lines in the test window; services seen: api');
    expect(check(r, 'duration')?.detail).toBe('tests took 35m 0s (wall 10m 0s); floor 1m 0s');
    expect(check(r, 'count-stable')?.detail).toBe('25 tests vs 25 in cycle 1 (same; limit −20%)');
  });

  it('flags a run that collected no tests, quoting the suite output', () => {
    const r = assess({ totals: totals({ total: 0, passed: 0, failed: 0, durationMs: 0 }), outputTail: 'Error: Cannot find module ./e2e' });
    expect(r.real).toBe(false);
    expect(check(r, 'collected')).toMatchObject({ passed: false, detail: expect.stringContaining('Cannot find module') });
  });

  it('flags a run where every test was skipped, with the skip reasons', () => {
    const r = assess({ totals: totals({ passed: 0, failed: 0, skipped: 25 }), run: { ...run, exitCode: 0 }, skipReasons: ['STAGING_TOKEN not set (×25)'] });
    expect(r.real).toBe(false);
    expect(r.reasons).toEqual(['Tests executed: all 25 tests were skipped; reasons: "STAGING_TOKEN not set (×25)"']);
  });

  it('flags a sharp drop in test count against the last cycle that ran tests', () => {
    const r = assess({
      totals: totals({ total: 10, passed: 10, failed: 0 }),
      previous: [prev(1, 25), { ...prev(2, 0), totals: { total: 0, passed: 0, failed: 0, skipped: 0, durationMs: 0 } }],
    });
    expect(check(r, 'count-stable')).toMatchObject({ passed: false, detail: '10 tests vs 25 in cycle 1 (−60%; limit −20%)' });
    expect(assess({ totals: totals({ total: 21 }), previous: [prev(1, 25)] }).real).toBe(true);
  });

  it('flags a run faster than tests.minDuration, and skips the rule when no floor is set', () => {
    const r = assess({ totals: totals({ durationMs: 900 }) });
    expect(check(r, 'duration')).toMatchObject({ passed: false, detail: 'tests took 900ms (wall 10m 0s); floor 1m 0s' });
    expect(check(assess({ totals: totals({ durationMs: 900 }), minDurationMs: 0 }), 'duration')?.passed).toBeNull();
  });

  it('uses suite-level time when the runner does not time testcases', () => {
    expect(check(assess({ totals: totals({ durationMs: 0 }), suiteTimeMs: 120_000 }), 'duration')?.passed).toBe(true);
  });

  it('flags a run in which no request reached the services', () => {
    const outside = request({ time: '2025-09-08T22:00:00.000Z', runId: undefined });
    const otherRun = request({ runId: 'run-0' });
    const r = assess({ logs: logs([outside, otherRun]) });
    expect(r.real).toBe(false);
    expect(check(r, 'requests-seen')?.detail).toMatch(/^0 log entries carry run id run-1; 0 request lines in the test window; services seen: none/);
  });

  it('counts untagged request lines inside the window (clock skew allowed)', () => {
    const r = assess({ logs: logs([request({ runId: undefined, time: '2025-09-08T21:10:03.000Z' })]) });
    expect(check(r, 'requests-seen')?.passed).toBe(true);
  });

  it('does not flag a warnings-only log query that cannot see successful requests', () => {
    const r = assess({ logs: logs([], 'resource.type="cloud_run_revision" AND severity>=WARNING') });
    expect(check(r, 'requests-seen')?.passed).toBeNull();
    expect(r.real).toBe(true);
  });

  it('flags a suite that timed out, was killed, or exited non-zero with no failures', () => {
    expect(assess({ run: { ...run, timedOut: true } }).real).toBe(false);
    expect(assess({ run: { ...run, exitCode: null, signal: 'SIGKILL' } }).reasons).toEqual([
      'Suite finished: the suite was killed by SIGKILL; results are incomplete',
    ]);
    expect(assess({ totals: totals({ failed: 0, passed: 25 }), run: { ...run, exitCode: 2 } }).reasons[0]).toMatch(
      /exited with code 2 but its JUnit reports no failures/,
    );
  });

  it("does not count greenloop's own probe, an unmarked health check at the start, another revision, or a line with no readable time", () => {
    const probe = request({
      runId: undefined,
      time: '2025-09-08T21:00:00.021Z',
      httpRequest: { method: 'GET', path: '/health', status: 200, userAgent: 'greenloop-probe/1' },
      probe: true,
    });
    const beforeStart = request({ runId: undefined, time: '2025-09-08T20:59:59.979Z', httpRequest: { method: 'GET', path: '/health', status: 200 } });
    const earlyHealth = request({ runId: undefined, time: '2025-09-08T21:00:00.300Z', httpRequest: { method: 'GET', path: '/healthz', status: 200 } });
    const stale = request({ runId: undefined, revision: 'local-0' });
    const unknownTime = request({ runId: undefined, timeUnknown: true });
    const r = assess({ logs: logs([probe, beforeStart, earlyHealth, stale, unknownTime]) });
    expect(r.real).toBe(false);
    expect(check(r, 'requests-seen')).toMatchObject({
      passed: false,
      detail: expect.stringContaining(
        "0 request lines in the test window; services seen: none; left out: 1 greenloop probe(s), 1 health check(s) in the run's first second, 1 request(s) to another revision or service, 1 request line(s) with no readable time",
      ),
    });
    // The suite's own health check later in the run is test traffic.
    const later = request({ runId: undefined, time: '2025-09-08T21:03:00.000Z', httpRequest: { method: 'GET', path: '/healthz', status: 200 } });
    expect(assess({ logs: logs([probe, later]) }).real).toBe(true);
  });

  it("uses the proxy's record as the primary source; its probes and unreachable requests do not count", () => {
    const rec = (over: Partial<RecordedRequest> = {}): RecordedRequest => ({
      time: '2025-09-08T21:01:00.000Z',
      service: 'api',
      method: 'GET',
      path: '/api/agents',
      status: 200,
      durationMs: 4,
      traceId: '0af7651916cd43dd8448eb211c80319c',
      ...over,
    });
    const r = assess({ logs: logs([]), requests: [rec(), rec({ probe: true }), rec({ status: 502, error: 'ECONNREFUSED' })] });
    expect(check(r, 'requests-seen')).toMatchObject({
      passed: true,
      detail:
        '0 log entries carry run id run-1; 1 requests recorded by the proxy; services seen: api; left out: 1 greenloop probe(s), 1 request(s) that never reached the service',
    });
    const none = assess({ logs: logs([]), requests: [rec({ probe: true }), rec({ status: 502, error: 'ECONNREFUSED' })] });
    expect(none.real).toBe(false);
  });
});
