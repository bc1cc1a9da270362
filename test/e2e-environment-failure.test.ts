// End-to-end: a suite that cannot reach the service (connection refused on every test), or whose every test
// gets the same 500 (a required env var is missing), is an environment failure: the loop stops with the
// `environment` rule and its evidence, and no fixer is dispatched, unless fixer.massFailure says `fix`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, startLoop } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { commitAll, demoHarness } from './demo-harness.ts';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));
  await new Promise((r) => s.close(r));
  return port;
}

describe('e2e: environment failures stop the loop without a fixer', () => {
  const h = demoHarness();
  afterAll(() => h.cleanup());

  it('stops with rule "environment" and the evidence when every test gets connection refused', { timeout: 120_000 }, async () => {
    // The suite is pointed (through tests.env and a {{url.*}}-free variable) at a port nothing listens on.
    const client = join(h.repo, 'e2e', 'client.js');
    writeFileSync(client, readFileSync(client, 'utf8').replace('process.env.GREENLOOP_URL_API', 'process.env.SUITE_API_URL'));
    const y = parse(readFileSync(join(h.repo, 'greenloop.yaml'), 'utf8')) as { environments: { demo: { tests: { env?: Record<string, string> } } } };
    y.environments.demo.tests.env = { ...y.environments.demo.tests.env, SUITE_API_URL: `http://127.0.0.1:${await closedPort()}` };
    writeFileSync(join(h.repo, 'greenloop.yaml'), stringify(y));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'suite points at a closed port'], { cwd: h.repo });

    const worker = await startWorker(h.env, createLogger('e2e', 'silent'), h.redisUrl, { ...process.env });
    const queues = createQueues(h.store.redis, h.env.GREENLOOP_PREFIX);
    try {
      const out = await startLoop({ store: h.store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'env-failure' } });
      if (out.kind !== 'created') throw new Error(out.kind);
      const loop = await h.waitForEnd(out.loop.id, 100_000);
      expect(loop.state).toBe('stopped');
      expect(loop.stop?.rule, JSON.stringify(loop.stop)).toBe('environment');
      expect(loop.stop?.message).toMatch(
        /^cycle 1: \d+ of \d+ tests failed, \d+ of them unable to reach a working service — e\.g\. ".*ECONNREFUSED|fetch failed/,
      );
      expect(loop.cycle).toBe(1);
      // No fixer ran: the loop stopped before the fix step.
      expect(await h.store.getStage(loop.id, 1, 'fix')).toBeUndefined();
      const analysis = (await h.store.getStage(loop.id, 1, 'analyze'))?.result;
      expect(analysis?.clusters.length).toBeGreaterThan(0);
      // Most clusters are connection-level (a WebSocket test may report its own close code instead).
      const infra = analysis?.clusters.filter((c) => c.triage === 'infrastructure') ?? [];
      expect(infra.length, JSON.stringify(analysis?.clusters.map((c) => [c.triage, c.sampleMessage]))).toBeGreaterThanOrEqual(
        (analysis?.clusters.length ?? 0) / 2,
      );
    } finally {
      await closeQueues(queues);
      await worker.close();
    }
  });
});

/** Replaces `find` (which must be there exactly once) in `file`. */
function edit(file: string, find: string, replace: string): void {
  const text = readFileSync(file, 'utf8');
  if (text.split(find).length !== 2) throw new Error(`${file}: expected one ${JSON.stringify(find)}`);
  writeFileSync(file, text.replace(find, replace));
}

describe('e2e: most tests failing the same way stops the loop without a fixer', () => {
  const h = demoHarness();
  afterAll(() => h.cleanup());
  type DemoYaml = { environments: { demo: { tests: { command: string[] }; fixer: Record<string, unknown>; loop: Record<string, unknown> } } };
  const yamlFile = () => join(h.repo, 'greenloop.yaml');
  const editYaml = (change: (demo: DemoYaml['environments']['demo']) => void) => {
    const y = parse(readFileSync(yamlFile(), 'utf8')) as DemoYaml;
    change(y.environments.demo);
    writeFileSync(yamlFile(), stringify(y));
  };

  /** Runs one loop on `demo` at the repo's HEAD with a worker of its own; the ended loop. */
  async function runLoop(actor: string) {
    const worker = await startWorker(h.env, createLogger('e2e', 'silent'), h.redisUrl, { ...process.env });
    const queues = createQueues(h.store.redis, h.env.GREENLOOP_PREFIX);
    try {
      const out = await startLoop({ store: h.store, queues }, { environment: 'demo', actor: { kind: 'cli', name: actor } });
      if (out.kind !== 'created') throw new Error(out.kind);
      return await h.waitForEnd(out.loop.id, 100_000);
    } finally {
      await closeQueues(queues);
      await worker.close();
    }
  }

  it('stops with rule "environment" when every test gets the same 500 because a required env var is missing', { timeout: 120_000 }, async () => {
    // The service now needs DEMO_STORE_URL for every /api request and its deploy does not set it; /healthz
    // does not read it, so the deploy is healthy. The suite keeps the HTTP API tests: every one gets a 500.
    edit(join(h.repo, 'src', 'config.js'), '  jwtIssuer:', '  storeUrl: process.env.DEMO_STORE_URL,\n  jwtIssuer:');
    edit(
      join(h.repo, 'src', 'server.js'),
      '    const route = match(',
      "    if (pathname.startsWith('/api/') && !config.storeUrl) throw new Error('DEMO_STORE_URL is not set');\n    const route = match(",
    );
    editYaml((demo) => {
      demo.tests.command = demo.tests.command.flatMap((a) => (a === 'e2e/*.test.js' ? ['e2e/agents.test.js', 'e2e/chat.test.js', 'e2e/threads.test.js'] : [a]));
    });
    commitAll(h.repo, 'the store needs DEMO_STORE_URL; the deploy does not set it');

    const loop = await runLoop('env-500');
    expect(loop.state).toBe('stopped');
    expect(loop.stop?.rule, JSON.stringify(loop.stop)).toBe('environment');
    expect(loop.stop?.message).toMatch(
      /^cycle 1: most tests fail the same way: 17 of 17 with "[A-Z]+ \/api\/\S+ → 500, expected \d{3} \(internal_error: internal server error\)" \(server-error 500 in \d+ clusters\)\./,
    );
    expect(loop.stop?.message).toContain(
      'check for a missing env var or secret, a dependency that is down (database, queue, another service) or a bad deploy config',
    );
    expect(loop.stop?.message).toContain('set fixer.massFailure: fix');
    expect(loop.cycle).toBe(1);
    expect(await h.store.getStage(loop.id, 1, 'fix')).toBeUndefined();

    const analysis = (await h.store.getStage(loop.id, 1, 'analyze'))?.result;
    expect(analysis?.totals).toMatchObject({ total: 17, failed: 17 });
    expect(`cycle 1: ${analysis?.environment}`).toBe(loop.stop?.message);
    // The 500 is one cluster per endpoint: no single cluster holds most tests, the way of failing does.
    expect(analysis?.clusters.length).toBeGreaterThan(1);
    expect(new Set(analysis?.clusters.map((c) => c.triage))).toEqual(new Set(['server-error']));
    expect(Math.max(...(analysis?.clusters.map((c) => c.tests.length) ?? []))).toBeLessThan(0.8 * 17);
    // The report says it in the same words, and holds every cluster back from the fixer.
    const md = readFileSync(analysis?.report.markdown ?? '', 'utf8');
    expect(md).toContain(`## ⚠️ The environment, not the code\n\n${analysis?.environment}.`);
    const report = JSON.parse(readFileSync(analysis?.report.json ?? '', 'utf8')) as {
      environmentFailure?: string;
      clusters: { dispatch: boolean; holdReason?: string }[];
      nextActions: { kind: string }[];
    };
    expect(report.environmentFailure).toBe(analysis?.environment);
    expect(report.nextActions[0]?.kind).toBe('environment');
    expect(report.clusters.every((c) => !c.dispatch && c.holdReason?.startsWith('the run failed because of its environment'))).toBe(true);
  });

  it('sends the same run to the fixer with fixer.massFailure: fix', { timeout: 120_000 }, async () => {
    editYaml((demo) => {
      demo.fixer.massFailure = 'fix';
      demo.loop.maxCycles = 2;
    });
    commitAll(h.repo, 'fixer.massFailure: fix');

    const loop = await runLoop('env-500-fix');
    // The demo fixer has no fix for a missing env var: cycle 2 fails the same way and maxCycles ends the loop.
    expect(loop.stop?.rule, JSON.stringify(loop.stop)).toBe('max-cycles');
    const analysis = (await h.store.getStage(loop.id, 1, 'analyze'))?.result;
    expect(analysis?.totals).toMatchObject({ total: 17, failed: 17 });
    expect(analysis?.environment).toBeUndefined();
    const fix = await h.store.getStage(loop.id, 1, 'fix');
    expect(fix?.result?.planned.length).toBe(analysis?.clusters.length);
  });
});
