import { execFile } from 'node:child_process';
import type { DeployedService, TriageClass } from '@greenloop/core';
import { redact } from '@greenloop/core';
import { GIT_SAFE_ARGS } from '../git/repo.ts';
import { truncate } from './capped-text.ts';
import { endpointKey } from './endpoints.ts';
import { code, fenced, table } from './markdown.ts';
import { clusterEvidence, evidenceLine, shortSha } from './report.ts';
import { appFrames, cleanPath, isTestPath, parseStackFrames } from './stack-frames.ts';
import type { Cluster, StackFrame } from './types.ts';

/**
 * The five-whys dossier for one cluster: the fixer's prompt. It carries the evidence (failing tests and their
 * output, correlated server logs with their stack traces, endpoints, the deployed revisions), points at the
 * code (files the traces name, route definitions, recent commits touching them) and states the rules.
 */

const GIT_TIMEOUT_MS = 5000;
const GIT_MAX_BUFFER = 16 * 1024 * 1024;

function git(repoDir: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    // repoDir is the cycle's worktree, which a sandboxed suite or service could write: no hooks, no fsmonitor.
    execFile('git', [...GIT_SAFE_ARGS, '-C', repoDir, ...args], { timeout: GIT_TIMEOUT_MS, maxBuffer: GIT_MAX_BUFFER, encoding: 'utf8' }, (err, stdout) => {
      // git grep exits 1 when nothing matched; anything else is "no answer", never fatal to the analysis.
      if (err && !(typeof err.code === 'number' && err.code === 1 && args[0] === 'grep')) resolve(undefined);
      else resolve(stdout);
    });
  });
}

// Route literals also appear in docs, fixtures and recorded output; only code declares routes.
const GREP_EXCLUDES = [
  ':(exclude,glob)**/fixtures/**',
  ':(exclude,glob)**/*.md',
  ':(exclude,glob)**/*.xml',
  ':(exclude,glob)**/*.txt',
  ':(exclude,glob)**/*.log',
  ':(exclude,glob)**/*.snap',
  ':(exclude,glob)**/*.lock',
  ':(exclude,glob)**/package-lock.json',
];
const ROUTE_FILE = /rout|app\.|server\.|api/i;

/** A checkout's tracked files, indexed by base name, for mapping stack frames to repository paths. */
export interface RepoIndex {
  repoDir: string;
  byBase: Map<string, string[]>;
}

/** Lists the tracked files of `repoDir` (undefined when it is not a git checkout). */
export async function loadRepoIndex(repoDir: string): Promise<RepoIndex | undefined> {
  const out = await git(repoDir, ['ls-files', '-z']);
  if (out === undefined) return undefined;
  const byBase = new Map<string, string[]>();
  for (const path of out.split('\0')) {
    if (!path) continue;
    const base = path.slice(path.lastIndexOf('/') + 1);
    const list = byBase.get(base);
    if (list) list.push(path);
    else byBase.set(base, [path]);
  }
  return { repoDir, byBase };
}

/** The repository path a frame points at: the tracked file sharing the longest path suffix with it. */
export function resolveFrameFile(frame: StackFrame, repo: RepoIndex): string | undefined {
  let clean = cleanPath(frame.file);
  // A frame in the deploy worktree itself (a local service runs from it): its repo path is the rest.
  const root = `${cleanPath(repo.repoDir).replace(/\/+$/, '')}/`;
  if (clean.startsWith(root)) {
    const rel = clean.slice(root.length);
    if (repo.byBase.get(rel.slice(rel.lastIndexOf('/') + 1))?.includes(rel)) return rel;
  }
  // Java frames name the class file only; the package comes from the qualified method.
  if (/\.(?:java|kt|scala|groovy)$/.test(clean) && !clean.includes('/') && frame.fn) {
    const pkg = frame.fn.split('.').slice(0, -2);
    clean = [...pkg, clean].join('/');
  }
  const base = clean.slice(clean.lastIndexOf('/') + 1);
  const candidates = repo.byBase.get(base);
  if (!candidates || candidates.length === 0) return undefined;
  const want = clean.split('/').reverse();
  let best: string | undefined;
  let bestScore = 0;
  for (const c of candidates) {
    const have = c.split('/').reverse();
    let score = 0;
    while (score < have.length && score < want.length && have[score] === want[score]) score++;
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best ?? (candidates.length === 1 ? candidates[0] : undefined);
}

/** A commit touching the files of interest. */
export interface CommitInfo {
  hash: string;
  date: string;
  author: string;
  subject: string;
}

/** Code pointers for one cluster. */
export interface CodeContext {
  /** Repository files named by stack traces (test side and server side), code under test first. */
  files: { path: string; role: 'app' | 'test' | 'server-log'; frame: string }[];
  /** `git grep` hits for the failing routes' literal prefixes (where routes are declared). */
  routeHits: { path: string; line: number; text: string; route: string }[];
  commits: CommitInfo[];
}

/** A stack trace a service logged, and which service logged it. */
interface ServerStack {
  service: string;
  text: string;
}

/**
 * Stack traces in the cluster's server evidence, from every service (a front's 502 often carries a back
 * service's traceback): any trace `parseStackFrames` reads — Node, Python, Go, Java — in a logged error
 * object, a stack field, or the message the log reader joined a multi-line trace into.
 */
function serverStacks(cluster: Cluster): ServerStack[] {
  const stacks: ServerStack[] = [];
  for (const l of clusterEvidence(cluster)) {
    const json = l.entry.json;
    const err = json?.err;
    const candidates = [
      err && typeof err === 'object' && 'stack' in err ? err.stack : undefined,
      json?.stack,
      json?.traceback,
      json?.exc_info,
      json?.stack_trace,
      l.entry.message,
    ];
    const text = candidates.find((c): c is string => typeof c === 'string' && c.includes('\n') && parseStackFrames(c).some((f) => !f.internal));
    if (text) stacks.push({ service: l.entry.service, text });
  }
  return stacks;
}

/**
 * Literals to grep for a route, most specific first: its last two static segments ("/agents/start" finds
 * full-path and router-relative declarations), then its parent ("/api/agents", where a missing route's
 * siblings are declared).
 */
export function routeLiterals(path: string): string[] {
  const segs: string[] = [];
  for (const s of path.split('/').filter(Boolean)) {
    if (s.startsWith(':')) break;
    segs.push(s);
  }
  const out = new Set<string>();
  if (segs.length >= 2) out.add(`/${segs.slice(-2).join('/')}`);
  if (segs.length >= 3) out.add(`/${segs.slice(0, -1).join('/')}`);
  if (segs.length === 1 || (segs.length === 2 && out.size === 0)) out.add(`/${segs.join('/')}`);
  return [...out];
}

/** Finds files, route declarations and recent commits for a cluster (bounded: a few git calls of ≤5 s). */
export async function collectCodeContext(cluster: Cluster, repo: RepoIndex): Promise<CodeContext> {
  const files = new Map<string, CodeContext['files'][number]>();
  const addFrames = (frames: readonly StackFrame[], role: 'app' | 'test' | 'server-log') => {
    for (const f of frames) {
      if (f.internal || f.vendor) continue;
      const path = resolveFrameFile(f, repo);
      if (path && !files.has(path))
        files.set(path, {
          path,
          role: role === 'server-log' ? role : f.test ? 'test' : 'app',
          frame: `${f.fn ? `${f.fn} ` : ''}${cleanPath(f.file).split('/').slice(-2).join('/')}${f.line ? `:${f.line}` : ''}`,
        });
    }
  };
  for (const stack of serverStacks(cluster).slice(0, 5)) {
    const frames = parseStackFrames(stack.text);
    // Python prints the innermost frame last; every other runtime prints it first. Innermost first per file.
    if (stack.text.includes('Traceback (most recent call last)')) frames.reverse();
    addFrames(frames, 'server-log');
  }
  for (const f of cluster.failures.slice(0, 5)) addFrames(appFrames(f.frames), 'app');
  for (const f of cluster.failures.slice(0, 5)) addFrames(f.frames, 'test');
  const list = [...files.values()].slice(0, 12);

  const routeHits: CodeContext['routeHits'] = [];
  for (const endpoint of cluster.endpoints.slice(0, 3)) {
    for (const literal of routeLiterals(endpoint.path)) {
      const out = await git(repo.repoDir, ['grep', '-n', '-I', '-F', '-e', literal, '--', '.', ...GREP_EXCLUDES]);
      const lines = (out ?? '').split('\n').slice(0, 200);
      // Declarations live in route/router/app files more often than anywhere else; list those first.
      lines.sort((a, b) => Number(!ROUTE_FILE.test(a.split(':')[0] ?? '')) - Number(!ROUTE_FILE.test(b.split(':')[0] ?? '')));
      for (const line of lines) {
        const m = /^([^:]+):(\d+):(.*)$/.exec(line);
        if (!m || isTestPath(m[1] as string) || routeHits.some((h) => h.path === m[1] && h.line === Number(m[2]))) continue;
        routeHits.push({ path: m[1] as string, line: Number(m[2]), text: truncate((m[3] as string).trim(), 160), route: literal });
        if (routeHits.length >= 15 || routeHits.filter((h) => h.route === literal).length >= 8) break;
      }
    }
  }

  const touched = [...new Set([...list.filter((f) => f.role !== 'test').map((f) => f.path), ...routeHits.map((h) => h.path)])].slice(0, 10);
  let commits: CommitInfo[] = [];
  if (touched.length > 0) {
    const out = await git(repo.repoDir, ['log', '-n', '8', '--date=short', '--format=%h%x1f%ad%x1f%an%x1f%s', '--', ...touched]);
    commits = (out ?? '')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [hash = '', date = '', author = '', subject = ''] = l.split('\x1f');
        return { hash, date, author, subject };
      });
  }
  return { files: list, routeHits, commits };
}

/** What a dossier is rendered from, besides the cluster. */
export interface DossierContext {
  loopId: string;
  cycle: number;
  environment: string;
  commit: string;
  services: readonly DeployedService[];
  /** The suite command, shown so the fixer knows how the tests run. */
  testCommand?: readonly string[];
  protectedPaths: readonly string[];
  code?: CodeContext;
  /** Why there is no code context (no repoDir, not a git checkout, or skipped for size). */
  codeNote?: string;
}

const WHYS: Record<TriageClass, string[]> = {
  'route-missing': [
    'Why does the deployed revision not serve this method and path? (Is the route declared? Mounted under another prefix? Registered for another method?)',
    'Why was the route lost or never added? (Compare the route table with the commits listed above.)',
    'Why did nothing before deploy catch it? (Which check would have?)',
  ],
  'auth-rejected': [
    'Why are the credentials the tests send refused? (Token parsing, signature key, issuer/audience, expiry, role/scope checks.)',
    'Why do the service and the tests disagree? (Configuration per environment, a changed claim name, a middleware order change.)',
    'Why did nothing before deploy catch it?',
  ],
  'server-error': [
    'Why did the handler throw? (Read the server stack trace: which value was missing or malformed?)',
    'Why was that value missing or malformed? (Input validation, store state, a changed contract.)',
    'Why did nothing before deploy catch it?',
  ],
  'websocket-close': [
    'Why did the server close the socket? (1011 = unhandled error in the handler; 1006 = connection dropped without a close frame.)',
    'Which message or handshake step triggers it? (The correlated log lines carry the server side of the exchange.)',
    'Why is the error not handled and answered as a protocol message?',
  ],
  infrastructure: [
    'Why was the service unreachable or slow? (Was it up and healthy during the test window? Right port and URL?)',
    'Is this a code problem at all? (Startup crash, blocked event loop, a missing dependency — or an environment issue a person must fix.)',
    'Why did the deploy verification not catch it?',
  ],
  timeout: [
    'Which request did the test wait on, and did the server log it? (The correlated lines and recorded requests show whether it arrived and when.)',
    'Why did the handler not answer in time? (A missing response on one path, an awaited promise that never settles, a lock or a slow query.)',
    'Why did nothing before deploy catch it?',
  ],
  assertion: [
    'Why does the service return a different value than the test expects? (Compare expected and actual.)',
    'Which change made the behaviour differ? (See the commits listed above.)',
    'Why did nothing before deploy catch it?',
  ],
  unknown: ['What exactly failed? (Read the full output below.)', 'Why did it fail?', 'Why did nothing before deploy catch it?'],
};

/** Renders the dossier markdown. Deterministic for a given cluster and context. */
export function renderDossier(cluster: Cluster, ctx: DossierContext): string {
  const out: string[] = [];
  const failing = cluster.failures.filter((f) => !f.test.flaky);
  const shown = failing.length > 0 ? failing : cluster.failures;
  const evidence = clusterEvidence(cluster);
  out.push(`# Fix dossier: ${cluster.title}`);
  out.push('');
  out.push(
    table(
      ['Cluster', 'Triage', 'Status', 'Tests', 'Loop / cycle', 'Environment', 'Commit'],
      [
        [
          code(cluster.fingerprint),
          cluster.triage,
          `${cluster.status} (failing ${cluster.cyclesFailing} cycle${cluster.cyclesFailing === 1 ? '' : 's'}, first seen cycle ${cluster.firstSeenCycle})`,
          shown.length,
          `${ctx.loopId} / ${ctx.cycle}`,
          ctx.environment,
          code(shortSha(ctx.commit)),
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    'You are fixing one root cause in the service code so that the failing tests below pass against the next deploy. Work from the evidence; answer the five whys; then make the smallest change that fixes the cause.',
  );
  out.push('');

  out.push(`## 1. What fails (${shown.length} test${shown.length === 1 ? '' : 's'})`);
  out.push('');
  for (const f of shown.slice(0, 50)) {
    out.push(
      `- ${code(f.test.id)} — ${redact(truncate((f.test.message ?? f.errorType ?? 'no message').split('\n')[0] ?? '', 200))}${f.test.file ? ` (${f.test.file})` : ''}`,
    );
  }
  if (shown.length > 50) out.push(`- … and ${shown.length - 50} more with the same fingerprint`);
  if (cluster.flakyTests.length > 0) out.push(`- (${cluster.flakyTests.length} more passed on rerun: flaky, not your target)`);
  out.push('');
  const sample = shown[0];
  if (sample) {
    out.push(`### Output of ${code(sample.test.id)}`);
    out.push('');
    const { message, details } = sample.test;
    const body = message && details && !details.includes(message) ? `${message}\n\n${details}` : (details ?? message ?? '');
    out.push(fenced(redact(truncate(body || 'no output', 6000))));
    const output = [sample.test.systemOut && `stdout:\n${sample.test.systemOut}`, sample.test.systemErr && `stderr:\n${sample.test.systemErr}`]
      .filter(Boolean)
      .join('\n');
    if (output) {
      out.push('');
      out.push('Captured output:');
      out.push('');
      out.push(fenced(redact(truncate(output, 3000))));
    }
    const others = [...new Set(shown.slice(1).map((f) => f.test.message?.split('\n')[0] ?? ''))].filter((m) => m && m !== sample.test.message?.split('\n')[0]);
    if (others.length > 0) {
      out.push('');
      out.push('Other messages in this cluster:');
      for (const m of others.slice(0, 10)) out.push(`- ${code(redact(truncate(m, 200)))}`);
    }
    out.push('');
  }

  out.push('## 2. Server-side evidence');
  out.push('');
  if (evidence.length === 0) {
    out.push(
      'No server log line could be tied to these tests (no test-name header, trace id, or failing request on the same route during the run). The request may not have reached the service, or the service does not log it.',
    );
  } else {
    out.push(`${evidence.length} log line(s) tied to these tests (most severe first, up to 20):`);
    out.push('');
    for (const l of evidence.slice(0, 20)) {
      const e = evidenceLine(l);
      const req = e.method || e.path ? ` ${e.method ?? ''} ${e.path ?? ''}${e.status === undefined ? '' : ` → ${e.status}`}` : '';
      out.push(
        `- ${code(`${e.time} ${e.service}${e.revision ? `@${e.revision}` : ''} ${e.severity}${req} ${e.message}`)} (matched by ${e.match}${e.test ? `: ${e.test}` : ''})`,
      );
    }
    // The first trace of each service (up to three): the service that threw may not be the one the test called.
    const stacks = serverStacks(cluster).filter((s, i, all) => all.findIndex((o) => o.service === s.service) === i);
    for (const s of stacks.slice(0, 3)) {
      out.push('');
      out.push(`Server stack trace (${s.service}):`);
      out.push('');
      out.push(fenced(redact(truncate(s.text, 4000))));
    }
  }
  out.push('');

  out.push('## 3. Endpoints');
  out.push('');
  if (cluster.endpoints.length === 0) out.push('The failures name no HTTP endpoint.');
  else
    out.push(
      table(
        ['Method', 'Path', 'Status'],
        cluster.endpoints.map((e) => [e.method ?? '?', code(e.path), e.status ?? '?']),
      ),
    );
  out.push('');

  out.push('## 4. What was deployed');
  out.push('');
  if (ctx.services.length === 0) out.push('No services recorded for this cycle.');
  else
    out.push(
      table(
        ['Service', 'Revision', 'URL'],
        ctx.services.map((s) => [s.service, code(s.revision), redact(s.url)]),
      ),
    );
  if (ctx.testCommand) out.push(`\nThe suite runs: ${code(ctx.testCommand.join(' '))}`);
  out.push('');

  out.push('## 5. Code to look at');
  out.push('');
  if (!ctx.code) out.push(ctx.codeNote ?? 'No checkout was available to search.');
  else {
    const c = ctx.code;
    if (c.files.length === 0 && c.routeHits.length === 0) out.push('The stack traces name no file in the repository, and no route literal was found.');
    if (c.files.length > 0) {
      out.push('Files named by stack traces:');
      for (const f of c.files)
        out.push(
          `- ${code(f.path)} — ${f.role === 'server-log' ? 'server stack trace' : f.role === 'app' ? 'code under test' : 'test (read-only)'}: ${code(f.frame)}`,
        );
      out.push('');
    }
    if (c.routeHits.length > 0) {
      out.push('Where the failing routes appear (`git grep`):');
      // Repository lines can hold committed credentials; the dossier is served to viewers too.
      for (const h of c.routeHits) out.push(`- ${code(`${h.path}:${h.line}`)} ${code(redact(h.text))}`);
      out.push('');
    }
    if (c.commits.length > 0) {
      out.push('Recent commits touching those files:');
      for (const k of c.commits) out.push(`- ${code(k.hash)} ${k.date} ${k.author}: ${redact(k.subject)}`);
      out.push('');
    }
  }
  out.push('');

  out.push('## 6. Five whys');
  out.push('');
  const first = sample ? redact(truncate((sample.test.message ?? '').split('\n')[0] ?? '', 200)) : '';
  const server = evidence[0] ? evidenceLine(evidence[0]) : undefined;
  out.push(
    `1. **Why did the tests fail?** ${shown.length} test(s) failed with ${cluster.endpoints.length > 0 ? cluster.endpoints.map((e) => code(endpointKey(e))).join(', ') : code(first || cluster.title)}.`,
  );
  out.push(
    `2. **Why did the service answer that way?** ${server ? `The server logged ${code(`${server.severity} ${server.message}`)} (${server.service}${server.revision ? `@${server.revision}` : ''}). Start there.` : '_No server log line was tied to these tests — first establish whether the request reached the service._'}`,
  );
  WHYS[cluster.triage].forEach((q, i) => {
    out.push(`${i + 3}. **${q}** _Answer from the code and evidence._`);
  });
  out.push('');
  out.push('Write the answers (one line each) in your commit message, with the root cause as the last why.');
  out.push('');

  out.push('## 7. Rules');
  out.push('');
  out.push('- Do not edit, delete, skip, or weaken tests or their expectations; the tests describe the required behaviour.');
  if (ctx.protectedPaths.length > 0) out.push(`- Do not touch protected paths: ${ctx.protectedPaths.map(code).join(', ')}.`);
  out.push('- Fix the root cause in the service code with the smallest change; no unrelated refactors.');
  out.push('- Never disable authentication, validation, or error handling to make a test pass; never add secrets or credentials.');
  out.push('- If the cause is outside the code (environment, infrastructure, data), change nothing and say so.');
  out.push(`- Only this cluster (${code(cluster.fingerprint)}); other clusters have their own fixers.`);
  out.push('');
  return out.join('\n');
}
