// Publishing a loop's result through the real Octokit client against a local fake of GitHub's REST
// endpoints, with a real git repository pushing over HTTP (git http-backend) and loop records in real
// Redis: open, retry (update, never a second pull request), later loop (one comment), and each refusal.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type LoopRecord, type LoopStore } from '@greenloop/core';
import { ANALYZED, testRedis } from '@greenloop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initForgeRepos } from '../test-support/fake-forge.ts';
import { FakeGitHub } from '../test-support/fake-github.ts';
import { githubHost } from './github.ts';
import { type PublishDeps, publishPullRequest } from './publish-pull-request.ts';

const TOKEN = 'ghp_FakeTokenForTests0123456789abcdefABCD';
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

describe('publishing a pull request (Octokit → fake GitHub)', () => {
  const r = testRedis();
  const store: LoopStore = r.store;
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-pr-'));
  const repo = join(dir, 'repo');
  const bare = join(dir, 'github.git');
  let fake: FakeGitHub;
  let base = '';
  const logged: string[] = [];
  const log = createLogger(
    'pr-test',
    'debug',
    new Writable({
      write(chunk, _enc, cb) {
        logged.push(String(chunk));
        cb();
      },
    }),
  );
  const sleeps: number[] = [];

  beforeAll(async () => {
    base = initForgeRepos(repo, bare, { 'app.js': 'module.exports = 1;\n' });
    fake = await FakeGitHub.start({ repository: 'acme/shop', token: TOKEN, gitDir: bare });
    git(repo, 'remote', 'add', 'origin', fake.gitUrl);
  });
  afterAll(async () => {
    await fake?.close();
    await r.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A loop that ended `state` with one fix on its branch (pushed only if `push`), its records in Redis. */
  async function endedLoop(id: string, state: LoopRecord['state'], opts: { commits?: number } = {}): Promise<LoopRecord> {
    const branch = `greenloop/${id}`;
    git(repo, 'branch', '-f', branch, base);
    let head = base;
    for (let i = 0; i < (opts.commits ?? 1); i++) {
      git(repo, 'checkout', '-q', branch);
      writeFileSync(join(repo, 'app.js'), `module.exports = ${i + 2};\n`);
      git(repo, 'commit', '-qam', `fix ${i}`);
      head = git(repo, 'rev-parse', 'HEAD');
      git(repo, 'checkout', '-q', 'main');
    }
    const now = new Date().toISOString();
    const cluster = {
      fingerprint: 'abc123def456',
      title: 'GET /price → 404 [see](https://evil.example)',
      triage: 'route-missing' as const,
      status: 'new' as const,
      tests: ['price › returns the price'],
      sampleMessage: 'expected 200, got 404',
      endpoints: [],
    };
    const other = {
      ...cluster,
      fingerprint: 'fed654cba321',
      title: 'token rejected @acme/owners',
      triage: 'auth-rejected' as const,
      tests: ['auth › accepts a token'],
    };
    await store.saveCycle({
      loopId: id,
      n: 1,
      commit: base,
      startedAt: now,
      finishedAt: now,
      totals: { total: 4, passed: 2, failed: 2, skipped: 0, durationMs: 900 },
      green: false,
      spend: { usd: 0.12, inputTokens: 1000, outputTokens: 200 },
      stages: {},
    });
    await store.saveStage(id, 1, { stage: 'analyze', status: 'succeeded', startedAt: now, attempts: 1, result: { ...ANALYZED, clusters: [cluster, other] } });
    await store.saveStage(id, 1, {
      stage: 'fix',
      status: 'succeeded',
      startedAt: now,
      attempts: 1,
      result: {
        planned: [cluster.fingerprint],
        skipped: [{ fingerprint: other.fingerprint, reason: 'triage auth-rejected is in fixer.skipTriage' }],
        results: [{ fingerprint: cluster.fingerprint, outcome: 'accepted', attempts: 1, commit: head }],
      },
    });
    await store.saveStage(id, 1, {
      stage: 'integrate',
      status: 'succeeded',
      startedAt: now,
      attempts: 1,
      result: { commit: head, applied: [{ fingerprint: cluster.fingerprint, commit: head }], dropped: [] },
    });
    const green = state === 'green';
    await store.saveCycle({
      loopId: id,
      n: 2,
      commit: head,
      startedAt: now,
      finishedAt: now,
      totals: { total: 4, passed: green ? 4 : 3, failed: green ? 0 : 1, skipped: 0, durationMs: 800 },
      green,
      stages: {},
    });
    await store.saveStage(id, 2, {
      stage: 'analyze',
      status: 'succeeded',
      startedAt: now,
      attempts: 1,
      result: { ...ANALYZED, green, clusters: green ? [] : [other], fixed: [cluster.fingerprint] },
    });
    const loop: LoopRecord = {
      id,
      environment: 'staging',
      state,
      createdAt: now,
      finishedAt: now,
      startedBy: { kind: 'cli', name: 'test' },
      branch,
      baseCommit: base,
      commit: head,
      cycle: 2,
      stop: green ? { rule: 'green', message: 'all 4 tests passed' } : { rule: 'no-progress', message: 'the same cluster failed 2 cycles in a row' },
      teardown: 'done',
      spend: { usd: 0.12, inputTokens: 1000, outputTokens: 200 },
    };
    await store.createLoop(loop);
    return loop;
  }

  function deps(overrides: Partial<PublishDeps> = {}, token = TOKEN): PublishDeps {
    return {
      store,
      host: () =>
        githubHost({
          repository: 'acme/shop',
          apiUrl: fake.apiUrl,
          token,
          tokenEnv: 'GH_TOKEN',
          log,
          sleep: async (ms) => void sleeps.push(ms),
          backoffMs: 10,
        }),
      repo,
      push: { remote: 'origin', token },
      links: { publicUrl: 'https://greenloop.acme.example' },
      log,
      ...overrides,
    };
  }

  const events = async (id: string) => (await store.readEvents(id, '0')).map((e) => e.message);

  it('pushes the branch with the token in a header and opens a draft pull request with the evidence when not green', async () => {
    const loop = await endedLoop('prtest-open01', 'stopped');
    const before = fake.requests.length;
    const out = await publishPullRequest(deps(), loop.id);
    expect(out).toMatchObject({ status: 'opened', number: expect.any(Number), draft: true });
    // The branch reached "GitHub" over HTTP, authenticated by the header alone (the remote URL holds no credentials).
    expect(git(bare, 'rev-parse', `refs/heads/${loop.branch}`)).toBe(loop.commit);
    expect(fake.gitAuthorizations.every((a) => a === `Bearer ${TOKEN}` || a === '')).toBe(true);
    expect(fake.gitAuthorizations).toContain(`Bearer ${TOKEN}`);
    expect(git(repo, 'remote', 'get-url', 'origin')).not.toContain(TOKEN);
    const calls = fake.requests
      .slice(before)
      .map((q) => `${q.method} ${q.path.replace('/api/v3/repos/acme/shop', '')}${q.query.get('head') ? `?head=${q.query.get('head')}` : ''}`);
    expect(calls).toEqual([`GET /pulls?head=acme:${loop.branch}`, 'GET ', 'POST /pulls']);
    const pr = fake.pulls.find((p) => p.head === loop.branch);
    expect(pr).toMatchObject({ base: 'main', draft: true, title: 'greenloop: fixes for staging (no-progress after 2 cycles, 1 left to a person)' });
    expect(pr?.body).toContain(
      `| 1 | \`${base.slice(0, 7)}\` | 2/4 | 2 | 50.0% | 2 | yes | $0.12, 1,000 input + 200 output tokens | [cycle 1](https://greenloop.acme.example/v1/loops/${loop.id}/cycles/1/report) |`,
    );
    expect(pr?.body).toContain(`| GET /price → 404 \\[see\\]\\(https:\u200b//evil.example\\) | 1 | \`${loop.commit?.slice(0, 7)}\` | passing |`);
    expect(pr?.body).toContain('token rejected @\u200bacme/owners');
    expect(pr?.body).toContain('$0.12, 1,000 input + 200 output tokens for the whole loop.');
    expect(pr?.body).toContain('triage auth-rejected is in fixer.skipTriage \\(cycle 1\\)');
    expect(await events(loop.id)).toEqual([`pull request #${pr?.number} opened (draft): https://github.example/acme/shop/pull/${pr?.number}`]);
    expect((await store.getLoop(loop.id))?.notices?.[0]).toContain(`pull request #${pr?.number} opened (draft)`);
    expect(logged.join('')).not.toContain(TOKEN);
  });

  it('a retried job finds the pull request by its head branch and updates it instead of opening a second', async () => {
    const loop = await endedLoop('prtest-retry1', 'green');
    const first = await publishPullRequest(deps({ base: 'main' }), loop.id);
    expect(first).toMatchObject({ status: 'opened', draft: false });
    const pr = fake.pulls.find((p) => p.head === loop.branch);
    if (pr) pr.body = pr.body.replace('is green', 'was edited');
    const again = await publishPullRequest(deps({ base: 'main' }), loop.id);
    expect(again).toMatchObject({ status: 'updated', number: pr?.number });
    expect(fake.pulls.filter((p) => p.head === loop.branch)).toHaveLength(1);
    expect(pr?.body).toContain('is green');
  });

  it('a job that died after GitHub opened the pull request finds it on the 422 "already exists" and updates it', async () => {
    const loop = await endedLoop('prtest-race01', 'green');
    fake.fail({
      route: 'POST /pulls',
      status: 422,
      body: {
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for acme:${loop.branch}.` }],
      },
      // What GitHub had done before the answer got lost: the pull request exists.
      onServe: () =>
        fake.pulls.push({
          number: fake.pulls.length + 1,
          head: loop.branch ?? '',
          base: 'main',
          title: 't',
          body: `<!-- greenloop:body loop=${loop.id} -->`,
          draft: false,
          state: 'open',
        }),
    });
    const out = await publishPullRequest(deps({ base: 'main' }), loop.id);
    expect(out).toMatchObject({ status: 'updated' });
    expect(fake.pulls.filter((p) => p.head === loop.branch)).toHaveLength(1);
  });

  it('a later loop on a branch whose pull request an earlier loop opened adds one comment, updated on a retry', async () => {
    const earlier = await endedLoop('prtest-later0', 'stopped');
    await publishPullRequest(deps(), earlier.id);
    const pr = fake.pulls.find((p) => p.head === earlier.branch);
    const later: LoopRecord = { ...earlier, id: 'prtest-later1', state: 'green' };
    await store.createLoop(later);
    for (const n of [1, 2]) {
      await store.saveCycle({ ...(await store.getCycle(earlier.id, n))!, loopId: later.id });
      await store.saveStage(later.id, n, (await store.getStage(earlier.id, n, 'analyze'))!);
    }
    const bodyBefore = pr?.body;
    expect(await publishPullRequest(deps(), later.id)).toMatchObject({ status: 'commented', number: pr?.number });
    expect(await publishPullRequest(deps(), later.id)).toMatchObject({ status: 'commented', number: pr?.number });
    const comments = fake.comments.filter((c) => c.issue === pr?.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain('A later loop on this branch: `prtest-later1`');
    expect(pr?.body).toBe(bodyBefore);
  });

  it('a repository without draft pull requests gets a ready one', async () => {
    const loop = await endedLoop('prtest-nodraft', 'stopped');
    fake.draftsSupported = false;
    try {
      expect(await publishPullRequest(deps({ base: 'main' }), loop.id)).toMatchObject({ status: 'opened', draft: false });
    } finally {
      fake.draftsSupported = true;
    }
    expect(fake.pulls.find((p) => p.head === loop.branch)?.body).toContain('The suite is not green yet');
  });

  it('a bad token gets one clear event and no retries', async () => {
    const loop = await endedLoop('prtest-401aa1', 'stopped');
    const before = fake.requests.length;
    const out = await publishPullRequest(deps({ push: undefined }, 'ghp_WrongTokenWrongTokenWrongToken0000'), loop.id);
    expect(out.status).toBe('refused');
    expect(fake.requests.length - before).toBe(1);
    expect(await events(loop.id)).toEqual([
      'no pull request: GitHub refused the token while listing pull requests (401 Bad credentials): check that GH_TOKEN holds a valid, unexpired token',
    ]);
  });

  it('403 without a rate limit names the permissions; 404 says the repository is missing or hidden', async () => {
    const a = await endedLoop('prtest-403aa1', 'stopped');
    fake.fail({ route: 'GET /pulls', status: 403, body: { message: 'Resource not accessible by personal access token' } });
    const out = await publishPullRequest(deps(), a.id);
    expect(out).toMatchObject({ status: 'refused', reason: expect.stringContaining('fine-grained: Pull requests read/write') });
    const b = await endedLoop('prtest-404aa1', 'stopped');
    fake.fail({ route: 'GET /pulls', status: 404, body: { message: 'Not Found' } });
    expect(await publishPullRequest(deps(), b.id)).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('acme/shop does not exist at this API URL, or the token in GH_TOKEN cannot see it'),
    });
  });

  it('a branch that never reached GitHub, or has nothing new, is refused with what to do', async () => {
    const a = await endedLoop('prtest-nopush', 'stopped');
    expect(await publishPullRequest(deps({ push: undefined, base: 'main' }), a.id)).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('the loop branch is not on GitHub'),
    });
    expect((await events(a.id))[0]).toContain('set loop.push in greenloop.yaml');
    const c = await endedLoop('prtest-nobase', 'stopped');
    expect(await publishPullRequest(deps({ base: 'release/9' }), c.id)).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('the base branch is not on GitHub'),
    });
    const b = await endedLoop('prtest-nonew1', 'stopped');
    git(repo, 'push', '-q', bare, `${base}:refs/heads/${b.branch}`);
    expect(await publishPullRequest(deps({ push: undefined, base: 'main' }), b.id)).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining(`No commits between main and ${b.branch}`),
    });
  });

  it('secondary rate limits and 5xx are retried with backoff; beyond the attempts the job is left to retry later', async () => {
    const loop = await endedLoop('prtest-rate01', 'stopped');
    sleeps.length = 0;
    fake.fail({ route: 'GET /pulls', status: 403, headers: { 'retry-after': '7' }, body: { message: 'You have exceeded a secondary rate limit.' } });
    fake.fail({ route: 'POST /pulls', status: 502, times: 1 });
    expect(await publishPullRequest(deps({ base: 'main' }), loop.id)).toMatchObject({ status: 'opened' });
    expect(sleeps).toEqual([7000, 10]);

    const b = await endedLoop('prtest-rate02', 'stopped');
    fake.fail({ route: 'GET /pulls', status: 503, times: 3 });
    await expect(publishPullRequest(deps(), b.id)).rejects.toMatchObject({ kind: 'transient', status: 503 });
    // A long Retry-After is not slept in the worker: the job fails and BullMQ retries it later.
    fake.fail({ route: 'GET /pulls', status: 429, headers: { 'retry-after': '3600' } });
    await expect(publishPullRequest(deps(), b.id)).rejects.toMatchObject({ kind: 'transient', retryAfterMs: 3_600_000 });
    expect(await events(b.id)).toEqual([]);
  });

  it('loops with nothing to propose are skipped without calling GitHub', async () => {
    const loop = await endedLoop('prtest-cancel', 'cancelled');
    const before = fake.requests.length;
    expect(await publishPullRequest(deps(), loop.id)).toMatchObject({ status: 'skipped' });
    const same: LoopRecord = { ...loop, id: 'prtest-nocomm', state: 'green', commit: base };
    await store.createLoop(same);
    expect(await publishPullRequest(deps(), same.id)).toMatchObject({ status: 'skipped' });
    expect(fake.requests.length).toBe(before);
  });
});
