import type { ClusterStatus, ClusterSummary, TriageClass } from '@greenloop/core';
// The redactor alone, not the core entry (BullMQ, ioredis, pino, zod: +46 MB RSS for the analysis modules, measured).
import { redact } from '@greenloop/core/redact';
import { truncate } from './capped-text.ts';
import { correlateTest, type LogIndex } from './correlate.ts';
import { endpointKey, extractEndpoints } from './endpoints.ts';
import { fingerprintKey, fingerprintOf } from './fingerprint.ts';
import { appFrames, parseStackFrames } from './stack-frames.ts';
import { classify, extractSignals } from './triage.ts';
import type { Cluster, EndpointRef, FailureAnalysis, FailureSignals, ParsedTestCase, PreviousCycle } from './types.ts';

/**
 * From failed tests to clusters: analyze each failure (signals, endpoints, frames, correlated logs, triage,
 * fingerprint), group by fingerprint, and place each cluster against earlier cycles.
 */

/** Message plus the lines of the failure body that are not stack frames: what signals and endpoints are read from. */
export function failureProse(test: Pick<ParsedTestCase, 'message' | 'details'>): string {
  const out: string[] = [];
  if (test.message) out.push(test.message);
  const details = test.details ?? '';
  let start = 0;
  for (let n = 0; start < details.length && n < 400; n++) {
    let end = details.indexOf('\n', start);
    if (end === -1) end = details.length;
    const line = details.slice(start, end);
    start = end + 1;
    const t = line.trimStart();
    if (t.startsWith('at ') || t.startsWith('❯') || t.startsWith('File "')) continue;
    if (test.message && n === 0 && line.includes(test.message)) continue;
    out.push(line);
  }
  return out.join('\n');
}

/** Works out everything about one failed (or flaky) test. `index` adds correlated server logs. */
export function analyzeFailure(test: ParsedTestCase, index?: LogIndex): FailureAnalysis {
  const text = failureProse(test);
  // Runtime frames only ever get skipped; dropping them here keeps 10k analyses small.
  const frames = parseStackFrames(test.details ?? test.message, { skipInternal: true }).filter((f) => !f.internal);
  const signals = extractSignals(text);
  const endpoints = extractEndpoints(text);
  const base = { text, signals, endpoints, frames, ...(test.type === undefined ? {} : { errorType: test.type }) };
  const textTriage = classify({ ...base, logs: [] });
  const logs = index ? correlateTest(test, endpoints, index) : [];
  const triage = logs.length > 0 ? classify({ ...base, logs }) : textTriage;
  const key = fingerprintKey({
    triage: textTriage,
    signals,
    endpoints,
    frames,
    testId: test.id.replace(/ \[\d+\]$/, ''),
    ...(test.type === undefined ? {} : { errorType: test.type }),
    ...(test.message === undefined ? {} : { message: test.message }),
  });
  const analysis: FailureAnalysis = {
    test,
    triage,
    signals,
    endpoints,
    frames,
    logs,
    fingerprint: fingerprintOf(key),
    fingerprintKey: key,
  };
  if (test.type !== undefined) analysis.errorType = test.type;
  return analysis;
}

const WS_REASONS: Record<number, string> = {
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'abnormal closure',
  1007: 'invalid payload',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'missing extension',
  1011: 'internal error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failure',
};
const LABELS: Record<TriageClass, string> = {
  'route-missing': 'Route missing',
  'auth-rejected': 'Auth rejected',
  'server-error': 'Server error',
  'websocket-close': 'WebSocket closed',
  infrastructure: 'Infrastructure',
  timeout: 'Timed out',
  assertion: 'Assertion failed',
  unknown: 'Failure',
};

function firstLine(text: string | undefined): string {
  return (
    (text ?? '')
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}

function title(triage: TriageClass, endpoints: readonly EndpointRef[], signals: FailureSignals, sample: FailureAnalysis): string {
  const label = LABELS[triage];
  const withStatus = endpoints.filter((e) => e.status !== undefined);
  const more = (n: number) => (n > 1 ? ` (+${n - 1} more)` : '');
  if ((triage === 'route-missing' || triage === 'auth-rejected' || triage === 'server-error') && withStatus.length > 0) {
    return `${label}: ${endpointKey(withStatus[0] as EndpointRef)}${more(withStatus.length)}`;
  }
  if (triage === 'websocket-close' && signals.wsCloseCodes.length > 0) {
    const codes = signals.wsCloseCodes.map((c) => (WS_REASONS[c] ? `${c} (${WS_REASONS[c]})` : String(c)));
    return `${label} ${codes.join(', ')}${endpoints[0] ? ` on ${endpoints[0].path}` : ''}`;
  }
  if (triage === 'infrastructure' || triage === 'timeout') {
    const what = signals.errnos.length > 0 ? signals.errnos.join(', ') : triage === 'timeout' ? 'no answer in time' : firstLine(sample.test.message);
    const where = endpoints.length === 1 && endpoints[0] ? ` on ${endpointKey({ ...endpoints[0], status: undefined })}` : '';
    return truncate(`${label}: ${what}${where}`, 120);
  }
  if (triage === 'server-error') {
    const where = appFrames(sample.frames)[0];
    const type = sample.errorType ?? 'error';
    if (where?.fn) return truncate(`${label}: ${type} in ${where.fn}`, 120);
  }
  const type = sample.errorType && !firstLine(sample.test.message).startsWith(sample.errorType) ? `${sample.errorType}: ` : '';
  return truncate(`${label}: ${type}${firstLine(sample.test.message) || 'no message'}`, 120);
}

function mostCommon<T>(values: readonly T[]): T | undefined {
  const counts = new Map<T, number>();
  let best: T | undefined;
  let bestN = 0;
  for (const v of values) {
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (n > bestN) {
      best = v;
      bestN = n;
    }
  }
  return best;
}

function uniqueEndpoints(list: readonly EndpointRef[]): EndpointRef[] {
  const map = new Map<string, EndpointRef>();
  for (const e of list) if (!map.has(endpointKey(e))) map.set(endpointKey(e), e);
  return [...map.values()].sort((a, b) => endpointKey(a).localeCompare(endpointKey(b)));
}

/** Where a fingerprint stands against earlier cycles. */
export function placeInHistory(
  fingerprint: string,
  tests: readonly string[],
  previous: readonly PreviousCycle[],
  cycle: number,
): { status: ClusterStatus; cyclesFailing: number; firstSeenCycle: number } {
  const present = previous.map((p) => p.clusters.some((c) => c.fingerprint === fingerprint));
  let streak = 1;
  for (let i = previous.length - 1; i >= 0 && present[i]; i--) streak++;
  const firstIdx = present.indexOf(true);
  const firstSeenCycle = firstIdx === -1 ? cycle : (previous[firstIdx] as PreviousCycle).n;
  if (present[present.length - 1]) return { status: 'persisting', cyclesFailing: streak, firstSeenCycle };
  if (firstIdx === -1) return { status: 'new', cyclesFailing: 1, firstSeenCycle };
  // Absent since its last appearance: a regression only if some later cycle saw its tests pass (a cycle
  // that did not run them proves nothing). Without recorded statuses, absence is taken as fixed.
  const lastIdx = present.lastIndexOf(true);
  const later = previous.slice(lastIdx + 1);
  const sawPass = later.some((p) => !p.testStatuses || tests.some((t) => p.testStatuses?.[t] === 'passed'));
  return { status: sawPass ? 'regressed' : 'persisting', cyclesFailing: 1, firstSeenCycle };
}

/** Options for `buildClusters`. */
export interface BuildClustersOptions {
  previous: readonly PreviousCycle[];
  cycle: number;
  /** Triage classes that go to a person instead of a fixer (fixer.skipTriage). */
  skipTriage?: readonly TriageClass[];
}

/**
 * Groups analyzed failures by fingerprint. Flaky tests (failed, then passed on a rerun) stay in their cluster's
 * `flakyTests` and out of `tests`; a cluster of only flaky tests is kept for the report with `dispatch: false`.
 * Clusters come largest first, then by fingerprint, so output is deterministic.
 */
export function buildClusters(failures: readonly FailureAnalysis[], opts: BuildClustersOptions): Cluster[] {
  const groups = new Map<string, FailureAnalysis[]>();
  for (const f of failures) {
    const g = groups.get(f.fingerprint);
    if (g) g.push(f);
    else groups.set(f.fingerprint, [f]);
  }
  const clusters: Cluster[] = [];
  for (const [fingerprint, group] of groups) {
    const failing = group.filter((f) => !f.test.flaky);
    const flaky = group.filter((f) => f.test.flaky);
    const sample = (failing[0] ?? group[0]) as FailureAnalysis;
    const triage = mostCommon(group.map((f) => f.triage)) ?? 'unknown';
    const textEndpoints = uniqueEndpoints(group.flatMap((f) => f.endpoints));
    const loggedEndpoints = uniqueEndpoints(
      group.flatMap((f) =>
        f.logs.flatMap((l) => {
          const r = l.entry.httpRequest;
          if (!r?.path || r.status === undefined || r.status < 400) return [];
          const e: EndpointRef = { path: r.path, status: r.status };
          if (r.method) e.method = r.method;
          return [e];
        }),
      ),
    );
    const endpoints = textEndpoints.length > 0 ? textEndpoints : loggedEndpoints;
    const tests = failing.map((f) => f.test.id);
    const place = placeInHistory(fingerprint, tests.length > 0 ? tests : flaky.map((f) => f.test.id), opts.previous, opts.cycle);
    const cluster: Cluster = {
      fingerprint,
      title: redact(title(triage, endpoints, sample.signals, sample)),
      triage,
      status: place.status,
      tests,
      flakyTests: flaky.map((f) => f.test.id),
      sampleMessage: redact(truncate(sample.test.message ?? sample.errorType ?? 'no message', 1000)),
      endpoints: endpoints.map((e) => ({ ...e })),
      failures: group,
      dispatch: true,
      cyclesFailing: place.cyclesFailing,
      firstSeenCycle: place.firstSeenCycle,
    };
    const errorType = mostCommon(group.flatMap((f) => (f.errorType ? [f.errorType] : [])));
    if (errorType) cluster.errorType = errorType;
    if (failing.length === 0) {
      cluster.dispatch = false;
      cluster.holdReason = 'every test in it passed on a rerun (flaky)';
    } else if (opts.skipTriage?.includes(triage)) {
      cluster.dispatch = false;
      cluster.holdReason = `triage class ${triage} goes to a person (fixer.skipTriage)`;
    }
    clusters.push(cluster);
  }
  clusters.sort((a, b) => b.tests.length + b.flakyTests.length - (a.tests.length + a.flakyTests.length) || a.fingerprint.localeCompare(b.fingerprint));
  return clusters;
}

/** The core summary of a cluster (what the loop engine stores and compares). */
export function toSummary(c: Cluster): ClusterSummary {
  return {
    fingerprint: c.fingerprint,
    title: c.title,
    triage: c.triage,
    status: c.status,
    tests: [...c.tests],
    sampleMessage: c.sampleMessage,
    endpoints: c.endpoints.map((e) => ({ ...e })),
  };
}

/** A previous cycle's cluster that no longer fails. */
export interface FixedCluster {
  fingerprint: string;
  title: string;
  /** The commit that fixed it: the fix commit recorded for it, else the commit this cycle deployed. */
  commit: string;
  /** Whether `commit` came from the fix record (true) or is this cycle's commit (false). */
  attributed: boolean;
  tests: string[];
  /** Tests of the cluster that passed only on a rerun this cycle. */
  flakyNow: string[];
}

/** How the previous cycle's clusters fared in this one. */
export interface CycleComparison {
  fixed: FixedCluster[];
  /** Still failing, but under another fingerprint (the failure changed shape). */
  changed: { fingerprint: string; title: string; now: string[] }[];
  /** Its tests did not run (missing or skipped) this cycle, so nothing can be said. */
  notRun: { fingerprint: string; title: string; tests: string[] }[];
}

/** Compares the previous cycle's clusters with this cycle's test results. */
export function compareWithPrevious(
  previous: readonly PreviousCycle[],
  current: ReadonlyMap<string, ParsedTestCase>,
  currentClusters: readonly Cluster[],
  commit: string,
): CycleComparison {
  const out: CycleComparison = { fixed: [], changed: [], notRun: [] };
  const last = previous[previous.length - 1];
  if (!last) return out;
  const live = new Set(currentClusters.filter((c) => c.tests.length > 0).map((c) => c.fingerprint));
  const fpOfTest = new Map<string, string>();
  for (const c of currentClusters) for (const t of c.tests) fpOfTest.set(t, c.fingerprint);
  for (const prev of last.clusters) {
    if (live.has(prev.fingerprint)) continue;
    const now = prev.tests.map((t) => current.get(t));
    const failing = prev.tests.filter((t) => fpOfTest.has(t));
    const passing = now.filter((t) => t?.status === 'passed');
    if (failing.length > 0) {
      out.changed.push({ fingerprint: prev.fingerprint, title: prev.title, now: [...new Set(failing.map((t) => fpOfTest.get(t) as string))].sort() });
    } else if (passing.length === 0) {
      out.notRun.push({ fingerprint: prev.fingerprint, title: prev.title, tests: [...prev.tests] });
    } else {
      const recorded = last.fixedBy?.[prev.fingerprint];
      out.fixed.push({
        fingerprint: prev.fingerprint,
        title: prev.title,
        commit: recorded ?? commit,
        attributed: recorded !== undefined,
        tests: [...prev.tests],
        flakyNow: passing.filter((t) => t?.flaky).map((t) => (t as ParsedTestCase).id),
      });
    }
  }
  return out;
}
