import { relative } from 'node:path';
import type { TestsConfig } from '@greenloop/core';
import { parseJUnitFiles } from '../analysis/junit-parser.ts';
import type { ParsedTestCase } from '../analysis/types.ts';
import { type FailedTestRef, failedTestsPattern, rerunArgv, rerunSelection } from '../runners/rerun-presets.ts';
import { fileOfTest } from '../shards/shard-plan.ts';
import { renderSuiteArgv } from './shard-argv.ts';

/**
 * Flake check: the failed tests run again at the same revision, up to `times` reruns, each rerun only of
 * those that have not passed yet. A test that passes on any rerun is flaky (analysis/flakes.ts judges it
 * with the shared flake history); one that fails every rerun is broken.
 */

/** `tests.rerun` in one shape: the argv template and how many reruns at most. */
export interface RerunPlan {
  command: readonly string[];
  preset?: NonNullable<Extract<TestsConfig['rerun'], { preset: string }>>['preset'];
  times: number;
  /** The suite's files (tests.files), when its command takes {{shardFiles}}: a rerun gets the failed tests' files there. */
  suiteFiles?: readonly string[];
}

/** The plan for `tests.rerun`, or undefined when reruns are off. The argv form keeps its one rerun; presets default to two. */
export function rerunPlan(tests: Pick<TestsConfig, 'rerun' | 'command'>): RerunPlan | undefined {
  const r = tests.rerun;
  if (!r) return undefined;
  if (Array.isArray(r)) return { command: r, times: 1 };
  return { command: r.command ?? tests.command, preset: r.preset, times: r.times };
}

/** The argv of one rerun of `failed`: the preset's selection, or the legacy placeholders of the argv form. */
export function buildRerunArgv(plan: RerunPlan, failed: readonly FailedTestRef[], given: Readonly<Record<string, string>>, cwd?: string): string[] {
  // A rerun is one run: a suite sharded natively reruns as shard 1 of 1 unless the caller says otherwise.
  const values = { shard: '1', shardCount: '1', ...given };
  const takesFiles = plan.command.some((a) => /\{\{\s*shardFiles\s*\}\}/.test(a));
  const files = takesFiles ? rerunFiles(plan, plan.suiteFiles, failed, cwd ?? '') : undefined;
  if (plan.preset) return renderSuiteArgv(rerunArgv(plan.command, rerunSelection(plan.preset, failed, cwd)), values, files);
  return renderSuiteArgv(
    plan.command,
    {
      ...values,
      failedTestsPattern: failedTestsPattern(failed),
      failedTests: [...new Set(failed.map((t) => t.name))].join(','),
    },
    files,
  );
}

/**
 * `{{shardFiles}}` of a rerun: the failed tests' files (all the suite's when none can be told), or none for
 * pytest, whose node ids name their files already (a file given too would rerun all of it).
 */
function rerunFiles(plan: RerunPlan, suiteFiles: readonly string[] | undefined, failed: readonly FailedTestRef[], cwd: string): string[] {
  if (plan.preset === 'pytest') return [];
  // Without the suite's list (a caller that did not glob tests.files), the runner's own `file` attributes.
  const of = (t: FailedTestRef) => (suiteFiles ? fileOfTest(t, suiteFiles, cwd) : t.file && (t.file.startsWith('/') ? relative(cwd, t.file) : t.file));
  const mine = [...new Set(failed.map(of).filter((f): f is string => !!f))];
  return mine.length ? mine : [...(suiteFiles ?? [])];
}

/** What running one rerun needs from the test stage (process spawning and JUnit discovery stay there). */
export interface RerunIo {
  /** Runs `argv` with its artifacts in `dir`; resolves when it exits (a non-zero exit is expected). */
  exec(argv: string[], dir: string, attempt: number): Promise<void>;
  /** The JUnit files the rerun whose artifacts are in `dir` wrote. */
  junitFiles(dir: string): Promise<string[]>;
  progress(message: string): void;
  warn(message: string): void;
}

const isFailed = (t: ParsedTestCase) => t.status === 'failed' || t.status === 'error';
const key = (t: { classname: string; name: string }) => `${t.classname}\u0000${t.name}`;

/**
 * Reruns the failed tests of `firstRunFiles` up to `plan.times` times, in `<dir>/1`, `<dir>/2`, …, each time
 * only those not yet seen passing. Returns every rerun's JUnit files in run order.
 */
export async function rerunFailedTests(
  plan: RerunPlan,
  firstRunFiles: readonly string[],
  values: Readonly<Record<string, string>>,
  dir: string,
  cwd: string,
  io: RerunIo,
): Promise<string[]> {
  const first = await parseJUnitFiles(firstRunFiles);
  let pending = new Map<string, FailedTestRef>();
  for (const t of first.tests.filter(isFailed)) pending.set(key(t), { classname: t.classname, name: t.name, ...(t.file ? { file: t.file } : {}) });
  const files: string[] = [];
  for (let attempt = 1; attempt <= plan.times && pending.size > 0; attempt++) {
    const runDir = `${dir}/${attempt}`;
    const argv = buildRerunArgv(plan, [...pending.values()], { ...values, artifacts: runDir }, cwd);
    io.progress(`rerun ${attempt}/${plan.times} of ${pending.size} failed test(s) to tell flaky from broken`);
    await io.exec(argv, runDir, attempt);
    const found = await io.junitFiles(runDir);
    if (found.length === 0) {
      io.warn(`rerun ${attempt} wrote no JUnit XML; no further reruns this cycle`);
      break;
    }
    files.push(...found);
    const passed = new Set((await parseJUnitFiles(found)).tests.filter((t) => t.status === 'passed').map(key));
    pending = new Map([...pending].filter(([k]) => !passed.has(k)));
  }
  return files;
}
