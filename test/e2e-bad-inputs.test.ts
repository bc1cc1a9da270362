// End-to-end: each bad input stops the loop with a reason a person can act on, and nothing runs that
// should not (no test against a service that never became healthy, no process left behind).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeQueues, createLogger, createQueues, type LoopRecord, type Queues, startLoop } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { commitAll, demoHarness } from './demo-harness.ts';

type Yaml = { environments: { demo: { services: { deploy: Record<string, unknown> }[]; tests: Record<string, unknown> } } };

describe('e2e: bad inputs stop the loop with a clear reason', () => {
  const h = demoHarness();
  const original = readFileSync(join(h.repo, 'greenloop.yaml'), 'utf8');
  let queues: Queues;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const worker = await startWorker(h.env, createLogger('e2e', 'silent'), h.redisUrl, { ...process.env });
    queues = createQueues(h.store.redis, h.env.GREENLOOP_PREFIX);
    close = worker.close;
  });
  afterAll(async () => {
    await closeQueues(queues);
    await close?.();
    await h.cleanup();
  });

  async function loopWith(edit: (y: Yaml) => void): Promise<LoopRecord> {
    const y = parse(original) as Yaml;
    edit(y);
    writeFileSync(join(h.repo, 'greenloop.yaml'), stringify(y));
    // A loop runs with the file committed at the commit it starts at.
    commitAll(h.repo, 'bad input');
    const out = await startLoop({ store: h.store, queues }, { environment: 'demo', actor: { kind: 'cli', name: 'bad-inputs' } });
    if (out.kind !== 'created') throw new Error(`loop not created: ${JSON.stringify(out)}`);
    return await h.waitForEnd(out.loop.id, 60_000);
  }

  it('a suite that writes no JUnit file', async () => {
    const loop = await loopWith((y) => {
      y.environments.demo.tests.command = ['node', '-e', "console.log('ran nothing')"];
    });
    expect(loop.state).toBe('stopped');
    expect(loop.stop?.rule).toBe('tests-failed-to-run');
    expect(loop.stop?.message).toMatch(/exited with code 0 and wrote no JUnit XML matching .*\*\.xml/);
    expect(loop.stop?.message).toContain('--test-reporter=junit');
  });

  it('a service that never becomes healthy: the cycle stops before any test runs', async () => {
    const loop = await loopWith((y) => {
      const d = y.environments.demo.services[0]!.deploy;
      d.command = ['node', '-e', 'require("node:http").createServer((q, s) => { s.statusCode = 503; s.end(); }).listen(process.env.PORT)'];
      d.readyTimeout = '1s';
    });
    expect(loop.stop?.rule).toBe('deploy-failed');
    expect(loop.stop?.message).toMatch(/api did not answer \/healthz with 2xx within 1s \(last: HTTP 503\)/);
    const cycle = await h.store.getCycle(loop.id, 1);
    expect(cycle?.stages.test).toBeUndefined();
  });

  it('a service that exits on start says how it exited', async () => {
    const loop = await loopWith((y) => {
      y.environments.demo.services[0]!.deploy.command = ['node', '-e', 'console.error("boom: missing DATABASE_URL"); process.exit(3)'];
    });
    expect(loop.stop?.rule).toBe('deploy-failed');
    expect(loop.stop?.message).toMatch(/api exited \(exit code 3\) before \/healthz answered/);
  });

  it('a test command that hangs is killed at its timeout', async () => {
    const loop = await loopWith((y) => {
      y.environments.demo.tests.command = ['node', '-e', 'setInterval(() => {}, 1000)'];
      y.environments.demo.tests.timeout = '1s';
    });
    expect(loop.stop?.rule).toBe('tests-failed-to-run');
    expect(loop.stop?.message).toMatch(/did not finish within 1s; its process group was killed/);
  });

  it('a malformed greenloop.yaml fails the loop naming the field', async () => {
    const loop = await loopWith((y) => {
      y.environments.demo.tests.command = 'npm test' as unknown as string[];
    });
    expect(loop.state).toBe('failed');
    expect(loop.stop?.rule).toBe('config-invalid');
    expect(loop.stop?.message).toContain('environments.demo.tests.command: expected an array of strings');
  });
});
