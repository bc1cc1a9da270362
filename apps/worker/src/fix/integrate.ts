import { describeError, type FixResult, GreenloopError, type IntegrateResult, type Logger } from '@greenloop/core';
import { type PushTarget, pushBranch } from '../git/push.ts';
import { addBranchWorktree, git, resolveCommit } from '../git/repo.ts';

export interface IntegrateRequest {
  repo: string;
  /** The loop branch (must exist; the loop engine creates it at the loop's base). */
  branch: string;
  /** Where the loop branch's worktree lives; it is (re)created here and left checked out afterwards. */
  worktree: string;
  loopId: string;
  cycle: number;
  /** The cycle's fix results in the order they should land; only `accepted` ones with a commit are applied. */
  fixes: readonly FixResult[];
  /** Push the branch after integrating. The token goes in an HTTP header, never the URL, a log line or the result. */
  push?: PushTarget;
  /**
   * Re-does a fix whose cherry-pick conflicts: its fixer runs again from `base` (the loop branch with the
   * fixes integrated so far), told why, and the new result is picked in this same cycle. Without it a
   * conflicting fix is dropped and its cluster waits for the next cycle.
   */
  redo?: (fix: FixResult, base: string, conflict: string) => Promise<FixResult>;
  log: Logger;
}

/**
 * Cherry-picks each accepted fix commit onto the loop branch (`-x`, so the branch records where each came
 * from). A fix that conflicts is aborted, named with the fix it really conflicts with, and — with `redo` —
 * re-done on top of what is integrated so far and picked again; otherwise (or if the re-done fix fails or
 * conflicts again) it is dropped with that reason, and the rest go on.
 * Idempotent: a fix already on the branch (its commit, a `cherry picked from` line naming it, or an
 * equal patch-id) is reported as applied, not picked again.
 */
export async function integrateFixes(req: IntegrateRequest): Promise<IntegrateResult> {
  const log = req.log.child({ loopId: req.loopId, cycle: req.cycle, branch: req.branch });
  const exists = (await git(req.repo).raw(['branch', '--list', req.branch])).trim() !== '';
  if (!exists) throw new GreenloopError('BRANCH_MISSING', `the loop branch ${req.branch} does not exist`, { hint: 'the loop creates it when it starts' });
  // Recreated every time, so a run that crashed mid-cherry-pick leaves nothing half-applied behind.
  await addBranchWorktree(req.repo, req.worktree, req.branch, req.branch);

  const applied: IntegrateResult['applied'] = [];
  const dropped: IntegrateResult['dropped'] = [];
  const redone: NonNullable<IntegrateResult['redone']> = [];
  const picked: PickedFix[] = [];
  for (const fix of req.fixes) {
    if (fix.outcome !== 'accepted') continue;
    if (!fix.commit) {
      dropped.push({ fingerprint: fix.fingerprint, reason: 'accepted without a commit' });
      continue;
    }
    let present: string | undefined;
    try {
      present = await findOnBranch(req.worktree, fix.commit);
    } catch (err) {
      dropped.push({ fingerprint: fix.fingerprint, reason: `commit ${fix.commit} cannot be read: ${describeError(err).split('\n')[0]}` });
      continue;
    }
    if (present) {
      log.info({ fingerprint: fix.fingerprint, commit: present }, 'fix already on the branch');
      applied.push({ fingerprint: fix.fingerprint, commit: present });
      continue;
    }
    const conflict = await pick(req.worktree, req.branch, fix.fingerprint, fix.commit, picked);
    if (!conflict) {
      applied.push({ fingerprint: fix.fingerprint, commit: (picked.at(-1) as PickedFix).commit });
      log.info({ fingerprint: fix.fingerprint, commit: picked.at(-1)?.commit }, 'fix applied');
      continue;
    }
    if (!req.redo) {
      log.warn({ fingerprint: fix.fingerprint, reason: conflict }, 'fix dropped');
      dropped.push({ fingerprint: fix.fingerprint, reason: `${conflict}; its cluster gets a fixer on the new base next cycle` });
      continue;
    }
    const outcome = await redoAndPick(req, fix, conflict, picked, redone);
    if (outcome.applied) {
      applied.push({ fingerprint: fix.fingerprint, commit: outcome.applied });
      log.info({ fingerprint: fix.fingerprint, commit: outcome.applied }, 'fix re-done on top of the integrated fixes and applied');
    } else {
      dropped.push({ fingerprint: fix.fingerprint, reason: `${conflict}; re-done on top of the integrated fixes, ${outcome.why}` });
      log.warn({ fingerprint: fix.fingerprint, reason: outcome.why }, 're-done fix dropped');
    }
  }

  const commit = await resolveCommit(req.worktree, 'HEAD');
  const result: IntegrateResult = { commit, applied, dropped, ...(redone.length ? { redone } : {}) };
  // A failed push does not fail the cycle, whose commit is already on the local branch.
  if (req.push) result.pushed = (await pushBranch(req.worktree, 'HEAD', req.branch, req.push, log)).pushed;
  return result;
}

/** The branch commit that already carries `commit`'s change, if any. */
async function findOnBranch(worktree: string, commit: string): Promise<string | undefined> {
  const g = git(worktree);
  const full = await resolveCommit(worktree, commit);
  if ((await g.raw(['merge-base', 'HEAD', full])).trim() === full) return full;
  const picked = (await g.raw(['log', '--format=%H', '-F', `--grep=(cherry picked from commit ${full})`, 'HEAD'])).trim().split('\n')[0];
  if (picked) return picked;
  // git cherry marks with "-" a commit whose patch-id matches one on HEAD since their merge base.
  const cherry = (await g.raw(['cherry', 'HEAD', full, `${full}^`])).trim();
  if (cherry.startsWith('-')) return full;
  return undefined;
}

/**
 * Runs `req.redo` for a fix whose pick conflicted, from the branch as integrated so far, and picks the new
 * commit. Returns the branch commit that carries it, or why it could not land.
 */
async function redoAndPick(
  req: IntegrateRequest,
  fix: FixResult,
  conflict: string,
  picked: PickedFix[],
  redone: NonNullable<IntegrateResult['redone']>,
): Promise<{ applied: string; why?: undefined } | { applied?: undefined; why: string }> {
  const base = await resolveCommit(req.worktree, 'HEAD');
  req.log.info({ fingerprint: fix.fingerprint, base, conflict }, 'fix conflicts; re-doing it on top of the integrated fixes');
  let again: FixResult;
  try {
    again = await (req.redo as NonNullable<IntegrateRequest['redo']>)(fix, base, conflict);
  } catch (err) {
    again = { fingerprint: fix.fingerprint, outcome: 'failed', reason: describeError(err).split('\n')[0] ?? 'failed', attempts: 0 };
  }
  redone.push({
    fingerprint: fix.fingerprint,
    conflict,
    outcome: again.outcome,
    attempts: again.attempts,
    ...(again.commit ? { commit: again.commit } : {}),
    ...(again.spend ? { spend: again.spend } : {}),
  });
  if (again.outcome !== 'accepted' || !again.commit) return { why: `but the new attempt was ${again.outcome}${again.reason ? `: ${again.reason}` : ''}` };
  // A retried integrate step finds the re-done commit already picked.
  const present = await findOnBranch(req.worktree, again.commit).catch(() => undefined);
  if (present) return { applied: present };
  const second = await pick(req.worktree, req.branch, fix.fingerprint, again.commit, picked);
  return second ? { why: `and it conflicted again: ${second}` } : { applied: (picked.at(-1) as PickedFix).commit };
}

/** A fix picked onto the branch in this integration: its commit there and the files it changed. */
interface PickedFix {
  fingerprint: string;
  commit: string;
  files: string[];
}

/**
 * Cherry-picks `commit` onto HEAD. On success records it in `picked` and returns undefined; on failure
 * leaves HEAD as it was and returns why, naming the fix(es) it really conflicts with.
 */
async function pick(worktree: string, branch: string, fingerprint: string, commit: string, picked: PickedFix[]): Promise<string | undefined> {
  try {
    await git(worktree).raw(['cherry-pick', '-x', commit]);
  } catch (err) {
    return await abortPick(worktree, branch, commit, err, picked);
  }
  const head = await resolveCommit(worktree, 'HEAD');
  picked.push({ fingerprint, commit: head, files: await changedFiles(worktree, head) });
  return undefined;
}

/** Aborts a failed cherry-pick and says why it failed, naming the conflicting files and the fix that conflicts. */
async function abortPick(worktree: string, branch: string, commit: string, err: unknown, picked: readonly PickedFix[]): Promise<string> {
  const g = git(worktree);
  const conflicts = (await g.raw(['diff', '--name-only', '--diff-filter=U']).catch(() => ''))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  await g.raw(['cherry-pick', '--abort']).catch(() => undefined);
  await g.raw(['reset', '--hard', 'HEAD']).catch(() => undefined);
  if (conflicts.length === 0) {
    const message = describeError(err);
    if (/empty/i.test(message)) return 'its change is already on the branch (the cherry-pick came out empty)';
    return `cherry-pick failed: ${message.split('\n')[0]}`;
  }
  const candidates = picked.filter((p) => p.files.some((f) => conflicts.includes(f)));
  const owners = candidates.length > 1 ? await conflictingFixes(worktree, branch, commit, candidates) : candidates;
  const by = owners.length
    ? ` (changed by fix ${owners.map((o) => o.fingerprint).join(', ')} applied before it)`
    : ' (changed on the loop branch since the fix started)';
  return `conflicts in ${conflicts.join(', ')}${by}`;
}

/**
 * Of several fixes that touched the conflicting files, the ones the pick really conflicts with: it applies
 * on the branch as it was just before that fix, and not just after. The last one to touch a file is not
 * necessarily the one whose lines clash. Tried in the integration worktree, which is left back on the branch.
 */
async function conflictingFixes(worktree: string, branch: string, commit: string, candidates: readonly PickedFix[]): Promise<PickedFix[]> {
  const g = git(worktree);
  const applies = async (at: string) => {
    await g.raw(['checkout', '-q', '--detach', at]);
    try {
      await g.raw(['cherry-pick', '--no-commit', commit]);
      return true;
    } catch {
      return false;
    } finally {
      await g.raw(['cherry-pick', '--abort']).catch(() => undefined);
      await g.raw(['reset', '-q', '--hard', 'HEAD']).catch(() => undefined);
    }
  };
  const out: PickedFix[] = [];
  try {
    for (const c of candidates) if ((await applies(`${c.commit}^`)) && !(await applies(c.commit))) out.push(c);
  } finally {
    await g.raw(['checkout', '-q', branch]);
  }
  // A conflict only with their combination: name them all rather than none.
  return out.length ? out : [...candidates];
}

async function changedFiles(worktree: string, commit: string): Promise<string[]> {
  const out = await git(worktree).raw(['-c', 'core.quotePath=false', 'diff-tree', '--no-commit-id', '--name-only', '-r', '--root', commit]);
  return out.split('\n').filter(Boolean);
}
