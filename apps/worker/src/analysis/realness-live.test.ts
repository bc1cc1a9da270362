import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger, type DeployedService, type LogEntry, ServiceSchema, type TestRunResult, TestsSchema } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitHealthy } from '../deploy/health.ts';
import { LocalProvider } from '../deploy/local.ts';
import { LocalLogSource } from '../logs/local.ts';
import { analyzeCycle } from './analyze-cycle.ts';
import { CycleReportSchema } from './report-schema.ts';

/**
 * Issue 10: a loop ended green with zero test traffic to the deployed revision, because greenloop's own
 * readiness probe (logged 21 ms before the tests) satisfied "requests reached the services". Here with real
 * parts: a service started by the local provider (health-checked by greenloop's marked probe), logging in
 * its own plain format; suites that are real child processes writing JUnit; the local log source; and
 * the whole analysis that decides green.
 */

const log = createLogger('test', 'silent');
const COMMIT = '9c1d0b7e4f6a8c9d0e1f2a3b4c5d6e7f8a9b3f2a';
// Its own format: ISO time, level, method, path, status, quoted user agent. No greenloop headers logged.
const SERVICE = `require('http').createServer((q, s) => {
  s.statusCode = 200; s.end('ok');
  console.log(new Date().toISOString() + ' INFO ' + q.method + ' ' + q.url + ' 200 "' + (q.headers['user-agent'] || '-') + '"');
}).listen(process.env.PORT, '127.0.0.1');`;

/** A suite: three passing tests in JUnit; it fetches each URL in GREENLOOP_TEST_URLS first. */
const SUITE = `const urls = (process.env.GREENLOOP_TEST_URLS || '').split(' ').filter(Boolean);
(async () => {
  for (const u of urls) await (await fetch(u)).text();
  require('fs').writeFileSync(process.env.JUNIT, '<testsuites><testsuite name="e2e" tests="3"><testcase name="a" time="0.1"/><testcase name="b" time="0.1"/><testcase name="c" time="0.1"/></testsuite></testsuites>');
})();`;

let dir: string;
let deployed: DeployedService;
let stale: Server;
let staleUrl: string;
const provider = new LocalProvider({ pathVar: process.env.PATH ?? '/usr/bin:/bin', homeVar: tmpdir() });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gl-realness-live-'));
  mkdirSync(join(dir, 'deploy'));
  deployed = await provider.deploy({
    loopId: 'l',
    cycle: 1,
    commit: COMMIT,
    service: ServiceSchema.parse({
      name: 'api',
      healthPath: '/healthz',
      deploy: { provider: 'local', command: [process.execPath, '-e', SERVICE], readyTimeout: 10_000 },
    }),
    worktree: dir,
    cycleDir: dir,
    signal: new AbortController().signal,
    log,
    progress: () => {},
  });
  // Another instance of "the service" (a stale one the suite might be pointed at).
  stale = createServer((_q, s) => s.end('ok'));
  await new Promise<void>((r) => stale.listen(0, '127.0.0.1', r));
  staleUrl = `http://127.0.0.1:${(stale.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await provider.stop?.(deployed, log);
  await new Promise((r) => stale.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function cycle(name: string, urls: string[], during?: () => Promise<unknown>) {
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  const startedAt = new Date().toISOString();
  await during?.();
  const junit = join(out, 'junit.xml');
  // Asynchronously: the stale instance answers from this process.
  await promisify(execFile)(process.execPath, ['-e', SUITE], { env: { ...process.env, JUNIT: junit, GREENLOOP_TEST_URLS: urls.join(' ') } });
  // The service logs asynchronously to its file; give the last line a moment to land.
  await new Promise((r) => setTimeout(r, 100));
  const finishedAt = new Date().toISOString();
  writeFileSync(join(out, 'stdout.log'), '');
  writeFileSync(join(out, 'stderr.log'), '');
  const run: TestRunResult = {
    runId: `run-${name}`,
    startedAt,
    finishedAt,
    exitCode: 0,
    signal: null,
    timedOut: false,
    junitFiles: [junit],
    stdoutFile: join(out, 'stdout.log'),
    stderrFile: join(out, 'stderr.log'),
    truncatedBytes: 0,
  };
  const logs = await new LocalLogSource().pull({ services: [deployed], from: startedAt, to: finishedAt, runId: run.runId });
  const result = await analyzeCycle({
    loopId: 'l',
    cycle: 1,
    commit: COMMIT,
    environment: 'staging',
    junitFiles: [junit],
    run,
    services: [deployed],
    logs,
    previous: [],
    config: { tests: TestsSchema.parse({ command: ['node', 'suite.js'], minDuration: '0s' }), categories: [] },
    cycleDir: out,
  });
  const report = CycleReportSchema.parse(JSON.parse(readFileSync(result.report.json, 'utf8')));
  const requestsSeen = report.realness.checks.find((c) => c.id === 'requests-seen');
  return { result, report, requestsSeen, logs };
}

describe('realness with a real service, real suites and greenloop probes', () => {
  it('the deploy probe is marked and logged as such by the service', async () => {
    // The service writes its log line after it answered the probe: give the line a moment to reach the file.
    let probes: LogEntry[] = [];
    for (const deadline = Date.now() + 5000; probes.length === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      const logs = await new LocalLogSource().pull({ services: [deployed], from: deployed.readyAt, to: new Date().toISOString(), runId: 'x' });
      probes = logs.entries.filter((e) => e.probe);
    }
    expect(probes.length).toBeGreaterThan(0);
    expect(probes[0]?.httpRequest).toMatchObject({ method: 'GET', path: '/healthz', status: 200 });
  });

  it('a suite that passes without making a request cannot end green, even with greenloop probing during the run', async () => {
    const probeDuringRun = () =>
      waitHealthy({ url: deployed.url, service: 'api', path: '/healthz', timeoutMs: 5000, signal: new AbortController().signal, progress: () => {} });
    const { result, report, requestsSeen } = await cycle('no-requests', [], probeDuringRun);
    expect(result.totals).toMatchObject({ total: 3, passed: 3, failed: 0 });
    expect(result.green).toBe(false);
    expect(report.verdict).toBe('not-real');
    expect(requestsSeen).toMatchObject({
      passed: false,
      detail: expect.stringMatching(/0 request lines in the test window; services seen: none; left out: [12] greenloop probe/),
    });
  });

  it('a suite pointed at another instance cannot end green', async () => {
    const { result, requestsSeen } = await cycle('stale-instance', [`${staleUrl}/api/items`, `${staleUrl}/api/users`]);
    expect(result.totals.passed).toBe(3);
    expect(result.green).toBe(false);
    expect(requestsSeen?.passed).toBe(false);
  });

  it('a suite that calls the deployed revision ends green', async () => {
    const { result, requestsSeen } = await cycle('real', [`${deployed.url}/api/items`, `${deployed.url}/api/users`]);
    expect(requestsSeen).toMatchObject({ passed: true, detail: expect.stringContaining('2 request lines in the test window; services seen: api') });
    expect(result.green).toBe(true);
  });
});
