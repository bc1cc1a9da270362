import type { ParsedTestCase } from './types.ts';

/**
 * When each test ran, for tying server-side evidence to tests whose requests carry no test name.
 *
 * - `junit`: the testcase's own `timestamp` attribute (pytest with `junit_family=xunit2`... rarely, Surefire
 *   sometimes): [timestamp, timestamp + time]. Exact.
 * - `suite-timestamp`: the enclosing `<testsuite timestamp>` (node --test, Jest, Vitest, pytest, Surefire write
 *   it) plus the `time`s of the tests before this one in that suite: tests of one suite run one after another,
 *   so the estimate only misses the runner's gaps between tests — and, for runners that stamp the suite before
 *   compiling it (gotestsum), the build, which the first recorded request bounds.
 * - `suite-order`: no timestamp at all: the suite's first request (when the recording proxy saw one; else the
 *   run's start) plus the `time`s of the tests before this one in the same suite file. Files that run in
 *   parallel each start near that moment too. Anchoring at the first request skips the runner's start-up
 *   (hundreds of ms for node or pytest, seconds on a loaded machine), which would otherwise shift every window.
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

/**
 * Windows for every test (by test id), in the order the JUnit files list them. `firstRequestAt` (epoch ms): the
 * suite's first request the proxy recorded, the anchor for suites without timestamps. That request came from
 * inside the file's first test, so the file began between it minus that test's time and it.
 */
export function deriveTestWindows(tests: readonly ParsedTestCase[], runStartedAt: string, firstRequestAt?: number): Map<string, TestWindow> {
  const windows = new Map<string, TestWindow>();
  const runStart = Date.parse(runStartedAt);
  const anchor = firstRequestAt !== undefined && firstRequestAt > runStart ? firstRequestAt : undefined;
  const elapsed = new Map<string, number>();
  const firstTime = new Map<string, number>();
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
    if (!firstTime.has(key)) firstTime.set(key, t.durationMs);
    let low = suiteStart;
    let high = suiteStart;
    if (bySuite && anchor !== undefined && anchor - (firstTime.get(key) ?? 0) > suiteStart) {
      // A suite timestamp can be taken before a build (gotestsum stamps the suite when `go test` starts
      // compiling): the tests began no earlier than it, and the first request says they may have begun as late
      // as that request. Widen towards it rather than trust either alone.
      high = anchor - (firstTime.get(key) ?? 0);
    }
    if (!bySuite) {
      low = anchor === undefined ? runStart : Math.max(runStart, anchor - (firstTime.get(key) ?? 0));
      high = anchor ?? runStart;
    }
    if (!Number.isFinite(low) || !Number.isFinite(high)) continue;
    windows.set(t.id, {
      start: low + before - EARLY_MS,
      end: high + before + t.durationMs + LATE_MS + before * DRIFT_SHARE,
      source: bySuite ? 'suite-timestamp' : 'suite-order',
    });
  }
  return windows;
}
