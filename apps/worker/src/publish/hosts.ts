import type { Logger, PullRequestConfig } from '@greenloop/core';
import { githubHost } from './github.ts';
import { gitlabHost } from './gitlab.ts';
import type { RetryPolicy } from './host-retry.ts';
import type { PullRequestHost } from './pull-request-host.ts';

/** The host adapter `pullRequest` names, with the token read from its `tokenEnv`. */
export function pullRequestHost(config: PullRequestConfig, token: string, log: Logger, tuning: RetryPolicy = {}): PullRequestHost {
  const opts = { repository: config.repository, token, tokenEnv: config.tokenEnv, log, ...tuning };
  return config.provider === 'gitlab'
    ? gitlabHost({ ...opts, url: config.apiUrl ?? 'https://gitlab.com' })
    : githubHost({ ...opts, apiUrl: config.apiUrl ?? 'https://api.github.com' });
}

/** What the token needs, in the host's words (messages and doctor's fixes). */
export function tokenNeeds(config: PullRequestConfig): string {
  return config.provider === 'gitlab'
    ? 'a GitLab token with the api scope (Developer role or above)'
    : 'a GitHub token with Pull requests read/write (fine-grained; Contents read/write too if it pushes) or the repo scope (classic)';
}
