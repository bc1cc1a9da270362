import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, gitIn, hasBranch, type InjectedFailure, InjectedFailures, listenOnLoopback, readBody, sendJson } from './fake-forge.ts';
import { gitHttpBackend } from './git-http-backend.ts';

/**
 * A local fake of the GitHub REST endpoints greenloop's Octokit client calls, backed by a real bare git
 * repository: `GET /repos/{o}/{r}`, `GET|POST /repos/{o}/{r}/pulls`, `PATCH /repos/{o}/{r}/pulls/{n}`,
 * `GET|POST /repos/{o}/{r}/issues/{n}/comments`, `PATCH /repos/{o}/{r}/issues/comments/{id}`; and git's
 * smart HTTP (`/{o}/{r}.git/…`, through `git http-backend`) so pushes travel over HTTP with the token.
 * Whether a head branch exists and has commits the base lacks is asked of the bare repository, as
 * GitHub would. Tests inject failures and read `requests` to see what the client sent. Test-only.
 */

export interface FakeGitHubRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  authorization: string | undefined;
}

export interface FakePull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
  state: 'open' | 'closed';
}

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
}

/** An answer the fake gives instead of handling a matching call. */
export interface FakeGitHubFailure extends InjectedFailure {
  /** e.g. "POST /pulls" — method and the path after /repos/{o}/{r}; unset: any API call. */
  route?: string;
  /** Runs when the failure is served (e.g. a concurrent change GitHub saw first). */
  onServe?: () => void;
}

export class FakeGitHub {
  readonly requests: FakeGitHubRequest[] = [];
  readonly pulls: FakePull[] = [];
  readonly comments: FakeComment[] = [];
  /** Off: like a private repository on GitHub Free, a draft is refused with 422. */
  draftsSupported = true;
  /** Authorization headers the git endpoint saw on pushes. */
  readonly gitAuthorizations: string[] = [];
  private readonly failures = new InjectedFailures<FakeGitHubFailure>();
  private readonly server: Server;
  private nextId = 1000;
  port = 0;

  readonly owner: string;
  readonly repo: string;
  /** The bare repository standing in for GitHub's copy. */
  readonly gitDir: string;
  readonly defaultBranch: string;
  private readonly token: string;

  private constructor(owner: string, repo: string, token: string, gitDir: string, defaultBranch: string) {
    this.owner = owner;
    this.repo = repo;
    this.token = token;
    this.gitDir = gitDir;
    this.defaultBranch = defaultBranch;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(opts: { repository: string; token: string; gitDir: string; defaultBranch?: string }): Promise<FakeGitHub> {
    const [owner = '', repo = ''] = opts.repository.split('/');
    const fake = new FakeGitHub(owner, repo, opts.token, opts.gitDir, opts.defaultBranch ?? 'main');
    fake.port = await listenOnLoopback(fake.server);
    return fake;
  }

  /** What Octokit's `baseUrl` should be (like GitHub Enterprise Server's /api/v3). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/v3`;
  }

  /** The repository's clone URL, for `git remote add`. */
  get gitUrl(): string {
    return `http://127.0.0.1:${this.port}/${this.owner}/${this.repo}.git`;
  }

  fail(f: FakeGitHubFailure): void {
    this.failures.add(f);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://fake');
      if (url.pathname.startsWith(`/${this.owner}/${this.repo}.git/`)) return await this.git(req, res, url);
      const raw = await readBody(req);
      const body: unknown = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
      const authorization = req.headers.authorization;
      this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body, authorization });
      if (authorization !== `token ${this.token}` && authorization !== `Bearer ${this.token}`) {
        return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      }
      const prefix = `/api/v3/repos/${this.owner}/${this.repo}`;
      if (!url.pathname.startsWith(prefix)) return send(res, 404, { message: 'Not Found' });
      const route = `${req.method} ${url.pathname.slice(prefix.length) || '/'}`;
      const failure = this.failures.take(route, routeMatches);
      if (failure) {
        failure.onServe?.();
        return send(res, failure.status, failure.body ?? { message: `injected ${failure.status}` }, failure.headers);
      }
      await this.api(route, url, body, res);
    } catch (err) {
      send(res, 500, { message: `fake-github: ${(err as Error).message}` });
    }
  }

  private async api(route: string, url: URL, body: unknown, res: ServerResponse): Promise<void> {
    const b = (body ?? {}) as Record<string, unknown>;
    if (route === 'GET /') return send(res, 200, { full_name: `${this.owner}/${this.repo}`, default_branch: this.defaultBranch });
    if (route === 'GET /pulls') {
      const head = url.searchParams.get('head');
      const state = url.searchParams.get('state') ?? 'open';
      const found = this.pulls.filter((p) => (state === 'all' || p.state === state) && (!head || `${this.owner}:${p.head}` === head));
      return send(
        res,
        200,
        found.map((p) => this.pullJson(p)),
      );
    }
    if (route === 'POST /pulls') {
      const head = String(b.head ?? '');
      const base = String(b.base ?? '');
      if (!(await hasBranch(this.gitDir, head))) return send(res, 422, validation({ resource: 'PullRequest', field: 'head', code: 'invalid' }));
      if (!(await hasBranch(this.gitDir, base))) return send(res, 422, validation({ resource: 'PullRequest', field: 'base', code: 'invalid' }));
      if (b.draft === true && !this.draftsSupported)
        return send(res, 422, validation({ resource: 'PullRequest', code: 'custom', message: 'Draft pull requests are not supported in this repository.' }));
      if (this.pulls.some((p) => p.state === 'open' && p.head === head))
        return send(res, 422, validation({ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${this.owner}:${head}.` }));
      if ((await gitIn(this.gitDir, ['rev-list', '--count', `refs/heads/${base}..refs/heads/${head}`])).trim() === '0')
        return send(res, 422, validation({ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` }));
      const pull: FakePull = {
        number: this.pulls.length + 1,
        head,
        base,
        title: String(b.title),
        body: String(b.body ?? ''),
        draft: b.draft === true,
        state: 'open',
      };
      this.pulls.push(pull);
      return send(res, 201, this.pullJson(pull));
    }
    const patchPull = route.match(/^PATCH \/pulls\/(\d+)$/);
    if (patchPull) {
      const pull = this.pulls.find((p) => p.number === Number(patchPull[1]));
      if (!pull) return send(res, 404, { message: 'Not Found' });
      if (typeof b.title === 'string') pull.title = b.title;
      if (typeof b.body === 'string') pull.body = b.body;
      return send(res, 200, this.pullJson(pull));
    }
    const issueComments = route.match(/^(GET|POST) \/issues\/(\d+)\/comments$/);
    if (issueComments) {
      const issue = Number(issueComments[2]);
      if (!this.pulls.some((p) => p.number === issue)) return send(res, 404, { message: 'Not Found' });
      if (issueComments[1] === 'GET') {
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        const page = Number(url.searchParams.get('page') ?? 1);
        const all = this.comments.filter((c) => c.issue === issue);
        const slice = all.slice((page - 1) * perPage, page * perPage);
        const headers: Record<string, string> =
          page * perPage < all.length ? { link: `<${this.apiBase()}/issues/${issue}/comments?per_page=${perPage}&page=${page + 1}>; rel="next"` } : {};
        return send(
          res,
          200,
          slice.map((c) => this.commentJson(c)),
          headers,
        );
      }
      const comment: FakeComment = { id: this.nextId++, issue, body: String(b.body ?? '') };
      this.comments.push(comment);
      return send(res, 201, this.commentJson(comment));
    }
    const patchComment = route.match(/^PATCH \/issues\/comments\/(\d+)$/);
    if (patchComment) {
      const comment = this.comments.find((c) => c.id === Number(patchComment[1]));
      if (!comment) return send(res, 404, { message: 'Not Found' });
      comment.body = String(b.body ?? '');
      return send(res, 200, this.commentJson(comment));
    }
    send(res, 404, { message: 'Not Found', route });
  }

  /** git smart HTTP through `git http-backend` (CGI), behind the same token as the API. */
  private async git(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = req.headers.authorization ?? '';
    this.gitAuthorizations.push(auth);
    if (auth !== `Bearer ${this.token}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake-github"' }).end('unauthorized');
      return;
    }
    await gitHttpBackend(req, res, this.gitDir, url.pathname.slice(`/${this.owner}/${this.repo}.git`.length));
  }

  private apiBase(): string {
    return `${this.apiUrl}/repos/${this.owner}/${this.repo}`;
  }

  private pullJson(p: FakePull) {
    return {
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      draft: p.draft,
      html_url: `https://github.example/${this.owner}/${this.repo}/pull/${p.number}`,
      head: { ref: p.head, label: `${this.owner}:${p.head}` },
      base: { ref: p.base },
    };
  }

  private commentJson(c: FakeComment) {
    return { id: c.id, body: c.body, html_url: `https://github.example/${this.owner}/${this.repo}/pull/${c.issue}#issuecomment-${c.id}` };
  }
}

function routeMatches(pattern: string, route: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}/g, '[^/]+')}$`);
  return re.test(route) || route === pattern;
}

function validation(error: Record<string, string>) {
  return { message: 'Validation Failed', errors: [error], documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request' };
}

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  sendJson(res, status, body, headers, 'application/json; charset=utf-8');
