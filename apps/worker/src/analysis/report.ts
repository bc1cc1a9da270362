import type { DeployedService, LogEntry, TestRunResult, TriageClass } from '@greenloop/core';
import { redact } from '@greenloop/core';
import type { LogPull } from '../logs/types.ts';
import { truncate } from './capped-text.ts';
import type { CategoryStats } from './categories.ts';
import type { CycleComparison } from './cluster.ts';
import { endpointKey, routeShape } from './endpoints.ts';
import type { FlakeStats } from './flakes.ts';
import type { JUnitFileSummary } from './junit-parser.ts';
import { cell, code, fenced, listWithMore, percent, table } from './markdown.ts';
import { formatDuration, type RealnessAssessment } from './realness.ts';
import { sandboxSummary } from './report-sandbox.ts';
import type { CycleReport, EvidenceLine, ReportCluster, ReportTest } from './report-schema.ts';
import type { Cluster, CorrelatedLog, CycleTotals, EndpointRef, ParsedTestCase, PreviousCycle } from './types.ts';

/**
 * The cycle report: `buildCycleReport` assembles the JSON (schema in report-schema.ts) from the analysis,
 * `renderReportMarkdown` renders it. Every sentence in the markdown is computed from a field in the JSON;
 * everything copied from test output or logs passes through `redact`.
 */

/** What the report is built from. */
export interface ReportInput {
  now: Date;
  loopId: string;
  cycle: number;
  environment: string;
  commit: string;
  run: TestRunResult;
  services: readonly DeployedService[];
  logs: LogPull;
  tests: readonly ParsedTestCase[];
  totals: CycleTotals;
  files: readonly JUnitFileSummary[];
  realness: RealnessAssessment;
  clusters: readonly Cluster[];
  comparison: CycleComparison;
  previous: readonly PreviousCycle[];
  categories: readonly CategoryStats[];
  flakeStats: ReadonlyMap<string, FlakeStats>;
  warnings: readonly string[];
  /** The environment verdict (triage.ts `environmentFailure`), when the run failed because of its environment. */
  environmentFailure?: string;
}

const EVIDENCE_PER_CLUSTER = 8;
const PASSED_LISTED = 200;
const SEVERITY_RANK: Record<LogEntry['severity'], number> = { CRITICAL: 5, ERROR: 4, WARNING: 3, INFO: 2, DEFAULT: 1, DEBUG: 0 };

/** Short commit for prose. */
export function shortSha(commit: string): string {
  return /^[0-9a-f]{40}$/i.test(commit) ? commit.slice(0, 10) : commit;
}

/** A correlated log line as report evidence (redacted, capped). */
export function evidenceLine(c: CorrelatedLog): EvidenceLine {
  const e = c.entry;
  // The demo service (and many others) put the why in a field beside a generic message ("request rejected").
  const detail = [e.json?.detail, (e.json?.err as { message?: unknown } | undefined)?.message].find(
    (d): d is string => typeof d === 'string' && d !== '' && !e.message.includes(d),
  );
  const message = detail ? `${e.message} — ${detail}` : e.message;
  const line: EvidenceLine = { time: e.time, service: e.service, severity: e.severity, message: redact(truncate(message, 400)), match: c.match };
  if (e.test) line.test = e.test;
  if (e.httpRequest?.method) line.method = e.httpRequest.method;
  if (e.httpRequest?.path) line.path = redact(e.httpRequest.path);
  if (e.httpRequest?.status !== undefined) line.status = e.httpRequest.status;
  if (e.revision) line.revision = e.revision;
  return line;
}

/** Correlated lines of a cluster, deduplicated, most severe first then by time. */
export function clusterEvidence(cluster: Cluster): CorrelatedLog[] {
  const seen = new Map<LogEntry, CorrelatedLog>();
  for (const f of cluster.failures) for (const l of f.logs) if (!seen.has(l.entry)) seen.set(l.entry, l);
  return [...seen.values()].sort((a, b) => SEVERITY_RANK[b.entry.severity] - SEVERITY_RANK[a.entry.severity] || a.entry.time.localeCompare(b.entry.time));
}

function reportTest(t: ParsedTestCase): ReportTest {
  const r: ReportTest = {
    id: t.id,
    name: t.name,
    classname: t.classname,
    suite: t.suite,
    status: t.status,
    durationMs: t.durationMs,
    source: `${t.source.file}:${t.source.line}`,
  };
  if (t.file) r.file = t.file;
  if (t.message) r.message = redact(truncate(t.message, 1000));
  return r;
}

function reportCluster(c: Cluster): ReportCluster {
  const evidence = clusterEvidence(c);
  const r: ReportCluster = {
    fingerprint: c.fingerprint,
    title: c.title,
    triage: c.triage,
    status: c.status,
    dispatch: c.dispatch,
    cyclesFailing: c.cyclesFailing,
    firstSeenCycle: c.firstSeenCycle,
    sampleMessage: c.sampleMessage,
    tests: c.failures.filter((f) => !f.test.flaky).map((f) => reportTest(f.test)),
    flakyTests: [...c.flakyTests],
    endpoints: c.endpoints.map((e) => ({ ...e, path: redact(e.path) })),
    // The most severe lines are kept; they read best in the order they happened.
    evidence: evidence
      .slice(0, EVIDENCE_PER_CLUSTER)
      .sort((a, b) => a.entry.time.localeCompare(b.entry.time))
      .map(evidenceLine),
    evidenceTotal: evidence.length,
    fingerprintKey: redact(c.failures[0]?.fingerprintKey ?? ''),
    dossier: `clusters/${c.fingerprint}.md`,
  };
  if (c.holdReason) r.holdReason = c.holdReason;
  if (c.errorType) r.errorType = c.errorType;
  return r;
}

function endpointTable(clusters: readonly Cluster[], logs: LogPull, runId: string): CycleReport['endpoints'] {
  type Row = CycleReport['endpoints'][number] & { testIds: Set<string> };
  const rows = new Map<string, Row>();
  const row = (e: EndpointRef): Row => {
    const key = endpointKey(e);
    let r = rows.get(key);
    if (!r) {
      r = { path: e.path, tests: 0, requests: 0, sources: [], clusters: [], testIds: new Set() };
      if (e.method) r.method = e.method;
      if (e.status !== undefined) r.status = e.status;
      rows.set(key, r);
    }
    return r;
  };
  for (const c of clusters) {
    for (const f of c.failures) {
      if (f.test.flaky) continue;
      for (const e of f.endpoints) {
        const r = row(e);
        r.testIds.add(f.test.id);
        if (!r.sources.includes('test-output')) r.sources.push('test-output');
        if (!r.clusters.includes(c.fingerprint)) r.clusters.push(c.fingerprint);
      }
    }
  }
  let requests: { method?: string; path: string; status: number; count: number }[] = logs.failingRequests;
  if (requests.length === 0) {
    const counted = new Map<string, { method?: string; path: string; status: number; count: number }>();
    for (const e of logs.entries) {
      const h = e.httpRequest;
      if (!h?.path || h.status === undefined || h.status < 400 || (e.runId && e.runId !== runId)) continue;
      const key = `${h.method ?? ''} ${h.path} ${h.status}`;
      const c = counted.get(key) ?? { path: h.path, status: h.status, count: 0, ...(h.method ? { method: h.method } : {}) };
      c.count++;
      counted.set(key, c);
    }
    requests = [...counted.values()];
  }
  for (const q of requests) {
    const e: EndpointRef = { path: routeShape(q.path), status: q.status };
    if (q.method) e.method = q.method.toUpperCase();
    const r = row(e);
    r.requests += q.count;
    if (!r.sources.includes('server-log')) r.sources.push('server-log');
  }
  // A message that named a path and status but no method belongs to the one logged request that matches.
  for (const [key, r] of rows) {
    if (r.method) continue;
    const twins = [...rows.values()].filter((o) => o !== r && o.method && o.path === r.path && o.status === r.status);
    if (twins.length !== 1) continue;
    const twin = twins[0] as Row;
    for (const id of r.testIds) twin.testIds.add(id);
    for (const s of r.sources) if (!twin.sources.includes(s)) twin.sources.push(s);
    for (const c of r.clusters) if (!twin.clusters.includes(c)) twin.clusters.push(c);
    twin.requests += r.requests;
    rows.delete(key);
  }
  return [...rows.values()]
    .map(({ testIds, ...r }) => ({ ...r, path: redact(r.path), tests: testIds.size, sources: [...r.sources].sort(), clusters: [...r.clusters].sort() }))
    .sort((a, b) => b.tests + b.requests - (a.tests + a.requests) || endpointKey(a).localeCompare(endpointKey(b)));
}

function serviceHealth(services: readonly DeployedService[], logs: LogPull, runId: string): CycleReport['services'] {
  return services.map((s) => {
    const mine = logs.entries.filter((e) => e.service === s.service && (!e.runId || e.runId === runId));
    const errors = mine.filter((e) => SEVERITY_RANK[e.severity] >= SEVERITY_RANK.ERROR);
    const failing = mine.filter((e) => (e.httpRequest?.status ?? 0) >= 400);
    const serverErrors = failing.filter((e) => (e.httpRequest?.status ?? 0) >= 500);
    const verdict = serverErrors.length > 0 || errors.length > 0 ? 'errors' : mine.length === 0 ? 'no-traffic' : 'healthy';
    const top = errors[0] ?? serverErrors[0];
    const detail =
      verdict === 'no-traffic'
        ? 'no log lines from this service in the test window'
        : `${mine.length} log lines, ${failing.length} failing requests (${serverErrors.length} 5xx), ${errors.length} error lines${top ? `; first error: ${redact(truncate(top.message, 160))}` : ''}`;
    return {
      service: s.service,
      provider: s.provider,
      revision: s.revision,
      url: redact(s.url),
      readyAt: s.readyAt,
      logEntries: mine.length,
      errorEntries: errors.length,
      failingRequests: failing.length,
      serverErrors: serverErrors.length,
      verdict,
      detail,
    };
  });
}

const ACTION_HINTS: Record<TriageClass, string> = {
  'route-missing': 'register or mount the route in the service (or fix the path/method the client calls)',
  'auth-rejected': 'find why valid test credentials are refused (token validation, issuer/audience, role checks)',
  'server-error': 'read the server error and stack trace in the dossier and fix the handler',
  'websocket-close': 'follow the WebSocket handler error path (1011 = the server hit an unhandled error)',
  infrastructure: 'check the service is up and reachable (health, ports, timeouts); often not a code change',
  timeout: 'find the request the test waited on and the handler path that never answers',
  assertion: 'compare expected and actual in the dossier and fix the behaviour the test asserts',
  unknown: 'read the failure output in the dossier',
};

function nextActions(r: Omit<CycleReport, 'nextActions' | 'headline'>): CycleReport['nextActions'] {
  const out: CycleReport['nextActions'] = [];
  if (!r.realness.real) {
    out.push({ kind: 'make-real', text: `Make the run real before trusting it: ${r.realness.reasons.join('; ')}`, clusters: [] });
  }
  if (r.environmentFailure) {
    const live = r.clusters.filter((c) => c.tests.length > 0).map((c) => c.fingerprint);
    out.push({ kind: 'environment', text: `Fix the environment, not the code: ${r.environmentFailure}.`, clusters: live });
  }
  if (r.verdict === 'green') {
    out.push({ kind: 'done', text: `Nothing to fix: all ${r.summary.passed} executed tests passed on ${shortSha(r.commit)}.`, clusters: [] });
  }
  for (const c of r.clusters) {
    if (!c.dispatch || c.tests.length === 0) continue;
    const since = c.status === 'persisting' ? ` — failing for ${c.cyclesFailing} cycles` : c.status === 'regressed' ? ' — came back after a fix' : '';
    out.push({
      kind: 'fix',
      text: `Fix "${c.title}" (${c.tests.length} test${c.tests.length === 1 ? '' : 's'}${since}): ${ACTION_HINTS[c.triage]}. Dossier: ${c.dossier}`,
      clusters: [c.fingerprint],
    });
  }
  const held = r.clusters.filter((c) => !c.dispatch && c.tests.length > 0);
  for (const c of held) out.push({ kind: 'needs-person', text: `Needs a person: "${c.title}" (${c.holdReason ?? 'held'}).`, clusters: [c.fingerprint] });
  const stuck = r.clusters.filter((c) => c.cyclesFailing >= 3 && c.tests.length > 0);
  if (stuck.length > 0) {
    out.push({
      kind: 'escalate',
      text: `${stuck.length} cluster(s) have failed 3 or more cycles in a row; automatic fixes are not holding: ${stuck.map((c) => `"${c.title}"`).join(', ')}.`,
      clusters: stuck.map((c) => c.fingerprint),
    });
  }
  if (r.changes.notRun.length > 0) {
    out.push({
      kind: 'rerun',
      text: `Re-run the tests of ${r.changes.notRun.length} earlier cluster(s); they did not run this cycle, so whether they are fixed is unknown.`,
      clusters: r.changes.notRun.map((c) => c.fingerprint),
    });
  }
  if (r.flaky.length > 0) {
    out.push({
      kind: 'stabilize',
      text: `Stabilize ${r.flaky.length} flaky test(s) (failed, then passed on rerun): ${listWithMore(
        r.flaky.map((f) => f.id),
        5,
      )}.`,
      clusters: [...new Set(r.flaky.map((f) => f.fingerprint))],
    });
  }
  return out;
}

function headline(r: Omit<CycleReport, 'nextActions' | 'headline'>): string {
  const s = r.summary;
  const parts: string[] = [];
  if (r.verdict === 'not-real') parts.push(`NOT REAL — ${r.realness.reasons[0] ?? ''}`);
  if (r.environmentFailure) parts.push('ENVIRONMENT FAILURE, not the code: no fixer dispatched');
  parts.push(`${s.passed} of ${s.total - s.skipped} executed tests passed (${percent(s.passRate)})`);
  if (s.failed > 0) {
    const live = r.clusters.filter((c) => c.tests.length > 0);
    const counts = (['new', 'persisting', 'regressed'] as const).map((k) => [k, live.filter((c) => c.status === k).length] as const).filter(([, n]) => n > 0);
    parts.push(`${s.failed} failed in ${live.length} cluster${live.length === 1 ? '' : 's'} (${counts.map(([k, n]) => `${n} ${k}`).join(', ')})`);
  }
  if (s.skipped > 0) parts.push(`${s.skipped} skipped`);
  if (s.flaky > 0) parts.push(`${s.flaky} flaky`);
  if (r.changes.fixed.length > 0)
    parts.push(`${r.changes.fixed.length} cluster${r.changes.fixed.length === 1 ? '' : 's'} fixed since cycle ${r.changes.previousCycle}`);
  return parts.join(' · ');
}

/** Assembles the report JSON. Deterministic for a given input (the clock is `input.now`). */
export function buildCycleReport(input: ReportInput): CycleReport {
  const { totals, run, realness } = input;
  const failing = input.clusters.filter((c) => c.tests.length > 0);
  const verdict: CycleReport['verdict'] = !realness.real ? 'not-real' : totals.failed === 0 ? 'green' : 'failing';
  const flakyIndex = new Map<string, string>();
  for (const c of input.clusters) for (const id of c.flakyTests) flakyIndex.set(id, c.fingerprint);
  const last = input.previous[input.previous.length - 1];
  const base: Omit<CycleReport, 'nextActions' | 'headline'> = {
    schemaVersion: 1,
    generatedAt: input.now.toISOString(),
    loopId: input.loopId,
    cycle: input.cycle,
    environment: input.environment,
    commit: input.commit,
    verdict,
    ...(input.environmentFailure ? { environmentFailure: redact(input.environmentFailure) } : {}),
    summary: {
      total: totals.total,
      passed: totals.passed,
      failed: totals.failed,
      errors: totals.errors,
      skipped: totals.skipped,
      flaky: totals.flaky,
      passRate: totals.total - totals.skipped > 0 ? totals.passed / (totals.total - totals.skipped) : null,
      testTimeMs: realness.evidence.testTimeMs,
      wallMs: realness.evidence.wallMs,
      runId: run.runId,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      exitCode: run.exitCode,
      signal: run.signal,
      timedOut: run.timedOut,
      truncatedOutputBytes: run.truncatedBytes,
      junitFiles: input.files.map((f) => ({ file: f.file, tests: f.tests, bytes: f.bytes, warnings: [...f.warnings] })),
      ...(run.notRun?.length ? { notRun: [...run.notRun] } : {}),
      ...(run.shards
        ? {
            shards: run.shards.map((x) => ({
              shard: x.shard,
              status: x.status,
              ...(x.files ? { files: x.files.length } : {}),
              ...(x.durationMs !== undefined ? { durationMs: x.durationMs } : {}),
              ...(x.exitCode !== undefined ? { exitCode: x.exitCode } : {}),
              ...(x.reason ? { reason: redact(x.reason) } : {}),
            })),
          }
        : {}),
    },
    services: serviceHealth(input.services, input.logs, run.runId),
    sandbox: sandboxSummary(run, input.services),
    realness: { real: realness.real, reasons: realness.reasons.map(redact), checks: realness.checks.map((c) => ({ ...c, detail: redact(c.detail) })) },
    changes: {
      previousCycle: last?.n ?? null,
      new: failing.filter((c) => c.status === 'new').map((c) => c.fingerprint),
      persisting: failing.filter((c) => c.status === 'persisting').map((c) => c.fingerprint),
      regressed: failing.filter((c) => c.status === 'regressed').map((c) => c.fingerprint),
      fixed: input.comparison.fixed.map((f) => ({ ...f, tests: [...f.tests], flakyNow: [...f.flakyNow] })),
      changed: input.comparison.changed.map((c) => ({ ...c, now: [...c.now] })),
      notRun: input.comparison.notRun.map((c) => ({ ...c, tests: [...c.tests] })),
    },
    clusters: input.clusters.map(reportCluster),
    flaky: input.tests
      .filter((t) => t.flaky)
      .map((t) => {
        const f: CycleReport['flaky'][number] = { id: t.id, fingerprint: flakyIndex.get(t.id) ?? '' };
        if (t.message) f.message = redact(truncate(t.message, 300));
        const h = input.flakeStats.get(t.id);
        if (h) f.history = { flakes: h.flakes, failures: h.failures, flakyLoops: h.flakyLoops };
        return f;
      }),
    endpoints: endpointTable(input.clusters, input.logs, run.runId),
    categories: input.categories.map((c) => ({
      name: c.name,
      priority: c.priority,
      total: c.total,
      passed: c.passed,
      failed: c.failed,
      skipped: c.skipped,
      flaky: c.flaky,
      passRate: c.passRate,
      trend: c.trend.map((t) => ({ ...t })),
      passedTests: c.passedTests.slice(0, PASSED_LISTED),
      passedOmitted: Math.max(0, c.passedTests.length - PASSED_LISTED),
      failedTests: [...c.failedTests],
    })),
    logs: {
      query: redact(input.logs.query),
      entries: input.logs.entries.length,
      truncated: input.logs.truncated,
      runEntries: realness.evidence.runEntries,
      requestEntries: realness.evidence.requestEntries,
    },
    evidenceFiles: { stdout: run.stdoutFile, stderr: run.stderrFile, junit: input.files.map((f) => f.file) },
    warnings: input.warnings.map(redact),
  };
  return { ...base, headline: headline(base), nextActions: nextActions(base) };
}

// ---- markdown --------------------------------------------------------------------------------------

const VERDICT_LABEL: Record<CycleReport['verdict'], string> = { green: '✅ GREEN', failing: '❌ FAILING', 'not-real': '⚠️ NOT REAL' };
const MATCH_LABEL: Record<EvidenceLine['match'], string> = {
  test: 'test header',
  trace: 'trace id',
  route: 'same route',
  window: 'time window',
  request: 'recorded by the proxy',
};

function check(passed: boolean | null): string {
  return passed === true ? '✅ pass' : passed === false ? '❌ fail' : '➖ n/a';
}

function trendText(trend: readonly { cycle: number; passRate: number | null }[]): string {
  if (trend.length <= 1) return 'first cycle';
  return trend.map((t) => `${t.cycle}: ${percent(t.passRate)}`).join(' → ');
}

function evidenceText(e: EvidenceLine): string {
  const req = e.method || e.path ? ` ${e.method ?? ''} ${e.path ?? ''}${e.status === undefined ? '' : ` → ${e.status}`}`.replace(/\s+/g, ' ') : '';
  return `${code(`${e.time} ${e.service}${e.revision ? `@${e.revision}` : ''} ${e.severity}${req} ${e.message}`)} _(matched by ${MATCH_LABEL[e.match]}${e.test ? `: ${e.test}` : ''})_`;
}

function renderCluster(c: ReportCluster, i: number, previousCycle: number | null): string {
  const lines: string[] = [];
  const since =
    c.status === 'persisting'
      ? `persisting (failing ${c.cyclesFailing} cycles, since cycle ${c.firstSeenCycle})`
      : c.status === 'regressed'
        ? `regressed (first seen cycle ${c.firstSeenCycle}, fixed since, back now)`
        : `new${previousCycle === null ? '' : ` (not failing in cycle ${previousCycle})`}`;
  lines.push(`### ${i}. ${html(c.title)}`);
  lines.push('');
  lines.push(
    table(
      ['Fingerprint', 'Triage', 'Status', 'Tests', 'Fixer'],
      [
        [
          code(c.fingerprint),
          c.triage,
          since,
          `${c.tests.length}${c.flakyTests.length ? ` (+${c.flakyTests.length} flaky)` : ''}`,
          c.dispatch ? 'dispatched' : `held: ${c.holdReason ?? ''}`,
        ],
      ],
    ),
  );
  lines.push('');
  lines.push(`**Tests affected (${c.tests.length}):**`);
  for (const t of c.tests.slice(0, 15)) lines.push(`- ${code(t.id)} (${formatDuration(t.durationMs)}, ${t.source})`);
  if (c.tests.length > 15) lines.push(`- … and ${c.tests.length - 15} more (all listed in report.json and the dossier)`);
  if (c.flakyTests.length > 0)
    lines.push(
      `- flaky, not dispatched: ${listWithMore(
        c.flakyTests.map((t) => code(t)),
        5,
      )}`,
    );
  lines.push('');
  lines.push(`**Error**${c.errorType ? ` (${code(c.errorType)})` : ''}:`);
  lines.push('');
  lines.push(fenced(truncate(c.sampleMessage, 600)));
  if (c.endpoints.length > 0) {
    lines.push('');
    lines.push(`**Endpoints:** ${c.endpoints.map((e) => code(endpointKey(e))).join(', ')}`);
  }
  lines.push('');
  if (c.evidence.length > 0) {
    lines.push(`**Server evidence** (${c.evidence.length} of ${c.evidenceTotal} correlated log lines):`);
    for (const e of c.evidence) lines.push(`- ${evidenceText(e)}`);
  } else {
    lines.push(
      '**Server evidence:** no server log line could be tied to these tests (no test header, trace id or failing request on the same route in the run window).',
    );
  }
  lines.push('');
  lines.push(`Dossier for the fixer: [${c.dossier}](${c.dossier})`);
  return lines.join('\n');
}

/** Free text from tests and logs as markdown prose: HTML in it is shown, not rendered (code spans need no escaping). */
function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Renders the report JSON as markdown. */
/** The shards of a sharded suite, and what a timed-out or crashed run did not get to. */
function renderShardsAndNotRun(s: CycleReport['summary']): string[] {
  const out: string[] = [];
  if (s.shards?.length) {
    out.push('', `**Shards (${s.shards.length}):**`, '');
    out.push(
      table(
        ['Shard', 'Status', 'Files', 'Wall time', 'Exit code', 'Why'],
        s.shards.map((x) => [
          x.shard,
          x.status,
          x.files ?? '',
          x.durationMs === undefined ? '' : formatDuration(x.durationMs),
          x.exitCode ?? '',
          html(x.reason ?? ''),
        ]),
      ),
    );
  }
  if (s.notRun?.length) {
    const shown = s.notRun.slice(0, 30);
    out.push(
      '',
      `**Not run (${s.notRun.length}):** no result, because the run ${s.timedOut ? 'timed out' : 'lost a shard'}; the results above are what finished.`,
      '',
    );
    for (const t of shown) out.push(`- ${code(t)}`);
    if (s.notRun.length > shown.length) out.push(`- … and ${s.notRun.length - shown.length} more (report.json lists them all)`);
  }
  return out;
}

export function renderReportMarkdown(r: CycleReport): string {
  const s = r.summary;
  const out: string[] = [];
  out.push(`# ${r.environment} — cycle ${r.cycle} — ${VERDICT_LABEL[r.verdict]}`);
  out.push('');
  out.push(`Loop ${code(r.loopId)} · commit ${code(shortSha(r.commit))} · run ${code(s.runId)} · generated ${r.generatedAt}`);
  out.push('');
  out.push(`> ${r.headline}`);
  out.push('');
  if (r.environmentFailure) out.push('## ⚠️ The environment, not the code', '', `${r.environmentFailure}.`, '');

  out.push('## Summary');
  out.push('');
  out.push(
    table(
      ['Total', 'Passed', 'Failed', 'Errors', 'Skipped', 'Flaky', 'Pass rate', 'Test time', 'Wall time', 'Exit code'],
      [
        [
          s.total,
          s.passed,
          s.failed,
          s.errors,
          s.skipped,
          s.flaky,
          percent(s.passRate),
          formatDuration(s.testTimeMs),
          formatDuration(s.wallMs),
          s.timedOut ? 'timed out' : (s.exitCode ?? `killed (${s.signal ?? '?'})`),
        ],
      ],
    ),
  );
  out.push('');
  out.push(`Pass rate counts executed tests (total − skipped). Test window ${s.startedAt} → ${s.finishedAt}.`);
  out.push(...renderShardsAndNotRun(s));
  if (r.sandbox) out.push('', r.sandbox.line);
  if (r.services.length > 0) {
    out.push('');
    out.push('**Deployed:**');
    out.push('');
    out.push(
      table(
        ['Service', 'Provider', 'Revision', 'URL', 'Ready at'],
        r.services.map((v) => [v.service, v.provider, code(v.revision), v.url, v.readyAt]),
      ),
    );
  }
  out.push('');

  out.push(`## Are these results real? ${r.realness.real ? '✅ yes' : '❌ no'}`);
  out.push('');
  out.push(
    table(
      ['Check', 'Result', 'Evidence'],
      r.realness.checks.map((c) => [c.label, check(c.passed), c.detail]),
    ),
  );
  if (!r.realness.real) {
    out.push('');
    out.push('A run that fails any check is never reported green, whatever its tests say.');
  }
  out.push('');

  if (r.changes.previousCycle !== null) {
    out.push(`## Changes since cycle ${r.changes.previousCycle}`);
    out.push('');
    const titleOf = new Map(r.clusters.map((c) => [c.fingerprint, html(c.title)]));
    const named = (fp: string) => `${code(fp)} ${titleOf.get(fp) ?? ''}`.trim();
    if (r.changes.fixed.length > 0) {
      for (const f of r.changes.fixed) {
        const by = f.attributed ? `by fix commit ${code(shortSha(f.commit))}` : `in commit ${code(shortSha(f.commit))} (this cycle's deploy)`;
        out.push(
          `- ✅ **Fixed** ${by}: ${code(f.fingerprint)} ${html(f.title)} — ${f.tests.length} test(s) now pass${f.flakyNow.length ? ` (${f.flakyNow.length} only on rerun)` : ''}`,
        );
      }
    }
    for (const fp of r.changes.new) out.push(`- 🆕 **New:** ${named(fp)}`);
    for (const fp of r.changes.persisting) {
      const c = r.clusters.find((x) => x.fingerprint === fp);
      out.push(`- 🔁 **Persisting** (${c?.cyclesFailing ?? '?'} cycles): ${named(fp)}`);
    }
    for (const fp of r.changes.regressed) out.push(`- ↩️ **Regressed:** ${named(fp)}`);
    for (const c of r.changes.changed)
      out.push(`- 🔀 **Changed:** ${code(c.fingerprint)} ${html(c.title)} — no longer seen, but its tests still fail, now as ${c.now.map(code).join(', ')}`);
    for (const c of r.changes.notRun)
      out.push(`- ❔ **Not run:** ${code(c.fingerprint)} ${html(c.title)} — its ${c.tests.length} test(s) did not run, so it is neither fixed nor failing`);
    if (
      r.changes.fixed.length +
        r.changes.new.length +
        r.changes.persisting.length +
        r.changes.regressed.length +
        r.changes.changed.length +
        r.changes.notRun.length ===
      0
    ) {
      out.push('- No failing clusters in either cycle.');
    }
    out.push('');
  }

  const live = r.clusters.filter((c) => c.tests.length > 0);
  out.push(`## Failure clusters (${live.length}; ${live.filter((c) => c.dispatch).length} dispatched to fixers)`);
  out.push('');
  if (live.length === 0) out.push('No failing tests.', '');
  live.forEach((c, i) => {
    out.push(renderCluster(c, i + 1, r.changes.previousCycle));
    out.push('');
  });

  if (r.flaky.length > 0) {
    out.push(`## Flaky tests (${r.flaky.length}) — reported, not sent to fixers`);
    out.push('');
    out.push(
      table(
        ['Test', 'First failure', 'Cluster', 'History'],
        r.flaky.map((f) => [
          code(f.id),
          html(truncate(f.message ?? '', 160)),
          f.fingerprint ? code(f.fingerprint) : '',
          f.history ? `flaked ${f.history.flakes}× in ${f.history.flakyLoops} loop(s), failed ${f.history.failures}×` : 'first time',
        ]),
      ),
    );
    out.push('');
  }

  // Log-only 4xx answers are mostly negative tests getting the error they expect; they are counted, not tabled.
  const relevant = r.endpoints.filter((e) => e.tests > 0 || (e.status ?? 0) >= 500);
  const expected = r.endpoints.filter((e) => !relevant.includes(e));
  if (r.endpoints.length > 0) {
    out.push('## Failing endpoints');
    out.push('');
    if (relevant.length > 0) {
      out.push(
        table(
          ['Method', 'Path', 'Status', 'Tests', 'Server requests', 'Seen in', 'Clusters'],
          relevant.map((e) => [
            e.method ?? '?',
            code(e.path),
            e.status ?? 'no response',
            e.tests,
            e.requests,
            e.sources.join(', '),
            e.clusters.map(code).join(', '),
          ]),
        ),
      );
      out.push('');
    } else out.push('No failing test names an endpoint, and no service answered 5xx.', '');
    if (expected.length > 0) {
      const n = expected.reduce((sum, e) => sum + e.requests, 0);
      out.push(
        `The services also answered ${n} 4xx request(s) that no failing test reported (negative tests expect these): ${listWithMore(
          expected.map((e) => code(endpointKey(e))),
          8,
        )}.`,
      );
      out.push('');
    }
  }

  if (r.categories.length > 0) {
    out.push('## Results by category');
    out.push('');
    out.push(
      table(
        ['Category', 'Priority', 'Passed', 'Failed', 'Skipped', 'Pass rate', 'Trend (cycle: rate)'],
        r.categories.map((c) => [
          html(c.name),
          c.priority === null ? '' : `P${c.priority}`,
          `${c.passed}/${c.total}`,
          c.failed,
          c.skipped,
          percent(c.passRate),
          trendText(c.trend),
        ]),
      ),
    );
    out.push('');
    out.push('### Passed tests by category');
    out.push('');
    for (const c of r.categories) {
      if (c.passed === 0) continue;
      const shown = c.passedTests.slice(0, 50);
      out.push(`**${cell(html(c.name))}** (${c.passed}/${c.total})`);
      out.push('');
      for (const t of shown) out.push(`- ✅ ${code(t)}`);
      const hidden = c.passed - shown.length;
      if (hidden > 0) out.push(`- … and ${hidden} more${c.passedOmitted > 0 ? ` (${c.passedTests.length} in report.json)` : ' (in report.json)'}`);
      out.push('');
    }
  }

  if (r.services.length > 0) {
    out.push('## Service health during the test window');
    out.push('');
    out.push(
      table(
        ['Service', 'Revision', 'Verdict', 'Evidence'],
        r.services.map((v) => [v.service, code(v.revision), v.verdict, html(v.detail)]),
      ),
    );
    out.push('');
    out.push(`Logs: ${r.logs.entries} entries pulled${r.logs.truncated ? ' (truncated by the source caps)' : ''}; query: ${code(r.logs.query || 'none')}.`);
    out.push('');
  }

  out.push('## Next actions');
  out.push('');
  r.nextActions.forEach((a, i) => {
    out.push(`${i + 1}. ${a.text}`);
  });
  if (r.nextActions.length === 0) out.push('None.');
  out.push('');

  out.push('## Evidence files');
  out.push('');
  for (const f of r.summary.junitFiles)
    out.push(`- JUnit: ${code(f.file)} (${f.tests} testcases, ${f.bytes} bytes)${f.warnings.length ? ` — ${f.warnings.join('; ')}` : ''}`);
  out.push(
    `- stdout: ${code(r.evidenceFiles.stdout)}; stderr: ${code(r.evidenceFiles.stderr)}${r.summary.truncatedOutputBytes > 0 ? ` (${r.summary.truncatedOutputBytes} bytes dropped by tests.outputLimit)` : ''}`,
  );
  if (r.warnings.length > 0) {
    out.push('');
    out.push('**Warnings:**');
    for (const w of r.warnings) out.push(`- ${w}`);
  }
  out.push('');
  return out.join('\n');
}
