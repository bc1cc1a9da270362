import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Answers one smart-HTTP git request (clone, fetch, push) through `git http-backend` as CGI, over the bare
 * repositories under `projectRoot`; `pathInfo` is the request's path below it (`/repo.git/info/refs`).
 * Checking credentials is the caller's job: call it only for requests it accepted. Test-only.
 */
export async function gitHttpBackend(req: IncomingMessage, res: ServerResponse, projectRoot: string, pathInfo: string): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '',
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: pathInfo || '/',
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      // A user: http-backend allows receive-pack (push) only for authenticated requests.
      REMOTE_USER: 'greenloop',
      REMOTE_ADDR: '127.0.0.1',
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    },
  });
  // http-backend may exit before reading everything (a refused push): a broken pipe is its answer, not a crash.
  child.stdin.on('error', () => {});
  req.pipe(child.stdin);
  const out = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(chunks)));
  });
  // CGI output: header lines (a `Status:` among them), a blank line, the body.
  const split = out.indexOf('\r\n\r\n');
  const head = out.subarray(0, split).toString('latin1');
  const headers: Record<string, string> = {};
  let status = 200;
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    if (k === 'status') status = Number.parseInt(v, 10);
    else headers[k] = v;
  }
  res.writeHead(status, headers).end(out.subarray(split + 4));
}
