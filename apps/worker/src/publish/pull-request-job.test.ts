// The pull request job in a real worker: the teardown of a loop that ended with commits enqueues it, the
// worker reads pullRequest/loop.push from greenloop.yaml and the tokens from its environment, pushes the
// branch over HTTP and opens the pull request on the fake GitHub — and a GitHub outage changes nothing
// about the loop's verdict or its teardown.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addJob, closeQueues, createLogger, createQueues, type LoopRecord, type LoopSource, type Queues } from '@greenloop/core';
import { ANALYZED } from '@greenloop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoHarness } from '../../../../test/demo-harness.ts';
import { mirrorPath } from '../git/mirror.ts';
import { FakeGitHub } from '../test-support/fake-github.ts';
import { until } from '../test-support/until.ts';
import { type RunningWorker, startWorker } from '../worker.ts';

const TOKEN = 'ghp_JobTestToken0123456789abcdefABCDEF01';
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

describe('pull request job (real worker, fake GitHub)', () => {
  const h = demoHarness({ GREENLOOP_URL: 'https://greenloop.acme.example' });
  const bare = join(h.dir, 'github.git');
  let fake: FakeGitHub;
  let worker: RunningWorker;
  let queues: Queues;
  let base = '';

  beforeAll(async () => {
    git(h.dir, 'init', '-q', '--bare', '-b', 'main', bare);
    fake = await FakeGitHub.start({ repository: 'acme/shop', token: TOKEN, gitDir: bare });
    git(h.repo, 'remote', 'add', 'origin', fake.gitUrl);
    // A loop reads greenloop.yaml at its base commit: the settings are committed, and that commit is main.
    const file = join(h.repo, 'greenloop.yaml');
    const yaml = readFileSync(file, 'utf8').replace(
      /^( {4})loop: \{ (.*) \}$/m,
      `$1loop: { $2, push: { remote: origin, tokenEnv: GH_PUSH_TOKEN } }\n$1pullRequest: { repository: acme/shop, tokenEnv: GH_TOKEN, apiUrl: "${fake.apiUrl}" }`,
    );
    expect(yaml).toContain('pullRequest:');
    writeFileSync(file, yaml);
    git(h.repo, 'commit', '-qam', 'push and pull request settings');
    base = git(h.repo, 'rev-parse', 'HEAD');
    git(h.repo, 'push', '-q', bare, 'HEAD:refs/heads/main');
    const processEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GH_TOKEN: TOKEN,
      GH_PUSH_TOKEN: TOKEN,
      GREENLOOP_URL: 'https://greenloop.acme.example',
    };
    worker = await startWorker(h.env, createLogger('test', 'silent'), h.redisUrl, processEnv);
    queues = createQueues(h.store.redis, h.env.GREENLOOP_PREFIX);
  });
  afterAll(async () => {
    await worker?.close();
    await closeQueues(queues);
    await fake?.close();
    await h.cleanup();
  });

  /** What the controller leaves when it records a verdict: the loop terminal, teardown pending, its claim held. */
  async function verdict(id: string, state: LoopRecord['state'], source?: LoopSource): Promise<LoopRecord> {
    const branch = `greenloop/${id}`;
    const fix = git(h.repo, 'commit-tree', `${base}^{tree}`, '-p', base, '-m', `fix for ${id}`);
    git(h.repo, 'branch', '-f', branch, fix);
    const now = new Date().toISOString();
    const environment = source ? `${source.project}/demo` : 'demo';
    expect((await h.store.claimEnvironment(environment, id)).claimed).toBe(true);
    await h.store.saveCycle({ loopId: id, n: 1, commit: fix, startedAt: now, finishedAt: now, totals: ANALYZED.totals, green: state === 'green', stages: {} });
    await h.store.saveStage(id, 1, { stage: 'analyze', status: 'succeeded', startedAt: now, attempts: 1, result: { ...ANALYZED, green: state === 'green' } });
    const loop: LoopRecord = {
      id,
      environment,
      ...(source ? { source } : {}),
      state,
      createdAt: now,
      finishedAt: now,
      startedBy: { kind: 'cli', name: 'test' },
      branch,
      baseCommit: base,
      commit: fix,
      cycle: 1,
      stop: state === 'green' ? { rule: 'green', message: 'all passed' } : { rule: 'max-cycles', message: 'stopped after 1 cycle' },
      teardown: 'pending',
    };
    await h.store.createLoop(loop);
    return loop;
  }

  it('the teardown of a green loop with commits enqueues the job; the worker pushes the branch and opens the pull request', async () => {
    const loop = await verdict('prjob-green01', 'green');
    await addJob(queues, 'loop.run', { loopId: loop.id }, { jobId: loop.id });
    const pr = await until('pull request opened', async () => fake.pulls.find((p) => p.head === loop.branch));
    expect(pr).toMatchObject({ base: 'main', draft: false, title: 'greenloop: fixes for demo (green after 1 cycle)' });
    expect(pr.body).toContain(`[cycle 1](https://greenloop.acme.example/v1/loops/${loop.id}/cycles/1/report)`);
    expect(git(bare, 'rev-parse', `refs/heads/${loop.branch}`)).toBe(loop.commit);
    expect(fake.gitAuthorizations).toContain(`Bearer ${TOKEN}`);
    const events = await until('event recorded', async () => {
      const all = (await h.store.readEvents(loop.id, '0')).map((e) => e.message);
      return all.some((m) => m.startsWith('pull request #')) && all;
    });
    expect(events).toContain(`pull request #${pr.number} opened: https://github.example/acme/shop/pull/${pr.number}`);
    expect(await h.store.getLoop(loop.id)).toMatchObject({ state: 'green', teardown: 'done' });
  });

  it("a project loop's branch goes from the worker's mirror to the project's remote (its credentials), then the pull request opens", async () => {
    const source = { project: 'shop', remote: fake.gitUrl, baseBranch: 'main', credentialsSecret: 'GH_PUSH_TOKEN' };
    const loop = await verdict('prjob-project', 'green', source);
    // The worker's mirror as the loop left it: the loop branch is there, and nowhere else the worker could push from.
    git(h.dir, 'clone', '-q', '--bare', h.repo, mirrorPath(h.env.home, 'shop'));
    git(h.repo, 'branch', '-D', loop.branch as string);
    await addJob(queues, 'loop.run', { loopId: loop.id }, { jobId: loop.id });
    const pr = await until('pull request opened', async () => fake.pulls.find((p) => p.head === loop.branch));
    expect(pr).toMatchObject({ base: 'main', draft: false });
    expect(git(bare, 'rev-parse', `refs/heads/${loop.branch}`)).toBe(loop.commit);
    const notices = (await h.store.getLoop(loop.id))?.notices ?? [];
    expect(notices).toContain(`pushed ${loop.branch} to ${fake.gitUrl}`);
    expect(await h.store.activeLoop('shop/demo')).toBeUndefined();
  });

  it('a GitHub outage never touches the verdict or the teardown; a job out of attempts leaves one notice', async () => {
    fake.fail({ status: 503, times: 1000 });
    const loop = await verdict('prjob-outage1', 'stopped');
    await addJob(queues, 'loop.run', { loopId: loop.id }, { jobId: loop.id });
    await until('teardown done', async () => (await h.store.getLoop(loop.id))?.teardown === 'done');
    expect(await h.store.getLoop(loop.id)).toMatchObject({ state: 'stopped', stop: { rule: 'max-cycles' } });
    expect(await h.store.activeLoop('demo')).toBeUndefined();
    const job = await until('job retried later', async () => {
      const j = await queues.publish.getJob(`${loop.id}.publish.pull-request`);
      return j && j.attemptsMade >= 1 && (await j.getState()) === 'delayed' && j;
    });
    expect(job.failedReason).toContain('GitHub failed listing pull requests (503');
    // Its last attempt (a job with one attempt left): onFinalFailure says so on the loop, once.
    await addJob(queues, 'publish.pull-request', { loopId: loop.id }, { jobId: `${loop.id}.publish.last`, attempts: 1 });
    const notices = await until('notice', async () => {
      const n = (await h.store.getLoop(loop.id))?.notices ?? [];
      return n.length > 0 && n;
    });
    expect(notices).toEqual([expect.stringMatching(/^no pull request: gave up after 1 attempt\(s\): GitHub failed listing pull requests \(503/)]);
    expect(fake.pulls.find((p) => p.head === loop.branch)).toBeUndefined();
  });
});
