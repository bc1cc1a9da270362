import type { LoopHistory } from './history.ts';

/** Where and when a cluster was seen: one cycle of one loop. */
export interface Sighting {
  loopId: string;
  environment: string;
  cycle: number;
  at: string;
}

/** One failure fingerprint's history across loops. */
export interface ClusterHistory {
  fingerprint: string;
  title: string;
  triage: string;
  environments: string[];
  firstSeen: Sighting;
  lastSeen: Sighting;
  /** Cycles in which it failed. */
  cycles: number;
  /** Loops in which it failed. */
  loops: number;
  /** Each time it went from failing to passing: the cycle that saw it pass and the commit credited. */
  fixes: (Sighting & { commit: string; fixCommit: boolean })[];
  /** Times it failed again after a fix (or the analyzer called it regressed). */
  regressions: number;
  /** Still failing: no later cycle of an environment it failed in has run without it. */
  open: boolean;
  tests: string[];
  testCount: number;
}

const TESTS_SHOWN = 10;

/**
 * Each fingerprint's history over the loops given (oldest first): first and last seen, cycles and loops
 * failing, fixes (credited to the commit the previous cycle's integrate step applied for it, else the
 * commit the passing cycle deployed) and regressions (failing again after it stopped failing). A cluster
 * stops being open in an environment when a later analyzed cycle there runs without it: fixed when the
 * analysis lists it as fixed, otherwise gone (its tests failed under another fingerprint or did not run)
 * with no fix recorded. Open clusters first, then the most recently seen.
 */
export function clusterHistories(loops: readonly LoopHistory[]): ClusterHistory[] {
  const byFp = new Map<string, ClusterHistory & { loopIds: Set<string>; envs: Set<string>; testSet: Set<string>; openIn: Set<string> }>();
  for (const { loop, cycles } of loops) {
    // Fix commits the integrate step applied, keyed by fingerprint, waiting for the next cycle's verdict.
    const applied = new Map<string, string>();
    for (const cycle of cycles) {
      const analysis = cycle.stages.analyze?.result;
      if (analysis) {
        const at: Sighting = { loopId: loop.id, environment: loop.environment, cycle: cycle.n, at: cycle.finishedAt ?? cycle.startedAt };
        for (const c of analysis.clusters) {
          let h = byFp.get(c.fingerprint);
          if (!h) {
            h = {
              fingerprint: c.fingerprint,
              title: c.title,
              triage: c.triage,
              environments: [],
              firstSeen: at,
              lastSeen: at,
              cycles: 0,
              loops: 0,
              fixes: [],
              regressions: 0,
              open: true,
              tests: [],
              testCount: 0,
              loopIds: new Set(),
              envs: new Set(),
              testSet: new Set(),
              openIn: new Set(),
            };
            byFp.set(c.fingerprint, h);
          } else if ((h.envs.has(loop.environment) && !h.openIn.has(loop.environment)) || c.status === 'regressed') {
            h.regressions += 1;
          }
          h.title = c.title;
          h.triage = c.triage;
          h.lastSeen = at;
          h.cycles += 1;
          h.openIn.add(loop.environment);
          h.loopIds.add(loop.id);
          h.envs.add(loop.environment);
          for (const t of c.tests) h.testSet.add(t);
        }
        const now = new Set(analysis.clusters.map((c) => c.fingerprint));
        const fixed = new Set(analysis.fixed);
        for (const h of byFp.values()) {
          if (now.has(h.fingerprint) || !h.openIn.has(loop.environment)) continue;
          h.openIn.delete(loop.environment);
          if (!fixed.has(h.fingerprint)) continue;
          const fixCommit = applied.get(h.fingerprint);
          h.fixes.push({ ...at, commit: fixCommit ?? cycle.commit, fixCommit: fixCommit !== undefined });
        }
      }
      applied.clear();
      for (const a of cycle.stages.integrate?.result?.applied ?? []) applied.set(a.fingerprint, a.commit);
    }
  }
  const out: ClusterHistory[] = [];
  for (const { loopIds, envs, testSet, openIn, ...h } of byFp.values()) {
    out.push({
      ...h,
      open: openIn.size > 0,
      loops: loopIds.size,
      environments: [...envs].sort(),
      tests: [...testSet].slice(0, TESTS_SHOWN),
      testCount: testSet.size,
    });
  }
  return out.sort((a, b) => Number(b.open) - Number(a.open) || b.lastSeen.at.localeCompare(a.lastSeen.at));
}
