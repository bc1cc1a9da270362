import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addDetachedWorktree, git } from '../git/repo.ts';
import { isAlive } from '../process/run-command.ts';
import { probeSandbox } from '../process/sandbox.ts';
import { fixBranchName, runFix } from './run-fix.ts';
import { BASE_FILES, editingFixer, fixerConfig, fixRequest, makeRepo, memoryLogger, nodeScript, type TestRepo, testCluster } from './testing.ts';

let t: TestRepo;
beforeEach(async () => {
  t = await makeRepo();
});
afterEach(async () => {
  await t.cleanup();
});

const gate = (gates: { name: string; passed: boolean; reason?: string }[] | undefined, name: string) => gates?.find((g) => g.name === name);

async function gone(pid: number, withinMs = 2000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

async function worktreeCount(repo: string): Promise<number> {
  return (await git(repo).raw(['worktree', 'list', '--porcelain'])).split('\n').filter((l) => l.startsWith('worktree ')).length;
}

async function mainCheckoutUntouched(): Promise<void> {
  const g = git(t.repo);
  expect((await g.revparse(['HEAD'])).trim()).toBe(t.base);
  expect((await g.raw(['status', '--porcelain'])).trim()).toBe('');
  expect(await worktreeCount(t.repo)).toBe(1);
}

describe('runFix', () => {
  it('commits an accepted fix on its own branch with placeholders, trailers and evidence, then removes the worktree', async () => {
    const { log } = memoryLogger();
    const record = join(t.root, 'fixer-saw.json');
    const fixer = await nodeScript(
      t.root,
      'fixer',
      `import { writeFileSync, readFileSync } from 'node:fs';
const [prompt, clusterFile, worktree, cluster, title, attempt, promptDir] = process.argv.slice(2);
writeFileSync(${JSON.stringify(record)}, JSON.stringify({ prompt, clusterFile, worktree, cluster, title, attempt, promptDir, cwd: process.cwd(),
  promptText: readFileSync(prompt, 'utf8'), envPrompt: process.env.GREENLOOP_PROMPT_FILE, envWorktree: process.env.GREENLOOP_WORKTREE }));
writeFileSync('src/a.js', 'export const a = () => 2;\\n');
`,
      ['{{promptFile}}', '{{clusterFile}}', '{{worktree}}', '{{cluster}}', '{{title}}', '{{attempt}}', '{{promptDir}}'],
    );
    const verify = await nodeScript(
      t.root,
      'verify',
      `import { readFileSync } from 'node:fs'; process.exit(readFileSync('src/a.js', 'utf8').includes('2') ? 0 : 1);`,
    );
    const cluster = testCluster('aaaaaa1', 'GET /things returns 500');
    const req = await fixRequest(t, cluster, fixerConfig(fixer, { verify }), log);
    const result = await runFix(req);

    expect(result.outcome).toBe('accepted');
    expect(result.attempts).toBe(1);
    expect(result.branch).toBe(fixBranchName('loop-test1', 1, 'aaaaaa1'));
    expect(result.gates?.every((g) => g.passed)).toBe(true);
    expect(result.gates?.map((g) => g.name)).toContain('verify');
    const g = git(t.repo);
    expect((await g.revparse([result.branch ?? ''])).trim()).toBe(result.commit);
    expect((await g.revparse([`${result.commit}^`])).trim()).toBe(t.base);
    expect(await g.show([`${result.commit}:src/a.js`])).toBe('export const a = () => 2;\n');
    const message = await g.raw(['log', '-1', '--format=%B', result.commit ?? '']);
    expect(message).toContain('greenloop: fix GET /things returns 500');
    expect(message).toContain('e2e › GET /things returns 500 › returns 200');
    expect(message).toContain('Greenloop-Loop: loop-test1');
    expect(message).toContain('Greenloop-Cycle: 1');
    expect(message).toContain('Greenloop-Cluster: aaaaaa1');
    const trailers = await g.raw(['log', '-1', '--format=%(trailers:key=Greenloop-Cluster,valueonly)', result.commit ?? '']);
    expect(trailers.trim()).toBe('aaaaaa1');

    expect(result.diffStat).toContain('src/a.js');
    expect(await readFile(result.diffFile ?? '', 'utf8')).toContain('+export const a = () => 2;');
    expect(JSON.parse(await readFile(join(req.artifactDir, 'gates.json'), 'utf8'))).toEqual(result.gates);

    const saw = JSON.parse(await readFile(record, 'utf8')) as Record<string, string>;
    expect(saw.cluster).toBe('aaaaaa1');
    expect(saw.title).toBe('GET /things returns 500');
    expect(saw.attempt).toBe('1');
    expect(saw.prompt).toBe(join(req.artifactDir, 'attempt-1', 'prompt.md'));
    expect(saw.promptDir).toBe(join(req.artifactDir, 'attempt-1'));
    expect(saw.cwd).toBe(saw.worktree);
    expect(saw.envWorktree).toBe(saw.worktree);
    expect(saw.envPrompt).toBe(saw.prompt);
    expect(saw.clusterFile).toBe(req.clusterFile);
    expect(saw.promptText).toContain('# GET /things returns 500');
    expect(saw.promptText).toContain('Do not edit, delete, skip or weaken tests');
    expect(existsSync(saw.worktree ?? '')).toBe(false);
    await mainCheckoutUntouched();
  });

  it('reports no-change when the fixer edits nothing', async () => {
    const { log } = memoryLogger();
    const fixer = await nodeScript(t.root, 'noop', `console.log('looked around, changed nothing');`);
    const result = await runFix(await fixRequest(t, testCluster('bbbbbb1'), fixerConfig(fixer), log));
    expect(result.outcome).toBe('no-change');
    expect(result.commit).toBeUndefined();
    expect(gate(result.gates, 'diff-not-empty')).toMatchObject({ passed: false });
    await mainCheckoutUntouched();
  });

  it('rejects a fixer that deletes a test file', async () => {
    const { log } = memoryLogger();
    const fixer = await editingFixer(t.root, 'delete-test', { write: { 'src/a.js': 'export const a = () => 2;\n' }, remove: ['test/a.test.js'] });
    // protectedPaths off: the anti-cheat gate must catch this on its own.
    const result = await runFix(await fixRequest(t, testCluster('cccccc1'), fixerConfig(fixer, { protectedPaths: [] }), log));
    expect(result.outcome).toBe('rejected');
    expect(gate(result.gates, 'tests-kept')).toMatchObject({ passed: false });
    expect(result.reason).toContain('deleted test file test/a.test.js');
    expect(result.gates?.filter((g) => !g.passed).map((g) => g.name)).toEqual(['tests-kept']);
    expect(result.commit).toBeUndefined();
    expect((await git(t.repo).revparse([fixBranchName('loop-test1', 1, 'cccccc1')])).trim()).toBe(t.base);
    expect(await readFile(result.diffFile ?? '', 'utf8')).toContain('deleted file mode');
    await mainCheckoutUntouched();
  });

  it('rejects a fixer that adds .skip to a test', async () => {
    const { log } = memoryLogger();
    const skipped = (BASE_FILES['test/a.test.js'] ?? '').replace("test('a returns 2'", "test.skip('a returns 2'");
    const fixer = await editingFixer(t.root, 'skip-test', { write: { 'test/a.test.js': skipped } });
    const result = await runFix(await fixRequest(t, testCluster('dddddd1'), fixerConfig(fixer, { protectedPaths: [] }), log));
    expect(result.outcome).toBe('rejected');
    expect(gate(result.gates, 'no-skip-markers')).toMatchObject({ passed: false });
    expect(result.reason).toContain('added .skip() in test/a.test.js');
    expect(result.gates?.filter((g) => !g.passed).map((g) => g.name)).toEqual(['no-skip-markers']);
  });

  it('rejects a fixer that edits a protected path', async () => {
    const { log } = memoryLogger();
    const fixer = await editingFixer(t.root, 'edit-protected', {
      write: { 'src/a.js': 'export const a = () => 2;\n', 'greenloop.yaml': 'version: 1\n# fixer was here\n', 'config/limits.json': '{ "max": 1000 }\n' },
    });
    const config = fixerConfig(fixer, { protectedPaths: [...fixerConfig(['x']).protectedPaths, 'config/'] });
    const result = await runFix(await fixRequest(t, testCluster('eeeeee1'), config, log));
    expect(result.outcome).toBe('rejected');
    const g = gate(result.gates, 'protected-paths');
    expect(g?.passed).toBe(false);
    expect(g?.reason).toContain('greenloop.yaml (modified, protected by "greenloop.yaml")');
    expect(g?.reason).toContain('config/limits.json (modified, protected by "config/")');
    expect(g?.reason).not.toContain('src/a.js');
  });

  it('kills a hanging fixer and its children at the timeout', async () => {
    const { log } = memoryLogger();
    const pids = join(t.root, 'pids.json');
    const fixer = await nodeScript(
      t.root,
      'hang',
      `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
process.on('SIGTERM', () => {});
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
writeFileSync(${JSON.stringify(pids)}, JSON.stringify([process.pid, child.pid]));
console.log('thinking...');
setInterval(() => {}, 1000);
`,
    );
    const started = Date.now();
    const result = await runFix(await fixRequest(t, testCluster('ffffff1'), fixerConfig(fixer, { timeout: 500 }), log));
    expect(result.outcome).toBe('timed-out');
    expect(result.reason).toContain('did not finish within 500ms');
    expect(result.reason).toContain('thinking...');
    expect(Date.now() - started).toBeLessThan(10_000);
    const [leader, child] = JSON.parse(await readFile(pids, 'utf8')) as number[];
    // The orphaned grandchild is reaped by init asynchronously; give that a moment.
    expect(await gone(leader ?? 0)).toBe(true);
    expect(await gone(child ?? 0)).toBe(true);
    await mainCheckoutUntouched();
  });

  it('reports a failing fixer with its exit code and the end of its output', async () => {
    const { log } = memoryLogger();
    const fixer = await nodeScript(t.root, 'crash', `console.error('model quota exceeded'); process.exit(3);`);
    const result = await runFix(await fixRequest(t, testCluster('abcdef1'), fixerConfig(fixer), log));
    expect(result.outcome).toBe('failed');
    expect(result.reason).toContain('exited with code 3');
    expect(result.reason).toContain('model quota exceeded');
  });

  it('reports a fixer program that does not exist as failed', async () => {
    const { log } = memoryLogger();
    const result = await runFix(await fixRequest(t, testCluster('abcdef2'), fixerConfig(['greenloop-no-such-fixer-binary']), log));
    expect(result.outcome).toBe('failed');
    expect(result.reason).toContain('could not start "greenloop-no-such-fixer-binary"');
    await mainCheckoutUntouched();
  });

  it('rejects the fix when the verify command fails', async () => {
    const { log } = memoryLogger();
    const fixer = await editingFixer(t.root, 'edit', { write: { 'src/a.js': 'export const a = () => 3;\n' } });
    const verify = await nodeScript(t.root, 'verify-fails', `console.log('1 test failed: a returns 2'); process.exit(1);`);
    const result = await runFix(await fixRequest(t, testCluster('abcdef3'), fixerConfig(fixer, { verify }), log));
    expect(result.outcome).toBe('rejected');
    const g = gate(result.gates, 'verify');
    expect(g?.passed).toBe(false);
    expect(g?.reason).toContain('exited with code 1');
    expect(g?.reason).toContain('1 test failed: a returns 2');
    expect(result.commit).toBeUndefined();
  });

  it('rejects the fix when the verify command exceeds verifyTimeout', async () => {
    const { log } = memoryLogger();
    const fixer = await editingFixer(t.root, 'edit', { write: { 'src/a.js': 'export const a = () => 2;\n' } });
    const verify = await nodeScript(t.root, 'verify-hangs', `setInterval(() => {}, 1000);`);
    const result = await runFix(await fixRequest(t, testCluster('abcdef4'), fixerConfig(fixer, { verify, verifyTimeout: 300 }), log));
    expect(result.outcome).toBe('rejected');
    expect(gate(result.gates, 'verify')?.reason).toContain('did not finish within 300ms');
  });

  it('retries a rejected attempt with the gate reason in the new prompt', async () => {
    const { log } = memoryLogger();
    const skipped = (BASE_FILES['test/a.test.js'] ?? '').replace("test('a returns 2'", "test.skip('a returns 2'");
    const fixer = await nodeScript(
      t.root,
      'learns',
      `import { writeFileSync } from 'node:fs';
const attempt = process.argv[2];
if (attempt === '1') writeFileSync('test/a.test.js', ${JSON.stringify(skipped)});
else writeFileSync('src/a.js', 'export const a = () => 2;\\n');
`,
      ['{{attempt}}'],
    );
    const req = await fixRequest(t, testCluster('abcdef5'), fixerConfig(fixer, { protectedPaths: [], attemptsPerCycle: 2 }), log, {
      previousAttempts: [{ reason: 'cycle 1: verify failed with a TypeError' }],
    });
    const result = await runFix(req);
    expect(result.outcome).toBe('accepted');
    expect(result.attempts).toBe(2);
    const first = await readFile(join(req.artifactDir, 'attempt-1', 'prompt.md'), 'utf8');
    const second = await readFile(join(req.artifactDir, 'attempt-2', 'prompt.md'), 'utf8');
    expect(first).toContain('cycle 1: verify failed with a TypeError');
    expect(first).not.toContain('added .skip()');
    expect(second).toContain('cycle 1: verify failed with a TypeError');
    expect(second).toContain('attempt 1: no-skip-markers: added .skip() in test/a.test.js');
    expect(second).toContain('attempt 2 of 2');
    // The rejected first attempt's edit did not leak into the accepted commit.
    const files = await git(t.repo).raw(['diff', '--name-only', t.base, result.commit ?? '']);
    expect(files.trim()).toBe('src/a.js');
  });

  it('gives the fixer only the allow-listed environment', async () => {
    const { log } = memoryLogger();
    const fixer = await nodeScript(t.root, 'printenv', `console.log(JSON.stringify(process.env));`);
    const processEnv = {
      PATH: process.env.PATH,
      HOME: '/home/greenloop-test',
      SECRET_TOKEN: 'do-not-leak-1',
      GREENLOOP_API_TOKEN: 'do-not-leak-2',
      PUSH_TOKEN: 'do-not-leak-3',
      ANTHROPIC_API_KEY: 'sk-allowed',
    };
    const config = fixerConfig(fixer, { passEnv: ['ANTHROPIC_API_KEY', 'GREENLOOP_API_TOKEN', 'PUSH_TOKEN', 'NOT_SET'], env: { FIXER_MODE: 'careful' } });
    const req = await fixRequest(t, testCluster('abcdef6'), config, log, { processEnv, secretEnv: ['PUSH_TOKEN'] });
    const result = await runFix(req);
    expect(result.outcome).toBe('no-change');
    const out = await readFile(join(req.artifactDir, 'attempt-1', 'fixer.stdout.log'), 'utf8');
    expect(out).not.toContain('do-not-leak');
    const env = JSON.parse(out) as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual(
      ['ANTHROPIC_API_KEY', 'FIXER_MODE', 'GREENLOOP_CLUSTER_FILE', 'GREENLOOP_PROMPT_FILE', 'GREENLOOP_WORKTREE', 'HOME', 'PATH'].sort(),
    );
    expect(env.HOME).toBe('/home/greenloop-test');
    expect(env.ANTHROPIC_API_KEY).toBe('sk-allowed');
    expect(env.FIXER_MODE).toBe('careful');
  });

  it('cancels a running fixer when the signal aborts', async () => {
    const { log } = memoryLogger();
    const fixer = await nodeScript(t.root, 'slow', `setInterval(() => {}, 1000);`);
    const abort = new AbortController();
    const req = await fixRequest(t, testCluster('abcdef7'), fixerConfig(fixer, { attemptsPerCycle: 3 }), log, { signal: abort.signal });
    setTimeout(() => abort.abort(), 300);
    const result = await runFix(req);
    expect(result.outcome).toBe('cancelled');
    expect(result.attempts).toBe(1);
    await mainCheckoutUntouched();
  });

  it('squashes a fixer that commits on its own into one commit on the base', async () => {
    const { log } = memoryLogger();
    const fixer = await nodeScript(
      t.root,
      'committer',
      `import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
const git = (...a) => execFileSync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@x', ...a]);
writeFileSync('src/a.js', 'export const a = () => 2;\\n');
git('commit', '-qam', 'agent commit 1');
git('checkout', '-qb', 'agent-branch');
writeFileSync('src/b.js', 'export const b = () => 2;\\n');
git('commit', '-qam', 'agent commit 2');
writeFileSync('src/new.js', 'export const n = 1;\\n');
// Aider-style scratch files must not end up in the fix.
writeFileSync('.aider.chat.history.md', '# chat');
mkdirSync('.aider.tags.cache.v4');
writeFileSync('.aider.tags.cache.v4/cache.db', 'x');
`,
    );
    const result = await runFix(await fixRequest(t, testCluster('abcdef8'), fixerConfig(fixer), log));
    expect(result.outcome).toBe('accepted');
    const g = git(t.repo);
    expect((await g.revparse([`${result.commit}^`])).trim()).toBe(t.base);
    const files = (await g.raw(['diff', '--name-only', t.base, result.commit ?? ''])).trim().split('\n');
    expect(files).toEqual(['src/a.js', 'src/b.js', 'src/new.js']);
    expect((await g.revparse([result.branch ?? ''])).trim()).toBe(result.commit);
  });

  it('runs many fixers on one repository at once without git worktree races', async () => {
    const { log } = memoryLogger();
    const fps = ['a1a1a1', 'b2b2b2', 'c3c3c3', 'd4d4d4', 'e5e5e5', 'f6f6f6'];
    const results = await Promise.all(
      fps.map(async (fp) => {
        const fixer = await editingFixer(t.root, `par-${fp}`, { write: { [`src/${fp}.js`]: `export const x = '${fp}';\n` } });
        return await runFix(await fixRequest(t, testCluster(fp), fixerConfig(fixer), log));
      }),
    );
    expect(results.map((r) => r.outcome)).toEqual(fps.map(() => 'accepted'));
    await mainCheckoutUntouched();
  });

  it('is idempotent: running the same fix again starts over from the base', async () => {
    const { log } = memoryLogger();
    const fixer = await editingFixer(t.root, 'edit', { write: { 'src/a.js': 'export const a = () => 2;\n' } });
    const req = await fixRequest(t, testCluster('abcdef9'), fixerConfig(fixer), log);
    const first = await runFix(req);
    const second = await runFix(req);
    expect(first.outcome).toBe('accepted');
    expect(second.outcome).toBe('accepted');
    const g = git(t.repo);
    expect((await g.revparse([`${second.commit}^`])).trim()).toBe(t.base);
    expect((await g.revparse([second.branch ?? ''])).trim()).toBe(second.commit);
    await mainCheckoutUntouched();
  });

  it("never runs the user repository's hooks, hooksPath or fsmonitor for greenloop's own git calls", async () => {
    const { log } = memoryLogger();
    const marker = join(t.root, 'hook-ran');
    const script = async (file: string, what: string) => {
      await writeFile(file, `#!/bin/sh\necho ${what} >> '${marker}'\n`);
      await chmod(file, 0o755);
    };
    for (const hook of ['post-checkout', 'reference-transaction', 'pre-commit', 'post-commit']) await script(join(t.repo, '.git', 'hooks', hook), hook);
    // What a process with greenloop's access could have written into the repository's config.
    await mkdir(join(t.root, 'planted-hooks'), { recursive: true });
    await script(join(t.root, 'planted-hooks', 'post-checkout'), 'hooksPath');
    await script(join(t.root, 'fsmonitor.sh'), 'fsmonitor');
    await appendFile(join(t.repo, '.git', 'config'), `[core]\n\thooksPath = ${join(t.root, 'planted-hooks')}\n\tfsmonitor = ${join(t.root, 'fsmonitor.sh')}\n`);
    const fixer = await editingFixer(t.root, 'edit', { write: { 'src/a.js': 'export const a = () => 2;\n' } });
    const result = await runFix(await fixRequest(t, testCluster('abcdefa'), fixerConfig(fixer), log));
    expect(result.outcome).toBe('accepted');
    await addDetachedWorktree(t.repo, join(t.root, 'worktrees', 'deploy-c1'), result.commit ?? '');
    expect(existsSync(join(t.root, 'worktrees', 'deploy-c1', 'src', 'a.js'))).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses to run a fixer unsandboxed under sandbox: auto when bubblewrap cannot run', async () => {
    const { log } = memoryLogger();
    const ran = join(t.root, 'fixer-ran');
    const fixer = await nodeScript(t.root, 'marks', `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(ran)}, 'ran');`);
    const result = await runFix(
      await fixRequest(t, testCluster('abcdefb'), fixerConfig(fixer), log, { sandbox: { mode: 'auto', hide: [], bwrap: '/nonexistent/bwrap' } }),
    );
    expect(result.outcome).toBe('failed');
    expect(result.sandboxed).toBe(false);
    expect(result.reason).toContain('refusing to run the fixer command unsandboxed');
    expect(existsSync(ran)).toBe(false);
    await mainCheckoutUntouched();
  });
});

const bwrap = await probeSandbox();
describe.skipIf(!bwrap.available)('runFix in the sandbox (bubblewrap)', () => {
  it('runs fixer and verify sandboxed in a clone: git works there, the rest of /tmp and the repository are out of sight', async () => {
    const { log } = memoryLogger();
    const secret = join(t.root, 'greenloop-secret.txt');
    await writeFile(secret, 'not for fixers\n');
    const fixer = await nodeScript(
      t.root,
      'sandboxed-fixer',
      `import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const git = (...a) => execFileSync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@x', ...a], { encoding: 'utf8' });
const prompt = readFileSync(process.argv[2], 'utf8');
writeFileSync('src/a.js', 'export const a = () => 2;\\n');
git('commit', '-qam', 'agent commit');
console.log(JSON.stringify({ prompt: prompt.length > 0, secret: existsSync(${JSON.stringify(secret)}), repo: existsSync(${JSON.stringify(join(t.repo, 'src', 'a.js'))}), log: git('log', '--format=%s') }));
`,
      ['{{promptFile}}'],
    );
    const verify = await nodeScript(
      t.root,
      'sandboxed-verify',
      `import { existsSync, readFileSync } from 'node:fs';
process.exit(readFileSync('src/a.js', 'utf8').includes('2') && !existsSync(${JSON.stringify(secret)}) ? 0 : 1);`,
    );
    const req = await fixRequest(t, testCluster('abcdefc'), fixerConfig(fixer, { verify, network: 'none' }), log, {
      sandbox: { mode: 'on', hide: [t.repo] },
    });
    const result = await runFix(req);
    expect(result.reason).toBeUndefined();
    expect(result.outcome).toBe('accepted');
    expect(result.sandboxed).toBe(true);
    expect(gate(result.gates, 'verify')).toMatchObject({ passed: true });
    const saw = JSON.parse(await readFile(join(req.artifactDir, 'attempt-1', 'fixer.stdout.log'), 'utf8')) as Record<string, unknown>;
    expect(saw).toEqual({ prompt: true, secret: false, repo: false, log: 'agent commit\nbase\n' });
    expect((await git(t.repo).revparse([`${result.commit}^`])).trim()).toBe(t.base);
    await mainCheckoutUntouched();
  });
});
