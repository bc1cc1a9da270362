// End-to-end: with tests.rerun, a test that fails once and passes on the rerun is labelled flaky,
// reported, and never handed to a fixer; the real failures still are.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, startLoop } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { demoHarness } from './demo-harness.ts';

describe('e2e: flaky tests are rerun and kept out of fixes', () => {
  const h = demoHarness();
  afterAll(() => h.cleanup());

  it('labels a fail-then-pass test flaky and dispatches fixers only for real failures', { timeout: 120_000 }, async () => {
    // Fails in the first run, passes when rerun (the rerun gets its own run id).
    writeFileSync(
      join(h.repo, 'e2e', 'flaky.test.js'),
      "import { test } from 'node:test';\ntest('wobbly clock', () => { if (!process.env.GREENLOOP_RUN_ID.endsWith('-rerun')) throw new Error('timing drifted by 12ms'); });\n",
    );
    const y = parse(readFileSync(join(h.repo, 'greenloop.yaml'), 'utf8')) as { environments: { demo: { tests: Record<string, unknown> } } };
    y.environments.demo.tests.rerun = [
      'node',
      '--test',
      '--test-reporter=junit',
      '--test-reporter-destination={{artifacts}}/junit.xml',
      '--test-name-pattern={{failedTestsPattern}}',
      'e2e/*.test.js',
    ];
    writeFileSync(join(h.repo, 'greenloop.yaml'), stringify(y));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'flaky test + rerun'], { cwd: h.repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A'], { cwd: h.repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'flaky file'], { cwd: h.repo });

    const worker = await startWorker(h.env, createLogger('e2e', 'silent'), h.redisUrl, { ...process.env });
    const queues = createQueues(h.store.redis, h.env.GREENLOOP_PREFIX);
    try {
      const out = await startLoop({ store: h.store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'flaky' } });
      if (out.kind !== 'created') throw new Error(out.kind);
      const loop = await h.waitForEnd(out.loop.id, 100_000);
      expect(loop.state, JSON.stringify(loop.stop)).toBe('green');
      // The last cycle's only failure was the flaky test: green, with the flake reported.
      const last = (await h.store.getStage(loop.id, loop.cycle, 'analyze'))?.result;
      expect(last?.flaky.some((id) => id.includes('wobbly clock'))).toBe(true);

      const analysis = (await h.store.getStage(loop.id, 1, 'analyze'))?.result;
      if (!analysis) throw new Error('cycle 1 has no analysis');
      expect(analysis.flaky.some((id) => id.includes('wobbly clock'))).toBe(true);
      expect(analysis.clusters.flatMap((c) => c.tests).some((t) => t.includes('wobbly clock'))).toBe(false);
      expect(analysis.clusters.length).toBeGreaterThan(0);
      const fix = (await h.store.getStage(loop.id, 1, 'fix'))?.result;
      expect(fix?.planned.length).toBe(analysis.clusters.length);
      expect(readFileSync(analysis.report.markdown, 'utf8')).toMatch(/wobbly clock/);
    } finally {
      await closeQueues(queues);
      await worker.close();
    }
  });
});
