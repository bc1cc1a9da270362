import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describeError, type FixResult, GreenloopError, type IntegrateResult, type Logger } from '@greenloop/core';
import { addBranchWorktree, GIT_SAFE_ARGS, git, resolveCommit } from '../git/repo.ts';

const execFileAsync = promisify(execFile);

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
  push?: { remote: string; token?: string };
  log: Logger;
}

/**
 * Cherry-picks each accepted fix commit onto the loop branch (`-x`, so the branch records where each came
 * from). A fix that conflicts is aborted and dropped with the conflicting files as its reason, and the
 * rest go on; a dropped cluster still fails next cycle and gets a fresh fixer on the new base.
 * Idempotent: a fix already on the branch (its commit, a `cherry picked from` line naming it, or an
 * equal patch-id) is reported as applied, not picked again.
 */
export async function integrateFixes(req: IntegrateRequest): Promise<IntegrateResult> {
  const log = req.log.child({ loopId: req.loopId, cycle: req.cycle, branch: req.branch });
  const exists = (await git(req.repo).raw(['branch', '--list', req.branch])).trim() !== '';
  if (!exists) throw new GreenloopError('BRANCH_MISSING', `the loop branch ${req.branch} does not exist`, { hint: 'the loop creates it when it starts' });
  // Recreated every time, so a run that crashed mid-cherry-pick leaves nothing half-applied behind.
  await addBranchWorktree(req.repo, req.worktree, req.branch, req.branch);
  const g = git(req.worktree);

  const applied: IntegrateResult['applied'] = [];
  const dropped: IntegrateResult['dropped'] = [];
  const touchedBy = new Map<string, string>();
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
    try {
      await g.raw(['cherry-pick', '-x', fix.commit]);
    } catch (err) {
      const reason = await abortPick(req.worktree, err, touchedBy);
      log.warn({ fingerprint: fix.fingerprint, reason }, 'fix dropped');
      dropped.push({ fingerprint: fix.fingerprint, reason });
      continue;
    }
    const head = await resolveCommit(req.worktree, 'HEAD');
    for (const file of await changedFiles(req.worktree, head)) touchedBy.set(file, fix.fingerprint);
    applied.push({ fingerprint: fix.fingerprint, commit: head });
    log.info({ fingerprint: fix.fingerprint, commit: head }, 'fix applied');
  }

  const commit = await resolveCommit(req.worktree, 'HEAD');
  const result: IntegrateResult = { commit, applied, dropped };
  if (req.push) result.pushed = await pushBranch(req.worktree, req.branch, req.push, log);
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

/** Aborts a failed cherry-pick and says why it failed, naming the conflicting files and who changed them. */
async function abortPick(worktree: string, err: unknown, touchedBy: ReadonlyMap<string, string>): Promise<string> {
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
  const owners = [...new Set(conflicts.flatMap((f) => (touchedBy.has(f) ? [touchedBy.get(f) as string] : [])))];
  const by = owners.length ? ` (changed by fix ${owners.join(', ')} applied before it)` : ' (changed on the loop branch since the fix started)';
  return `conflicts in ${conflicts.join(', ')}${by}; it will be retried on the new base`;
}

async function changedFiles(worktree: string, commit: string): Promise<string[]> {
  const out = await git(worktree).raw(['-c', 'core.quotePath=false', 'diff-tree', '--no-commit-id', '--name-only', '-r', '--root', commit]);
  return out.split('\n').filter(Boolean);
}

/**
 * Pushes HEAD to the branch on the remote. The token travels as `http.extraHeader` through git's
 * GIT_CONFIG_* environment variables: never in the URL, and not in argv either, where any local user
 * could read it from the process list. A failed push is logged (token scrubbed) and reported as
 * `pushed: false`; it does not fail the cycle, whose commit is already on the local branch.
 */
async function pushBranch(worktree: string, branch: string, push: { remote: string; token?: string }, log: Logger): Promise<boolean> {
  if (push.remote.startsWith('-')) {
    log.warn({ remote: push.remote }, 'not pushing: the remote name starts with "-"');
    return false;
  }
  // git needs greenloop's own PATH, HOME and credential settings; only the header is added.
  const env: Record<string, string | undefined> = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
  if (push.token) {
    const i = Number.parseInt(env.GIT_CONFIG_COUNT ?? '0', 10) || 0;
    env.GIT_CONFIG_COUNT = String(i + 1);
    env[`GIT_CONFIG_KEY_${i}`] = 'http.extraHeader';
    env[`GIT_CONFIG_VALUE_${i}`] = `Authorization: Bearer ${push.token}`;
  }
  const scrub = (s: string) => (push.token ? s.split(push.token).join('[redacted]') : s);
  try {
    // No pre-push hook: it would run with greenloop's environment and the token.
    await execFileAsync('git', [...GIT_SAFE_ARGS, 'push', '--porcelain', push.remote, `HEAD:refs/heads/${branch}`], { cwd: worktree, env, timeout: 300_000 });
    log.info({ remote: push.remote }, 'branch pushed');
    return true;
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    log.warn({ remote: push.remote, error: scrub((e.stderr || e.message || String(err)).trim()).slice(-2000) }, 'push failed');
    return false;
  }
}
