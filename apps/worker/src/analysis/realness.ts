import type { DeployedService, Realness, TestRunResult } from '@greenloop/core';
import type { LogPull } from '../logs/types.ts';
import type { RecordedRequest } from '../proxy/request-record.ts';
import { countTestTraffic, describeExcluded } from './test-traffic.ts';
import type { CycleTotals, PreviousCycle } from './types.ts';

/**
 * Did the tests really run against the deployed services? A run that collected nothing, skipped everything,
 * lost a large share of its tests, finished impossibly fast, never reached a service, or died before
 * finishing is flagged; a flagged run is never green. Every check reports the evidence it used.
 */

/** One realness rule's result. `passed: null` means it could not be checked, said why, and does not flag the run. */
export interface RealnessCheck {
  id: 'collected' | 'not-all-skipped' | 'count-stable' | 'duration' | 'requests-seen' | 'completed';
  label: string;
  passed: boolean | null;
  detail: string;
}

/** Numbers the checks were decided on, for the report. */
export interface RealnessEvidence {
  testTimeMs: number;
  wallMs: number;
  /** Log entries carrying this run's id. */
  runEntries: number;
  /** The suite's requests to this cycle's revisions in the test window (proxy record, else request logs), probes excluded. */
  requestEntries: number;
  servicesSeen: string[];
  previousTotal: number | null;
}

/** Realness with the checks behind it. */
export interface RealnessAssessment extends Realness {
  checks: RealnessCheck[];
  evidence: RealnessEvidence;
}

/** What the checks look at. */
export interface RealnessInput {
  totals: CycleTotals;
  /** Sum of suite-level times, used when the runner does not time testcases. */
  suiteTimeMs: number;
  junitFiles: number;
  run: TestRunResult;
  logs: LogPull;
  services: readonly DeployedService[];
  previous: readonly PreviousCycle[];
  minDurationMs: number;
  maxCountDrop: number;
  /** Up to three skip reasons, most common first. */
  skipReasons?: string[];
  /** The last lines of the suite's output, shown when nothing was collected. */
  outputTail?: string;
  /** Requests the recording proxy saw (test/requests.jsonl): the primary evidence that the suite reached the services. */
  requests?: readonly RecordedRequest[];
  /** The services' configured health paths: unmarked hits on them at the very start are not test traffic. */
  healthPaths?: readonly string[];
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`;
}

/** Formats milliseconds as "35m 12s", "1.2s", "340ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return h > 0 ? `${h}h ${m}m` : `${m}m ${s}s`;
}

// Sources that only return WARNING and above cannot see successful requests.
function logsSeeSuccesses(query: string): boolean {
  return !/severity\s*>=?\s*"?(?:WARNING|ERROR|CRITICAL|NOTICE|ALERT|EMERGENCY)\b/i.test(query);
}

/** Runs every realness rule. */
export function assessRealness(input: RealnessInput): RealnessAssessment {
  const { totals, run, logs } = input;
  const checks: RealnessCheck[] = [];
  const testTimeMs = Math.max(totals.durationMs, input.suiteTimeMs);
  const wallMs = Math.max(0, Date.parse(run.finishedAt) - Date.parse(run.startedAt)) || 0;

  checks.push(
    totals.total > 0
      ? { id: 'collected', label: 'Tests collected', passed: true, detail: `${totals.total} testcases in ${input.junitFiles} JUnit file(s)` }
      : {
          id: 'collected',
          label: 'Tests collected',
          passed: false,
          detail: `no testcases in ${input.junitFiles} JUnit file(s)${input.outputTail ? `; the suite's last output: ${JSON.stringify(input.outputTail.slice(-300))}` : ''}`,
        },
  );

  const reasons = input.skipReasons?.length ? `; reasons: ${input.skipReasons.map((r) => JSON.stringify(r)).join(', ')}` : '';
  if (totals.total === 0) checks.push({ id: 'not-all-skipped', label: 'Tests executed', passed: null, detail: 'nothing collected' });
  else if (totals.skipped === totals.total)
    checks.push({ id: 'not-all-skipped', label: 'Tests executed', passed: false, detail: `all ${totals.total} tests were skipped${reasons}` });
  else
    checks.push({
      id: 'not-all-skipped',
      label: 'Tests executed',
      passed: true,
      detail: `${totals.total - totals.skipped} of ${totals.total} executed, ${totals.skipped} skipped${totals.skipped > 0 ? reasons : ''}`,
    });

  const before = [...input.previous].reverse().find((p) => p.totals.total > 0);
  if (!before) {
    checks.push({ id: 'count-stable', label: 'Test count vs previous cycle', passed: null, detail: 'first cycle with tests: nothing to compare with' });
  } else {
    const drop = (before.totals.total - totals.total) / before.totals.total;
    const detail = `${totals.total} tests vs ${before.totals.total} in cycle ${before.n} (${drop > 0 ? `−${pct(drop)}` : drop < 0 ? `+${pct(-drop)}` : 'same'}; limit −${pct(input.maxCountDrop)})`;
    checks.push({ id: 'count-stable', label: 'Test count vs previous cycle', passed: drop <= input.maxCountDrop, detail });
  }

  if (input.minDurationMs <= 0) {
    checks.push({
      id: 'duration',
      label: 'Test time',
      passed: null,
      detail: `tests took ${formatDuration(testTimeMs)} (wall ${formatDuration(wallMs)}); no floor configured (tests.minDuration)`,
    });
  } else {
    checks.push({
      id: 'duration',
      label: 'Test time',
      passed: testTimeMs >= input.minDurationMs,
      detail: `tests took ${formatDuration(testTimeMs)} (wall ${formatDuration(wallMs)}); floor ${formatDuration(input.minDurationMs)}`,
    });
  }

  const traffic = countTestTraffic({
    run,
    services: input.services,
    entries: logs.entries,
    ...(input.requests ? { requests: input.requests } : {}),
    ...(input.healthPaths ? { healthPaths: input.healthPaths } : {}),
  });
  const { runEntries, requests: requestEntries } = traffic;
  const servicesSeen = new Set(traffic.servicesSeen);
  const via = traffic.source === 'proxy' ? 'requests recorded by the proxy' : 'request lines in the test window';
  const left = describeExcluded(traffic);
  const seen = `${runEntries} log entries carry run id ${run.runId}; ${requestEntries} ${via}; services seen: ${[...servicesSeen].sort().join(', ') || 'none'}${left ? `; ${left}` : ''}`;
  if (input.services.length === 0) {
    checks.push({ id: 'requests-seen', label: 'Requests reached the services', passed: null, detail: 'no services were deployed this cycle' });
  } else if (runEntries + requestEntries > 0) {
    checks.push({ id: 'requests-seen', label: 'Requests reached the services', passed: true, detail: seen });
  } else if (!logsSeeSuccesses(logs.query)) {
    checks.push({
      id: 'requests-seen',
      label: 'Requests reached the services',
      passed: null,
      detail: `${seen}; not checkable: the log query only returns warnings and worse, so successful requests leave no trace (query: ${logs.query})`,
    });
  } else {
    checks.push({ id: 'requests-seen', label: 'Requests reached the services', passed: false, detail: `${seen} (query: ${logs.query || 'none'})` });
  }

  const failures = totals.failed;
  if (run.timedOut)
    checks.push({
      id: 'completed',
      label: 'Suite finished',
      passed: false,
      detail: `the suite timed out after ${formatDuration(wallMs)}; results are incomplete`,
    });
  else if (run.exitCode === null)
    checks.push({
      id: 'completed',
      label: 'Suite finished',
      passed: false,
      detail: `the suite was killed${run.signal ? ` by ${run.signal}` : ''}; results are incomplete`,
    });
  else if (run.exitCode !== 0 && failures === 0 && (totals.flaky ?? 0) > 0)
    // The failing exit is explained: tests failed in the first run and passed when rerun (flaky).
    checks.push({
      id: 'completed',
      label: 'Suite finished',
      passed: true,
      detail: `exit code ${run.exitCode} from ${totals.flaky} test(s) that failed and then passed on rerun (flaky)`,
    });
  else if (run.exitCode !== 0 && failures === 0)
    checks.push({
      id: 'completed',
      label: 'Suite finished',
      passed: false,
      detail: `the suite exited with code ${run.exitCode} but its JUnit reports no failures: it crashed or wrote partial results`,
    });
  else if (run.exitCode === 0 && failures > 0)
    checks.push({
      id: 'completed',
      label: 'Suite finished',
      passed: true,
      detail: `exit code 0 although ${failures} tests failed (does the suite command swallow failures?)`,
    });
  else
    checks.push({
      id: 'completed',
      label: 'Suite finished',
      passed: true,
      detail: `exit code ${run.exitCode}${failures > 0 ? ` with ${failures} failed tests` : ''}`,
    });

  const failed = checks.filter((c) => c.passed === false);
  return {
    real: failed.length === 0,
    reasons: failed.map((c) => `${c.label}: ${c.detail}`),
    checks,
    evidence: { testTimeMs, wallMs, runEntries, requestEntries, servicesSeen: [...servicesSeen].sort(), previousTotal: before?.totals.total ?? null },
  };
}
