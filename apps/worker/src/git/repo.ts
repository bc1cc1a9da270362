import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { GreenloopError } from '@greenloop/core';
import { type SimpleGit, simpleGit } from 'simple-git';

/**
 * Git operations on the target repository. The user's own checkout is never modified: every loop works
 * on its branch `greenloop/<loop>` through worktrees under greenloop's home directory; fixers work in
 * clones (`cloneForFix`), whose .git greenloop never reads.
 */

/**
 * Config on every git command greenloop runs: no hooks (a planted .git/hooks/post-checkout never runs),
 * no fsmonitor program, no `ext::` transport, file transport only when greenloop itself asks for it.
 */
export const GIT_SAFE_CONFIG = ['core.hooksPath=/dev/null', 'core.fsmonitor=false', 'protocol.ext.allow=never', 'protocol.file.allow=user'];
/** `GIT_SAFE_CONFIG` as `-c` arguments. */
export const GIT_SAFE_ARGS = GIT_SAFE_CONFIG.flatMap((c) => ['-c', c]);

/** Commits made by greenloop carry this identity unless the repository config sets one. */
export const GIT_IDENTITY = ['-c', 'user.name=greenloop', '-c', 'user.email=greenloop@localhost'];

const execFileAsync = promisify(execFile);

/**
 * Plain `git <args>` for the loop's hot path (branch and worktree bookkeeping in every cycle). simple-git
 * waits ~50ms after a command that prints nothing (measured: `git branch --list x` 54ms through simple-git,
 * 2ms direct), which added ~150ms to every deploy; argv only, never a shell.
 */
export async function gitExec(dir: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', [...GIT_SAFE_ARGS, '-C', dir, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export function git(dir: string): SimpleGit {
  // The environment of git child processes is inherited; simple-git's unsafe-option guards stay on except
  // for the three settings greenloop itself pins (to safe values).
  return simpleGit({
    baseDir: dir,
    config: ['user.name=greenloop', 'user.email=greenloop@localhost', ...GIT_SAFE_CONFIG],
    unsafe: { allowUnsafeHooksPath: true, allowUnsafeFsMonitor: true, allowUnsafeProtocolOverride: true },
  });
}

/**
 * A fixer's checkout at `dir`: a clone of `repo` sharing its objects (read-only to the fixer: the
 * sandbox binds them read-only), with `branch` checked out at `commit`. The fixer may do anything to the
 * clone's .git; greenloop reads only its files (`gitOnFiles`). The fix branch in `repo` is reset to
 * `commit` too (it holds the accepted fix later). Returns the object directories the clone borrows.
 */
export async function cloneForFix(repo: string, dir: string, branch: string, commit: string): Promise<string[]> {
  await withWorktreeLock(repo, async () => {
    // A crashed run of an older greenloop may hold the branch in a worktree; git refuses to move it then.
    for (const other of await worktreesOnBranch(repo, branch)) await dropWorktree(repo, other);
    await gitExec(repo, ['branch', '-f', branch, commit]);
  });
  await removeCheckout(repo, dir);
  await mkdir(dirname(dir), { recursive: true });
  await gitExec(dirname(dir), ['clone', '-q', '--shared', '--no-checkout', '--', resolve(repo), dir]);
  await gitExec(dir, ['checkout', '-q', '-B', branch, commit]);
  const alternates = await readFile(join(dir, '.git', 'objects', 'info', 'alternates'), 'utf8').catch(() => '');
  return alternates
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => resolve(join(dir, '.git', 'objects'), l));
}

/** Removes a fixer's clone (or a worktree an older greenloop left at that path). */
export async function removeCheckout(repo: string, dir: string): Promise<void> {
  // Deleted before git looks: git must not read a .git file the fixer may have pointed elsewhere.
  await rm(dir, { recursive: true, force: true });
  await withWorktreeLock(repo, () => gitExec(repo, ['worktree', 'prune']).then(() => undefined)).catch(() => undefined);
}

/**
 * Runs git on `repo`'s object database and refs with `files` as the work tree and a private index: the
 * files are read (hashed) as plain data; nothing under `files/.git` (config, hooks, attributes drivers)
 * is ever consulted.
 */
export function gitOnFiles(repo: string, files: string, indexFile: string): (args: readonly string[]) => Promise<string> {
  let gitDirOf: Promise<string> | undefined;
  return async (args) => {
    gitDirOf ??= gitExec(repo, ['rev-parse', '--absolute-git-dir']).then((out) => out.trim());
    const gitDir = await gitDirOf;
    const env = { ...process.env, GIT_DIR: gitDir, GIT_WORK_TREE: files, GIT_INDEX_FILE: indexFile };
    const { stdout } = await execFileAsync('git', [...GIT_SAFE_ARGS, ...args], { cwd: files, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  };
}

export async function assertRepo(dir: string): Promise<void> {
  if (
    !existsSync(dir) ||
    !(await git(dir)
      .checkIsRepo()
      .catch(() => false))
  ) {
    throw new GreenloopError('REPO_INVALID', `${dir} is not a git repository`, { hint: 'set GREENLOOP_REPO to the repository that holds greenloop.yaml' });
  }
}

export async function resolveCommit(dir: string, ref: string): Promise<string> {
  return (await gitExec(dir, ['rev-parse', `${ref}^{commit}`])).trim();
}

const FULL_HASH = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Creates the loop branch at `base` if it does not exist; returns the branch's head commit. */
export async function ensureBranch(dir: string, branch: string, base: string): Promise<string> {
  // One git call for a new loop, on the critical path before its first deploy (was three: list, branch,
  // rev-parse; 53 → 17 ms median on a loaded 2-core machine). Only a replay finds the branch and reads its head.
  try {
    await gitExec(dir, ['branch', '--no-track', branch, base]);
  } catch (err) {
    if (!/already exists/.test(err instanceof Error ? err.message : String(err))) throw err;
    return await resolveCommit(dir, branch);
  }
  return FULL_HASH.test(base) ? base : await resolveCommit(dir, branch);
}

/** A detached worktree at `commit` (idempotent: an existing one at that path is replaced). */
export async function addDetachedWorktree(repo: string, path: string, commit: string): Promise<void> {
  await withWorktreeLock(repo, async () => {
    // A new path needs no prune first (`add --force` takes a path still registered but gone): one git
    // process less before every deploy, and one prune fewer racing other workers' adds.
    if (existsSync(path)) await dropWorktree(repo, path);
    await worktreeAdd(repo, path, ['--detach', '--force', path, commit]);
  });
}

/** A worktree with `branch` checked out, creating the branch at `base` when missing. */
export async function addBranchWorktree(repo: string, path: string, branch: string, base: string): Promise<void> {
  await withWorktreeLock(repo, async () => {
    await dropWorktree(repo, path);
    const exists = (await gitExec(repo, ['branch', '--list', branch])).trim() !== '';
    await worktreeAdd(repo, path, exists ? ['--force', path, branch] : ['--force', '-b', branch, path, base]);
  });
}

/** Paths of the worktrees that have `branch` checked out (from `git worktree list --porcelain`). */
export async function worktreesOnBranch(repo: string, branch: string): Promise<string[]> {
  const out = await gitExec(repo, ['worktree', 'list', '--porcelain']);
  const paths: string[] = [];
  let current: string | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('worktree ')) current = line.slice('worktree '.length);
    else if (line === `branch refs/heads/${branch}` && current) paths.push(current);
  }
  return paths;
}

/** Removes a worktree and its directory; safe to call when it does not exist. */
export async function removeWorktree(repo: string, path: string): Promise<void> {
  await withWorktreeLock(repo, () => dropWorktree(repo, path));
}

async function dropWorktree(repo: string, path: string): Promise<void> {
  if (existsSync(path)) {
    // Deleted first and pruned after: `worktree remove` would read the worktree's .git file and index,
    // which a sandboxed test or service could have written.
    await rm(path, { recursive: true, force: true });
  }
  await gitExec(repo, ['worktree', 'prune']).catch(() => undefined);
}

// Concurrent `git worktree add` calls on one repository race: one reads the other's half-written admin
// directory and fails ("fatal: failed to read .git/worktrees/<name>/commondir: Success", git 2.39, two
// fixers starting at once on a loaded 2-core machine). Worktree changes are serialized per repository in
// this process; a failure that still looks like that race (another worker process) is retried.
// Also "could not open '.git/worktrees/deploy-c17/locked' for writing": another process's `worktree prune`
// removed the admin directory this add had just made (bench/scale-bench.ts, 10 loops on 2 workers).
const WORKTREE_RACE = /failed to read .*worktrees|could not open .*worktrees|could not lock|cannot lock ref|Unable to create .*\.lock/i;

function withWorktreeLock<T>(repo: string, fn: () => Promise<T>): Promise<T> {
  return serialized(`worktrees:${resolve(repo)}`, fn);
}

const locks = new Map<string, Promise<void>>();

/** Runs `fn` after every earlier call with the same `key` in this process has settled (a per-key mutex). */
export async function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

async function worktreeAdd(repo: string, path: string, args: string[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      await gitExec(repo, ['worktree', 'add', ...args]);
      return;
    } catch (err) {
      if (attempt >= 3 || !WORKTREE_RACE.test(err instanceof Error ? err.message : String(err))) throw err;
      await dropWorktree(repo, path);
      await new Promise((r) => setTimeout(r, 150 * attempt));
    }
  }
}
