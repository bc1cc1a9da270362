import { describe, expect, it } from 'vitest';
import { planFixes } from './dispatch.ts';
import { renderFixPrompt } from './prompt.ts';
import { fixerConfig, testCluster } from './testing.ts';

describe('planFixes', () => {
  const clusters = [
    { ...testCluster('aaaaaa'), triage: 'server-error' as const },
    { ...testCluster('bbbbbb'), triage: 'infrastructure' as const },
    { ...testCluster('cccccc'), triage: 'assertion' as const },
    { ...testCluster('dddddd'), triage: 'route-missing' as const },
    { ...testCluster('aaaaaa'), triage: 'server-error' as const },
  ];
  const fixer = fixerConfig(['fix'], { skipTriage: ['infrastructure'], attemptsPerCycle: 2, attemptsPerLoop: 3 });

  it('routes by triage class and the per-loop budget, with reasons', () => {
    const plan = planFixes(clusters, fixer, { cccccc: 3, dddddd: 2 });
    expect(plan.dispatch.map((c) => c.fingerprint)).toEqual(['aaaaaa', 'dddddd']);
    expect(plan.maxAttempts).toEqual({ aaaaaa: 2, dddddd: 1 });
    expect(plan.skipped).toEqual([
      {
        fingerprint: 'bbbbbb',
        reason:
          'needs a person: infrastructure (the suite could not reach the service: connection refused/reset, DNS, TLS or a timeout; an environment problem, not a code bug)',
      },
      { fingerprint: 'cccccc', reason: 'needs a person: 3 attempts did not fix it' },
    ]);
  });

  it('with the defaults, dispatches everything but environment failures (skipTriage defaults to infrastructure)', () => {
    const plan = planFixes(clusters, fixerConfig(['fix']), {});
    expect(plan.dispatch.map((c) => c.fingerprint)).toEqual(['aaaaaa', 'cccccc', 'dddddd']);
    expect(plan.skipped.map((s) => s.fingerprint)).toEqual(['bbbbbb']);
    expect(Object.values(plan.maxAttempts)).toEqual([1, 1, 1]);
  });
});

describe('renderFixPrompt', () => {
  it('puts the dossier first, then the rules, then earlier reasons', () => {
    const text = renderFixPrompt({
      dossier: '# GET /things returns 500\n\nEvidence here.\n',
      cluster: testCluster('aaaaaa', 'GET /things returns 500'),
      fixer: fixerConfig(['fix'], { verify: ['npm', 'test'], protectedPaths: ['test/**'] }),
      attempt: 2,
      maxAttempts: 3,
      previousAttempts: [{ reason: 'attempt 1: protected-paths: changed protected paths: test/a.test.js' }],
    });
    expect(text.startsWith('# GET /things returns 500\n\nEvidence here.\n')).toBe(true);
    expect(text).toContain('attempt 2 of 3');
    expect(text).toContain('`test/**`');
    expect(text).toContain('`npm test`');
    expect(text).toContain('keep the change minimal'.replace('keep', 'Keep'));
    expect(text.indexOf('Earlier attempts were rejected')).toBeGreaterThan(text.indexOf('Do not touch'));
    expect(text).toContain('1. attempt 1: protected-paths: changed protected paths: test/a.test.js');
  });
});
