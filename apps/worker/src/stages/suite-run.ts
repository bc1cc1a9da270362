import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DeployedService, formatDuration, GreenloopError, type ProcessRecorder, renderString, type TestsConfig } from '@greenloop/core';
import { parseJUnitFiles } from '../analysis/junit-parser.ts';
import { RedisDurationHistory } from '../analysis/redis-duration-history.ts';
import type { WorkerContext } from '../context.ts';
import { serviceUrlVar } from '../paths.ts';
import { interruptTagged } from '../process/interrupt-tagged.ts';
import { runCommand } from '../process/run-command.ts';
import type { SandboxSettings } from '../process/sandbox.ts';
import { startServiceProxies } from '../proxy/service-proxies.ts';
import { dropInterruptedTestcases } from '../shards/interrupted-junit.ts';
import { fileOfTest } from '../shards/shard-plan.ts';
import type { StageRun } from './run-stage.ts';
import { renderSuiteArgv } from './shard-argv.ts';
import { withSuiteUrls } from './suite-placeholders.ts';
import { findJunitFiles } from './test.ts';

/** One run of the suite, or of one shard of it: what the test stage (or a shard job) hands over. */
export interface SuiteRunSpec {
  ctx: WorkerContext;
  run: StageRun;
  procs: ProcessRecorder;
  environment: string;
  tests: TestsConfig;
  sandbox: SandboxSettings;
  services: readonly DeployedService[];
  worktree: string;
  /** This run's evidence directory ({{artifacts}}): stdout, stderr, JUnit, requests.jsonl. */
  dir: string;
  runId: string;
  /** commit, shortCommit, cycle, loop. */
  values: Readonly<Record<string, string>>;
  shard: { index: number; count: number };
  /** The files for {{shardFiles}} in run order, and those of them that run first as their own run. */
  files?: readonly string[];
  first?: readonly string[];
  /** Runs while the recording proxies are still up, with the suite's environment (reruns of failed tests). */
  whileProxied?: (suite: { env: Record<string, string>; values: Record<string, string>; junitFiles: string[]; timedOut: boolean }) => Promise<void>;
}

export interface SuiteRun {
  startedAt: string;
  finishedAt: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  junitFiles: string[];
  stdoutFile: string;
  stderrFile: string;
  truncatedBytes: number;
  sandboxed: boolean;
  sandboxWarning?: string;
  /** Files greenloop gave this run that never started (a timeout ended an earlier part). */
  filesNotStarted: string[];
}

/**
 * The suite's environment (an allow-list: PATH, HOME, tests.env and greenloop's own variables, the service
 * URLs it must call) and the placeholder values of its command.
 */
export function suiteEnvironment(
  spec: Pick<SuiteRunSpec, 'tests' | 'services' | 'dir' | 'runId' | 'values' | 'shard'> & {
    processEnv: Readonly<Record<string, string | undefined>>;
    /** The process recorder's variables (the run's tag), when the run is recorded. */
    procs?: { env(): Record<string, string> } | undefined;
  },
  proxyUrls: Readonly<Record<string, string>> | undefined,
): { env: Record<string, string>; values: Record<string, string> } {
  const env: Record<string, string> = {
    PATH: spec.processEnv.PATH ?? '/usr/bin:/bin',
    HOME: spec.processEnv.HOME ?? '/tmp',
    ...spec.tests.env,
    GREENLOOP_RUN_ID: spec.runId,
    GREENLOOP_ARTIFACTS: spec.dir,
    GREENLOOP_CYCLE: spec.values.cycle ?? '',
    GREENLOOP_COMMIT: spec.values.commit ?? '',
    GREENLOOP_SHARD: String(spec.shard.index),
    GREENLOOP_SHARD_COUNT: String(spec.shard.count),
    ...spec.procs?.env(),
  };
  for (const s of spec.services) env[serviceUrlVar(s.service)] = proxyUrls?.[s.service] ?? s.url;
  const values = withSuiteUrls(spec.tests.env, spec.services, env, {
    ...spec.values,
    artifacts: spec.dir,
    runId: spec.runId,
    shard: String(spec.shard.index),
    shardCount: String(spec.shard.count),
  });
  return { env, values };
}

/** How long a runner told to stop at the timeout gets to write its results before its group is killed. */
const INTERRUPT_GRACE_MS = 5000;

/**
 * Runs the suite (or one shard) behind fresh recording proxies: the files that failed last cycle first,
 * as a run of their own whose verdict is a progress event, then the rest. At the timeout the runner is
 * interrupted (SIGINT) and given a few seconds to write what finished, so a timed-out run still has results.
 */
export async function runSuite(spec: SuiteRunSpec): Promise<SuiteRun> {
  const { run, procs, tests, dir, worktree } = spec;
  await mkdir(dir, { recursive: true });
  const label = spec.shard.count > 1 ? `shard ${spec.shard.index}/${spec.shard.count}` : 'suite';
  await using proxies = tests.proxy ? await startServiceProxies(spec.services, join(dir, 'requests.jsonl'), spec.runId) : undefined;
  const { env, values } = suiteEnvironment({ ...spec, processEnv: spec.ctx.processEnv }, proxies?.urls);

  const first = spec.files && spec.first?.length && spec.first.length < spec.files.length ? [...spec.first] : [];
  const phases = first.length
    ? [
        { name: 'first', dir: join(dir, 'first'), files: first },
        { name: 'rest', dir: join(dir, 'rest'), files: (spec.files ?? []).filter((f) => !first.includes(f)) },
      ]
    : [{ name: 'all', dir, files: spec.files ? [...spec.files] : undefined }];

  const startedAt = new Date().toISOString();
  const deadline = Date.now() + tests.timeout;
  const out: SuiteRun = {
    startedAt,
    finishedAt: startedAt,
    exitCode: 0,
    signal: null,
    timedOut: false,
    durationMs: 0,
    junitFiles: [],
    stdoutFile: join(dir, 'stdout.txt'),
    stderrFile: join(dir, 'stderr.txt'),
    truncatedBytes: 0,
    sandboxed: true,
    filesNotStarted: [],
  };
  for (const phase of phases) {
    if (out.timedOut) {
      out.filesNotStarted.push(...(phase.files ?? []));
      continue;
    }
    await mkdir(phase.dir, { recursive: true });
    const phaseValues = { ...values, artifacts: phase.dir };
    const argv = renderSuiteArgv(tests.command, phaseValues, phase.files);
    const timeoutMs = Math.max(1000, deadline - Date.now());
    run.progress(
      phase.name === 'first'
        ? `${label}: ${phase.files?.length} file(s) with tests that failed last cycle run first: ${argv.join(' ')}`
        : `${label}: running ${argv.join(' ')} (timeout ${formatDuration(timeoutMs)})`,
      { shard: spec.shard.index, phase: phase.name },
    );
    const tracked = procs.track('test');
    let lines = 0;
    let lastProgress = Date.now();
    const phaseStart = Date.now();
    const res = await runCommand({
      argv,
      cwd: worktree,
      env: { ...env, GREENLOOP_ARTIFACTS: phase.dir },
      timeoutMs,
      stdoutFile: join(phase.dir, 'stdout.txt'),
      stderrFile: join(phase.dir, 'stderr.txt'),
      outputLimit: tests.outputLimit,
      signal: run.signal,
      onSpawn: tracked.onSpawn,
      sandbox: { settings: spec.sandbox, kind: 'test', network: 'host', writable: [worktree, dir] },
      onTimeout: { interrupt: () => interruptTagged(procs.tag), graceMs: INTERRUPT_GRACE_MS },
      onOutput: (chunk) => {
        for (const b of chunk) if (b === 10) lines++;
        if (Date.now() - lastProgress > 3000) {
          lastProgress = Date.now();
          run.progress(`${label}: tests running: ${formatDuration(Date.now() - phaseStart)}, ${lines} lines of output`, { shard: spec.shard.index });
        }
      },
    });
    await tracked.release();
    if (res.sandboxWarning) out.sandboxWarning = res.sandboxWarning;
    if (res.cancelled) throw new GreenloopError('CANCELLED', 'test run cancelled', { retryable: true });
    const junit = await findJunitFiles(
      tests.junit.map((g) => renderString(g, phaseValues)),
      worktree,
    );
    if (res.timedOut) for (const f of junit) await dropInterruptedTestcases(f);
    out.junitFiles.push(...junit.filter((f) => !out.junitFiles.includes(f)));
    out.sandboxed &&= res.sandboxed;
    out.truncatedBytes += res.truncatedBytes;
    out.timedOut = res.timedOut;
    out.signal = res.signal;
    // The verdict is the worst part's: a failing first run is not undone by a passing rest.
    if (out.exitCode === 0 || res.exitCode === null) out.exitCode = res.exitCode;
    if (phase.name === 'first') await reportFirst(run, label, spec.shard.index, junit);
  }
  out.finishedAt = new Date().toISOString();
  out.durationMs = Date.parse(out.finishedAt) - Date.parse(startedAt);
  if (phases.length > 1) await joinOutputs(out, phases);
  // A run cut short would record its files as shorter than they are and unbalance the next split.
  if (spec.files && !out.timedOut) await recordDurations(spec, out.junitFiles);
  if (spec.whileProxied) await spec.whileProxied({ env, values, junitFiles: out.junitFiles, timedOut: out.timedOut });
  return out;
}

/** The progress event that says, early, whether last cycle's fixes worked. */
async function reportFirst(run: StageRun, label: string, shard: number, junit: readonly string[]): Promise<void> {
  const { tests } = await parseJUnitFiles(junit).catch(() => ({ tests: [] }));
  const failed = tests.filter((t) => t.status === 'failed' || t.status === 'error');
  const passed = tests.filter((t) => t.status === 'passed');
  const names = failed.slice(0, 5).map((t) => t.name);
  run.progress(
    `${label}: tests that failed last cycle ran first: ${passed.length} pass now, ${failed.length} still fail${names.length ? ` (${names.join(', ')}${failed.length > names.length ? ', …' : ''})` : ''}`,
    { shard, failedFirst: { passed: passed.length, failed: failed.length } },
  );
}

/** One stdout.txt and stderr.txt for a run made of parts, each part under a header. */
async function joinOutputs(out: SuiteRun, phases: readonly { name: string; dir: string; files?: string[] }[]): Promise<void> {
  for (const [stream, file] of [
    ['stdout.txt', out.stdoutFile],
    ['stderr.txt', out.stderrFile],
  ] as const) {
    await writeFile(file, '');
    for (const p of phases) {
      const text = await readFile(join(p.dir, stream), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      await appendFile(
        file,
        `=== greenloop: ${p.name === 'first' ? 'files that failed last cycle, run first' : 'the other files'} (${p.files?.length ?? 0}) ===\n${text}\n`,
      );
    }
  }
}

/** Per-file durations of this run into the environment's duration history (what balances the next split). */
async function recordDurations(spec: SuiteRunSpec, junit: readonly string[]): Promise<void> {
  const files = spec.files ?? [];
  const { tests } = await parseJUnitFiles(junit).catch(() => ({ tests: [] }));
  const ms = new Map<string, number>();
  for (const t of tests) {
    const f = fileOfTest(t, files, spec.worktree);
    if (f) ms.set(f, (ms.get(f) ?? 0) + t.durationMs);
  }
  await new RedisDurationHistory(spec.ctx.store.redis, spec.ctx.store.prefix, spec.environment).record(ms).catch(() => undefined);
}
