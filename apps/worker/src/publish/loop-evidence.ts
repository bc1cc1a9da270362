import { isEmptySpend, type LoopRecord, type LoopStore, type Spend, type StopReason, type TestTotals } from '@greenloop/core';

/**
 * What a pull request says about a loop, gathered from its records: each cycle's pass rate and
 * realness, the fixes that landed on the branch with their commits, and the clusters still failing at
 * the end with why no fix landed. Plain data; `pull-request-body.ts` renders it.
 */

export interface CycleEvidence {
  n: number;
  commit: string;
  totals?: TestTotals;
  green?: boolean;
  real?: boolean;
  /** Failure clusters in this cycle. */
  clusters: number;
  spend?: Spend;
}

export interface FixEvidence {
  fingerprint: string;
  title: string;
  /** The cycle whose fixer made it. */
  cycle: number;
  /** The commit on the loop branch. */
  commit: string;
  /** Whether its cluster still fails in the last analyzed cycle. */
  stillFailing: boolean;
}

export interface OpenClusterEvidence {
  fingerprint: string;
  title: string;
  triage: string;
  tests: string[];
  /** Why no fix for it landed. */
  reason: string;
}

export interface LoopEvidence {
  loopId: string;
  environment: string;
  state: LoopRecord['state'];
  stop?: StopReason;
  branch: string;
  baseCommit: string;
  headCommit: string;
  cycles: CycleEvidence[];
  fixes: FixEvidence[];
  leftToPerson: OpenClusterEvidence[];
  /** Realness of the last analyzed cycle: was the run a real run of the suite? */
  realness?: { real: boolean; reasons: string[] };
  spend?: Spend;
}

export async function gatherLoopEvidence(store: LoopStore, loop: LoopRecord): Promise<LoopEvidence> {
  const cycles: CycleEvidence[] = [];
  const fixes: Omit<FixEvidence, 'stillFailing'>[] = [];
  let last:
    | { n: number; failing: { fingerprint: string; title: string; triage: string; tests: string[] }[]; realness: { real: boolean; reasons: string[] } }
    | undefined;
  for (let n = 1; n <= loop.cycle; n++) {
    const cycle = await store.getCycle(loop.id, n);
    if (!cycle) continue;
    const analyze = (await store.getStage(loop.id, n, 'analyze'))?.result;
    const spend = isEmptySpend(cycle.spend) ? undefined : cycle.spend;
    cycles.push({
      n,
      commit: cycle.commit,
      clusters: analyze?.clusters.length ?? 0,
      ...(cycle.totals ? { totals: cycle.totals } : {}),
      ...(cycle.green !== undefined ? { green: cycle.green } : {}),
      ...(analyze ? { real: analyze.realness.real } : {}),
      ...(spend ? { spend } : {}),
    });
    if (analyze) last = { n, failing: analyze.clusters, realness: analyze.realness };
    const titles = new Map(analyze?.clusters.map((c) => [c.fingerprint, c.title]) ?? []);
    for (const a of (await store.getStage(loop.id, n, 'integrate'))?.result?.applied ?? []) {
      fixes.push({ fingerprint: a.fingerprint, title: titles.get(a.fingerprint) ?? a.fingerprint, cycle: n, commit: a.commit });
    }
  }
  const failingAtEnd = new Set(last?.failing.map((c) => c.fingerprint) ?? []);
  const leftToPerson: OpenClusterEvidence[] = [];
  for (const c of last?.failing ?? []) {
    leftToPerson.push({
      fingerprint: c.fingerprint,
      title: c.title,
      triage: c.triage,
      tests: c.tests,
      reason: await whyOpen(store, loop, last?.n ?? 0, c.fingerprint),
    });
  }
  const spend = isEmptySpend(loop.spend) ? undefined : loop.spend;
  return {
    loopId: loop.id,
    environment: loop.environment,
    state: loop.state,
    ...(loop.stop ? { stop: loop.stop } : {}),
    branch: loop.branch ?? `greenloop/${loop.id}`,
    baseCommit: loop.baseCommit ?? '',
    headCommit: loop.commit ?? '',
    cycles,
    fixes: fixes.map((f) => ({ ...f, stillFailing: failingAtEnd.has(f.fingerprint) })),
    leftToPerson,
    ...(last ? { realness: last.realness } : {}),
    ...(spend ? { spend } : {}),
  };
}

/**
 * Why a cluster still failing in cycle `n` has no fix that worked: the latest cycle that planned for it
 * says — the fix plan's skip (skipTriage, attempts spent), the fixer's outcome, a dropped pick, or a fix
 * that landed and did not repair it; or the loop stopped before any fixer ran for it.
 */
async function whyOpen(store: LoopStore, loop: LoopRecord, n: number, fingerprint: string): Promise<string> {
  for (let m = n; m >= 1; m--) {
    const when = m === n ? '' : ` (cycle ${m})`;
    const fix = (await store.getStage(loop.id, m, 'fix'))?.result;
    const skipped = fix?.skipped.find((s) => s.fingerprint === fingerprint);
    if (skipped) return `${skipped.reason}${when}`;
    const result = fix?.results.find((r) => r.fingerprint === fingerprint);
    if (!result) continue;
    if (result.outcome !== 'accepted') return `the fixer's last attempt was ${result.outcome}${result.reason ? `: ${result.reason}` : ''}${when}`;
    const dropped = (await store.getStage(loop.id, m, 'integrate'))?.result?.dropped.find((d) => d.fingerprint === fingerprint);
    if (dropped) return `its fix was dropped${when}: ${dropped.reason}`;
    return m === n ? 'its fix landed after the last test run; no cycle tested it' : `its fix${when} landed, and the cluster still fails`;
  }
  return loop.stop ? `the loop stopped (${loop.stop.rule}) before a fixer ran for it` : 'no fixer ran for it';
}
