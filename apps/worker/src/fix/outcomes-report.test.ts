import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CycleReportSchema } from '../analysis/report-schema.ts';
import { appendFixOutcomes, appendFixSection, renderFixOutcomes } from './outcomes-report.ts';

describe('fix outcomes in the cycle report', () => {
  const fix = {
    planned: ['aaaa21', 'bbbb22', 'cccc23', 'dddd24'],
    skipped: [{ fingerprint: 'eeee25', reason: 'needs a person: infrastructure (…)' }],
    results: [
      { fingerprint: 'aaaa21', outcome: 'accepted' as const, commit: 'a1', attempts: 1 },
      { fingerprint: 'bbbb22', outcome: 'accepted' as const, commit: 'b1', attempts: 1 },
      { fingerprint: 'cccc23', outcome: 'accepted' as const, commit: 'c1', attempts: 1 },
      { fingerprint: 'dddd24', outcome: 'rejected' as const, reason: 'protected-paths: changed test/a.test.js | x', attempts: 2 },
    ],
  };
  const integrate = {
    commit: 'head',
    applied: [
      { fingerprint: 'aaaa21', commit: 'h1' },
      { fingerprint: 'bbbb22', commit: 'h2' },
    ],
    dropped: [
      {
        fingerprint: 'cccc23',
        reason:
          'conflicts in src/x.js (changed by fix aaaa21 applied before it); re-done on top of the integrated fixes, but the new attempt was rejected: verify: exit 1',
      },
    ],
    redone: [
      { fingerprint: 'bbbb22', conflict: 'conflicts in src/n.js (changed by fix aaaa21 applied before it)', outcome: 'accepted', attempts: 1, commit: 'b2' },
      { fingerprint: 'cccc23', conflict: 'conflicts in src/x.js (changed by fix aaaa21 applied before it)', outcome: 'rejected', attempts: 1 },
    ],
  };

  it('lists every fix with its own reason: applied, re-done, dropped, rejected, left to a person', () => {
    const md = renderFixOutcomes(2, fix, integrate, { bbbb22: 'GET /b returns 500' });
    expect(md.split('\n')).toEqual([
      '',
      '## Fixes of cycle 2',
      '',
      '| Cluster | Outcome | Why |',
      '| --- | --- | --- |',
      '| `aaaa21` | applied |  |',
      '| GET /b returns 500 (`bbbb22`) | applied, re-done after a conflict | conflicts in src/n.js (changed by fix aaaa21 applied before it); its fixer ran again on top (1 more attempt(s)) |',
      '| `cccc23` | dropped at integration | conflicts in src/x.js (changed by fix aaaa21 applied before it); re-done on top of the integrated fixes, but the new attempt was rejected: verify: exit 1 |',
      '| `dddd24` | rejected | protected-paths: changed test/a.test.js \\| x |',
      '| `eeee25` | not dispatched | needs a person: infrastructure (…) |',
      '',
    ]);
    expect(renderFixOutcomes(3, undefined, undefined)).toBe('');
  });

  it('says whether the fixers ran in bubblewrap, and names those that did not', () => {
    const results = fix.results.map((r, i) => ({ ...r, sandboxed: i !== 3 }));
    expect(renderFixOutcomes(2, { ...fix, results }, integrate)).toContain(
      "WARNING: the fixer(s) for `dddd24` ran unsandboxed (sandbox: off), with greenloop's own access to its home, the repository and its environment.",
    );
    const boxed = renderFixOutcomes(2, { ...fix, results: fix.results.map((r) => ({ ...r, sandboxed: true })) }, integrate);
    expect(boxed).toContain('Sandbox: every fixer ran in bubblewrap');
    expect(boxed).not.toContain('WARNING');
  });

  it('appends the section to a report once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-outcomes-'));
    try {
      const file = join(dir, 'report.md');
      writeFileSync(file, '# Cycle 2\n');
      const section = renderFixOutcomes(2, fix, integrate);
      await appendFixOutcomes(file, section);
      await appendFixOutcomes(file, section);
      expect(readFileSync(file, 'utf8')).toBe(`# Cycle 2\n${section}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows what each fixer, the cycle and the loop spent once any fixer reported usage', () => {
    const results = fix.results.map((r, i) =>
      i === 0 ? { ...r, spend: { usd: 0.5, inputTokens: 1000, outputTokens: 100 } } : i === 3 ? { ...r, spendNote: 'the usage file is not JSON' } : r,
    );
    const redone = integrate.redone.map((r) => (r.fingerprint === 'bbbb22' ? { ...r, spend: { usd: 0.25 } } : r));
    const md = renderFixOutcomes(2, { ...fix, results }, { ...integrate, redone }, {}, { usd: 1.75, inputTokens: 3000, outputTokens: 100 }).split('\n');
    expect(md).toContain('| Cluster | Outcome | Why | Spend |');
    expect(md).toContain('| `aaaa21` | applied |  | $0.50, 1,000 input + 100 output tokens |');
    expect(md.find((l) => l.startsWith('| `bbbb22`'))).toMatch(/ \| \$0\.25 \|$/);
    expect(md).toContain('| `dddd24` | rejected | protected-paths: changed test/a.test.js \\| x | the usage file is not JSON |');
    expect(md).toContain('| `eeee25` | not dispatched | needs a person: infrastructure (…) |  |');
    expect(md).toContain('Fixer spend in cycle 2: $0.75, 1,000 input + 100 output tokens; the loop so far: $1.75, 3,000 input + 100 output tokens.');
  });

  it("sets the cycle's fixerSpend entry in report.json once, beside the markdown section", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-outcomes-'));
    try {
      const report = { markdown: join(dir, 'report.md'), json: join(dir, 'report.json') };
      writeFileSync(report.markdown, '# Cycle 3\n');
      const base = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'analysis', 'fixtures', 'golden', 'report-cycle-2.json'), 'utf8'));
      writeFileSync(report.json, JSON.stringify(base));
      const results = fix.results.map((r, i) => (i === 0 ? { ...r, spend: { usd: 0.5 } } : r));
      await appendFixSection(report, 2, { ...fix, results }, integrate, {}, { usd: 0.9 });
      await appendFixSection(report, 2, { ...fix, results }, integrate, {}, { usd: 0.9 });
      const json = CycleReportSchema.parse(JSON.parse(readFileSync(report.json, 'utf8')));
      expect(json.fixerSpend).toEqual([
        {
          cycle: 2,
          spend: { usd: 0.5 },
          loop: { usd: 0.9 },
          fixes: [
            { fingerprint: 'aaaa21', outcome: 'accepted', spend: { usd: 0.5 } },
            { fingerprint: 'bbbb22', outcome: 'accepted' },
            { fingerprint: 'cccc23', outcome: 'accepted' },
            { fingerprint: 'dddd24', outcome: 'rejected' },
          ],
        },
      ]);
      expect(readFileSync(report.markdown, 'utf8').match(/## Fixes of cycle 2/g)).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which fixes were proven or rejected on their deployed candidate (fixer.proveOnDeploy), with the evidence', () => {
    const rejectedGate = {
      name: 'proven-on-deploy',
      passed: false,
      reason: 'rejected on deploy (evidence /a/attempt-2/prove/prove.json; candidate api local-1): still 404',
    };
    const md = renderFixOutcomes(
      1,
      {
        planned: ['aaaa21', 'bbbb22'],
        skipped: [],
        results: [
          {
            fingerprint: 'aaaa21',
            outcome: 'accepted',
            commit: 'a2',
            attempts: 2,
            gates: [
              { name: 'proven-on-deploy (attempt 1)', passed: false, reason: 'rejected on deploy (evidence /a/attempt-1/prove/prove.json): still 404' },
              { name: 'diff-not-empty', passed: true },
              { name: 'proven-on-deploy', passed: true, reason: 'proven (evidence /a/attempt-2/prove/prove.json): 1 passed of 1 test(s)' },
            ],
          },
          {
            fingerprint: 'bbbb22',
            outcome: 'rejected',
            reason: rejectedGate.reason,
            attempts: 1,
            gates: [{ name: 'diff-not-empty', passed: true }, rejectedGate],
          },
        ],
      },
      { commit: 'head', applied: [{ fingerprint: 'aaaa21', commit: 'h1' }], dropped: [] },
    );
    expect(md).toContain(
      '| `aaaa21` | applied, proven on deploy | attempt 1: rejected on deploy (evidence /a/attempt-1/prove/prove.json): still 404; then proven (evidence /a/attempt-2/prove/prove.json): 1 passed of 1 test(s) |',
    );
    expect(md).toContain(`| \`bbbb22\` | rejected on deploy | ${rejectedGate.reason} |`);
  });
});
