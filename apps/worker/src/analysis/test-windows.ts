import type { ParsedTestCase } from './types.ts';

/**
 * When each test ran, for tying server-side evidence to tests whose requests carry no test name.
 *
 * - `junit`: the testcase's own `timestamp` attribute (pytest with `junit_family=xunit2`... rarely, Surefire
 *   sometimes): [timestamp, timestamp + time]. Exact.
 * - `suite-timestamp`: the enclosing `<testsuite timestamp>` (node --test, Jest, Vitest, pytest, Surefire write
 *   it) plus the `time`s of the tests before this one in that suite: tests of one suite run one after another,
 *   so the estimate only misses the runner's gaps between tests.
 * - `suite-order`: no timestamp at all: the run's start plus the `time`s of the tests before this one in the
 *   same suite file. Files that run in parallel each start near the run's start, so this holds for them too;
 *   what it misses is process start-up and set-up time, which only ever pushes the real time later.
 *
 * Estimated windows are widened for that drift (a fixed margin plus a share of the time accumulated before the
 * test), so neighbours can overlap: callers narrow a window's requests with what the failure message names
 * (status codes, paths) before trusting them.
 */
export interface TestWindow {
  /** Epoch ms. */
  start: number;
  end: number;
  source: 'junit' | 'suite-timestamp' | 'suite-order';
}

// The estimate can only run early (it leaves out gaps and start-up), so little margin before it, more after.
const EARLY_MS = 50;
const LATE_MS = 1000;
const DRIFT_SHARE = 0.1;

function suiteKey(t: ParsedTestCase): string {
  return `${t.source.file}\0${t.suitePath.join('\0')}\0${t.timestamp ?? ''}`;
}

function fileKey(t: ParsedTestCase): string {
  return `${t.source.file}\0${t.file ?? t.suitePath[0] ?? ''}`;
}

/** Windows for every test (by test id), in the order the JUnit files list them. */
export function deriveTestWindows(tests: readonly ParsedTestCase[], runStartedAt: string): Map<string, TestWindow> {
  const windows = new Map<string, TestWindow>();
  const runStart = Date.parse(runStartedAt);
  const elapsed = new Map<string, number>();
  for (const t of tests) {
    const own = t.startedAt ? Date.parse(t.startedAt) : Number.NaN;
    if (Number.isFinite(own)) {
      // A second either side: the runner's clock and the services' may differ a little.
      windows.set(t.id, { start: own - 1000, end: own + t.durationMs + 2000, source: 'junit' });
      continue;
    }
    const suiteStart = t.timestamp ? Date.parse(t.timestamp) : Number.NaN;
    const bySuite = Number.isFinite(suiteStart);
    const key = bySuite ? suiteKey(t) : fileKey(t);
    const before = elapsed.get(key) ?? 0;
    elapsed.set(key, before + t.durationMs);
    const base = bySuite ? suiteStart : runStart;
    if (!Number.isFinite(base)) continue;
    const start = base + before;
    windows.set(t.id, {
      start: start - EARLY_MS,
      end: start + t.durationMs + LATE_MS + before * DRIFT_SHARE,
      source: bySuite ? 'suite-timestamp' : 'suite-order',
    });
  }
  return windows;
}
