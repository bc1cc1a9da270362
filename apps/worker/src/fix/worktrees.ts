import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { git, removeWorktree } from '../git/repo.ts';

/** Paths of the worktrees that have `branch` checked out (from `git worktree list --porcelain`). */
export async function worktreesOnBranch(repo: string, branch: string): Promise<string[]> {
  const out = await git(repo).raw(['worktree', 'list', '--porcelain']);
  const paths: string[] = [];
  let current: string | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('worktree ')) current = line.slice('worktree '.length);
    else if (line === `branch refs/heads/${branch}` && current) paths.push(current);
  }
  return paths;
}

/**
 * A fresh worktree at `path` with `branch` checked out and reset to `commit`, whatever existed before:
 * an earlier worktree at the same path, or a stale one elsewhere holding the branch (a crashed run), is
 * removed first, because git refuses to reset a branch that another worktree has checked out.
 */
export async function addResetBranchWorktree(repo: string, path: string, branch: string, commit: string): Promise<void> {
  const target = resolve(path);
  await removeWorktree(repo, target);
  for (const other of await worktreesOnBranch(repo, branch)) {
    if (resolve(other) !== target) await removeWorktree(repo, other);
  }
  await mkdir(dirname(target), { recursive: true });
  await git(repo).raw(['worktree', 'add', '--force', '-B', branch, target, commit]);
}
