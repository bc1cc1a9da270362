import { addKnownSecrets, describeError, type EnvironmentConfig, type LoopRecord, type LoopSource } from '@greenloop/core';
import type { WorkerContext } from '../context.ts';
import { type PushTarget, pushBranch } from '../git/push.ts';
import { displayRemote, remoteCredentials } from '../git/remote-auth.ts';

/**
 * Where a loop's branch is pushed: a project loop's remote with the credentials its `credentialsSecret`
 * names (a remote *name* from greenloop.yaml means nothing in a worker's mirror), otherwise
 * greenloop.yaml's `loop.push` with the token its `tokenEnv` names. Undefined: nowhere. Throws when the
 * project's credentials variable is not set.
 */
export function pushTargetOf(ctx: WorkerContext, loop: Pick<LoopRecord, 'source'>, environment: EnvironmentConfig): PushTarget | undefined {
  if (loop.source) return sourcePushTarget(ctx, loop.source);
  const push = environment.loop.push;
  if (!push) return undefined;
  const token = push.tokenEnv ? ctx.processEnv[push.tokenEnv] : undefined;
  return { remote: push.remote, ...(token ? { token } : {}) };
}

/** A project's remote with its credentials (throws when the variable `credentialsSecret` names is not set). */
function sourcePushTarget(ctx: WorkerContext, source: LoopSource): PushTarget {
  const creds = remoteCredentials(source.remote, source.credentialsSecret, ctx.processEnv);
  // Known to the redactor before git runs: a message that echoes it is scrubbed on the way out.
  if (creds.token) addKnownSecrets([creds.token]);
  return { remote: source.remote, ...creds };
}

/**
 * The end of a project loop that has commits to propose: its recorded commit pushed from the worker's
 * mirror to `greenloop/<loop>` on the project's remote. The commit, not the mirror's branch: the cycle
 * that integrated it may have run on another worker (whose mirror moved the branch); a mirror without
 * it fetches it first. The outcome is a notice and an event on the loop, never a verdict change;
 * idempotent (a replayed teardown pushes the same commit again, a no-op for git).
 */
export async function pushToSource(ctx: WorkerContext, loop: LoopRecord): Promise<void> {
  if (!loop.source || !loop.branch || !loop.commit) return;
  const remote = displayRemote(loop.source.remote);
  let message: string;
  let pushed = false;
  try {
    const target = sourcePushTarget(ctx, loop.source);
    const repo = await ctx.repos.repoFor(loop, loop.commit);
    const outcome = await pushBranch(repo, loop.commit, loop.branch, target, ctx.log.child({ loopId: loop.id }));
    pushed = outcome.pushed;
    message = outcome.pushed ? `pushed ${loop.branch} to ${remote}` : `could not push ${loop.branch} to ${remote}: ${outcome.error}`;
  } catch (err) {
    message = `could not push ${loop.branch} to ${remote}: ${describeError(err)}`;
  }
  await ctx.store.addNotice(loop.id, message);
  await ctx.store.emit({ type: 'notice', loopId: loop.id, message, data: { push: { remote, branch: loop.branch, commit: loop.commit, pushed } } });
}
