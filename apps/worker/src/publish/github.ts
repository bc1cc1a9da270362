import type { Logger } from '@greenloop/core';
import { Octokit } from '@octokit/rest';
import { parseRetryAfter } from '../notify/http-delivery.ts';
import { type RetryPolicy, withRetries } from './host-retry.ts';
import { type HostComment, PublishError, type PullRequestHost, type PullRequestRef } from './pull-request-host.ts';

/**
 * GitHub (and GitHub Enterprise Server, through `apiUrl`) pull requests through Octokit's REST client.
 * Each call is tried up to `attempts` times in the job for 5xx, network errors and rate limits (waiting
 * out a Retry-After up to `maxWaitMs`); longer waits and exhausted retries throw a transient
 * PublishError so the job is retried later by BullMQ. 401/403/404/422 are permanent, with what to do.
 */

export interface GitHubOptions extends RetryPolicy {
  /** "owner/name". */
  repository: string;
  apiUrl: string;
  token: string;
  /** The variable the token came from, named in error messages (never its value). */
  tokenEnv: string;
  log: Logger;
}

/** GitHub refuses a pull request body or comment longer than this (characters). */
export const GITHUB_BODY_LIMIT = 65_536;

/** GitHub asks clients to wait at least a minute after a secondary rate limit that gives no Retry-After. */
const SECONDARY_RATE_LIMIT_WAIT_MS = 60_000;

export function githubHost(opts: GitHubOptions): PullRequestHost {
  const [owner = '', repo = ''] = opts.repository.split('/');
  const log = opts.log.child({ github: opts.repository });
  const octokit = new Octokit({
    auth: opts.token,
    baseUrl: opts.apiUrl.replace(/\/+$/, ''),
    userAgent: 'greenloop',
    // Octokit's own log goes to greenloop's; it never logs request headers (the token).
    log: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(m), error: (m: string) => log.error(m) },
  });
  const ctx = { repository: opts.repository, tokenEnv: opts.tokenEnv };
  const call = <T>(what: string, fn: (request: { signal: AbortSignal }) => Promise<T>): Promise<T> =>
    withRetries(
      what,
      (signal) => fn({ signal }),
      (err, nowMs) => classify(err, what, ctx, nowMs),
      opts,
      log,
    );

  const ref = (pr: { number: number; html_url: string; draft?: boolean | undefined; body: string | null }): PullRequestRef => ({
    number: pr.number,
    url: pr.html_url,
    draft: pr.draft ?? false,
    body: pr.body ?? '',
  });
  const comment = (c: { id: number; body?: string | undefined; html_url: string }): HostComment => ({ id: c.id, body: c.body ?? '', url: c.html_url });

  return {
    name: 'GitHub',
    noun: 'pull request',
    label: (number) => `pull request #${number}`,
    bodyLimit: GITHUB_BODY_LIMIT,
    async defaultBranch() {
      const { data } = await call('reading the repository', (request) => octokit.rest.repos.get({ owner, repo, request }));
      return data.default_branch;
    },
    async findOpen(head) {
      // `head` filters by "owner:branch"; only pull requests from this repository's own branch count.
      const { data } = await call('listing pull requests', (request) =>
        octokit.rest.pulls.list({ owner, repo, head: `${owner}:${head}`, state: 'open', per_page: 10, request }),
      );
      const pr = data.find((p) => p.head.ref === head);
      return pr ? ref(pr) : undefined;
    },
    async open(req) {
      const { data } = await call('opening the pull request', (request) =>
        octokit.rest.pulls.create({ owner, repo, head: req.head, base: req.base, title: req.title, body: req.body, draft: req.draft, request }),
      );
      return ref(data);
    },
    async update(number, req) {
      const { data } = await call(`updating pull request #${number}`, (request) =>
        octokit.rest.pulls.update({ owner, repo, pull_number: number, title: req.title, body: req.body, request }),
      );
      return ref(data);
    },
    async comments(number) {
      const all = await call(`reading the comments of #${number}`, (request) =>
        octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100, request }),
      );
      return all.map(comment);
    },
    async comment(number, body) {
      const { data } = await call(`commenting on #${number}`, (request) =>
        octokit.rest.issues.createComment({ owner, repo, issue_number: number, body, request }),
      );
      return comment(data);
    },
    async updateComment(_number, id, body) {
      const { data } = await call('updating a comment', (request) => octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body, request }));
      return comment(data);
    },
  };
}

interface HttpErrorShape {
  status: number;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown } | undefined;
}

function isHttpError(err: unknown): err is Error & HttpErrorShape {
  return err instanceof Error && err.name === 'HttpError' && typeof (err as { status?: unknown }).status === 'number';
}

/** Turns what Octokit threw into a PublishError that says whether to retry and what a person should do. */
export function classify(err: unknown, what: string, ctx: { repository: string; tokenEnv: string }, nowMs: number): PublishError {
  if (!isHttpError(err)) {
    const name = err instanceof Error ? err.name : '';
    const reason = name === 'TimeoutError' || name === 'AbortError' ? 'timed out' : 'network error';
    return new PublishError(`GitHub did not answer ${what}: ${reason}`, { kind: 'transient' });
  }
  const status = err.status;
  const headers = err.response?.headers ?? {};
  const data = (err.response?.data ?? {}) as { message?: unknown; errors?: unknown };
  const message = typeof data.message === 'string' ? data.message : '';
  const details = Array.isArray(data.errors)
    ? data.errors.map((e) =>
        typeof e === 'string' ? e : typeof (e as { message?: unknown }).message === 'string' ? (e as { message: string }).message : JSON.stringify(e),
      )
    : [];
  const said = [message, ...details].filter(Boolean).join(': ').slice(0, 500);

  if (status === 429 || (status === 403 && isRateLimited(headers, message))) {
    const retryAfterMs = rateLimitWait(headers, nowMs) ?? SECONDARY_RATE_LIMIT_WAIT_MS;
    return new PublishError(`GitHub rate-limited ${what} (${status}${said ? `: ${said}` : ''}); retrying in ${Math.ceil(retryAfterMs / 1000)}s`, {
      kind: 'transient',
      status,
      retryAfterMs,
    });
  }
  if (status === 401) {
    return new PublishError(
      `GitHub refused the token while ${what} (401 ${said || 'Bad credentials'}): check that ${ctx.tokenEnv} holds a valid, unexpired token`,
      {
        kind: 'permanent',
        status,
      },
    );
  }
  if (status === 403) {
    return new PublishError(
      `GitHub refused ${what} (403 ${said || 'Forbidden'}): the token in ${ctx.tokenEnv} lacks permission on ${ctx.repository} — fine-grained: Pull requests read/write (and Contents read/write when greenloop pushes); classic: repo`,
      { kind: 'permanent', status },
    );
  }
  if (status === 404) {
    return new PublishError(
      `GitHub answered 404 while ${what}: ${ctx.repository} does not exist at this API URL, or the token in ${ctx.tokenEnv} cannot see it (GitHub hides private repositories as 404)`,
      { kind: 'permanent', status },
    );
  }
  if (status === 422) {
    const text = said.toLowerCase();
    // Private repositories on GitHub Free have no draft pull requests.
    if (text.includes('draft pull requests are not supported'))
      return new PublishError(`GitHub refused ${what}: ${said}`, { kind: 'permanent', status, refusal: 'draft-unsupported' });
    if (text.includes('already exists')) return new PublishError(`GitHub says ${said}`, { kind: 'permanent', status, refusal: 'already-exists' });
    if (text.includes('no commits between'))
      return new PublishError(`GitHub refused ${what}: ${said} — the branch on GitHub has nothing the base lacks (was it pushed?)`, {
        kind: 'permanent',
        status,
        refusal: 'no-commits',
      });
    if (details.some((d) => /"field":"base"/.test(d)))
      return new PublishError(`GitHub refused ${what}: the base branch is not on GitHub (${said}) — check pullRequest.base`, { kind: 'permanent', status });
    if (details.some((d) => /"field":"head"/.test(d)) || /head/.test(text))
      return new PublishError(
        `GitHub refused ${what}: the loop branch is not on GitHub (${said}) — set loop.push in greenloop.yaml so greenloop pushes it, or push it yourself`,
        { kind: 'permanent', status, refusal: 'head-missing' },
      );
    return new PublishError(`GitHub refused ${what} (422 ${said || 'Validation Failed'})`, { kind: 'permanent', status });
  }
  if (status >= 500 || status === 408) return new PublishError(`GitHub failed ${what} (${status}${said ? ` ${said}` : ''})`, { kind: 'transient', status });
  return new PublishError(`GitHub refused ${what} (${status}${said ? ` ${said}` : ''})`, { kind: 'permanent', status });
}

function header(headers: Record<string, string | number | undefined>, name: string): string | undefined {
  const v = headers[name];
  return v === undefined ? undefined : String(v);
}

function isRateLimited(headers: Record<string, string | number | undefined>, message: string): boolean {
  return header(headers, 'retry-after') !== undefined || header(headers, 'x-ratelimit-remaining') === '0' || /rate limit/i.test(message);
}

/** Retry-After (seconds or a date), else the primary limit's reset time (epoch seconds). */
function rateLimitWait(headers: Record<string, string | number | undefined>, nowMs: number): number | undefined {
  const retryAfter = parseRetryAfter(header(headers, 'retry-after') ?? null, nowMs);
  if (retryAfter !== undefined) return retryAfter;
  const reset = header(headers, 'x-ratelimit-reset');
  if (header(headers, 'x-ratelimit-remaining') === '0' && reset && /^\d+$/.test(reset)) return Math.max(1000, Number(reset) * 1000 - nowMs);
  return undefined;
}
