// End-to-end: a fixer that reports what it spent (Claude Code's `--output-format json` result) and a loop
// budget it would pass. Through the HTTP API, the BullMQ workers, real Redis, git and child processes:
// the budget is checked before each fixer starts, so only the first fixer runs; the next cycle stops the
// loop with rule `budget`, and the spend is on the loop, the cycle, the reports and /metrics.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CycleRecord, LoopRecord } from '@greenloop/core';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { demoHarness, startStack } from './demo-harness.ts';

/** The demo's stand-in fixer, wrapped to print a Claude Code result costing $0.60 afterwards, whatever it did. */
const COSTLY_FIXER = `import { spawnSync } from 'node:child_process';
const run = spawnSync(process.execPath, ['tools/demo-fixer.js', process.argv[2]], { stdio: ['ignore', 'inherit', 'inherit'] });
console.log(JSON.stringify({
  type: 'result', subtype: 'success', is_error: false, num_turns: 4, result: 'Applied the prepared fix.', session_id: 'e2e-budget',
  total_cost_usd: 0.6,
  usage: { input_tokens: 1200, cache_creation_input_tokens: 800, cache_read_input_tokens: 3000, output_tokens: 400 },
}));
process.exit(run.status ?? 1);
`;

/** Changes nothing; writes its usage to {{usageFile}}, as a wrapper script around an agent would. */
const WRAPPER_FIXER = `import { writeFileSync } from 'node:fs';
writeFileSync(process.argv[2], JSON.stringify({ usd: 0.6, inputTokens: 1000, outputTokens: 100 }));
console.log('looked, changed nothing');
`;

describe('e2e: fixer budget', () => {
  const h = demoHarness();
  afterAll(() => h.cleanup());

  it('dispatches no fixer that could pass fixer.budget.perLoop and stops with rule "budget", the spend in its records, reports and /metrics', {
    timeout: 150_000,
  }, async () => {
    writeFileSync(join(h.repo, 'tools', 'costly-fixer.js'), COSTLY_FIXER);
    const file = join(h.repo, 'greenloop.yaml');
    const y = parse(readFileSync(file, 'utf8')) as { environments: { demo: { fixer: Record<string, unknown> } } };
    // One fixer at a time, so the second one starts after the first has reported its $0.60.
    y.environments.demo.fixer = {
      ...y.environments.demo.fixer,
      command: ['node', 'tools/costly-fixer.js', '{{clusterFile}}'],
      concurrency: 1,
      budget: { perLoop: { usd: 1 } },
    };
    writeFileSync(file, stringify(y));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A'], { cwd: h.repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'a fixer that reports its cost, and a loop budget'], { cwd: h.repo });

    const stack = await startStack(h);
    const { apiUrl, auth } = stack;
    try {
      const id = await stack.startLoop('demo');
      const loop = await h.waitForEnd(id, 140_000);

      // Stopped before cycle 2's fixes: $0.60 spent, and another $0.60 run would pass $1.00.
      expect(loop.state).toBe('stopped');
      expect(loop.stop?.rule, JSON.stringify(loop.stop)).toBe('budget');
      expect(loop.stop?.message).toContain("fixer.budget.perLoop: the loop's fixers spent $0.60 of a $1.00 cap, and the next run could cost $0.60");
      expect(loop.cycle).toBe(2);
      expect(await h.store.getStage(id, 2, 'fix')).toBeUndefined();

      // Cycle 1: the first fixer ran; the others were refused as they were about to start, each saying why.
      const fix = (await h.store.getStage(id, 1, 'fix'))?.result;
      expect(fix?.results.length, JSON.stringify(fix)).toBeGreaterThanOrEqual(2);
      const [first, ...rest] = fix?.results ?? [];
      expect(first?.spend).toEqual({ usd: 0.6, inputTokens: 5000, outputTokens: 400 });
      for (const r of rest) {
        expect(r.outcome).toBe('skipped');
        expect(r.attempts).toBe(0);
        expect(r.reason).toContain('not started: fixer.budget.perLoop');
        expect(r.spend).toBeUndefined();
      }

      // The loop and cycle records through the API.
      const view = (await (await fetch(`${apiUrl}/v1/loops/${id}`, { headers: auth })).json()) as LoopRecord & { cycles: CycleRecord[] };
      expect(view.spend).toEqual({ usd: 0.6, inputTokens: 5000, outputTokens: 400 });
      expect(view.cycles[0]?.spend).toEqual({ usd: 0.6, inputTokens: 5000, outputTokens: 400 });
      expect(view.cycles[1]?.spend).toBeUndefined();

      // The last cycle's report lists cycle 1's fixes with their spend, in markdown and JSON.
      const md = await (await fetch(`${apiUrl}/v1/loops/${id}/cycles/2/report`, { headers: { ...auth, accept: 'text/markdown' } })).text();
      expect(md).toContain('| Cluster | Outcome | Why | Spend |');
      expect(md).toContain('Fixer spend in cycle 1: $0.60, 5,000 input + 400 output tokens; the loop so far: $0.60, 5,000 input + 400 output tokens.');
      expect(md).toContain('not started: fixer.budget.perLoop');
      const json = (await (await fetch(`${apiUrl}/v1/loops/${id}/cycles/2/report`, { headers: { ...auth, accept: 'application/json' } })).json()) as {
        fixerSpend?: { cycle: number; spend?: unknown; loop?: unknown }[];
      };
      expect(json.fixerSpend).toMatchObject([{ cycle: 1, spend: { usd: 0.6 }, loop: { usd: 0.6 } }]);

      const metrics = (await (await fetch(`${apiUrl}/metrics`, { headers: auth })).text()).split('\n');
      expect(metrics).toContain('greenloop_fixer_spend_usd_total{environment="demo"} 0.6');
      expect(metrics).toContain('greenloop_fixer_input_tokens_total{environment="demo"} 5000');
      expect(metrics).toContain('greenloop_fixer_output_tokens_total{environment="demo"} 400');
    } finally {
      await stack.close();
    }
  });

  it('stops with rule "budget" when every failing cluster has spent its perCluster cap, reading {{usageFile}} from the sandboxed fixer', {
    timeout: 150_000,
  }, async () => {
    writeFileSync(join(h.repo, 'tools', 'wrapper-fixer.js'), WRAPPER_FIXER);
    const file = join(h.repo, 'greenloop.yaml');
    const y = parse(readFileSync(file, 'utf8')) as { environments: { demo: { fixer: Record<string, unknown> } } };
    y.environments.demo.fixer = { command: ['node', 'tools/wrapper-fixer.js', '{{usageFile}}'], timeout: '1m', budget: { perCluster: { usd: 1 } } };
    writeFileSync(file, stringify(y));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A'], { cwd: h.repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'a wrapper that writes its usage, and a cluster budget'], {
      cwd: h.repo,
    });

    const stack = await startStack(h);
    try {
      const id = await stack.startLoop('demo');
      const loop = await h.waitForEnd(id, 140_000);

      // Every cluster's fixer ran once ($0.60 each, nothing changed); one more run each would pass $1.00.
      const fix = (await h.store.getStage(id, 1, 'fix'))?.result;
      const n = fix?.results.length ?? 0;
      expect(n, JSON.stringify(fix)).toBeGreaterThanOrEqual(2);
      for (const r of fix?.results ?? []) {
        expect(r.outcome).toBe('no-change');
        expect(r.spend).toEqual({ usd: 0.6, inputTokens: 1000, outputTokens: 100 });
        expect(r.sandboxed).toBe(true);
      }
      expect(loop.stop?.rule, JSON.stringify(loop.stop)).toBe('budget');
      expect(loop.stop?.message).toBe(
        `fixer.budget.perCluster: each of the ${n} failure cluster(s) left to fix has reached its cap or could pass it with one more run (e.g. spent $0.60 of a $1.00 cap, and the next run could cost $0.60)`,
      );
      expect(loop.cycle).toBe(2);
      expect(loop.spend).toEqual({ usd: Math.round(0.6 * n * 100) / 100, inputTokens: 1000 * n, outputTokens: 100 * n });
    } finally {
      await stack.close();
    }
  });
});
