// Retention against real Redis, git and files: what a finished loop leaves is pruned, nothing else.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoopRecord } from '@greenloop/core';
import { finishedLoop } from '@greenloop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { demoHarness } from '../../../test/demo-harness.ts';
import { mirrorPath } from './git/mirror.ts';
import { loopPaths } from './paths.ts';
import { loopKeys, pruneFinishedLoops } from './retention.ts';

const DAY = 86_400_000;

describe('retention (real Redis, git, files)', () => {
  const h = demoHarness();
  afterAll(async () => {
    await h.cleanup();
  });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: h.repo, encoding: 'utf8' });
  const branches = () =>
    git('for-each-ref', '--format=%(refname:short)', 'refs/heads/')
      .split('\n')
      .filter((b) => b.startsWith('greenloop'));

  async function seed(id: string, over: Partial<LoopRecord>, opts: { pushed?: boolean } = {}): Promise<void> {
    const loop = finishedLoop(id, 40, over);
    const created = loop.createdAt;
    await h.store.createLoop(loop);
    await h.store.saveCycle({ loopId: id, n: 1, commit: 'c0ffee', startedAt: created, failingTests: ['a › b'], stages: {} });
    await h.store.saveStage(id, 1, {
      stage: 'integrate',
      status: 'succeeded',
      startedAt: created,
      attempts: 1,
      result: { commit: 'c0ffee', applied: [], dropped: [], ...(opts.pushed ? { pushed: true } : {}) },
    });
    await h.store.putFixOutcome(id, 1, { fingerprint: 'abcdef12', outcome: 'accepted', attempts: 1 });
    await h.store.emit({ type: 'loop.finished', loopId: id, message: 'done' });
    await h.store.redis.set(h.store.key('notify', 'sent', id, 'loop-finished', 1, 'slack'), '1');
    const paths = loopPaths(h.env.home, id);
    mkdirSync(paths.cycleDir(1), { recursive: true });
    writeFileSync(join(paths.cycleDir(1), 'report.md'), 'x'.repeat(5000));
    mkdirSync(paths.worktrees, { recursive: true });
    git('branch', `greenloop/${id}`);
    git('branch', `greenloop-fix/${id}/1/abcdef12`);
  }

  it('prunes old finished loops (dry run first), keeps recent, unfinished and pushed ones', async () => {
    await seed('mold00-00000001', {});
    await seed('mold00-00000002', { state: 'stopped' }, { pushed: true });
    await seed('mnew00-00000003', { createdAt: new Date(Date.now() - 2 * DAY).toISOString() });
    await seed('mpend0-00000004', { teardown: 'pending' });
    await seed('mrun00-00000005', { state: 'running', finishedAt: undefined });
    // What a loop leaves when its checkouts are gone but not its directory, and one still in use.
    const emptyWorktrees = join(h.env.home, 'worktrees', 'mgone0-00000006');
    const emptyArtifacts = join(h.env.home, 'artifacts', 'mgone0-00000006');
    const inUse = loopPaths(h.env.home, 'mrun00-00000005').deployWorktree(1);
    for (const d of [emptyWorktrees, emptyArtifacts, inUse]) mkdirSync(d, { recursive: true });
    const before = await loopKeys(h.store, 'mold00-00000001');
    expect(before.length).toBeGreaterThanOrEqual(6);
    const opts = { store: h.store, repo: h.repo, home: h.env.home, retentionMs: 30 * DAY };

    const dry = await pruneFinishedLoops({ ...opts, dryRun: true });
    expect(dry.loops.map((l) => l.id).sort()).toEqual(['mold00-00000001', 'mold00-00000002']);
    expect(await loopKeys(h.store, 'mold00-00000001')).toEqual(before);
    expect(existsSync(loopPaths(h.env.home, 'mold00-00000001').artifacts)).toBe(true);
    expect(dry.emptyDirs).toEqual(expect.arrayContaining([emptyWorktrees, emptyArtifacts]));
    expect(existsSync(emptyWorktrees)).toBe(true);

    const done = await pruneFinishedLoops(opts);
    const first = done.loops.find((l) => l.id === 'mold00-00000001');
    expect(first).toMatchObject({ redisKeys: before.length, branches: ['greenloop-fix/mold00-00000001/1/abcdef12', 'greenloop/mold00-00000001'] });
    expect(first?.artifactBytes).toBe(5000);
    expect(first?.redisBytes).toBeGreaterThan(0);
    expect(done.loops.find((l) => l.id === 'mold00-00000002')?.keptBranch).toBe('greenloop/mold00-00000002');

    for (const id of ['mold00-00000001', 'mold00-00000002']) {
      expect(await loopKeys(h.store, id)).toEqual([]);
      expect(await h.store.getLoop(id)).toBeUndefined();
      expect(existsSync(loopPaths(h.env.home, id).artifacts)).toBe(false);
    }
    expect(await h.store.redis.zscore(h.store.key('loops'), 'mold00-00000001')).toBeNull();
    const left = branches();
    expect(left).not.toContain('greenloop/mold00-00000001');
    expect(left).not.toContain('greenloop-fix/mold00-00000002/1/abcdef12');
    expect(left).toContain('greenloop/mold00-00000002');
    for (const id of ['mnew00-00000003', 'mpend0-00000004', 'mrun00-00000005']) {
      expect(await h.store.getLoop(id), id).toBeDefined();
      expect(left).toContain(`greenloop/${id}`);
    }
    expect(done.emptyDirs).toEqual(expect.arrayContaining([emptyWorktrees, emptyArtifacts]));
    expect(done.emptyDirs).not.toContain(loopPaths(h.env.home, 'mrun00-00000005').worktrees);
    expect([emptyWorktrees, emptyArtifacts].filter((d) => existsSync(d))).toEqual([]);
    expect(existsSync(inUse)).toBe(true);
    // A second pass finds nothing more to do.
    expect((await pruneFinishedLoops(opts)).loops).toEqual([]);
  });

  it("prunes a project loop's branches from the worker's mirror of the project (pushed or not), not from GREENLOOP_REPO", async () => {
    const mirror = mirrorPath(h.env.home, 'shop');
    execFileSync('git', ['clone', '-q', '--bare', h.repo, mirror]);
    const id = 'mproj0-00000006';
    await seed(id, { environment: 'shop/demo', source: { project: 'shop', remote: '/srv/shop.git', baseBranch: 'main' } }, { pushed: true });
    execFileSync('git', ['-C', mirror, 'branch', `greenloop/${id}`, 'main']);
    const done = await pruneFinishedLoops({ store: h.store, repo: h.repo, home: h.env.home, retentionMs: 30 * DAY });
    expect(done.loops.find((l) => l.id === id)).toMatchObject({ branches: [`greenloop/${id}`] });
    expect(execFileSync('git', ['-C', mirror, 'for-each-ref', `refs/heads/greenloop/${id}`], { encoding: 'utf8' })).toBe('');
    // The installation's repository had branches of that name too (seeded there): they are not the project's.
    expect(branches()).toContain(`greenloop/${id}`);
  });
});
