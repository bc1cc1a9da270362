import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../git/repo.ts';
import { integrateFixes } from './integrate.ts';
import { runFix } from './run-fix.ts';
import { editingFixer, fixerConfig, fixRequest, gitHttpServer, makeRepo, memoryLogger, type TestRepo, testCluster } from './testing.ts';

let t: TestRepo;
beforeEach(async () => {
  t = await makeRepo();
});
afterEach(async () => {
  await t.cleanup();
});

const TOKEN = 'glpat-s3cr3t-token-0123456789';

function integrateRequest(fixes: Parameters<typeof integrateFixes>[0]['fixes'], log: Parameters<typeof integrateFixes>[0]['log'], cycle = 1) {
  return { repo: t.repo, branch: t.loopBranch, worktree: join(t.root, 'worktrees', 'integrate'), loopId: 'loop-test1', cycle, fixes, log };
}

async function fixWith(fp: string, files: Record<string, string>, base = t.base, cycle = 1) {
  const { log } = memoryLogger();
  const fixer = await editingFixer(t.root, `fixer-${fp}-${cycle}`, { write: files });
  return await runFix(await fixRequest(t, testCluster(fp), fixerConfig(fixer), log, { baseCommit: base, cycle }));
}

async function show(ref: string, path: string): Promise<string> {
  return await git(t.repo).show([`${ref}:${path}`]);
}

async function commitCount(ref: string): Promise<number> {
  return Number((await git(t.repo).raw(['rev-list', '--count', ref])).trim());
}

describe('integrateFixes', () => {
  it('lands two fixes that edit different files (fixers run in parallel)', async () => {
    const [one, two] = await Promise.all([
      fixWith('aaaa01', { 'src/a.js': 'export const a = () => 2;\n' }),
      fixWith('bbbb02', { 'src/b.js': 'export const b = () => 2;\n' }),
    ]);
    expect(one.outcome).toBe('accepted');
    expect(two.outcome).toBe('accepted');
    const { log } = memoryLogger();
    const result = await integrateFixes(integrateRequest([one, two], log));

    expect(result.dropped).toEqual([]);
    expect(result.applied.map((a) => a.fingerprint)).toEqual(['aaaa01', 'bbbb02']);
    expect((await git(t.repo).revparse([t.loopBranch])).trim()).toBe(result.commit);
    expect(result.applied[1]?.commit).toBe(result.commit);
    expect(await show(result.commit, 'src/a.js')).toBe('export const a = () => 2;\n');
    expect(await show(result.commit, 'src/b.js')).toBe('export const b = () => 2;\n');
    expect(await commitCount(result.commit)).toBe(3);
    const message = await git(t.repo).raw(['log', '-1', '--format=%B', result.commit]);
    expect(message).toContain(`(cherry picked from commit ${two.commit})`);
    expect(message).toContain('Greenloop-Cluster: bbbb02');
    expect(result.pushed).toBeUndefined();
    // The user's checkout is untouched.
    expect((await git(t.repo).revparse(['HEAD'])).trim()).toBe(t.base);
    expect((await git(t.repo).raw(['status', '--porcelain'])).trim()).toBe('');
  });

  it('drops a conflicting fix with the conflicting files, and a rerun on the new base lands it', async () => {
    const [one, two] = await Promise.all([
      fixWith('aaaa11', { 'src/shared.js': 'export const shared = () => 2;\n' }),
      fixWith('bbbb12', { 'src/shared.js': 'export const shared = () => 3;\n' }),
    ]);
    const { log } = memoryLogger();
    const first = await integrateFixes(integrateRequest([one, two], log));
    expect(first.applied.map((a) => a.fingerprint)).toEqual(['aaaa11']);
    expect(first.dropped).toHaveLength(1);
    expect(first.dropped[0]?.fingerprint).toBe('bbbb12');
    expect(first.dropped[0]?.reason).toContain('conflicts in src/shared.js');
    expect(first.dropped[0]?.reason).toContain('changed by fix aaaa11');
    expect(await show(first.commit, 'src/shared.js')).toBe('export const shared = () => 2;\n');
    expect(await commitCount(first.commit)).toBe(2);

    // Next cycle: the still-failing cluster gets a fresh fixer on the new base, which now integrates cleanly.
    const retry = await fixWith('bbbb12', { 'src/shared.js': 'export const shared = () => 3;\n' }, first.commit, 2);
    expect(retry.outcome).toBe('accepted');
    const second = await integrateFixes(integrateRequest([retry], log, 2));
    expect(second.dropped).toEqual([]);
    expect(second.applied.map((a) => a.fingerprint)).toEqual(['bbbb12']);
    expect(await show(second.commit, 'src/shared.js')).toBe('export const shared = () => 3;\n');
    expect(await commitCount(second.commit)).toBe(3);
  });

  it('is idempotent: a rerun applies nothing twice, even after a crash mid-cherry-pick', async () => {
    const [one, two, clash] = await Promise.all([
      fixWith('aaaa21', { 'src/a.js': 'export const a = () => 2;\n' }),
      fixWith('bbbb22', { 'src/b.js': 'export const b = () => 2;\n' }),
      fixWith('cccc23', { 'src/a.js': 'export const a = () => 9;\n' }),
    ]);
    const { log } = memoryLogger();
    const req = integrateRequest([one, two], log);
    const first = await integrateFixes(req);

    // Simulate a worker that died halfway through a cherry-pick in the integrate worktree.
    await git(req.worktree)
      .raw(['cherry-pick', clash.commit ?? ''])
      .catch(() => undefined);
    expect((await git(req.worktree).raw(['status', '--porcelain'])).trim()).not.toBe('');

    const again = await integrateFixes(req);
    expect(again.commit).toBe(first.commit);
    expect(again.applied).toEqual(first.applied);
    expect(again.dropped).toEqual([]);
    expect(await commitCount(t.loopBranch)).toBe(3);
    expect((await git(req.worktree).raw(['status', '--porcelain'])).trim()).toBe('');
  });

  it('recognises a fix already on the branch by patch-id (picked without -x)', async () => {
    const fix = await fixWith('aaaa31', { 'src/a.js': 'export const a = () => 2;\n' });
    const wt = join(t.root, 'manual');
    await git(t.repo).raw(['worktree', 'add', '-q', wt, t.loopBranch]);
    await git(wt).raw(['cherry-pick', fix.commit ?? '']);
    const manual = (await git(wt).revparse(['HEAD'])).trim();
    await git(t.repo).raw(['worktree', 'remove', '--force', wt]);

    const { log } = memoryLogger();
    const result = await integrateFixes(integrateRequest([fix], log));
    expect(result.applied).toEqual([{ fingerprint: 'aaaa31', commit: fix.commit }]);
    expect(result.commit).toBe(manual);
    expect(await commitCount(t.loopBranch)).toBe(2);
  });

  it('ignores fixes that were not accepted and drops accepted ones without a readable commit', async () => {
    const { log } = memoryLogger();
    const result = await integrateFixes(
      integrateRequest(
        [
          { fingerprint: 'x1', outcome: 'rejected', reason: 'nope', attempts: 1 },
          { fingerprint: 'x2', outcome: 'accepted', commit: 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef', attempts: 1 },
        ],
        log,
      ),
    );
    expect(result.commit).toBe(t.base);
    expect(result.applied).toEqual([]);
    expect(result.dropped.map((d) => d.fingerprint)).toEqual(['x2']);
    expect(result.dropped[0]?.reason).toContain('cannot be read');
  });

  it('fails clearly when the loop branch does not exist', async () => {
    const { log } = memoryLogger();
    await expect(integrateFixes({ ...integrateRequest([], log), branch: 'greenloop/missing' })).rejects.toThrow(/greenloop\/missing does not exist/);
  });

  it('pushes to a local bare remote without the token reaching the result or the logs', async () => {
    const bare = join(t.root, 'remote.git');
    await mkdir(bare);
    await git(bare).raw(['init', '-q', '--bare']);
    const fix = await fixWith('aaaa41', { 'src/a.js': 'export const a = () => 2;\n' });
    const { log, lines } = memoryLogger();
    const result = await integrateFixes({ ...integrateRequest([fix], log), push: { remote: bare, token: TOKEN } });
    expect(result.pushed).toBe(true);
    expect((await git(bare).revparse([t.loopBranch])).trim()).toBe(result.commit);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(TOKEN);
    // Nor in the repository's config, where a `-c`-less implementation might have stored it.
    expect(await git(t.repo).raw(['config', '--list', '--local'])).not.toContain(TOKEN);
  });

  it('pushes over HTTP with the token as a Bearer header, never in the URL', async () => {
    const root = join(t.root, 'http-root');
    await mkdir(join(root, 'target.git'), { recursive: true });
    await git(join(root, 'target.git')).raw(['init', '-q', '--bare']);
    const server = await gitHttpServer(root, TOKEN);
    try {
      const fix = await fixWith('aaaa51', { 'src/a.js': 'export const a = () => 2;\n' });
      const remote = `${server.url}/target.git`;

      const { log, lines } = memoryLogger();
      const ok = await integrateFixes({ ...integrateRequest([fix], log), push: { remote, token: TOKEN } });
      expect(ok.pushed).toBe(true);
      expect((await git(join(root, 'target.git')).revparse([t.loopBranch])).trim()).toBe(ok.commit);
      expect(server.requests.length).toBeGreaterThan(0);
      for (const r of server.requests) {
        expect(r.authorization).toBe(`Bearer ${TOKEN}`);
        expect(r.url).not.toContain(TOKEN);
      }

      const wrong = 'glpat-wrong-token-9876543210';
      const bad = await integrateFixes({ ...integrateRequest([fix], log), push: { remote, token: wrong } });
      expect(bad.pushed).toBe(false);
      const logged = lines.join('\n');
      expect(logged).toContain('push failed');
      expect(logged).not.toContain(TOKEN);
      expect(logged).not.toContain(wrong);
      expect(JSON.stringify([ok, bad])).not.toContain('glpat-');
    } finally {
      await server.close();
    }
  });
});
