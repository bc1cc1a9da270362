// End-to-end (long): fixer.proveOnDeploy on the local provider. The demo with a fixer that is wrong on its
// first try at the missing route (environment hurried-prove): the wrong fix is deployed as its own process,
// its cluster's test still fails the same way, and it is rejected and re-done within cycle 1 — real Redis,
// git, child processes and the demo's own suite.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FixResult } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProofRecord } from '../apps/worker/src/fix/prove-on-deploy.ts';
import { isAlive } from '../apps/worker/src/process/run-command.ts';
import { demoHarness, type Harness, type Stack, startStack } from './demo-harness.ts';

describe('e2e: proveOnDeploy on the local provider', () => {
  let h: Harness;
  let stack: Stack | undefined;

  beforeAll(async () => {
    h = demoHarness();
    stack = await startStack(h);
  });
  afterAll(async () => {
    await stack?.close();
    await h?.cleanup();
  });

  it('rejects a wrong first fix on its deployed candidate and integrates the re-done one in the same cycle', { timeout: 240_000 }, async () => {
    const id = await stack!.startLoop('hurried-prove');
    const loop = await h.waitForEnd(id, 230_000);
    expect(loop.stop).toMatchObject({ rule: 'green' });
    // The demo's three cycles: the wrong first try cost no cycle (without proving it costs one: bench/prove-bench.ts).
    expect(loop.cycle).toBe(3);

    const fix = (await h.store.getStage(id, 1, 'fix'))?.result;
    const start = fix?.results.find((r) => r.gates?.some((g) => g.name === 'proven-on-deploy (attempt 1)')) as FixResult;
    expect(start, 'a fix of cycle 1 was rejected on deploy').toBeDefined();
    expect(start).toMatchObject({ outcome: 'accepted', attempts: 2 });
    const rejected = start.gates?.find((g) => g.name === 'proven-on-deploy (attempt 1)');
    expect(rejected?.passed).toBe(false);
    expect(rejected?.reason).toMatch(/^rejected on deploy .*starts and stops an agent session.*404/s);
    const proven = start.gates?.find((g) => g.name === 'proven-on-deploy');
    expect(proven).toMatchObject({ passed: true });
    // The right fix gets past the 404 and reaches the bug hidden behind it (the 500 of stop): proven, not rejected.
    expect(proven?.reason).toMatch(/^proven .*now fail differently/s);

    // Evidence under the cycle's artifacts, and no candidate process left running.
    const attemptDir = dirname(start.logFile as string).replace(/attempt-\d+$/, '');
    for (const attempt of [1, 2]) {
      const file = join(attemptDir, `attempt-${attempt}`, 'prove', 'prove.json');
      expect(existsSync(file), file).toBe(true);
      const record = JSON.parse(readFileSync(file, 'utf8')) as ProofRecord;
      expect(record.verdict.proven).toBe(attempt === 2);
      // Only the cluster's test ran: node --test's name pattern selected it.
      expect(record.argv.some((a) => a.startsWith('--test-name-pattern='))).toBe(true);
      for (const s of record.services) {
        const pid = Number(s.revision.split('-').at(-1));
        expect(isAlive(pid), `candidate ${s.revision} stopped`).toBe(false);
      }
    }

    const md = readFileSync((await h.store.getCycle(id, 1))?.report?.markdown as string, 'utf8');
    expect(md).toMatch(/\| applied, proven on deploy \| attempt 1: rejected on deploy .*; then proven /);
  });
});
