/**
 * What greenloop needs from a code host to publish a loop's result: GitHub pull requests today
 * (`github.ts`), GitLab merge requests later behind the same interface. Every method throws a
 * {@link PublishError} that says whether trying again can help.
 */

export interface PullRequestRef {
  number: number;
  /** The page a person opens. */
  url: string;
  draft: boolean;
  body: string;
}

export interface HostComment {
  id: number;
  body: string;
  url: string;
}

export interface PullRequestHost {
  /** "GitHub", "GitLab": in messages and the body's cut notice. */
  readonly name: string;
  /** What the host calls them: "pull request", "merge request". */
  readonly noun: string;
  /** What a person calls one: "pull request #12", "merge request !12". */
  label(number: number): string;
  /** The longest body or comment the host takes (characters). */
  readonly bodyLimit: number;
  /** The branch pull requests target when the config names none. */
  defaultBranch(): Promise<string>;
  /** The open pull request from `head` (a branch of the same repository), if any. */
  findOpen(head: string): Promise<PullRequestRef | undefined>;
  open(req: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestRef>;
  /** `draft` as the pull request should be; a host that cannot change it after opening (GitHub's REST API) leaves it. */
  update(number: number, req: { title: string; body: string; draft: boolean }): Promise<PullRequestRef>;
  comments(number: number): Promise<HostComment[]>;
  comment(number: number, body: string): Promise<HostComment>;
  updateComment(number: number, id: number, body: string): Promise<HostComment>;
}

export type Refusal = 'already-exists' | 'no-commits' | 'head-missing' | 'draft-unsupported';

/**
 * Why a host call failed. `permanent`: trying again cannot help (bad token, missing permission, no such
 * repository, a refused pull request) — the loop gets one event saying what to do. `transient`: 5xx,
 * rate limits, network — retried, after `retryAfterMs` when the host said how long.
 */
export class PublishError extends Error {
  readonly kind: 'permanent' | 'transient';
  /** What the host refused, for a 422: the pull request already exists, there is nothing to merge, the head branch is not there, or the repository has no drafts. */
  readonly refusal: Refusal | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, opts: { kind: 'permanent' | 'transient'; status?: number; retryAfterMs?: number; refusal?: Refusal }) {
    super(message);
    this.name = 'PublishError';
    this.kind = opts.kind;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.refusal = opts.refusal;
  }
}
