import { isKnownFlaky } from '@greenloop/core';
import type { FailedAttempt, ParsedTestCase } from './types.ts';

/**
 * Flaky tests: a test that failed and then passed on a rerun at the same revision. Running the reruns is the
 * test stage's job (tests.rerun, up to `times`); this module judges them with the shared flake history.
 */

/** The outcome of merging a first run with the reruns of its failures. */
export interface FlakeLabelling {
  /** The first run's tests, flaky ones now `passed` with `flaky: true` and their first failure kept. */
  tests: ParsedTestCase[];
  /** Ids that failed, then passed on a rerun (or failed their only rerun but are known flaky). */
  flaky: string[];
  /** Ids that failed every rerun: broken. */
  confirmed: string[];
  /** Failed ids the reruns did not report (not rerun, or renamed): they stay failed. */
  notRerun: string[];
  /** Why each flaky or confirmed test was judged so ("passed on rerun 2 of 2", "failed 2 of 2 reruns"). */
  reasons: Record<string, string>;
}

function nameKey(t: ParsedTestCase): string {
  return `${t.classname}\u0000${t.name}`;
}

function historyNote(stats: FlakeStats | undefined): string {
  if (!stats || stats.flakes === 0) return '';
  return `; flaked in ${stats.flakes} earlier cycle(s) of ${stats.flakyLoops} loop(s), failed for real in ${stats.failures}`;
}

/**
 * Labels flaky tests from a first run and its reruns (all reruns' tests in run order; usually of the failed
 * tests only). Tests are matched by id, then by classname + name (a filtered rerun may nest suites
 * differently). Verdict: passed on any rerun → flaky; failed two or more reruns → broken; failed the only
 * rerun → broken unless `history` shows a known flake. Nothing is mutated.
 */
export function labelFlaky(
  firstRun: readonly ParsedTestCase[],
  reruns: readonly ParsedTestCase[],
  history: ReadonlyMap<string, FlakeStats> = new Map(),
): FlakeLabelling {
  const byId = new Map<string, ParsedTestCase[]>();
  const byName = new Map<string, ParsedTestCase[]>();
  for (const r of reruns) {
    if (r.status === 'skipped') continue;
    byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    byName.set(nameKey(r), [...(byName.get(nameKey(r)) ?? []), r]);
  }
  const out: FlakeLabelling = { tests: [], flaky: [], confirmed: [], notRerun: [], reasons: {} };
  for (const t of firstRun) {
    if (t.status !== 'failed' && t.status !== 'error') {
      out.tests.push(t);
      continue;
    }
    // By id and by name: files parsed together renumber a repeated id ("x [2]"), so later reruns match by name.
    const again = [...new Set([...(byId.get(t.id) ?? []), ...(byName.get(nameKey(t)) ?? [])])];
    const stats = history.get(t.id);
    const passedOn = again.findIndex((r) => r.status === 'passed') + 1;
    if (again.length === 0) {
      out.notRerun.push(t.id);
      out.tests.push(t);
    } else if (passedOn > 0 || (again.length === 1 && isKnownFlaky(stats))) {
      const first: FailedAttempt = { kind: 'first-run' };
      if (t.message !== undefined) first.message = t.message;
      if (t.type !== undefined) first.type = t.type;
      if (t.details !== undefined) first.details = t.details;
      out.flaky.push(t.id);
      out.reasons[t.id] =
        passedOn > 0
          ? `passed on rerun ${passedOn} of ${again.length}${historyNote(stats)}`
          : `failed its only rerun but is a known flake${historyNote(stats)}`;
      out.tests.push({ ...t, status: 'passed', flaky: true, attempts: [...(t.attempts ?? []), first] });
    } else {
      out.confirmed.push(t.id);
      out.reasons[t.id] = `failed ${again.length} of ${again.length} rerun(s)${historyNote(stats)}`;
      out.tests.push(t);
    }
  }
  return out;
}

/** `labelFlaky` with the failed tests' records read from the shared flake history first. */
export async function judgeFlakes(firstRun: readonly ParsedTestCase[], reruns: readonly ParsedTestCase[], history?: FlakeHistory): Promise<FlakeLabelling> {
  const failed = firstRun.filter((t) => t.status === 'failed' || t.status === 'error').map((t) => t.id);
  const stats = history && failed.length > 0 ? await history.get(failed) : new Map<string, FlakeStats>();
  return labelFlaky(firstRun, reruns, stats);
}

/** One test's notable result in one cycle of one loop. */
export interface FlakeObservation {
  testId: string;
  loopId: string;
  cycle: number;
  /** ISO time of the cycle's analysis. */
  at: string;
  /** `failed`: failed and was not shown flaky; `flaky`: failed, then passed on a rerun. */
  outcome: 'failed' | 'flaky';
}

/** What the history knows about a test across loops. */
export interface FlakeStats {
  testId: string;
  /** Cycles in which it failed for real. */
  failures: number;
  /** Cycles in which it flaked. */
  flakes: number;
  /** Distinct loops it flaked in. */
  flakyLoops: number;
  lastFlakyAt?: string;
}

/**
 * Cross-loop flake record. Only failed and flaky results are recorded (recording every pass of a 100k-test
 * suite each cycle would cost more than it tells). `record` must be idempotent per (loopId, cycle, testId) —
 * an analyze step can be retried — which a Redis hash per test with field `<loopId>:<cycle>` gives for free.
 */
export interface FlakeHistory {
  record(observations: readonly FlakeObservation[]): Promise<void>;
  get(testIds: readonly string[]): Promise<Map<string, FlakeStats>>;
}

/** In-process `FlakeHistory` for tests and single-process runs. */
export class MemoryFlakeHistory implements FlakeHistory {
  readonly #byTest = new Map<string, Map<string, FlakeObservation>>();

  async record(observations: readonly FlakeObservation[]): Promise<void> {
    for (const o of observations) {
      let perTest = this.#byTest.get(o.testId);
      if (!perTest) {
        perTest = new Map();
        this.#byTest.set(o.testId, perTest);
      }
      perTest.set(`${o.loopId}:${o.cycle}`, o);
    }
  }

  async get(testIds: readonly string[]): Promise<Map<string, FlakeStats>> {
    const out = new Map<string, FlakeStats>();
    for (const id of testIds) {
      const perTest = this.#byTest.get(id);
      if (perTest) out.set(id, summarizeObservations(id, [...perTest.values()]));
    }
    return out;
  }
}

/** Folds one test's observations into stats (shared by history implementations). */
export function summarizeObservations(testId: string, observations: readonly FlakeObservation[]): FlakeStats {
  const flaky = observations.filter((o) => o.outcome === 'flaky');
  const stats: FlakeStats = {
    testId,
    failures: observations.length - flaky.length,
    flakes: flaky.length,
    flakyLoops: new Set(flaky.map((o) => o.loopId)).size,
  };
  const last = flaky
    .map((o) => o.at)
    .sort()
    .at(-1);
  if (last) stats.lastFlakyAt = last;
  return stats;
}
