import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, hasBranch, type InjectedFailure, InjectedFailures, listenOnLoopback, readBody, sendJson } from './fake-forge.ts';

/**
 * A local fake of the GitLab REST (v4) endpoints gitbeaker calls for merge requests, backed by a real
 * bare git repository for which branches exist: `GET /projects/:id`, `GET|POST /projects/:id/merge_requests`,
 * `PUT /projects/:id/merge_requests/:iid`, `GET|POST /projects/:id/merge_requests/:iid/notes`,
 * `PUT …/notes/:note_id`. Tests inject failures and read `requests`. Test-only.
 */

export interface FakeMergeRequest {
  iid: number;
  source: string;
  target: string;
  title: string;
  description: string;
  state: 'opened' | 'closed';
}

export interface FakeNote {
  id: number;
  iid: number;
  body: string;
}

export interface FakeGitLabFailure extends InjectedFailure {
  /** e.g. "GET /merge_requests" — method and the path after /api/v4/projects/:id; unset: any call. */
  route?: string;
}

export class FakeGitLab {
  readonly requests: { method: string; path: string; query: URLSearchParams; body: unknown; token: string | undefined }[] = [];
  readonly mergeRequests: FakeMergeRequest[] = [];
  readonly notes: FakeNote[] = [];
  readonly project: string;
  readonly gitDir: string;
  private readonly token: string;
  private readonly failures = new InjectedFailures<FakeGitLabFailure>();
  private readonly server: Server;
  private nextNote = 500;
  port = 0;

  private constructor(project: string, token: string, gitDir: string) {
    this.project = project;
    this.token = token;
    this.gitDir = gitDir;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(opts: { project: string; token: string; gitDir: string }): Promise<FakeGitLab> {
    const fake = new FakeGitLab(opts.project, opts.token, opts.gitDir);
    fake.port = await listenOnLoopback(fake.server);
    return fake;
  }

  /** The instance URL (gitbeaker's `host`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  fail(f: FakeGitLabFailure): void {
    this.failures.add(f);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = (await readBody(req)).toString('utf8');
      const body: unknown = raw ? parseBody(raw, String(req.headers['content-type'] ?? '')) : undefined;
      const token = req.headers['private-token'] as string | undefined;
      this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body, token });
      if (token !== this.token) return send(res, 401, { message: '401 Unauthorized' });
      const prefix = `/api/v4/projects/${encodeURIComponent(this.project)}`;
      if (!url.pathname.startsWith(prefix)) return send(res, 404, { message: '404 Project Not Found' });
      const route = `${req.method} ${url.pathname.slice(prefix.length) || '/'}`;
      const failure = this.failures.take(route, (pattern, r) => pattern === r.replace(/\/\d+/g, '/:n'));
      if (failure) {
        return send(res, failure.status, failure.body ?? { message: `injected ${failure.status}` }, failure.headers);
      }
      await this.api(route, url, (body ?? {}) as Record<string, unknown>, res);
    } catch (err) {
      send(res, 500, { message: `fake-gitlab: ${(err as Error).message}` });
    }
  }

  private async api(route: string, url: URL, b: Record<string, unknown>, res: ServerResponse): Promise<void> {
    if (route === 'GET /') return send(res, 200, { id: 1, path_with_namespace: this.project, default_branch: 'main' });
    if (route === 'GET /merge_requests') {
      const source = url.searchParams.get('source_branch');
      const state = url.searchParams.get('state') ?? 'all';
      return send(
        res,
        200,
        this.mergeRequests.filter((m) => (state === 'all' || m.state === state) && (!source || m.source === source)).map((m) => this.mrJson(m)),
      );
    }
    if (route === 'POST /merge_requests') {
      const source = String(b.source_branch ?? '');
      const target = String(b.target_branch ?? '');
      if (!(await hasBranch(this.gitDir, source))) return send(res, 422, { message: ['Source branch does not exist'] });
      const open = this.mergeRequests.find((m) => m.state === 'opened' && m.source === source);
      if (open) return send(res, 409, { message: [`Another open merge request already exists for this source branch: !${open.iid}`] });
      const mr: FakeMergeRequest = {
        iid: this.mergeRequests.length + 1,
        source,
        target,
        title: String(b.title),
        description: String(b.description ?? ''),
        state: 'opened',
      };
      this.mergeRequests.push(mr);
      return send(res, 201, this.mrJson(mr));
    }
    const edit = route.match(/^PUT \/merge_requests\/(\d+)$/);
    if (edit) {
      const mr = this.mergeRequests.find((m) => m.iid === Number(edit[1]));
      if (!mr) return send(res, 404, { message: '404 Not found' });
      if (typeof b.title === 'string') mr.title = b.title;
      if (typeof b.description === 'string') mr.description = b.description;
      return send(res, 200, this.mrJson(mr));
    }
    const notes = route.match(/^(GET|POST) \/merge_requests\/(\d+)\/notes$/);
    if (notes) {
      const iid = Number(notes[2]);
      if (!this.mergeRequests.some((m) => m.iid === iid)) return send(res, 404, { message: '404 Not found' });
      if (notes[1] === 'GET')
        return send(
          res,
          200,
          this.notes.filter((n) => n.iid === iid),
        );
      const note: FakeNote = { id: this.nextNote++, iid, body: String(b.body ?? '') };
      this.notes.push(note);
      return send(res, 201, note);
    }
    const editNote = route.match(/^PUT \/merge_requests\/(\d+)\/notes\/(\d+)$/);
    if (editNote) {
      const note = this.notes.find((n) => n.id === Number(editNote[2]) && n.iid === Number(editNote[1]));
      if (!note) return send(res, 404, { message: '404 Not found' });
      if (typeof b.body === 'string') note.body = b.body;
      return send(res, 200, note);
    }
    send(res, 404, { message: `404 ${route}` });
  }

  private mrJson(m: FakeMergeRequest) {
    return {
      iid: m.iid,
      title: m.title,
      description: m.description,
      state: m.state,
      draft: m.title.startsWith('Draft:'),
      source_branch: m.source,
      target_branch: m.target,
      web_url: `https://gitlab.example/${this.project}/-/merge_requests/${m.iid}`,
    };
  }
}

function parseBody(raw: string, type: string): unknown {
  if (type.includes('json')) return JSON.parse(raw);
  return Object.fromEntries(new URLSearchParams(raw));
}

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => sendJson(res, status, body, headers);
