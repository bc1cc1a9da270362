import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../git/repo.ts';
import { runFix } from './run-fix.ts';
import { fixerConfig, fixRequest, makeRepo, memoryLogger, nodeScript, type TestRepo, testCluster } from './testing.ts';

let t: TestRepo;
beforeEach(async () => {
  t = await makeRepo();
});
afterEach(async () => {
  await t.cleanup();
});

/** A Claude Code `-p --output-format json` result line costing `usd`. */
const claudeResult = (usd: number) =>
  JSON.stringify({
    type: 'result',
    subtype: 'success',
    is_error: false,
    num_turns: 3,
    result: 'Looked at the route table; nothing to change.',
    session_id: 'c0ffee',
    total_cost_usd: usd,
    usage: { input_tokens: 100, cache_creation_input_tokens: 900, cache_read_input_tokens: 4000, output_tokens: 250 },
  });

describe('runFix: what the fixer spent', () => {
  it('sums the usage of every attempt and stops retrying when the next attempt could pass the fix allowance', async () => {
    const { log } = memoryLogger();
    // Changes nothing (no-change is retried) and reports $0.40 per run, as Claude Code does.
    const fixer = await nodeScript(t.root, 'costly-fixer', `console.log(${JSON.stringify(claudeResult(0.4))});`);
    const req = await fixRequest(t, testCluster('5pend01'), fixerConfig(fixer, { attemptsPerCycle: 5 }), log, { budget: { usd: 1 } });
    const result = await runFix(req);
    // $0.40 + $0.40 spent; a third $0.40 would pass $1.00, so it never starts.
    expect(result.outcome).toBe('no-change');
    expect(result.attempts).toBe(2);
    expect(result.spend).toEqual({ usd: 0.8, inputTokens: 2 * 5000, outputTokens: 2 * 250 });
    expect(result.reason).toContain('not retried: fixer.budget: this fix spent $0.80 of a $1.00 cap, and the next run could cost $0.40');
    // Without a budget all five attempts run.
    const free = await runFix({ ...req, budget: undefined });
    expect(free.attempts).toBe(5);
    expect(free.spend?.usd).toBe(2);
  });

  it('records the spend of a fixer that failed, and notes a budget it cannot count', async () => {
    const { log } = memoryLogger();
    const failing = await nodeScript(t.root, 'failing-fixer', `console.log(${JSON.stringify(claudeResult(0.25))}); process.exit(3);`);
    const failed = await runFix(await fixRequest(t, testCluster('5pend02'), fixerConfig(failing), log));
    expect(failed.outcome).toBe('failed');
    expect(failed.spend).toEqual({ usd: 0.25, inputTokens: 5000, outputTokens: 250 });
    expect(failed.spendNote).toBeUndefined();

    const silent = await nodeScript(t.root, 'silent-fixer', `console.log('no usage here');`);
    const budgeted = fixerConfig(silent, { budget: { perLoop: { usd: 5 } } });
    const quiet = await runFix(await fixRequest(t, testCluster('5pend03'), budgeted, log));
    expect(quiet.spend).toBeUndefined();
    expect(quiet.spendNote).toBe('fixer.budget is set but this run reported no usage, so the budget cannot count it');

    // Codex reports tokens only: a dollar budget cannot count them without a price.
    const codex = await nodeScript(
      t.root,
      'codex-fixer',
      `console.log(JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 24763, cached_input_tokens: 24448, output_tokens: 122 } }));`,
    );
    const unpriced = await runFix(await fixRequest(t, testCluster('5pend05'), fixerConfig(codex, { budget: { perLoop: { usd: 5 } } }), log));
    expect(unpriced.spend).toEqual({ inputTokens: 24763, outputTokens: 122 });
    expect(unpriced.spendNote).toContain('set fixer.pricePerMillionTokens');
    const priced = await runFix(
      await fixRequest(
        t,
        testCluster('5pend06'),
        fixerConfig(codex, { budget: { perLoop: { usd: 5 } }, pricePerMillionTokens: { input: 1.25, output: 10 } }),
        log,
      ),
    );
    expect(priced.spend).toEqual({ inputTokens: 24763, outputTokens: 122, usd: (24763 * 1.25 + 122 * 10) / 1e6 });
    expect(priced.spendNote).toBeUndefined();
  });

  it('gives a sandboxed fixer a {{usageFile}} outside its clone: the usage is recorded, the file is not part of the fix', async () => {
    const { log } = memoryLogger();
    const fixer = await nodeScript(
      t.root,
      'wrapper-fixer',
      `import { writeFileSync } from 'node:fs';
writeFileSync('src/a.js', 'export const a = () => 2;\\n');
writeFileSync(process.argv[2], JSON.stringify({ usd: 0.125, inputTokens: 3000, outputTokens: 120 }));
console.log('wrote the fix and the usage');`,
      ['{{usageFile}}'],
    );
    const req = await fixRequest(t, testCluster('5pend04'), fixerConfig(fixer, { network: 'none' }), log, { sandbox: { mode: 'on', hide: [t.repo] } });
    const result = await runFix(req);
    expect(result.reason).toBeUndefined();
    expect(result.outcome).toBe('accepted');
    expect(result.sandboxed).toBe(true);
    expect(result.spend).toEqual({ usd: 0.125, inputTokens: 3000, outputTokens: 120 });
    const files = (await git(t.repo).raw(['diff', '--name-only', t.base, result.commit ?? ''])).trim().split('\n');
    expect(files).toEqual(['src/a.js']);
    expect(await readdir(join(req.artifactDir, 'attempt-1', 'usage'))).toEqual(['usage.json']);
  });
});
