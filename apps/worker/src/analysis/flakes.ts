import type { FailedAttempt, ParsedTestCase } from './types.ts';

/**
 * Flaky tests: a test that failed and then passed when rerun. Running the rerun is the loop engine's job
 * (tests.rerun); this module merges the two runs and keeps a cross-loop record of what flaked.
 */

/** The outcome of merging a first run with a rerun of its failures. */
export interface FlakeLabelling {
  /** The first run's tests, flaky ones now `passed` with `flaky: true` and their first failure kept. */
  tests: ParsedTestCase[];
  /** Ids that failed, then passed on the rerun. */
  flaky: string[];
  /** Ids that failed again on the rerun. */
  confirmed: string[];
  /** Failed ids the rerun did not report (not rerun, or renamed): they stay failed. */
  notRerun: string[];
}

function nameKey(t: ParsedTestCase): string {
  return `${t.classname}\u0000${t.name}`;
}

/**
 * Labels flaky tests from a first run and a rerun (usually of the failed tests only). Tests are matched by
 * id, then by classname + name (a filtered rerun may nest suites differently). Nothing is mutated.
 */
export function labelFlaky(firstRun: readonly ParsedTestCase[], rerun: readonly ParsedTestCase[]): FlakeLabelling {
  const byId = new Map<string, ParsedTestCase>();
  const byName = new Map<string, ParsedTestCase>();
  for (const r of rerun) {
    byId.set(r.id, r);
    if (!byName.has(nameKey(r))) byName.set(nameKey(r), r);
  }
  const out: FlakeLabelling = { tests: [], flaky: [], confirmed: [], notRerun: [] };
  for (const t of firstRun) {
    if (t.status !== 'failed' && t.status !== 'error') {
      out.tests.push(t);
      continue;
    }
    const again = byId.get(t.id) ?? byName.get(nameKey(t));
    if (!again || again.status === 'skipped') {
      out.notRerun.push(t.id);
      out.tests.push(t);
    } else if (again.status === 'passed') {
      const first: FailedAttempt = { kind: 'first-run' };
      if (t.message !== undefined) first.message = t.message;
      if (t.type !== undefined) first.type = t.type;
      if (t.details !== undefined) first.details = t.details;
      out.flaky.push(t.id);
      out.tests.push({ ...t, status: 'passed', flaky: true, attempts: [...(t.attempts ?? []), first] });
    } else {
      out.confirmed.push(t.id);
      out.tests.push(t);
    }
  }
  return out;
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
