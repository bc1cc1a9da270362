import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '@greenloop/core';
import { displayRemote, type RemoteCredentials, remoteGitEnv, scrubCredentials } from './remote-auth.ts';
import { GIT_SAFE_ARGS } from './repo.ts';

const execFileAsync = promisify(execFile);

/**
 * Where and how to push: `loop.push` of greenloop.yaml with the token read from its `tokenEnv`, or a
 * project loop's remote with the credentials its `credentialsSecret` names.
 */
export interface PushTarget extends RemoteCredentials {
  remote: string;
}

/** A push's outcome; `error` is git's stderr with the token scrubbed (for a log line or an event). */
export type PushOutcome = { pushed: true } | { pushed: false; error: string };

/**
 * Pushes `source` (a ref or commit in `dir`) to `refs/heads/<branch>` on the remote. Credentials travel
 * in git's environment (see remote-auth.ts): never in the URL or argv. Never throws for a failed push:
 * the outcome says why, token scrubbed.
 */
export async function pushBranch(dir: string, source: string, branch: string, push: PushTarget, log: Logger): Promise<PushOutcome> {
  const remote = displayRemote(push.remote);
  if (push.remote.startsWith('-')) {
    log.warn({ remote }, 'not pushing: the remote name starts with "-"');
    return { pushed: false, error: `the remote name ${JSON.stringify(remote)} starts with "-"` };
  }
  // git needs greenloop's own PATH, HOME and credential settings; only the credentials are added.
  const env = remoteGitEnv(process.env, push);
  try {
    // No pre-push hook (GIT_SAFE_ARGS): it would run with greenloop's environment and the token.
    await execFileAsync('git', [...GIT_SAFE_ARGS, 'push', '--porcelain', push.remote, `${source}:refs/heads/${branch}`], { cwd: dir, env, timeout: 300_000 });
    log.info({ remote, branch }, 'branch pushed');
    return { pushed: true };
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    const error = scrubCredentials((e.stderr || e.message || String(err)).trim(), push).slice(-2000);
    log.warn({ remote, branch, error }, 'push failed');
    return { pushed: false, error };
  }
}
