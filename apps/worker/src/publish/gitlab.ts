import { Gitlab } from '@gitbeaker/rest';
import type { Logger } from '@greenloop/core';
import { parseRetryAfter } from '../notify/http-delivery.ts';
import { type RetryPolicy, withRetries } from './host-retry.ts';
import { type HostComment, PublishError, type PullRequestHost, type PullRequestRef } from './pull-request-host.ts';

/**
 * GitLab (gitlab.com or self-managed, through `url`) merge requests through gitbeaker's REST client,
 * behind the same interface as GitHub. A draft is GitLab's "Draft: " title prefix, so a later green loop
 * can mark it ready. gitbeaker itself retries 429 and 502; the rest follows `withRetries`.
 */

export interface GitLabOptions extends RetryPolicy {
  /** The project's path, "group/subgroup/project". */
  repository: string;
  /** The instance, e.g. https://gitlab.example.com. */
  url: string;
  token: string;
  tokenEnv: string;
  log: Logger;
}

/** GitLab refuses a note longer than this (characters); descriptions may be a little longer. */
export const GITLAB_BODY_LIMIT = 1_000_000;
const DRAFT = 'Draft: ';

export function gitlabHost(opts: GitLabOptions): PullRequestHost {
  const log = opts.log.child({ gitlab: opts.repository });
  const api = new Gitlab({ host: opts.url.replace(/\/+$/, ''), token: opts.token, queryTimeout: opts.timeoutMs ?? 30_000 });
  const project = opts.repository;
  const ctx = { repository: opts.repository, tokenEnv: opts.tokenEnv };
  const call = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withRetries(
      what,
      () => fn(),
      (err, nowMs) => classifyGitLab(err, what, ctx, nowMs),
      opts,
      log,
    );
  const titled = (title: string, draft: boolean) => (draft ? `${DRAFT}${title}` : title);
  const ref = (mr: { iid: number; web_url: string; description?: string | null; draft?: boolean; title: string }): PullRequestRef => ({
    number: mr.iid,
    url: mr.web_url,
    draft: mr.draft ?? mr.title.startsWith(DRAFT),
    body: mr.description ?? '',
  });
  const note = (number: number, n: { id: number; body: string }): HostComment => ({ id: n.id, body: n.body, url: `#note_${n.id} on !${number}` });

  return {
    name: 'GitLab',
    noun: 'merge request',
    label: (number) => `merge request !${number}`,
    bodyLimit: GITLAB_BODY_LIMIT,
    async defaultBranch() {
      const p = await call('reading the project', () => api.Projects.show(project));
      return String(p.default_branch);
    },
    async findOpen(head) {
      const mrs = await call('listing merge requests', () =>
        api.MergeRequests.all({ projectId: project, sourceBranch: head, state: 'opened', perPage: 10, maxPages: 1 }),
      );
      const mr = mrs.find((m) => m.source_branch === head);
      return mr ? ref(mr) : undefined;
    },
    async open(req) {
      const mr = await call('opening the merge request', () =>
        api.MergeRequests.create(project, req.head, req.base, titled(req.title, req.draft), { description: req.body }),
      );
      return ref(mr);
    },
    async update(number, req) {
      const mr = await call(`updating merge request !${number}`, () =>
        api.MergeRequests.edit(project, number, { title: titled(req.title, req.draft), description: req.body }),
      );
      return ref(mr);
    },
    async comments(number) {
      const notes = await call(`reading the notes of !${number}`, () => api.MergeRequestNotes.all(project, number, { perPage: 100 }));
      return notes.map((n) => note(number, n));
    },
    async comment(number, body) {
      return note(number, await call(`commenting on !${number}`, () => api.MergeRequestNotes.create(project, number, body)));
    },
    async updateComment(number, id, body) {
      return note(number, await call('updating a note', () => api.MergeRequestNotes.edit(project, number, id, { body })));
    },
  };
}

/** Turns what gitbeaker threw into a PublishError that says whether to retry and what a person should do. */
export function classifyGitLab(err: unknown, what: string, ctx: { repository: string; tokenEnv: string }, _nowMs?: number): PublishError {
  const name = err instanceof Error ? err.name : '';
  const response = (err as { cause?: { response?: Response } } | undefined)?.cause?.response;
  if (!(response instanceof Response)) {
    // gitbeaker already tried a 429 or 502 ten times (within ~0.25 s): the job's backoff takes over, not more tries now.
    if (name === 'GitbeakerRetryError')
      return new PublishError(`GitLab kept failing ${what} (429 or 502, retried by the client)`, { kind: 'transient', retryAfterMs: 120_000 });
    const reason = name === 'GitbeakerTimeoutError' || name === 'TimeoutError' ? 'timed out' : 'network error';
    return new PublishError(`GitLab did not answer ${what}: ${reason}`, { kind: 'transient' });
  }
  const status = response.status;
  const said = (err instanceof Error ? err.message : '').slice(0, 500);
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now()) ?? 60_000;
    return new PublishError(`GitLab rate-limited ${what} (429); retrying in ${Math.ceil(retryAfterMs / 1000)}s`, { kind: 'transient', status, retryAfterMs });
  }
  if (status === 401)
    return new PublishError(
      `GitLab refused the token while ${what} (401 ${said}): check that ${ctx.tokenEnv} holds a valid, unexpired token with the api scope`,
      {
        kind: 'permanent',
        status,
      },
    );
  if (status === 403)
    return new PublishError(
      `GitLab refused ${what} (403 ${said}): the token in ${ctx.tokenEnv} needs the api scope and at least the Developer role on ${ctx.repository}`,
      {
        kind: 'permanent',
        status,
      },
    );
  if (status === 404)
    return new PublishError(
      `GitLab answered 404 while ${what}: the project ${ctx.repository} does not exist at this URL, or the token in ${ctx.tokenEnv} cannot see it`,
      {
        kind: 'permanent',
        status,
      },
    );
  if (status === 409 && /already exists/i.test(said)) return new PublishError(`GitLab says ${said}`, { kind: 'permanent', status, refusal: 'already-exists' });
  if ((status === 400 || status === 422) && /source.?branch/i.test(said))
    return new PublishError(
      `GitLab refused ${what}: the loop branch is not on GitLab (${said}) — set loop.push in greenloop.yaml so greenloop pushes it, or push it yourself`,
      {
        kind: 'permanent',
        status,
        refusal: 'head-missing',
      },
    );
  if (status >= 500 || status === 408) return new PublishError(`GitLab failed ${what} (${status} ${said})`, { kind: 'transient', status });
  return new PublishError(`GitLab refused ${what} (${status} ${said})`, { kind: 'permanent', status });
}
