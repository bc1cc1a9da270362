// End-to-end (long): the demo loop to green through the HTTP API and the BullMQ workers on real Redis,
// real git and real child processes — exactly what `npm run demo` does.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { CycleRecord, LoopRecord } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../apps/worker/src/process/run-command.ts';
import { demoHarness, type Harness, type Stack, startStack } from './demo-harness.ts';

describe('e2e: demo loop', () => {
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

  it('goes green after at least 3 cycles, with a report per cycle and the fixes on the loop branch', { timeout: 180_000 }, async () => {
    const { apiUrl, auth } = stack!;
    const id = await stack!.startLoop('demo');

    const loop = await h.waitForEnd(id, 170_000);
    expect(loop.stop).toMatchObject({ rule: 'green' });
    expect(loop.state).toBe('green');
    expect(loop.cycle).toBeGreaterThanOrEqual(3);

    const view = (await (await fetch(`${apiUrl}/v1/loops/${id}`, { headers: auth })).json()) as LoopRecord & {
      cycles: (CycleRecord & { hasReport: boolean })[];
    };
    expect(view.cycles).toHaveLength(loop.cycle);
    for (const c of view.cycles) {
      expect(c.hasReport, `cycle ${c.n} has a report`).toBe(true);
      const stored = await h.store.getCycle(id, c.n);
      expect(existsSync(stored!.report!.markdown)).toBe(true);
      const json = await fetch(`${apiUrl}/v1/loops/${id}/cycles/${c.n}/report`, { headers: { ...auth, accept: 'application/json' } });
      expect(json.status).toBe(200);
      expect(await json.json()).toEqual(JSON.parse(readFileSync(stored!.report!.json, 'utf8')));
      // Each cycle deployed exactly once, and nothing it started is still running.
      expect(c.stages.deploy?.attempts).toBe(1);
      for (const svc of stored?.stages.deploy?.result?.services ?? []) expect(isAlive(svc.pid as number), `${svc.revision} stopped`).toBe(false);
    }
    const first = view.cycles[0]!;
    const last = view.cycles.at(-1)!;
    expect(first.totals!.failed).toBeGreaterThan(0);
    expect(last.totals!.failed).toBe(0);
    expect(last.totals!.passed).toBe(last.totals!.total);

    const md = await fetch(`${apiUrl}/v1/loops/${id}/cycles/1/report`, { headers: { ...auth, accept: 'text/markdown' } });
    expect(md.status).toBe(200);
    expect(await md.text()).toMatch(/404|403|1011/);

    // The fixes are commits on the loop branch of the scratch repo, never on main.
    const log = execFileSync('git', ['log', '--format=%s', `main..${loop.branch}`], { cwd: h.repo })
      .toString()
      .trim()
      .split('\n');
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(execFileSync('git', ['rev-list', '--count', 'main'], { cwd: h.repo }).toString().trim()).toBe('1');
  });
});
