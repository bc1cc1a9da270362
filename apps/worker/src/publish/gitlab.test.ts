// GitLab merge requests behind the same interface, through the real gitbeaker client against a local
// fake of GitLab's v4 endpoints (branches looked up in a real bare repository): draft as a "Draft: "
// title, a retried job updates, a later loop comments once, refusals are one event.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type LoopRecord } from '@greenloop/core';
import { ANALYZED, testRedis } from '@greenloop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initForgeRepos } from '../test-support/fake-forge.ts';
import { FakeGitLab } from '../test-support/fake-gitlab.ts';
import { gitlabHost } from './gitlab.ts';
import { type PublishDeps, publishPullRequest } from './publish-pull-request.ts';

const TOKEN = 'glpat-FakeGitLabToken0123456789';
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

describe('publishing a merge request (gitbeaker → fake GitLab)', () => {
  const r = testRedis();
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-mr-'));
  const repo = join(dir, 'repo');
  const bare = join(dir, 'gitlab.git');
  let fake: FakeGitLab;
  let base = '';
  const sleeps: number[] = [];

  beforeAll(async () => {
    base = initForgeRepos(repo, bare, { 'a.txt': 'a\n' });
    fake = await FakeGitLab.start({ project: 'acme/platform/shop', token: TOKEN, gitDir: bare });
  });
  afterAll(async () => {
    await fake?.close();
    await r.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function endedLoop(id: string, state: LoopRecord['state'], clusters = ANALYZED.clusters): Promise<LoopRecord> {
    const head = git(repo, 'commit-tree', `${base}^{tree}`, '-p', base, '-m', `fix ${id}`);
    git(repo, 'branch', '-f', `greenloop/${id}`, head);
    const now = new Date().toISOString();
    await r.store.saveCycle({ loopId: id, n: 1, commit: head, startedAt: now, totals: ANALYZED.totals, green: state === 'green', stages: {} });
    await r.store.saveStage(id, 1, {
      stage: 'analyze',
      status: 'succeeded',
      startedAt: now,
      attempts: 1,
      result: { ...ANALYZED, green: state === 'green', clusters },
    });
    const loop: LoopRecord = {
      id,
      environment: 'staging',
      state,
      createdAt: now,
      startedBy: { kind: 'cli', name: 't' },
      branch: `greenloop/${id}`,
      baseCommit: base,
      commit: head,
      cycle: 1,
      stop: { rule: state === 'green' ? 'green' : 'max-cycles', message: 'done' },
    };
    await r.store.createLoop(loop);
    return loop;
  }

  function deps(overrides: Partial<PublishDeps> = {}, token = TOKEN): PublishDeps {
    const log = createLogger('mr-test', 'silent');
    return {
      store: r.store,
      host: () =>
        gitlabHost({
          repository: 'acme/platform/shop',
          url: fake.url,
          token,
          tokenEnv: 'GL_TOKEN',
          log,
          sleep: async (ms) => void sleeps.push(ms),
          backoffMs: 10,
        }),
      repo,
      // A file remote: GitLab's git transport is not what this test is about.
      push: { remote: bare },
      base: 'main',
      links: {},
      log,
      ...overrides,
    };
  }

  it('opens a draft merge request ("Draft: " title) with the evidence, and a retried job updates it', async () => {
    const loop = await endedLoop('mrtest-open01', 'stopped');
    expect(await publishPullRequest(deps(), loop.id)).toMatchObject({ status: 'opened', number: 1, draft: true });
    const mr = fake.mergeRequests[0];
    expect(mr).toMatchObject({
      source: loop.branch,
      target: 'main',
      title: 'Draft: greenloop: fixes for staging (max-cycles after 1 cycle, 0 left to a person)',
    });
    expect(mr?.description).toContain('### Pass rate per cycle');
    expect(fake.requests.every((q) => q.token === TOKEN)).toBe(true);
    expect((await r.store.readEvents(loop.id, '0')).map((e) => e.message)).toEqual([
      'merge request !1 opened (draft): https://gitlab.example/acme/platform/shop/-/merge_requests/1',
    ]);
    expect(await publishPullRequest(deps(), loop.id)).toMatchObject({ status: 'updated', number: 1, draft: true });
    expect(fake.mergeRequests).toHaveLength(1);
    expect(fake.mergeRequests[0]?.title.startsWith('Draft: ')).toBe(true);
  });

  it('a later loop on the branch adds one note; the first loop’s description is left alone', async () => {
    const earlier = await endedLoop('mrtest-earlr1', 'stopped');
    await publishPullRequest(deps(), earlier.id);
    const mr = fake.mergeRequests.find((m) => m.source === earlier.branch);
    const later = { ...earlier, id: 'mrtest-later1', state: 'green' as const };
    await r.store.createLoop(later);
    await r.store.saveCycle({ ...(await r.store.getCycle(earlier.id, 1))!, loopId: later.id });
    const description = mr?.description;
    expect(await publishPullRequest(deps(), later.id)).toMatchObject({ status: 'commented', number: mr?.iid });
    expect(await publishPullRequest(deps(), later.id)).toMatchObject({ status: 'commented', number: mr?.iid });
    expect(fake.notes.filter((n) => n.iid === mr?.iid)).toHaveLength(1);
    expect(mr?.description).toBe(description);
  });

  it('hostile text cannot reference merge requests, labels, milestones or snippets', async () => {
    const loop = await endedLoop('mrtest-hostl1', 'stopped', [
      {
        fingerprint: 'abcdef123456',
        title: 'see !1 ~bug %"v1.0" $7 &3 @group',
        triage: 'assertion',
        status: 'new',
        tests: ['t'],
        sampleMessage: '',
        endpoints: [],
      },
    ]);
    await publishPullRequest(deps(), loop.id);
    const text = fake.mergeRequests.find((m) => m.source === loop.branch)?.description ?? '';
    expect(text).toContain('see \\!\u200b1 \\~\u200bbug %\u200b"v1.0" \\$\u200b7 \\&\u200b3 @\u200bgroup');
  });

  it('401 is one event; a missing source branch says to push; 502s are left to the job’s retry', async () => {
    const a = await endedLoop('mrtest-401aa1', 'stopped');
    expect(await publishPullRequest(deps({}, 'glpat-wrong-wrong-wrong-wrong'), a.id)).toMatchObject({ status: 'refused' });
    expect((await r.store.readEvents(a.id, '0')).map((e) => e.message)).toEqual([
      'no merge request: GitLab refused the token while listing merge requests (401 401 Unauthorized): check that GL_TOKEN holds a valid, unexpired token with the api scope',
    ]);
    const b = await endedLoop('mrtest-nopush', 'stopped');
    expect(await publishPullRequest(deps({ push: undefined }), b.id)).toMatchObject({ status: 'refused', reason: expect.stringContaining('set loop.push') });
    const c = await endedLoop('mrtest-502aa1', 'stopped');
    fake.fail({ route: 'GET /merge_requests', status: 502, times: 10 });
    sleeps.length = 0;
    await expect(publishPullRequest(deps(), c.id)).rejects.toMatchObject({ kind: 'transient', retryAfterMs: 120_000 });
    expect(sleeps).toEqual([]);
  });
});
