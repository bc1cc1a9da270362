import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type ClusterSummary, FixerSchema, type Logger } from '@greenloop/core';
import { pino } from 'pino';
import { git } from '../git/repo.ts';
import { gitHttpBackend } from '../test-support/git-http-backend.ts';
import type { FixRequest } from './run-fix.ts';

/**
 * Test helpers for the fix stage (imported by tests only): a real git repository in a temp dir, fixer
 * scripts written as small node programs, a logger whose output the test can read.
 */

export const BASE_FILES: Record<string, string> = {
  'src/a.js': 'export const a = () => 1;\n',
  'src/b.js': 'export const b = () => 1;\n',
  'src/shared.js': 'export const shared = () => 1;\n',
  'test/a.test.js': [
    "import { test, expect } from 'vitest';",
    "import { a } from '../src/a.js';",
    "test('a returns 2', () => {",
    '  expect(a()).toBe(2);',
    '});',
    "test('a is fast', { timeout: 500 }, () => {",
    '  expect(a()).toBeLessThan(10);',
    '});',
    '',
  ].join('\n'),
  'greenloop.yaml': 'version: 1\n',
  'config/limits.json': '{ "max": 10 }\n',
};

export interface TestRepo {
  root: string;
  repo: string;
  base: string;
  loopBranch: string;
  /** Writes `files` and commits them on the current branch of the main checkout. */
  commit: (files: Record<string, string>, message: string) => Promise<string>;
  cleanup: () => Promise<void>;
}

export async function makeRepo(loopId = 'loop-test1'): Promise<TestRepo> {
  const root = await mkdtemp(join(tmpdir(), 'greenloop-fix-'));
  const repo = join(root, 'repo');
  await mkdir(repo, { recursive: true });
  const g = git(repo);
  await g.raw(['init', '-q', '-b', 'main']);
  const commit = async (files: Record<string, string>, message: string) => {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(repo, path)), { recursive: true });
      await writeFile(join(repo, path), text);
    }
    await g.raw(['add', '-A']);
    await g.raw(['commit', '-q', '-m', message]);
    return (await g.revparse(['HEAD'])).trim();
  };
  const base = await commit(BASE_FILES, 'base');
  const loopBranch = `greenloop/${loopId}`;
  await g.raw(['branch', loopBranch, base]);
  return { root, repo, base, loopBranch, commit, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Writes a node script under `dir` and returns the argv that runs it. */
export async function nodeScript(dir: string, name: string, source: string, args: string[] = []): Promise<string[]> {
  const file = join(dir, 'scripts', `${name}.mjs`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, source);
  return [process.execPath, file, ...args];
}

/** A fixer script that writes the given files (relative to its cwd, the worktree) and deletes others. */
export async function editingFixer(dir: string, name: string, edits: { write?: Record<string, string>; remove?: string[] }): Promise<string[]> {
  return await nodeScript(
    dir,
    name,
    `import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
const edits = ${JSON.stringify(edits)};
for (const [p, text] of Object.entries(edits.write ?? {})) { mkdirSync(dirname(p), { recursive: true }); writeFileSync(p, text); }
for (const p of edits.remove ?? []) rmSync(p);
console.log('edited', Object.keys(edits.write ?? {}).length, 'removed', (edits.remove ?? []).length);
`,
  );
}

export function testCluster(fingerprint: string, title = `cluster ${fingerprint}`): ClusterSummary {
  return {
    fingerprint,
    title,
    triage: 'server-error',
    status: 'new',
    tests: [`e2e › ${title} › returns 200`],
    sampleMessage: 'expected 200, got 500',
    endpoints: [{ method: 'GET', path: '/things', status: 500 }],
  };
}

export function fixerConfig(command: string[], extra: Record<string, unknown> = {}) {
  return FixerSchema.parse({ command, ...extra });
}

/** A logger that keeps every line it writes, for asserting what reached the logs. */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  return { log, lines };
}

/** A complete FixRequest for `cluster` in `t`, with the dossier and cluster file written. */
export async function fixRequest(
  t: TestRepo,
  cluster: ClusterSummary,
  fixer: ReturnType<typeof fixerConfig>,
  log: Logger,
  over: Partial<FixRequest> = {},
): Promise<FixRequest> {
  const cycle = over.cycle ?? 1;
  const evidence = join(t.root, 'evidence', String(cycle), cluster.fingerprint);
  await mkdir(evidence, { recursive: true });
  const promptFile = join(evidence, 'dossier.md');
  const clusterFile = join(evidence, 'cluster.json');
  await writeFile(promptFile, `# ${cluster.title}\n\nFailing: ${cluster.tests.join(', ')}\n`);
  await writeFile(clusterFile, JSON.stringify(cluster));
  return {
    repo: t.repo,
    baseCommit: t.base,
    loopId: 'loop-test1',
    cycle,
    cluster,
    promptFile,
    clusterFile,
    fixer,
    worktreeRoot: join(t.root, 'worktrees'),
    // Gate and retry tests run their scripts from t.root (hidden by the sandbox); sandbox tests set it.
    sandbox: { mode: 'off', hide: [] },
    artifactDir: join(t.root, 'artifacts', String(cycle), cluster.fingerprint),
    processEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    signal: new AbortController().signal,
    log,
    ...over,
  };
}

export interface GitHttpServer {
  url: string;
  /** Every request as the server saw it: URL and Authorization header. */
  requests: { url: string; authorization: string | undefined }[];
  /** The most requests the server was answering at one moment. */
  maxInFlight: () => number;
  close: () => Promise<void>;
}

/**
 * A smart-HTTP git server on loopback (`git http-backend` as CGI) over the bare repositories in `root`,
 * answering 401 unless the request carries `Authorization: Bearer <token>`. `delayMs` holds every
 * request that long before answering (to see what overlaps, or what a waiting client exposes).
 */
export async function gitHttpServer(root: string, token: string, opts: { delayMs?: number } = {}): Promise<GitHttpServer> {
  const requests: GitHttpServer['requests'] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.on('close', () => inFlight--);
    const answer = () => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end('unauthorized');
        return;
      }
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
      gitHttpBackend(req, res, root, path).catch((err: Error) => res.writeHead(500).end(`git http-backend: ${err.message}`));
    };
    if (opts.delayMs) setTimeout(answer, opts.delayMs);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, requests, maxInFlight: () => maxInFlight, close: () => new Promise<void>((r) => server.close(() => r())) };
}
