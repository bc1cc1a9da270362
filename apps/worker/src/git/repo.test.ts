import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addDetachedWorktree, ensureBranch, resolveCommit } from './repo.ts';

const sh = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

describe('loop branch and deploy worktree', () => {
  let dir: string;
  let repo: string;
  let first: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gl-repo-'));
    repo = join(dir, 'repo');
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    writeFileSync(join(repo, 'a.txt'), 'one\n');
    sh(repo, 'add', '-A');
    sh(repo, 'commit', '-qm', 'one');
    first = sh(repo, 'rev-parse', 'HEAD');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the branch at base, and on a replay returns where the branch is now (not base)', async () => {
    expect(await ensureBranch(repo, 'greenloop/l1', first)).toBe(first);
    expect(sh(repo, 'rev-parse', 'greenloop/l1')).toBe(first);
    sh(repo, 'checkout', '-q', 'greenloop/l1');
    writeFileSync(join(repo, 'a.txt'), 'two\n');
    sh(repo, 'commit', '-qam', 'two');
    const moved = sh(repo, 'rev-parse', 'HEAD');
    expect(await ensureBranch(repo, 'greenloop/l1', first)).toBe(moved);
    expect(await ensureBranch(repo, 'greenloop/l2', 'main')).toBe(first);
  });

  it('says why when the base does not exist', async () => {
    await expect(ensureBranch(repo, 'greenloop/l3', 'no-such-ref')).rejects.toThrow(/no-such-ref/);
  });

  it('adds a worktree at a new path, and replaces one already there with the new commit', async () => {
    const wt = join(dir, 'worktrees', 'l1', 'deploy-c1');
    await addDetachedWorktree(repo, wt, first);
    expect(readFileSync(join(wt, 'a.txt'), 'utf8')).toBe('one\n');
    writeFileSync(join(repo, 'a.txt'), 'two\n');
    sh(repo, 'commit', '-qam', 'two');
    const second = await resolveCommit(repo, 'HEAD');
    writeFileSync(join(wt, 'stray.txt'), 'left by a service\n');
    await addDetachedWorktree(repo, wt, second);
    expect(readFileSync(join(wt, 'a.txt'), 'utf8')).toBe('two\n');
    expect(existsSync(join(wt, 'stray.txt'))).toBe(false);
    // The path was deleted behind git's back (still registered): adding it again works.
    rmSync(wt, { recursive: true, force: true });
    await addDetachedWorktree(repo, wt, first);
    expect(readFileSync(join(wt, 'a.txt'), 'utf8')).toBe('one\n');
  });
});
