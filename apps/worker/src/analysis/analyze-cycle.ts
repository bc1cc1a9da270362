import { mkdir, open, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AnalyzeResult, CategoryConfig, DeployedService, FixerConfig, TestRunResult, TestStatus, TestsConfig } from '@greenloop/core';
import { GreenloopError, redact } from '@greenloop/core';
import type { LogPull } from '../logs/types.ts';
import { type RecordedRequest, readRecordedRequests } from '../proxy/request-record.ts';
import { lastLines } from './capped-text.ts';
import { categoryStats, makeCategorizer } from './categories.ts';
import { analyzeFailure, buildClusters, compareWithPrevious, toSummary } from './cluster.ts';
import { buildLogIndex } from './correlate.ts';
import { type CodeContext, collectCodeContext, loadRepoIndex, type RepoIndex, renderDossier } from './dossier.ts';
import { type FlakeHistory, type FlakeObservation, type FlakeStats, judgeFlakes } from './flakes.ts';
import { JUnitError, type JUnitParseOptions, type JUnitParseResult, parseJUnitFiles } from './junit-parser.ts';
import { assessRealness } from './realness.ts';
import { buildCycleReport, clusterEvidence, evidenceLine, renderReportMarkdown } from './report.ts';
import { deriveTestWindows } from './test-windows.ts';
import { environmentFailure } from './triage.ts';
import type { Cluster, CycleTotals, ParsedTestCase, PreviousCycle } from './types.ts';

/** Earlier cycles of the loop, as `analyzeCycle` takes them (defined in types.ts). */
export type { PreviousCycle } from './types.ts';

/** Everything the analyze stage knows about a cycle. */
export interface AnalyzeInput {
  loopId: string;
  cycle: number;
  commit: string;
  environment: string;
  /** Absolute paths of the run's JUnit files (already globbed). */
  junitFiles: string[];
  run: TestRunResult;
  /** What was deployed this cycle (revision, url). */
  services: DeployedService[];
  /** Server logs for the test window. */
  logs: LogPull;
  /** Requests the recording proxy saw; default: read test/requests.jsonl beside the run's stdout. */
  requests?: RecordedRequest[];
  /** Earlier cycles of this loop, oldest first. */
  previous: PreviousCycle[];
  config: {
    tests: TestsConfig;
    categories: CategoryConfig[];
    /** Protected paths go into the dossier's rules; skipTriage classes are reported as held; massFailure decides the environment verdict. */
    fixer?: Pick<FixerConfig, 'protectedPaths' | 'skipTriage' | 'massFailure'>;
  };
  /** Where report.md, report.json and clusters/<fingerprint>.{json,md} are written. */
  cycleDir: string;
  /** A checkout at `commit`, for files and recent commits touching the stack frames. */
  repoDir?: string;
  /** Cross-loop flake record; failed and flaky tests of this cycle are recorded in it. */
  history?: FlakeHistory;
  /** JUnit files of a rerun of the failed tests (tests.rerun): tests that pass there are labelled flaky. */
  rerunJunitFiles?: string[];
  /** The clock (tests inject a fixed one). */
  now?: () => Date;
  /** Per-test caps while parsing. */
  parse?: JUnitParseOptions;
  /** Clusters that get code context (git grep/log) in their dossier; the rest say why not. Default 20. */
  maxCodeContexts?: number;
}

/** The files written for one cluster. */
export interface ClusterFiles {
  /** Absolute path of clusters/<fingerprint>.json: { fingerprint, title, triage, tests: [{ id, name, classname, message }], sampleMessage, ... }. */
  json: string;
  /** Absolute path of clusters/<fingerprint>.md: the five-whys dossier (the fixer's prompt). */
  markdown: string;
}

/** The analyze stage's result. `report` holds absolute paths of report.md and report.json. */
export interface AnalyzeOutput extends AnalyzeResult {
  clusterFiles: Record<string, ClusterFiles>;
  /**
   * Per-test statuses of this cycle: pass them back as `PreviousCycle.testStatuses` so later cycles compute
   * category trends and tell "fixed" from "not run" (see `toPreviousCycle`).
   */
  testStatuses: Record<string, TestStatus>;
}

/** This cycle as a later cycle's `previous` entry; `fixedBy` maps fingerprints to the fix commits integrated after it. */
export function toPreviousCycle(
  n: number,
  commit: string,
  result: Pick<AnalyzeOutput, 'totals' | 'clusters' | 'testStatuses'>,
  fixedBy?: Record<string, string>,
): PreviousCycle {
  const p: PreviousCycle = { n, commit, totals: result.totals, clusters: result.clusters, testStatuses: result.testStatuses };
  if (fixedBy) p.fixedBy = fixedBy;
  return p;
}

async function tail(file: string, bytes: number): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/** Parses JUnit files, turning parser errors into non-retryable GreenloopErrors (JUNIT_INVALID / JUNIT_MISSING). */
export async function readJUnit(files: readonly string[], opts?: JUnitParseOptions): Promise<JUnitParseResult> {
  try {
    return await parseJUnitFiles(files, opts);
  } catch (err) {
    if (!(err instanceof JUnitError)) throw err;
    const hint =
      err.code === 'JUNIT_INVALID'
        ? 'The test runner wrote a JUnit file greenloop cannot read; check the reporter options, or whether the run was killed while writing it.'
        : 'A JUnit file listed for this run is gone or unreadable; check the artifacts directory.';
    throw new GreenloopError(err.code, err.message, { retryable: false, hint, cause: err, details: { file: err.file, line: err.line, column: err.column } });
  }
}

function computeTotals(tests: readonly ParsedTestCase[]): CycleTotals {
  const t: CycleTotals = { total: tests.length, passed: 0, failed: 0, skipped: 0, durationMs: 0, errors: 0, flaky: 0 };
  for (const x of tests) {
    t.durationMs += x.durationMs;
    if (x.status === 'passed') {
      t.passed++;
      if (x.flaky) t.flaky++;
    } else if (x.status === 'skipped') t.skipped++;
    else {
      t.failed++;
      if (x.status === 'error') t.errors++;
    }
  }
  t.durationMs = Math.round(t.durationMs * 1000) / 1000;
  return t;
}

function topSkipReasons(tests: readonly ParsedTestCase[]): string[] {
  const counts = new Map<string, number>();
  for (const t of tests) if (t.status === 'skipped' && t.message) counts.set(t.message, (counts.get(t.message) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 3)
    .map(([m, n]) => redact(`${m} (×${n})`));
}

function clusterJson(c: Cluster, input: AnalyzeInput): string {
  const evidence = clusterEvidence(c);
  const doc = {
    fingerprint: c.fingerprint,
    title: c.title,
    triage: c.triage,
    status: c.status,
    dispatch: c.dispatch,
    ...(c.holdReason ? { holdReason: c.holdReason } : {}),
    loopId: input.loopId,
    cycle: input.cycle,
    commit: input.commit,
    environment: input.environment,
    ...(c.errorType ? { errorType: c.errorType } : {}),
    sampleMessage: c.sampleMessage,
    tests: c.failures
      .filter((f) => !f.test.flaky || c.tests.length === 0)
      .map((f) => ({
        id: f.test.id,
        name: f.test.name,
        classname: f.test.classname,
        suite: f.test.suite,
        ...(f.test.file ? { file: f.test.file } : {}),
        message: redact(f.test.message ?? f.test.type ?? ''),
        flaky: f.test.flaky === true,
        source: `${f.test.source.file}:${f.test.source.line}`,
      })),
    flakyTests: c.flakyTests,
    endpoints: c.endpoints,
    cyclesFailing: c.cyclesFailing,
    firstSeenCycle: c.firstSeenCycle,
    evidence: evidence.slice(0, 20).map(evidenceLine),
    fingerprintKey: redact(c.failures[0]?.fingerprintKey ?? ''),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Analyzes one cycle: parses the JUnit files, labels flaky tests from a rerun, checks the run was real, ties
 * failures to server logs, clusters them by fingerprint against earlier cycles, and writes report.md,
 * report.json and a JSON + five-whys dossier per cluster under `cycleDir`.
 *
 * Throws `JUNIT_MISSING` (no files, or a file that cannot be read) and `JUNIT_INVALID` (file:line:column),
 * both non-retryable.
 */
export async function analyzeCycle(input: AnalyzeInput): Promise<AnalyzeOutput> {
  const now = (input.now ?? (() => new Date()))();
  const { run, config } = input;
  if (input.junitFiles.length === 0) {
    const exit = run.timedOut ? 'timed out' : run.exitCode === null ? `killed${run.signal ? ` by ${run.signal}` : ''}` : `exit code ${run.exitCode}`;
    throw new GreenloopError(
      'JUNIT_MISSING',
      `no JUnit XML: ${config.tests.junit.map((g) => JSON.stringify(g)).join(', ')} matched nothing (the suite finished with ${exit})`,
      {
        retryable: false,
        hint: 'Make the suite write JUnit XML where tests.junit points (e.g. --reporter=junit / --junitxml=...), and check its stdout/stderr for why it wrote none.',
        details: { globs: config.tests.junit, exitCode: run.exitCode, timedOut: run.timedOut, stdoutFile: run.stdoutFile, stderrFile: run.stderrFile },
      },
    );
  }

  const parsed = await readJUnit(input.junitFiles, input.parse);
  let tests = parsed.tests;
  const warnings: string[] = [];
  for (const f of parsed.files) for (const w of f.warnings) warnings.push(`${f.file}: ${w}`);
  if (input.rerunJunitFiles && input.rerunJunitFiles.length > 0) {
    const rerun = await readJUnit(input.rerunJunitFiles, input.parse);
    const labelled = await judgeFlakes(tests, rerun.tests, input.history);
    tests = labelled.tests;
    if (labelled.notRerun.length > 0) warnings.push(`${labelled.notRerun.length} failed test(s) were not found in the rerun results; they count as failed`);
  }
  const totals = computeTotals(tests);

  const requests = input.requests ?? (await readRecordedRequests(join(dirname(run.stdoutFile), 'requests.jsonl')));
  const first = requests.find((r) => !r.probe && (!r.runId || r.runId === run.runId) && r.time >= run.startedAt);
  const windows = deriveTestWindows(tests, run.startedAt, first ? Date.parse(first.time) : undefined);
  const index = buildLogIndex(input.logs.entries, { runId: run.runId, from: run.startedAt, to: run.finishedAt }, { requests, windows });
  const failures = tests.filter((t) => t.status === 'failed' || t.status === 'error' || t.flaky).map((t) => analyzeFailure(t, index));
  const clusters = buildClusters(failures, { previous: input.previous, cycle: input.cycle, skipTriage: config.fixer?.skipTriage ?? [] });
  const environment = environmentFailure(
    { totals, clusters: clusters.filter((c) => c.tests.length > 0) },
    { sameWay: (config.fixer?.massFailure ?? 'environment') === 'environment' },
  );
  // The loop stops on this verdict before any fixer: the report says so on every cluster.
  if (environment) {
    for (const c of clusters) {
      if (!c.dispatch || c.tests.length === 0) continue;
      c.dispatch = false;
      c.holdReason = 'the run failed because of its environment, not the code (see the report): no fixer is dispatched';
    }
  }
  const byId = new Map(tests.map((t) => [t.id, t]));
  const comparison = compareWithPrevious(input.previous, byId, clusters, input.commit);

  let outputTail: string | undefined;
  if (totals.total === 0) {
    const out = lastLines(await tail(run.stdoutFile, 4096), 8);
    const err = lastLines(await tail(run.stderrFile, 4096), 8);
    outputTail = redact([out, err].filter(Boolean).join('\n')) || undefined;
  }
  const realness = assessRealness({
    totals,
    suiteTimeMs: parsed.files.reduce((s, f) => s + f.suiteTimeMs, 0),
    junitFiles: parsed.files.length,
    run,
    logs: input.logs,
    services: input.services,
    previous: input.previous,
    minDurationMs: config.tests.minDuration,
    maxCountDrop: config.tests.maxCountDrop,
    skipReasons: topSkipReasons(tests),
    ...(outputTail ? { outputTail } : {}),
    requests,
  });

  const categorizer = makeCategorizer(config.categories);
  warnings.push(...categorizer.warnings);
  if (input.logs.truncated) warnings.push('the log pull hit its caps; correlation may miss lines');
  const categories = categoryStats(tests, categorizer, input.previous, input.cycle);

  let flakeStats = new Map<string, FlakeStats>();
  if (input.history) {
    const notable = tests.filter((t) => t.flaky || t.status === 'failed' || t.status === 'error');
    flakeStats = await input.history.get(notable.map((t) => t.id));
    const observations: FlakeObservation[] = notable.map((t) => ({
      testId: t.id,
      loopId: input.loopId,
      cycle: input.cycle,
      at: now.toISOString(),
      outcome: t.flaky ? 'flaky' : 'failed',
    }));
    await input.history.record(observations);
  }

  const report = buildCycleReport({
    now,
    loopId: input.loopId,
    cycle: input.cycle,
    environment: input.environment,
    commit: input.commit,
    run,
    services: input.services,
    logs: input.logs,
    tests,
    totals,
    files: parsed.files,
    realness,
    clusters,
    comparison,
    previous: input.previous,
    categories,
    flakeStats,
    warnings,
    ...(environment ? { environmentFailure: environment } : {}),
  });
  const markdown = renderReportMarkdown(report);

  const clustersDir = join(input.cycleDir, 'clusters');
  await mkdir(clustersDir, { recursive: true });
  let repo: RepoIndex | undefined;
  let codeNote: string | undefined;
  // The repository index (git calls) only serves dossiers: a green cycle skips it.
  if (input.repoDir && clusters.length > 0) {
    repo = await loadRepoIndex(input.repoDir);
    if (!repo) codeNote = `${input.repoDir} is not a readable git checkout; no code context.`;
  } else codeNote = 'No checkout was given to the analysis (repoDir); search the repository for the endpoints and frames above.';
  const maxContexts = input.maxCodeContexts ?? 20;
  const clusterFiles: Record<string, ClusterFiles> = {};
  // Code context costs a few git calls per cluster: gather it for all clusters at once (bounded by
  // maxContexts), not one cluster after another.
  const withContext = repo ? clusters.filter((c) => c.dispatch).slice(0, maxContexts) : [];
  const contexts = new Map<string, CodeContext>();
  if (repo) {
    const index = repo;
    await Promise.all(withContext.map(async (c) => contexts.set(c.fingerprint, await collectCodeContext(c, index))));
  }
  await Promise.all(
    clusters.map(async (c) => {
      const code = contexts.get(c.fingerprint);
      let note = codeNote;
      if (repo && !code)
        note = c.dispatch ? `Code context is gathered for the first ${maxContexts} clusters only.` : 'Not gathered: this cluster is not dispatched to a fixer.';
      const dossier = renderDossier(c, {
        loopId: input.loopId,
        cycle: input.cycle,
        environment: input.environment,
        commit: input.commit,
        services: input.services,
        testCommand: config.tests.command,
        protectedPaths: config.fixer?.protectedPaths ?? [],
        ...(code ? { code } : {}),
        ...(note && !code ? { codeNote: note } : {}),
      });
      const files: ClusterFiles = { json: join(clustersDir, `${c.fingerprint}.json`), markdown: join(clustersDir, `${c.fingerprint}.md`) };
      await writeFile(files.json, clusterJson(c, input));
      await writeFile(files.markdown, dossier);
      clusterFiles[c.fingerprint] = files;
    }),
  );
  const reportFiles = { markdown: join(input.cycleDir, 'report.md'), json: join(input.cycleDir, 'report.json') };
  await writeFile(reportFiles.markdown, markdown);
  await writeFile(reportFiles.json, `${JSON.stringify(report, null, 2)}\n`);

  const failing = clusters.filter((c) => c.tests.length > 0);
  const testStatuses: Record<string, TestStatus> = {};
  for (const t of tests) testStatuses[t.id] = t.status;
  const coreTotals = { total: totals.total, passed: totals.passed, failed: totals.failed, skipped: totals.skipped, durationMs: totals.durationMs };
  const summaries = failing.map(toSummary);
  return {
    green: realness.real && totals.failed === 0,
    totals: coreTotals,
    realness: { real: realness.real, reasons: report.realness.reasons },
    clusters: summaries,
    fixed: comparison.fixed.map((f) => f.fingerprint),
    flaky: tests.filter((t) => t.flaky).map((t) => t.id),
    failingTests: tests.filter((t) => t.status === 'failed' || t.status === 'error').map((t) => t.id),
    report: reportFiles,
    ...(environment ? { environment } : {}),
    clusterFiles,
    testStatuses,
  };
}
