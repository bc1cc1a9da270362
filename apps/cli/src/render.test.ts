import { expect, test } from 'vitest';
import { type LoopView, loopDetail, nextSteps, painter, progressLine, renderMarkdown, stripAnsi, table } from './render.ts';

const plain = painter(false);

test('markdown renders readably without colors', () => {
  const md = '# Cycle 1\n\n**PASSED**: 8\n\n| test | status |\n|---|---|\n| `a.test` | failed |\n| b | passed |\n\n- one\n  - two\n\n```\ncode here\n```\n';
  expect(renderMarkdown(plain, md)).toBe(
    ['Cycle 1', '', 'PASSED: 8', '', '  test    status', '  a.test  failed', '  b       passed', '', '  • one', '    • two', '', '    code here'].join('\n'),
  );
});

test('tables align on visible width even with colors', () => {
  const colored = painter(true);
  const out = table(colored, ['A', 'B'], [[colored.red('xx'), 'y']]);
  expect(stripAnsi(out)).toBe('A   B\nxx  y');
});

test('progress lines carry the clock, cycle, stage and counts', () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const line = progressLine(
    plain,
    {
      type: 'cycle.finished',
      loopId: 'l',
      cycle: 2,
      time: '2026-01-01T00:01:05Z',
      message: 'x',
      data: { green: false, totals: { total: 5, passed: 3, failed: 2, skipped: 0, durationMs: 1 } },
    },
    start,
  );
  expect(line).toBe('[01:05] cycle 2  not green  3 passed, 2 failed of 5');
  const untrusted = progressLine(
    plain,
    {
      type: 'cycle.finished',
      loopId: 'l',
      cycle: 1,
      time: '2026-01-01T00:00:30Z',
      message: 'x',
      data: { green: false, real: false, totals: { total: 6, passed: 6, failed: 0, skipped: 0, durationMs: 1 } },
    },
    start,
  );
  expect(untrusted).toBe('[00:30] cycle 1  untrusted (not a real run)  6 passed of 6');
});

const loopView = (cycles: NonNullable<LoopView['cycles']>): LoopView => ({
  id: 'loop-1',
  environment: 'staging',
  state: 'stopped',
  cycle: cycles.length,
  createdAt: '2026-01-01T00:00:00Z',
  startedBy: { kind: 'api', name: 'ci' },
  cycles,
});

test('status lists stages in pipeline order and calls a not-real cycle untrusted, not failing', () => {
  const ok = { status: 'succeeded' };
  const out = loopDetail(
    plain,
    loopView([
      {
        n: 1,
        commit: 'a'.repeat(40),
        startedAt: '2026-01-01T00:00:00Z',
        green: false,
        totals: { total: 6, passed: 6, failed: 0, skipped: 0, durationMs: 1 },
        // Kept in a hash, the record comes back in any order.
        stages: {
          integrate: ok,
          analyze: { status: 'succeeded', summary: '6/6 passed, 0 failed, 0 skipped; 0 cluster(s); NOT REAL: Requests reached the services: 0 request lines' },
          deploy: ok,
          fix: ok,
          test: ok,
        },
      },
      {
        n: 2,
        commit: 'b'.repeat(40),
        startedAt: '2026-01-01T00:01:00Z',
        green: false,
        stages: { test: ok, analyze: { status: 'succeeded', summary: '4/6 passed' }, deploy: ok },
      },
    ]),
  );
  const rows = out.split('\n').slice(-2);
  expect(rows[0]).toMatch(/^1 +aaaaaaa +untrusted +.* deploy test analyze fix integrate$/);
  expect(rows[1]).toMatch(/^2 +bbbbbbb +failing +.* deploy test analyze$/);
});

test('status warns when the latest cycle ran its suite or a service unsandboxed, and says nothing when sandboxed', () => {
  const why = 'running the test command unsandboxed: bubblewrap (bwrap) is not installed';
  const cycle = (test: string) => ({
    n: 3,
    commit: 'c'.repeat(40),
    startedAt: '2026-01-01T00:02:00Z',
    stages: { test: { status: 'succeeded', summary: test } },
  });
  const open = loopDetail(plain, loopView([cycle(`suite finished with exit code 0 in 2s; 1 JUnit file(s) to analyze; UNSANDBOXED: ${why}`)]));
  expect(open).toContain(`warning      cycle 3 test ran unsandboxed: suite finished with exit code 0 in 2s; 1 JUnit file(s) to analyze; UNSANDBOXED: ${why}`);
  expect(loopDetail(plain, loopView([cycle('suite finished with exit code 0 in 2s; 1 JUnit file(s) to analyze')]))).not.toContain('unsandboxed');
});

test('after a failed deploy, next steps point at the deploy error and status, not at a report that does not exist', () => {
  const failedDeploy = loopView([
    {
      n: 1,
      commit: 'a'.repeat(40),
      startedAt: '2026-01-01T00:00:00Z',
      hasReport: false,
      stages: {
        deploy: {
          status: 'failed',
          error: {
            message: 'app did not answer /health with 2xx within 10s (last: exited (exit code 3))',
            hint: 'the service was stopped and no test ran against it; see /home/gl/loops/loop-1/cycles/1/deploy/app.log',
          },
        },
      },
    },
  ]);
  const lines = nextSteps(plain, failedDeploy);
  expect(lines.join('\n')).not.toContain('greenloop report');
  expect(lines).toEqual([
    '  deploy failed in cycle 1: app did not answer /health with 2xx within 10s (last: exited (exit code 3))',
    '  the service was stopped and no test ran against it; see /home/gl/loops/loop-1/cycles/1/deploy/app.log',
    '  the cycle stopped before its analysis, so there is no report; details:  greenloop status loop-1',
  ]);
  const withReport = loopView([{ n: 1, commit: 'a'.repeat(40), startedAt: '2026-01-01T00:00:00Z', hasReport: true, stages: {} }]);
  expect(nextSteps(plain, withReport)).toEqual(['  latest report:  greenloop report loop-1']);
});
