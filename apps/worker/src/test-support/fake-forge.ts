import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The HTTP plumbing the fakes of GitHub and GitLab share: a loopback listener, JSON answers, request
 * bodies, injected failures, and asking the bare repository behind the fake whether a branch exists.
 * Test-only.
 */

const execFileAsync = promisify(execFile);

/** An answer a fake gives instead of handling a matching call. */
export interface InjectedFailure {
  /** Method and path after the project's prefix (e.g. "POST /pulls"); unset: any API call. */
  route?: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many matching calls in a row fail (default 1). */
  times?: number;
}

/** Failures queued by a test, each served `times` times to the first calls whose route it matches. */
export class InjectedFailures<F extends InjectedFailure> {
  private readonly queued: F[] = [];

  add(f: F): void {
    this.queued.push({ times: 1, ...f });
  }

  /** The failure to serve for `route` (counted as served), if any; `matches` compares a failure's route. */
  take(route: string, matches: (pattern: string, route: string) => boolean): F | undefined {
    const failure = this.queued.find((f) => !f.route || matches(f.route, route));
    if (!failure) return undefined;
    failure.times = (failure.times ?? 1) - 1;
    if (failure.times <= 0) this.queued.splice(this.queued.indexOf(failure), 1);
    return failure;
  }
}

/** Listens on an ephemeral loopback port; the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/** Closes the server, dropping keep-alive connections the clients still hold. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType, ...headers }).end(JSON.stringify(body));
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `git -C gitDir …`; its stdout. */
export async function gitIn(gitDir: string, args: string[]): Promise<string> {
  return (await execFileAsync('git', ['-C', gitDir, ...args])).stdout;
}

/** Whether branch `name` exists in the bare repository (a name that git would read as an option never does). */
export async function hasBranch(gitDir: string, name: string): Promise<boolean> {
  if (!name || name.startsWith('-')) return false;
  return await gitIn(gitDir, ['rev-parse', '--verify', '--quiet', `refs/heads/${name}`]).then(
    () => true,
    () => false,
  );
}

/**
 * A working repository `repo` with one commit (`files`) on main, pushed to a new bare repository `bare`:
 * the copy a fake forge serves. The commit's id.
 */
export function initForgeRepos(repo: string, bare: string, files: Record<string, string>): string {
  const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();
  git(dirname(bare), 'init', '-q', '--bare', '-b', 'main', bare);
  git(dirname(repo), 'init', '-q', '-b', 'main', repo);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'base');
  git(repo, 'push', '-q', bare, 'main');
  return git(repo, 'rev-parse', 'HEAD');
}
