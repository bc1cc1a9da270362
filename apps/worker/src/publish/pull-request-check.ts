import type { Logger, PullRequestConfig } from '@greenloop/core';
import type { RetryPolicy } from './host-retry.ts';
import { pullRequestHost, tokenNeeds } from './hosts.ts';
import { PublishError } from './pull-request-host.ts';

/** doctor's verdict on `pullRequest`: whether a loop's end could publish, and the fix when not. */
export interface PullRequestAccess {
  ok: boolean;
  message: string;
  fix?: string;
}

/**
 * Checks, before any loop runs, what a loop's end will need: the token is set, and it reads the
 * repository and its pull requests (merge requests) at the configured API URL. Writing is not tried
 * (doctor opens nothing); a token that can read but not write is found when the first loop ends.
 */
export async function checkPullRequestAccess(
  config: PullRequestConfig,
  processEnv: Readonly<Record<string, string | undefined>>,
  opts: { log: Logger; pushRemote?: string; tuning?: RetryPolicy },
): Promise<PullRequestAccess> {
  const token = processEnv[config.tokenEnv];
  if (!token) return { ok: false, message: `${config.tokenEnv} (pullRequest.tokenEnv) is not set`, fix: `export ${config.tokenEnv}=<${tokenNeeds(config)}>` };
  const host = pullRequestHost(config, token, opts.log, { attempts: 1, ...opts.tuning });
  try {
    const base = config.base ?? (await host.defaultBranch());
    await host.findOpen('greenloop/doctor');
    const push = opts.pushRemote ? `loop.push pushes the branch to ${opts.pushRemote}` : `no loop.push: the loop branch must reach ${host.name} some other way`;
    return { ok: true, message: `${host.name} ${config.repository}: the token in ${config.tokenEnv} reads it and its ${host.noun}s; base ${base}; ${push}` };
  } catch (err) {
    if (!(err instanceof PublishError)) throw err;
    return { ok: false, message: `${host.name} ${config.repository}: a loop's end could not publish`, fix: err.message };
  }
}
