import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { getEnvironment, parseConfig } from './load.ts';

const withPullRequest = (pullRequest: unknown) => ({
  version: 1,
  environments: {
    staging: {
      services: [{ name: 'api', deploy: { provider: 'local', command: ['node', 'server.js'] } }],
      tests: { command: ['npm', 'test'] },
      pullRequest,
    },
  },
});

function issues(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('pullRequest config', () => {
  it('defaults to GitHub, and takes GitLab project paths with groups', () => {
    const gh = getEnvironment(parseConfig(withPullRequest({ repository: 'acme/shop', tokenEnv: 'GH_TOKEN' })), 'staging').pullRequest;
    expect(gh).toEqual({ provider: 'github', repository: 'acme/shop', tokenEnv: 'GH_TOKEN' });
    const gl = getEnvironment(parseConfig(withPullRequest({ provider: 'gitlab', repository: 'acme/platform/shop', tokenEnv: 'GL_TOKEN' })), 'staging');
    expect(gl.pullRequest?.repository).toBe('acme/platform/shop');
  });

  it('names the field and what is expected', () => {
    expect(issues(withPullRequest({ repository: 'acme/platform/shop', tokenEnv: 'T' }))).toContain(
      'environments.staging.pullRequest.repository: expected "owner/name" for GitHub',
    );
    expect(issues(withPullRequest({ repository: 'shop', tokenEnv: 'T' }))).toContain('environments.staging.pullRequest.repository: expected "owner/name"');
    expect(issues(withPullRequest({ repository: 'acme/shop' }))).toContain('environments.staging.pullRequest.tokenEnv');
    expect(issues(withPullRequest({ repository: 'acme/shop', tokenEnv: 'T', apiUrl: 'not a url' }))).toContain('pullRequest.apiUrl: expected a URL');
    expect(issues(withPullRequest({ repository: 'acme/shop', tokenEnv: 'T', provider: 'bitbucket' }))).toContain(
      'expected pullRequest.provider: github or gitlab',
    );
    expect(issues(withPullRequest({ repository: 'acme/shop', tokenEnv: 'T', token: 'ghp_x' }))).toContain('token');
  });
});
