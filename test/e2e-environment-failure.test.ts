// End-to-end: a suite that cannot reach the service (connection refused on every test) is an environment
// failure: the loop stops with the `environment` rule and its evidence, and no fixer is dispatched.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, startLoop } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { demoHarness } from './demo-harness.ts';

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
