import { isKnownFlaky } from '@greenloop/core';
import type { LoopHistory } from './history.ts';

/** A test that flaked at least once in the loops read. */
export interface FlakyTest {
  id: string;
  environments: string[];
  /** Cycles in which it failed and then passed on a rerun. */
  flakes: number;
  /** Cycles in which it failed every rerun (a real failure). */
  failures: number;
  /** Analyzed cycles of its environments in the loops read. */
  cyclesObserved: number;
  /** (flakes + failures) ÷ cyclesObserved. */
  failRate: number;
  /** The latest cycle it flaked or failed in. */
  lastSeen: { loopId: string; cycle: number; at: string };
  /** Known flaky (core's rule): a failure on its only rerun still counts as flaky, and it is never sent to a fixer. */
  quarantined: boolean;
}

/** Flaky tests over the loops given (oldest first), highest fail rate first. */
export function flakyTests(loops: readonly LoopHistory[]): FlakyTest[] {
  const cyclesPerEnv = new Map<string, number>();
  const tests = new Map<string, { flakes: number; failures: number; envs: Set<string>; lastSeen: FlakyTest['lastSeen'] }>();
  const note = (id: string, env: string, lastSeen: FlakyTest['lastSeen'], kind: 'flakes' | 'failures') => {
    let t = tests.get(id);
    if (!t) {
      t = { flakes: 0, failures: 0, envs: new Set(), lastSeen };
      tests.set(id, t);
    }
    t[kind] += 1;
    t.envs.add(env);
    t.lastSeen = lastSeen;
  };
  for (const { loop, cycles } of loops) {
    for (const cycle of cycles) {
      const analysis = cycle.stages.analyze?.result;
      if (!analysis) continue;
      cyclesPerEnv.set(loop.environment, (cyclesPerEnv.get(loop.environment) ?? 0) + 1);
      const seen = { loopId: loop.id, cycle: cycle.n, at: cycle.finishedAt ?? cycle.startedAt };
      for (const id of analysis.flaky) note(id, loop.environment, seen, 'flakes');
      for (const id of analysis.failingTests) note(id, loop.environment, seen, 'failures');
    }
  }
  const out: FlakyTest[] = [];
  for (const [id, t] of tests) {
    if (t.flakes === 0) continue;
    const environments = [...t.envs].sort();
    const cyclesObserved = environments.reduce((sum, env) => sum + (cyclesPerEnv.get(env) ?? 0), 0);
    out.push({
      id,
      environments,
      flakes: t.flakes,
      failures: t.failures,
      cyclesObserved,
      failRate: cyclesObserved > 0 ? (t.flakes + t.failures) / cyclesObserved : 0,
      lastSeen: t.lastSeen,
      quarantined: isKnownFlaky(t),
    });
  }
  return out.sort((a, b) => b.failRate - a.failRate || b.lastSeen.at.localeCompare(a.lastSeen.at));
}
