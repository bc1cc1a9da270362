import { glob } from 'node:fs/promises';
import { GreenloopError } from '@greenloop/core';
import { parseJUnitFiles } from '../analysis/junit-parser.ts';
import type { WorkerContext } from '../context.ts';
import { readTestStatuses } from '../stages/test-statuses.ts';
import { fileOfTest } from './shard-plan.ts';

/** The suite's files (tests.files globs, relative to the checkout), sorted; none is a config error. */
export async function listSuiteFiles(globs: readonly string[], worktree: string, environment: string): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of globs) for await (const f of glob(pattern, { cwd: worktree })) found.add(f);
  if (found.size === 0) {
    throw new GreenloopError('SUITE_FILES_NONE', `environments.${environment}.tests.files (${globs.join(', ')}) matches no file in the checkout`, {
      hint: 'list the suite files relative to the repository root, e.g. ["tests/test_*.py"] or ["test/**/*.test.js"]',
    });
  }
  return [...found].sort();
}

/** The files whose tests failed, errored or flaked in the previous cycle (read from its JUnit evidence). */
export async function previouslyFailingFiles(
  ctx: WorkerContext,
  loopId: string,
  cycle: number,
  files: readonly string[],
  worktree: string,
): Promise<Set<string>> {
  const out = new Set<string>();
  if (cycle <= 1) return out;
  const prev = await ctx.store.getCycle(loopId, cycle - 1);
  const junit = prev?.stages.test?.result?.junitFiles ?? [];
  const flaky = new Set(prev?.stages.analyze?.result?.flaky ?? []);
  const { tests } = await parseJUnitFiles(junit).catch(() => ({ tests: [] }));
  for (const t of tests) {
    if (t.status !== 'failed' && t.status !== 'error' && !flaky.has(t.id)) continue;
    const f = fileOfTest(t, files, worktree);
    if (f) out.add(f);
  }
  return out;
}

/**
 * What a run that timed out (or lost a shard) did not get to: the previous cycle's tests that have no
 * result now, and the files greenloop handed out of which no test reported. At most `max` entries.
 */
export async function notRunTests(
  ctx: WorkerContext,
  loopId: string,
  cycle: number,
  run: { junitFiles: readonly string[]; notRunFiles: readonly string[] },
  files: readonly string[] | undefined,
  worktree: string,
  max = 500,
): Promise<string[]> {
  const { tests } = await parseJUnitFiles(run.junitFiles).catch(() => ({ tests: [] }));
  const seen = new Set(tests.map((t) => t.id));
  const out = new Set<string>();
  const prev = cycle > 1 ? await ctx.store.getCycle(loopId, cycle - 1) : undefined;
  const statusesFile = prev?.stages.analyze?.result?.testStatusesFile;
  if (statusesFile) {
    const statuses = (await readTestStatuses(statusesFile)) ?? {};
    for (const id of Object.keys(statuses)) if (!seen.has(id)) out.add(id);
  }
  const reported = new Set(files ? tests.map((t) => fileOfTest(t, files, worktree)) : []);
  for (const f of run.notRunFiles) if (!reported.has(f)) out.add(f);
  return [...out].slice(0, max);
}
