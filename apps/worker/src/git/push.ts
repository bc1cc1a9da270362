import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '@greenloop/core';
import { GIT_SAFE_ARGS } from './repo.ts';

const execFileAsync = promisify(execFile);

/** Where and how to push: `loop.push` of greenloop.yaml, with the token read from its `tokenEnv`. */
export interface PushTarget {
  remote: string;
  token?: string;
}

/** A push's outcome; `error` is git's stderr with the token scrubbed (for a log line or an event). */
export type PushOutcome = { pushed: true } | { pushed: false; error: string };

/**
 * Pushes `source` (a ref or commit in `dir`) to `refs/heads/<branch>` on the remote. The token travels as
 * `http.extraHeader` through git's GIT_CONFIG_* environment variables: never in the URL, and not in argv
 * either, where any local user could read it from the process list. Never throws for a failed push: the
 * outcome says why, token scrubbed.
 */
export async function pushBranch(dir: string, source: string, branch: string, push: PushTarget, log: Logger): Promise<PushOutcome> {
  if (push.remote.startsWith('-')) {
    log.warn({ remote: push.remote }, 'not pushing: the remote name starts with "-"');
    return { pushed: false, error: `the remote name ${JSON.stringify(push.remote)} starts with "-"` };
  }
  // git needs greenloop's own PATH, HOME and credential settings; only the header is added.
  const env: Record<string, string | undefined> = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
  if (push.token) {
    const i = Number.parseInt(env.GIT_CONFIG_COUNT ?? '0', 10) || 0;
    env.GIT_CONFIG_COUNT = String(i + 1);
    env[`GIT_CONFIG_KEY_${i}`] = 'http.extraHeader';
    env[`GIT_CONFIG_VALUE_${i}`] = `Authorization: Bearer ${push.token}`;
  }
  const scrub = (s: string) => (push.token ? s.split(push.token).join('[redacted]') : s);
  try {
    // No pre-push hook (GIT_SAFE_ARGS): it would run with greenloop's environment and the token.
    await execFileAsync('git', [...GIT_SAFE_ARGS, 'push', '--porcelain', push.remote, `${source}:refs/heads/${branch}`], { cwd: dir, env, timeout: 300_000 });
    log.info({ remote: push.remote, branch }, 'branch pushed');
    return { pushed: true };
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    const error = scrub((e.stderr || e.message || String(err)).trim()).slice(-2000);
    log.warn({ remote: push.remote, branch, error }, 'push failed');
    return { pushed: false, error };
  }
}
