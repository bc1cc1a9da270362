import type { Logger, LoopRecord, LoopStore } from '@greenloop/core';
import { type PushTarget, pushBranch } from '../git/push.ts';
import { gatherLoopEvidence } from './loop-evidence.ts';
import { laterLoopComment, loopMarker, markedLoop, pullRequestBody, pullRequestTitle, type ReportLinks } from './pull-request-body.ts';
import { PublishError, type PullRequestHost, type PullRequestRef } from './pull-request-host.ts';

/**
 * The loop's end, published: push the loop branch (when `loop.push` is configured), then open the pull
 * request, or update the one this loop opened before (a retried job), or — when an earlier loop or a
 * person opened the branch's pull request — add one comment for this loop (updated, never repeated).
 * Draft unless green. Never changes the loop's verdict; the outcome is a notice and an event on the loop.
 */

export interface PublishDeps {
  store: LoopStore;
  /** The host, built only when there is something to publish (building it needs the token). */
  host: () => PullRequestHost;
  /** A repository holding the loop's commit (its project's mirror on this worker, or GREENLOOP_REPO). */
  repo: string;
  /** `loop.push` with its token; without it the branch must reach the host some other way. */
  push?: PushTarget;
  /** `pullRequest.base`; unset: the host's default branch. */
  base?: string;
  links: ReportLinks;
  log: Logger;
}

export type PublishOutcome =
  | { status: 'skipped'; reason: string }
  | { status: 'opened' | 'updated' | 'commented'; number: number; url: string; draft: boolean }
  | { status: 'refused'; reason: string };

/** Loop states that publish: green, or stopped with fixes on the branch (cancelled and failed loops do not). */
const PUBLISHED_STATES: readonly LoopRecord['state'][] = ['green', 'stopped'];

/** Whether a loop that ended like this gets a pull request (the teardown enqueues the job only then). */
export function shouldPublish(loop: LoopRecord): boolean {
  return PUBLISHED_STATES.includes(loop.state) && !!loop.branch && !!loop.commit && !!loop.baseCommit && loop.commit !== loop.baseCommit;
}

/**
 * Runs the publication. Permanent refusals (bad token, no permission, no such repository, nothing to
 * merge) are recorded on the loop and returned as `refused`; transient failures throw so the job retries.
 */
export async function publishPullRequest(deps: PublishDeps, loopId: string): Promise<PublishOutcome> {
  const loop = await deps.store.getLoop(loopId);
  if (!loop) return { status: 'skipped', reason: `loop ${loopId} does not exist (pruned?)` };
  if (!shouldPublish(loop)) return { status: 'skipped', reason: `loop ${loop.state} with no commits on its branch to propose` };
  const log = deps.log.child({ loopId });
  let host: PullRequestHost | undefined;
  try {
    host = deps.host();
    const outcome = await publish(deps, host, loop, log);
    const what = `${host.label(outcome.number)} ${outcome.status}${outcome.draft ? ' (draft)' : ''}: ${outcome.url}`;
    await deps.store.addNotice(loop.id, what);
    await deps.store.emit({ type: 'notice', loopId: loop.id, message: what, data: { pullRequest: outcome } });
    log.info({ pullRequest: outcome.number, action: outcome.status }, 'pull request published');
    return outcome;
  } catch (err) {
    if (!(err instanceof PublishError) || err.kind !== 'permanent') throw err;
    await recordRefusal(deps.store, loop.id, err.message, host?.noun);
    log.warn({ status: err.status, reason: err.message }, 'pull request not published');
    return { status: 'refused', reason: err.message };
  }
}

/** What a publication that cannot succeed leaves on the loop: one notice and one event, saying why. */
export async function recordRefusal(store: LoopStore, loopId: string, reason: string, noun = 'pull request'): Promise<void> {
  const message = `no ${noun}: ${reason}`;
  await store.addNotice(loopId, message);
  await store.emit({ type: 'notice', loopId, message, data: { pullRequest: { status: 'refused', reason } } });
}

async function publish(deps: PublishDeps, host: PullRequestHost, loop: LoopRecord, log: Logger): Promise<Extract<PublishOutcome, { number: number }>> {
  const branch = loop.branch as string;
  if (deps.push) {
    // The loop's recorded commit (its branch's head when it ended): what a worker's mirror holds for sure.
    const pushed = await pushBranch(deps.repo, loop.commit as string, branch, deps.push, log);
    // A push may fail for a moment (network) or for good (credentials); it is retried with the job either way.
    if (!pushed.pushed) throw new PublishError(`could not push ${branch} to ${deps.push.remote}: ${pushed.error}`, { kind: 'transient' });
  }
  const evidence = await gatherLoopEvidence(deps.store, loop);
  const title = pullRequestTitle(evidence);
  const draft = loop.state !== 'green';

  let existing = await host.findOpen(branch);
  if (!existing) {
    const base = deps.base ?? (await host.defaultBranch());
    const body = pullRequestBody(evidence, deps.links, limitOf(host));
    try {
      const opened = await openPullRequest(host, { head: branch, base, title, body, draft }, log);
      return { status: 'opened', number: opened.number, url: opened.url, draft: opened.draft };
    } catch (err) {
      // Opened meanwhile (a job attempt that died after GitHub answered): find it and carry on.
      if (!(err instanceof PublishError && err.refusal === 'already-exists')) throw err;
      existing = await host.findOpen(branch);
      if (!existing) throw new PublishError(`${err.message}, but it cannot be found among the open pull requests; retrying`, { kind: 'transient' });
    }
  }
  return await updateExisting(host, existing, loop, evidence, title, deps.links);
}

const limitOf = (host: PullRequestHost) => ({ host: host.name, chars: host.bodyLimit });

/** Opens it; a repository without draft pull requests gets a ready one (its body still says the suite is not green). */
async function openPullRequest(host: PullRequestHost, req: Parameters<PullRequestHost['open']>[0], log: Logger): Promise<PullRequestRef> {
  try {
    return await host.open(req);
  } catch (err) {
    if (!(req.draft && err instanceof PublishError && err.refusal === 'draft-unsupported')) throw err;
    log.info('the repository has no draft pull requests; opening a ready one');
    return await host.open({ ...req, draft: false });
  }
}

async function updateExisting(
  host: PullRequestHost,
  pr: PullRequestRef,
  loop: LoopRecord,
  evidence: Awaited<ReturnType<typeof gatherLoopEvidence>>,
  title: string,
  links: ReportLinks,
): Promise<Extract<PublishOutcome, { number: number }>> {
  if (markedLoop(pr.body, 'body') === loop.id) {
    const updated = await host.update(pr.number, { title, body: pullRequestBody(evidence, links, limitOf(host)), draft: loop.state !== 'green' });
    return { status: 'updated', number: updated.number, url: updated.url, draft: updated.draft };
  }
  // Someone else's body (an earlier loop's, or a person's): left alone; this loop says its piece in one comment.
  const body = laterLoopComment(evidence, links, limitOf(host));
  const mine = (await host.comments(pr.number)).find((c) => c.body.includes(loopMarker(loop.id, 'comment')));
  if (mine) await host.updateComment(pr.number, mine.id, body);
  else await host.comment(pr.number, body);
  return { status: 'commented', number: pr.number, url: pr.url, draft: pr.draft };
}
