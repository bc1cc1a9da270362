import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FixResult } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../git/repo.ts';
import { integrateFixes } from './integrate.ts';
import { runFix } from './run-fix.ts';
import { editingFixer, fixerConfig, fixRequest, gitHttpServer, makeRepo, memoryLogger, nodeScript, type TestRepo, testCluster } from './testing.ts';

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

  it('drops a conflicting fix (without redo) with the conflicting files, and a rerun on the new base lands it', async () => {
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

describe('fixes to neighbouring lines all land in their cycle', () => {
  const FILE = 'src/neighbours.js';
  const LINES = ['// twelve lines', 'export const a = 1;', 'export const b = 1;', '', '', '', '', '', '', 'export const c = 1;', '', '// end'];

  /** A fixer that edits one line in place, as a coding agent would, whatever else the file holds. */
  async function lineFixer(name: string, from: string, to: string): Promise<string[]> {
    return await nodeScript(
      t.root,
      name,
      `import { readFileSync, writeFileSync } from 'node:fs';
const text = readFileSync(${JSON.stringify(FILE)}, 'utf8');
if (!text.includes(${JSON.stringify(from)})) process.exit(3);
writeFileSync(${JSON.stringify(FILE)}, text.replace(${JSON.stringify(from)}, ${JSON.stringify(to)}));
`,
    );
  }

  let base: string;
  const fixers: Record<string, string[]> = {};
  beforeEach(async () => {
    base = await t.commit({ [FILE]: `${LINES.join('\n')}\n` }, 'neighbours');
    await git(t.repo).raw(['branch', '-f', t.loopBranch, base]);
    fixers.aaaa21 = await lineFixer('fix-a', 'export const a = 1;', 'export const a = 2;');
    fixers.bbbb22 = await lineFixer('fix-b', 'export const b = 1;', 'export const b = 2;');
    fixers.cccc23 = await lineFixer('fix-c', 'export const c = 1;', 'export const c = 2;');
  });

  const fixFrom = async (fp: string, from: string, over: Parameters<typeof fixRequest>[4] = {}) => {
    const { log } = memoryLogger();
    return await runFix(await fixRequest(t, testCluster(fp), fixerConfig(fixers[fp] as string[]), log, { baseCommit: from, ...over }));
  };

  it('re-does the conflicting fix on top of the integrated one, in the same cycle, naming the fix it conflicted with', async () => {
    const [a, b] = await Promise.all([fixFrom('aaaa21', base), fixFrom('bbbb22', base)]);
    expect([a.outcome, b.outcome]).toEqual(['accepted', 'accepted']);
    const redoCalls: { fingerprint: string; base: string; conflict: string }[] = [];
    const redoResults: FixResult[] = [];
    const { log } = memoryLogger();
    const result = await integrateFixes({
      ...integrateRequest([a, b], log),
      redo: async (fix, from, conflict) => {
        redoCalls.push({ fingerprint: fix.fingerprint, base: from, conflict });
        const r = await fixFrom(fix.fingerprint, from, { previousAttempts: [{ reason: conflict }], maxAttempts: 1, cycle: 1 });
        redoResults.push(r);
        return r;
      },
    });

    expect(result.dropped).toEqual([]);
    expect(result.applied.map((x) => x.fingerprint)).toEqual(['aaaa21', 'bbbb22']);
    // The fixer ran again from the branch with a's fix on it, told why.
    expect(redoCalls).toEqual([
      { fingerprint: 'bbbb22', base: result.applied[0]?.commit, conflict: 'conflicts in src/neighbours.js (changed by fix aaaa21 applied before it)' },
    ]);
    expect(result.redone).toEqual([
      expect.objectContaining({
        fingerprint: 'bbbb22',
        conflict: 'conflicts in src/neighbours.js (changed by fix aaaa21 applied before it)',
        outcome: 'accepted',
        attempts: 1,
      }),
    ]);
    const text = await show(result.commit, FILE);
    expect(text).toContain('export const a = 2;\nexport const b = 2;\n');
    expect(await commitCount(result.commit)).toBe((await commitCount(base)) + 2);

    // A retried integrate step (the stage replays the recorded re-do outcome) picks nothing twice.
    const again = await integrateFixes({ ...integrateRequest([a, b], log), redo: async () => redoResults[0] as FixResult });
    expect(again.commit).toBe(result.commit);
    expect(again.dropped).toEqual([]);
    expect(again.applied.map((x) => x.fingerprint)).toEqual(['aaaa21', 'bbbb22']);
  });

  it('names the fix the pick really conflicts with, not the last one to touch the file', async () => {
    const [a, c, b] = await Promise.all([fixFrom('aaaa21', base), fixFrom('cccc23', base), fixFrom('bbbb22', base)]);
    const { log } = memoryLogger();
    const result = await integrateFixes(integrateRequest([a, c, b], log));
    expect(result.applied.map((x) => x.fingerprint)).toEqual(['aaaa21', 'cccc23']);
    expect(result.dropped).toEqual([
      {
        fingerprint: 'bbbb22',
        reason: 'conflicts in src/neighbours.js (changed by fix aaaa21 applied before it); its cluster gets a fixer on the new base next cycle',
      },
    ]);
    expect(result.redone).toBeUndefined();
    // The attribution check left the integration worktree on the branch, clean.
    expect((await git(join(t.root, 'worktrees', 'integrate')).raw(['symbolic-ref', '--short', 'HEAD'])).trim()).toBe(t.loopBranch);
    expect((await git(join(t.root, 'worktrees', 'integrate')).raw(['status', '--porcelain'])).trim()).toBe('');
  });

  it('drops the fix with both reasons when the re-done attempt is not accepted', async () => {
    const [a, b] = await Promise.all([fixFrom('aaaa21', base), fixFrom('bbbb22', base)]);
    const { log } = memoryLogger();
    const result = await integrateFixes({
      ...integrateRequest([a, b], log),
      redo: async (fix) => ({ fingerprint: fix.fingerprint, outcome: 'rejected', reason: 'verify: exit code 1', attempts: 1 }),
    });
    expect(result.applied.map((x) => x.fingerprint)).toEqual(['aaaa21']);
    expect(result.dropped).toEqual([
      {
        fingerprint: 'bbbb22',
        reason:
          'conflicts in src/neighbours.js (changed by fix aaaa21 applied before it); re-done on top of the integrated fixes, but the new attempt was rejected: verify: exit code 1',
      },
    ]);
    expect(result.redone).toEqual([
      { fingerprint: 'bbbb22', conflict: 'conflicts in src/neighbours.js (changed by fix aaaa21 applied before it)', outcome: 'rejected', attempts: 1 },
    ]);
  });
});
