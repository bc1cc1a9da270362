// doctor's pull request check through the real Octokit client against the fake GitHub: a missing token,
// a refused one, and a token that reads the repository.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type PullRequestConfig } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGitHub } from '../test-support/fake-github.ts';
import { checkPullRequestAccess } from './pull-request-check.ts';

const TOKEN = 'ghp_DoctorToken0123456789abcdefABCDEF0123';
const log = createLogger('doctor-test', 'silent');

describe('doctor: pull request access', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-prcheck-'));
  let fake: FakeGitHub;
  let config: PullRequestConfig;
  beforeAll(async () => {
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(dir, 'gh.git')]);
    fake = await FakeGitHub.start({ repository: 'acme/shop', token: TOKEN, gitDir: join(dir, 'gh.git'), defaultBranch: 'trunk' });
    config = { provider: 'github', repository: 'acme/shop', tokenEnv: 'GH_TOKEN', apiUrl: fake.apiUrl };
  });
  afterAll(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says the token is missing and how to set it', async () => {
    expect(await checkPullRequestAccess(config, {}, { log })).toEqual({
      ok: false,
      message: 'GH_TOKEN (pullRequest.tokenEnv) is not set',
      fix: expect.stringMatching(/^export GH_TOKEN=<a GitHub token with Pull requests read\/write/),
    });
  });

  it('passes on the host’s refusal as the fix, after one request', async () => {
    const before = fake.requests.length;
    const out = await checkPullRequestAccess(config, { GH_TOKEN: 'ghp_wrong0000000000000000000000000000000' }, { log });
    expect(out).toMatchObject({
      ok: false,
      message: "GitHub acme/shop: a loop's end could not publish",
      fix: expect.stringContaining('check that GH_TOKEN holds a valid'),
    });
    expect(fake.requests.length - before).toBe(1);
  });

  it('reads the repository and its pull requests with a good token', async () => {
    expect(await checkPullRequestAccess(config, { GH_TOKEN: TOKEN }, { log, pushRemote: 'origin' })).toEqual({
      ok: true,
      message: 'GitHub acme/shop: the token in GH_TOKEN reads it and its pull requests; base trunk; loop.push pushes the branch to origin',
    });
  });
});
