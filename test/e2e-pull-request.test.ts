// End-to-end (long): the demo loop to green with `loop.push` and `pullRequest` pointed at a local fake of
// GitHub — each cycle's fixes pushed over git's smart HTTP with the token in a header, and at the end one
// pull request through the real Octokit client whose body carries every cycle, the fixes and their commits.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGitHub } from '../apps/worker/src/test-support/fake-github.ts';
import { commitAll, demoHarness, type Harness, startLoopDirect } from './demo-harness.ts';

const TOKEN = 'ghp_E2eFakeToken0123456789abcdefABCDEF012';
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

describe('e2e: demo loop → pull request', () => {
  let h: Harness;
  let fake: FakeGitHub;
  let bare = '';
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    h = demoHarness({ GREENLOOP_URL: 'https://greenloop.acme.example' });
    bare = join(h.dir, 'github.git');
    git(h.dir, 'init', '-q', '--bare', '-b', 'main', bare);
    fake = await FakeGitHub.start({ repository: 'acme/demo', token: TOKEN, gitDir: bare });
    git(h.repo, 'remote', 'add', 'origin', fake.gitUrl);
    const file = join(h.repo, 'greenloop.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        /^( {4})loop: \{ (.*) \}$/m,
        `$1loop: { $2, push: { remote: origin, tokenEnv: GH_TOKEN } }\n$1pullRequest: { repository: acme/demo, tokenEnv: GH_TOKEN, apiUrl: "${fake.apiUrl}" }`,
      ),
    );
    // A loop reads greenloop.yaml at its base commit: the settings are committed, and that commit is main.
    commitAll(h.repo, 'push and pull request settings');
    git(h.repo, 'push', '-q', bare, 'HEAD:refs/heads/main');
    const log = createLogger('e2e', 'warn');
    const worker = await startWorker(h.env, log, h.redisUrl, { ...process.env, GH_TOKEN: TOKEN, GREENLOOP_URL: 'https://greenloop.acme.example' });
    close = async () => {
      await worker.close();
      await fake.close();
    };
  });
  afterAll(async () => {
    await close?.();
    await h?.cleanup();
  });

  it('goes green and opens one ready pull request with each cycle, each fix and its commit', { timeout: 180_000 }, async () => {
    const loop = await h.waitForEnd(await startLoopDirect(h.store, h.env.GREENLOOP_PREFIX, 'demo', 'e2e'), 170_000);
    expect(loop.state).toBe('green');

    const deadline = Date.now() + 30_000;
    while (!fake.pulls.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(fake.pulls).toHaveLength(1);
    const pr = fake.pulls[0];
    expect(pr).toMatchObject({ head: loop.branch, base: 'main', draft: false, title: `greenloop: fixes for demo (green after ${loop.cycle} cycles)` });
    // GitHub's copy of the branch is the loop's result, pushed with the token as a header.
    expect(git(bare, 'rev-parse', `refs/heads/${loop.branch}`)).toBe(loop.commit);
    expect(fake.gitAuthorizations).toContain(`Bearer ${TOKEN}`);
    for (let n = 1; n <= loop.cycle; n++) expect(pr?.body).toContain(`[cycle ${n}](https://greenloop.acme.example/v1/loops/${loop.id}/cycles/${n}/report)`);
    const commits = git(h.repo, 'log', '--format=%h', '--abbrev=7', `main..${loop.branch}`).split('\n');
    expect(commits.length).toBeGreaterThanOrEqual(3);
    for (const c of commits) expect(pr?.body).toContain(`\`${c}\``);
    expect(pr?.body).toContain('Nothing: every failure cluster of the last run was fixed.');
    // The event follows GitHub's answer.
    let events: string[] = [];
    while (Date.now() < deadline && !events.some((m) => m.startsWith('pull request #'))) {
      await new Promise((r) => setTimeout(r, 100));
      events = (await h.store.readEvents(loop.id, '0')).map((e) => e.message);
    }
    const all = await h.store.readEvents(loop.id, '0');
    const finished = all.find((e) => e.type === 'loop.finished');
    const opened = all.find((e) => e.message.startsWith('pull request #'));
    const apiCalls = fake.requests.filter((q) => q.path.startsWith('/api/v3/')).length;
    // A figure, not a verdict: how long after the verdict the pull request was there, and what it cost.
    console.log(
      `pull request: opened ${Date.parse(opened?.time ?? '') - Date.parse(finished?.time ?? '')} ms after the verdict; ${apiCalls} REST calls; body ${pr?.body.length} chars; ${fake.gitAuthorizations.length} git HTTP requests for ${loop.cycle} cycles`,
    );
    if (process.env.GREENLOOP_PR_BODY_OUT) writeFileSync(process.env.GREENLOOP_PR_BODY_OUT, pr?.body ?? '');
    expect(events).toContain(`pull request #${pr?.number} opened: https://github.example/acme/demo/pull/${pr?.number}`);
  });
});
