import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CategoryConfig, DeployedService, LogEntry, TestRunResult, TestsConfig } from '@greenloop/core';
import { GreenloopError } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogPull } from '../logs/types.ts';
import { type AnalyzeInput, type AnalyzeOutput, analyzeCycle, toPreviousCycle } from './analyze-cycle.ts';
import { traceIdFor } from './correlate.ts';
import { MemoryFlakeHistory } from './flakes.ts';
import { CycleReportSchema } from './report-schema.ts';

const GOLDEN = fileURLToPath(new URL('./fixtures/golden/', import.meta.url));
const golden = (name: string) => join(GOLDEN, name);
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXZhbHVl';
const tmp = mkdtempSync(join(tmpdir(), 'greenloop-analyze-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const tests: TestsConfig = {
  command: ['node', '--test', '--test-reporter=junit', 'e2e/'],
  junit: ['{{artifacts}}/junit/*.xml'],
  timeout: 600_000,
  env: {},
  minDuration: 2000,
  maxCountDrop: 0.2,
  outputLimit: 2_000_000,
  proxy: true,
  shards: 1,
  failedFirst: true,
};
const categories: CategoryConfig[] = [
  { name: 'agents', match: ['^agents › '], priority: 1 },
  { name: 'messaging', match: ['^chat › ', '^threads › '], priority: 1 },
  { name: 'realtime', match: ['^realtime › '], priority: 2 },
];
const services: DeployedService[] = [
  { service: 'demo-api', provider: 'local', url: 'http://127.0.0.1:39211', revision: 'local-4242', readyAt: '2025-09-08T21:04:20.000Z', sandboxed: true },
];

function run(n: number): TestRunResult {
  const dir = join(tmp, `cycle-${n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stdout.log'), '# tests 14\n# pass 8\n');
  writeFileSync(join(dir, 'stderr.log'), '');
  return {
    runId: `run-c${n}`,
    startedAt: `2025-09-08T2${n}:04:27.000Z`,
    finishedAt: `2025-09-08T2${n}:05:02.000Z`,
    exitCode: 1,
    signal: null,
    timedOut: false,
    junitFiles: [golden(`cycle-${n}.xml`)],
    stdoutFile: join(dir, 'stdout.log'),
    stderrFile: join(dir, 'stderr.log'),
    truncatedBytes: 0,
    sandboxed: true,
  };
}

/** Server log lines as the local log source normalizes the demo service's JSON lines. */
function logs(n: number): LogPull {
  const runId = `run-c${n}`;
  const at = (s: number) => `2025-09-08T2${n}:04:${String(30 + s).padStart(2, '0')}.000Z`;
  const req = (s: number, test: string, method: string, path: string, status: number, message: string, extra: Partial<LogEntry> = {}): LogEntry => ({
    time: at(s),
    severity: status >= 500 ? 'ERROR' : status >= 400 ? 'WARNING' : 'INFO',
    service: 'demo-api',
    message,
    httpRequest: { method, path, status, latencyMs: 3 },
    runId,
    test,
    revision: 'local-4242',
    ...extra,
  });
  const entries: LogEntry[] = [
    req(0, 'agents > lists agents', 'GET', '/api/agents', 200, 'request completed'),
    req(1, 'agents > starts an agent', 'POST', '/api/agents/start', 404, 'request rejected', { json: { detail: 'no route for POST /api/agents/start' } }),
    req(2, 'agents > stops an agent', 'POST', '/api/agents/c9f0f895/stop', 404, 'request rejected'),
    req(3, 'discovery > health', 'GET', '/healthz', 200, 'request completed'),
    {
      time: at(5),
      severity: 'ERROR',
      service: 'demo-api',
      message: "websocket handler failed: Cannot read properties of undefined (reading 'userId')",
      trace: `projects/demo/traces/${traceIdFor(runId, 'realtime > websocket echo')}`,
      revision: 'local-4242',
      json: {
        err: {
          type: 'TypeError',
          message: "Cannot read properties of undefined (reading 'userId')",
          stack:
            "TypeError: Cannot read properties of undefined (reading 'userId')\n    at handleRealtime (/srv/greenloop/worktrees/cycle-2/examples/demo-service/src/handlers/realtime.js:41:29)\n    at WebSocketConnection.<anonymous> (/srv/greenloop/worktrees/cycle-2/examples/demo-service/src/websocket.js:88:7)",
        },
      },
    },
    // Another run's line for the same test: never evidence for this one.
    {
      time: at(6),
      severity: 'WARNING',
      service: 'demo-api',
      message: 'request rejected',
      runId: 'run-c0',
      test: 'agents > starts an agent',
      httpRequest: { method: 'POST', path: '/api/agents/start', status: 404 },
    },
  ];
  if (n >= 2)
    entries.push(req(4, 'chat > streams a reply', 'POST', '/api/chat/stream', 403, `request rejected: token signature invalid (Authorization: Bearer ${JWT})`));
  if (n !== 2)
    entries.push(
      req(
        7,
        'threads > creates a thread',
        'POST',
        `/api/threads/${n === 1 ? 'b1946ac9' : '6512bd43'}/messages`,
        500,
        'POST /api/threads/:id/messages failed: store is read-only',
      ),
    );
  entries.sort((a, b) => a.time.localeCompare(b.time));
  return { entries, truncated: false, failingRequests: [], query: `local files: ${tmp}/logs/demo-api.log (run ${runId})` };
}

/** A git checkout with the demo service's files, committed at fixed dates so hashes are stable. */
function demoRepo(): string {
  const repo = join(tmp, 'repo');
  const src = join(repo, 'examples/demo-service/src');
  mkdirSync(join(src, 'handlers'), { recursive: true });
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Dev',
    GIT_AUTHOR_EMAIL: 'dev@example.com',
    GIT_COMMITTER_NAME: 'Dev',
    GIT_COMMITTER_EMAIL: 'dev@example.com',
    GIT_AUTHOR_DATE: '2025-09-01T10:00:00Z',
    GIT_COMMITTER_DATE: '2025-09-01T10:00:00Z',
  };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  writeFileSync(
    join(src, 'routes.js'),
    "export const routes = [\n  ['GET', '/api/agents', listAgents],\n  ['POST', '/api/agents/:id/cancel', cancelAgent],\n];\n",
  );
  writeFileSync(join(src, 'handlers/realtime.js'), 'export function handleRealtime(ws, ctx) {\n  return ctx.session.userId;\n}\n');
  writeFileSync(join(src, 'websocket.js'), 'export class WebSocketConnection {}\n');
  git('add', '.');
  git('commit', '-q', '-m', 'demo service: agents and realtime');
  writeFileSync(join(src, 'routes.js'), "export const routes = [\n  ['GET', '/api/agents', listAgents],\n];\n");
  git('commit', '-q', '-am', 'routes: drop agent lifecycle routes');
  return repo;
}

function input(n: number, previous: AnalyzeInput['previous'], extra: Partial<AnalyzeInput> = {}): AnalyzeInput {
  return {
    loopId: 'loop-0001',
    cycle: n,
    commit: `${String(n).repeat(8)}${'0'.repeat(32)}`,
    environment: 'staging',
    junitFiles: [golden(`cycle-${n}.xml`)],
    run: run(n),
    services,
    logs: logs(n),
    previous,
    config: { tests, categories, fixer: { protectedPaths: ['examples/demo-service/e2e/**', '**/*.test.*'], skipTriage: [], massFailure: 'environment' } },
    cycleDir: join(tmp, `cycle-${n}`, 'analyze'),
    now: () => new Date(`2025-09-08T2${n}:06:00.000Z`),
    ...extra,
  };
}

const normalize = (text: string) => text.replaceAll(tmp, '<tmp>').replaceAll(GOLDEN, '<golden>/');

describe('analyzeCycle: a three-cycle loop on the demo suite', () => {
  let repo: string;
  let c1: AnalyzeOutput;
  let c2: AnalyzeOutput;
  let c3: AnalyzeOutput;
  const history = new MemoryFlakeHistory();

  beforeAll(async () => {
    repo = demoRepo();
    await history.record([{ testId: 'chat › lists messages', loopId: 'loop-0000', cycle: 4, at: '2025-09-07T12:00:00.000Z', outcome: 'flaky' }]);
    c1 = await analyzeCycle(input(1, [], { history, repoDir: repo }));
    const threads = c1.clusters.find((c) => c.triage === 'server-error')?.fingerprint ?? '';
    c2 = await analyzeCycle(
      input(2, [toPreviousCycle(1, input(1, []).commit, c1, { [threads]: 'f1f1f1f1f1' })], {
        history,
        repoDir: repo,
        rerunJunitFiles: [golden('cycle-2-rerun.xml')],
      }),
    );
    c3 = await analyzeCycle(input(3, [toPreviousCycle(1, input(1, []).commit, c1), toPreviousCycle(2, input(2, []).commit, c2)], { history, repoDir: repo }));
  });

  it('cycle 2 report matches the golden files (markdown and JSON)', () => {
    const md = normalize(readFileSync(c2.report.markdown, 'utf8'));
    const json = normalize(readFileSync(c2.report.json, 'utf8'));
    if (process.env.UPDATE_GOLDEN) {
      writeFileSync(golden('report-cycle-2.md'), md);
      writeFileSync(golden('report-cycle-2.json'), json);
    }
    expect(md).toBe(readFileSync(golden('report-cycle-2.md'), 'utf8'));
    expect(json).toBe(readFileSync(golden('report-cycle-2.json'), 'utf8'));
  });

  it('writes a report.json that satisfies the published schema', () => {
    for (const out of [c1, c2, c3]) expect(() => CycleReportSchema.parse(JSON.parse(readFileSync(out.report.json, 'utf8')))).not.toThrow();
  });

  it('cycle 1: four new clusters, the websocket failures as one', () => {
    expect(c1.green).toBe(false);
    // 14 testcases in cycle-1.xml: 5 fail (start, stop, both websocket tests, creates a thread), 1 skipped; times sum to 4.95 s.
    expect(c1.totals).toEqual({ total: 14, passed: 8, failed: 5, skipped: 1, durationMs: 4950 });
    expect(c1.clusters.map((c) => [c.triage, c.status, c.tests.length]).sort()).toEqual([
      ['route-missing', 'new', 1],
      ['route-missing', 'new', 1],
      ['server-error', 'new', 1],
      ['websocket-close', 'new', 2],
    ]);
  });

  it('cycle 2: labels the flaky test from the rerun, keeps it out of clusters, and names the fix commit', () => {
    expect(c2.flaky).toEqual(['chat › lists messages']);
    expect(c2.failingTests).not.toContain('chat › lists messages');
    expect(c2.clusters.flatMap((c) => c.tests)).not.toContain('chat › lists messages');
    expect(c2.fixed).toEqual([c1.clusters.find((c) => c.triage === 'server-error')?.fingerprint]);
    const statuses = Object.fromEntries(c2.clusters.map((c) => [c.title, c.status]));
    expect(statuses).toEqual({
      'Route missing: POST /api/agents/start → 404': 'persisting',
      'Route missing: POST /api/agents/:id/stop → 404': 'persisting',
      'WebSocket closed 1011 (internal error)': 'persisting',
      'Auth rejected: POST /api/chat/stream → 403': 'new',
    });
  });

  it('cycle 3: the threads failure is back as regressed, under the same fingerprint as in cycle 1', () => {
    const threads = c3.clusters.find((c) => c.triage === 'server-error');
    expect(threads?.status).toBe('regressed');
    expect(threads?.fingerprint).toBe(c1.clusters.find((c) => c.triage === 'server-error')?.fingerprint);
    expect(c3.flaky).toEqual([]);
  });

  it('writes cluster files the fixer script can read', () => {
    for (const c of c2.clusters) {
      const doc = JSON.parse(readFileSync(c2.clusterFiles[c.fingerprint]?.json ?? '', 'utf8'));
      expect(doc).toMatchObject({ fingerprint: c.fingerprint, title: c.title, triage: c.triage, sampleMessage: c.sampleMessage });
      for (const t of doc.tests) expect(Object.keys(t)).toEqual(expect.arrayContaining(['id', 'name', 'classname', 'message']));
    }
  });

  it('writes a five-whys dossier with server evidence, code pointers and recent commits', () => {
    const ws = c2.clusters.find((c) => c.triage === 'websocket-close');
    const md = readFileSync(c2.clusterFiles[ws?.fingerprint ?? '']?.markdown ?? '', 'utf8');
    expect(md).toContain("websocket handler failed: Cannot read properties of undefined (reading 'userId')");
    expect(md).toContain('(matched by trace)');
    expect(md).toContain('`examples/demo-service/src/handlers/realtime.js` — server stack trace');
    expect(md).toMatch(/Dev: routes: drop agent lifecycle routes|Dev: demo service: agents and realtime/);
    expect(md).toContain('## 6. Five whys');
    expect(md).toContain('Do not touch protected paths: `examples/demo-service/e2e/**`, `**/*.test.*`.');
    const route = c2.clusters.find((c) => c.title === 'Route missing: POST /api/agents/start → 404');
    const routeMd = readFileSync(c2.clusterFiles[route?.fingerprint ?? '']?.markdown ?? '', 'utf8');
    expect(routeMd).toContain("`examples/demo-service/src/routes.js:2` `['GET', '/api/agents', listAgents],`");
    expect(routeMd).toContain('routes: drop agent lifecycle routes');
  });

  it('never writes a secret, anywhere', () => {
    for (const out of [c1, c2, c3]) {
      const dir = join(out.report.json, '..');
      const files = [out.report.json, out.report.markdown, ...readdirSync(join(dir, 'clusters')).map((f) => join(dir, 'clusters', f))];
      for (const f of files) {
        const text = readFileSync(f, 'utf8');
        expect(text, f).not.toContain(JWT);
        expect(text, f).not.toContain('s3cr3t-token-value');
      }
    }
  });
});

describe('analyzeCycle errors and realness', () => {
  it('throws a non-retryable JUNIT_MISSING naming the globs and the exit code', async () => {
    const err = await analyzeCycle(input(1, [], { junitFiles: [] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GreenloopError);
    expect(err).toMatchObject({
      code: 'JUNIT_MISSING',
      retryable: false,
      message: 'no JUnit XML: "{{artifacts}}/junit/*.xml" matched nothing (the suite finished with exit code 1)',
    });
  });

  it('throws a non-retryable JUNIT_INVALID naming file and line', async () => {
    const file = join(tmp, 'bad.xml');
    writeFileSync(file, '<testsuites>\n<testsuite name="s">\n<testcase name="a" time="1">\n</testsuite>\n</testsuites>\n');
    const err = await analyzeCycle(input(1, [], { junitFiles: [file] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GreenloopError);
    expect(err).toMatchObject({ code: 'JUNIT_INVALID', retryable: false, details: { file, line: 4 } });
    expect((err as Error).message).toMatch(/bad\.xml:4:\d+: invalid JUnit XML/);
  });

  it('says in the report when the suite or a service ran unsandboxed, and why (sandbox: auto without bwrap)', async () => {
    const why = 'running the test command unsandboxed: bubblewrap (bwrap) is not installed: spawn bwrap ENOENT';
    const out = await analyzeCycle(
      input(1, [], {
        run: { ...run(1), sandboxed: false, sandboxNote: why },
        services: [{ ...(services[0] as DeployedService), sandboxed: false, sandboxNote: 'sandbox: off in greenloop.yaml' }],
      }),
    );
    const report = JSON.parse(readFileSync(out.report.json, 'utf8')) as { sandbox: { suite: boolean; unsandboxed: string[]; line: string } };
    expect(report.sandbox.suite).toBe(false);
    expect(report.sandbox.unsandboxed).toEqual([`the test suite (${why})`, 'service demo-api (sandbox: off in greenloop.yaml)']);
    const md = readFileSync(out.report.markdown, 'utf8');
    expect(md).toContain(
      `WARNING: ran unsandboxed, with greenloop's own access to its home, the repository and its environment: the test suite (${why}); service demo-api (sandbox: off in greenloop.yaml).`,
    );
    // A sandboxed run says so instead.
    const boxed = await analyzeCycle(input(1, []));
    expect(readFileSync(boxed.report.markdown, 'utf8')).toContain(
      "Sandbox: suite, service demo-api ran in bubblewrap (no access to greenloop's home, the repository or greenloop's environment).",
    );
  });

  it('never calls a run green when it is not real, even with no failures', async () => {
    const file = join(tmp, 'all-skipped.xml');
    writeFileSync(
      file,
      '<testsuite name="s"><testcase name="a"><skipped message="no token"/></testcase><testcase name="b"><skipped message="no token"/></testcase></testsuite>',
    );
    const out = await analyzeCycle(
      input(1, [], { junitFiles: [file], run: { ...run(1), exitCode: 0 }, logs: { entries: [], truncated: false, failingRequests: [], query: 'local files' } }),
    );
    expect(out.green).toBe(false);
    expect(out.realness.real).toBe(false);
    expect(out.realness.reasons).toEqual([
      'Tests executed: all 2 tests were skipped; reasons: "no token (×2)"',
      'Test time: tests took 0ms (wall 35.0s); floor 2.0s',
      `Requests reached the services: 0 log entries carry run id run-c1; 0 request lines in the test window; services seen: none (query: local files)`,
    ]);
  });
});
