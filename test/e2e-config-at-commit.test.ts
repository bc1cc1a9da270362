// End-to-end: a loop runs with greenloop.yaml as committed at its base commit. Editing the working tree's
// file mid-loop changes nothing for it; a config that is invalid at the commit ends the loop at once with
// rule `config-invalid`, naming the field and the commit, even when the working tree's file is valid.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type LoopRecord } from '@greenloop/core';
import { type RunningWorker, startWorker } from '@greenloop/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { commitAll, demoHarness, type Harness, startLoopDirect } from './demo-harness.ts';

interface DemoYaml {
  environments: { demo: { tests: { command: unknown }; loop: { maxCycles: number } } };
}

describe('e2e: a loop reads greenloop.yaml from its base commit', () => {
  let h: Harness;
  let worker: RunningWorker;
  let file = '';
  let original = '';

  beforeAll(async () => {
    h = demoHarness();
    file = join(h.repo, 'greenloop.yaml');
    original = readFileSync(file, 'utf8');
    worker = await startWorker(h.env, createLogger('e2e', 'silent'), h.redisUrl, { ...process.env });
  });
  afterAll(async () => {
    await worker?.close();
    await h?.cleanup();
  });

  const start = (name: string) => startLoopDirect(h.store, h.env.GREENLOOP_PREFIX, 'demo', name);

  it('keeps the commit’s tests.command when the working tree’s is changed after cycle 1 started', { timeout: 120_000 }, async () => {
    // Two cycles are enough to see cycle 2 run the committed suite (the demo needs 3 to go green).
    const y = parse(original) as DemoYaml;
    y.environments.demo.loop.maxCycles = 2;
    writeFileSync(file, stringify(y));
    const base = commitAll(h.repo, 'two cycles');

    const id = await start('edit-mid-loop');
    let started: LoopRecord | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && !started; await new Promise((r) => setTimeout(r, 50))) {
      const loop = await h.store.getLoop(id);
      if (loop?.baseCommit) started = loop;
    }
    expect(started?.baseCommit).toBe(base);

    // The working tree now names a suite that only leaves a marker (and a stop after one cycle).
    const marker = join(h.dir, 'working-tree-suite-ran');
    y.environments.demo.tests.command = ['node', '-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`];
    y.environments.demo.loop.maxCycles = 1;
    writeFileSync(file, stringify(y));

    const loop = await h.waitForEnd(id, 110_000);
    expect(loop.stop, JSON.stringify(loop.stop)).toMatchObject({ rule: 'max-cycles' });
    expect(loop.cycle).toBe(2);
    expect(existsSync(marker)).toBe(false);
    // Cycle 2's suite is the committed one: the demo's node tests, reported through JUnit.
    const analysis = (await h.store.getStage(id, 2, 'analyze'))?.result;
    expect(analysis?.totals.total ?? 0).toBeGreaterThan(0);
  });

  it('ends the loop with config-invalid naming the field and the commit when the committed file is invalid', { timeout: 60_000 }, async () => {
    const y = parse(original) as DemoYaml;
    y.environments.demo.tests.command = 'npm test';
    writeFileSync(file, stringify(y));
    const bad = commitAll(h.repo, 'tests.command as a shell string');
    // The working tree is valid again: only the commit's file is wrong.
    writeFileSync(file, original);

    const id = await start('invalid-at-commit');
    const loop = await h.waitForEnd(id, 50_000);
    expect(loop.state).toBe('failed');
    expect(loop.baseCommit).toBe(bad);
    expect(loop.stop?.rule).toBe('config-invalid');
    expect(loop.stop?.message).toContain(`greenloop.yaml at commit ${bad.slice(0, 12)} is invalid`);
    expect(loop.stop?.message).toContain('environments.demo.tests.command');
    expect(loop.stop?.message).toMatch(/^CONFIG_INVALID: /);
    const events = await h.store.readEvents(id, '0');
    const finished = events.find((e) => e.type === 'loop.finished');
    expect(finished?.message).toContain('environments.demo.tests.command');
    // No stage ran.
    expect(await h.store.getStage(id, 1, 'deploy')).toBeUndefined();
  });
});
