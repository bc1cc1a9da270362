import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GreenloopError } from '@greenloop/core';
import { simpleGit, type SimpleGit } from 'simple-git';

/**
 * Git operations on the target repository. The user's own checkout is never modified: every loop works
 * on its branch `greenloop/<loop>` through worktrees under greenloop's home directory.
 */

/** Commits made by greenloop carry this identity unless the repository config sets one. */
export const GIT_IDENTITY = ['-c', 'user.name=greenloop', '-c', 'user.email=greenloop@localhost'];

export function git(dir: string): SimpleGit {
  // The environment of git child processes is inherited; simple-git's unsafe-option guards stay on.
  return simpleGit({ baseDir: dir, config: ['user.name=greenloop', 'user.email=greenloop@localhost'] });
}

export async function assertRepo(dir: string): Promise<void> {
  if (!existsSync(dir) || !(await git(dir).checkIsRepo().catch(() => false))) {
    throw new GreenloopError('REPO_INVALID', `${dir} is not a git repository`, { hint: 'set GREENLOOP_REPO to the repository that holds greenloop.yaml' });
  }
}

export async function resolveCommit(dir: string, ref: string): Promise<string> {
  return (await git(dir).revparse([`${ref}^{commit}`])).trim();
}

/** Creates the loop branch at `base` if it does not exist; returns the branch's head commit. */
export async function ensureBranch(dir: string, branch: string, base: string): Promise<string> {
  const g = git(dir);
  const exists = (await g.raw(['branch', '--list', branch])).trim() !== '';
  if (!exists) await g.raw(['branch', branch, base]);
  return await resolveCommit(dir, branch);
}

/** A detached worktree at `commit` (idempotent: an existing one at that path is replaced). */
export async function addDetachedWorktree(repo: string, path: string, commit: string): Promise<void> {
  await removeWorktree(repo, path);
  await mkdir(dirname(path), { recursive: true });
  await git(repo).raw(['worktree', 'add', '--detach', '--force', path, commit]);
}

/** A worktree with `branch` checked out, creating the branch at `base` when missing. */
export async function addBranchWorktree(repo: string, path: string, branch: string, base: string): Promise<void> {
  await removeWorktree(repo, path);
  await mkdir(dirname(path), { recursive: true });
  const exists = (await git(repo).raw(['branch', '--list', branch])).trim() !== '';
  await git(repo).raw(exists ? ['worktree', 'add', '--force', path, branch] : ['worktree', 'add', '--force', '-b', branch, path, base]);
}

/** Removes a worktree and its directory; safe to call when it does not exist. */
export async function removeWorktree(repo: string, path: string): Promise<void> {
  if (existsSync(path)) {
    await git(repo)
      .raw(['worktree', 'remove', '--force', path])
      .catch(() => undefined);
    await rm(path, { recursive: true, force: true });
  }
  await git(repo)
    .raw(['worktree', 'prune'])
    .catch(() => undefined);
}
