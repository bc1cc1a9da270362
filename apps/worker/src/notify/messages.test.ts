import type { AnalyzeResult, ClusterSummary, CycleRecord, LoopRecord } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import {
  bulletList,
  cycleFinishedMessage,
  fitSlackLimits,
  loopFinishedMessage,
  loopStartedMessage,
  SLACK_LIMITS,
  type SlackBlock,
  type SlackMessage,
  textSize,
} from './messages.ts';
import { truncate } from './mrkdwn.ts';

const BASE = 'https://greenloop.example.com/';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

function loop(over: Partial<LoopRecord> = {}): LoopRecord {
  return {
    id: 'mg3k9x2a-5f1c0e9b',
    environment: 'payments',
    state: 'running',
    createdAt: '2025-01-01T10:00:00.000Z',
    startedAt: '2025-01-01T10:00:01.000Z',
    startedBy: { kind: 'api', name: 'ci-bot' },
    branch: 'greenloop/mg3k9x2a-5f1c0e9b',
    baseCommit: '0123456789abcdef0123456789abcdef01234567',
    cycle: 3,
    ...over,
  };
}

function cluster(i: number, over: Partial<ClusterSummary> = {}): ClusterSummary {
  return {
    fingerprint: `${i.toString(16).padStart(8, '0')}aaaaaaaa`,
    title: `POST /orders answers 500 when the cart is empty — case ${i} ${'x'.repeat(200)}`,
    triage: 'server-error',
    status: 'new',
    tests: [`orders › creates order ${i}`],
    sampleMessage: 'expected 200',
    endpoints: [{ method: 'POST', path: '/orders', status: 500 }],
    ...over,
  };
}

const totals = { total: 133, passed: 120, failed: 12, skipped: 1, durationMs: 80_000 };

function analyze(over: Partial<AnalyzeResult> = {}): AnalyzeResult {
  return {
    green: false,
    totals,
    realness: { real: true, reasons: [] },
    clusters: [cluster(1), cluster(2, { status: 'persisting', title: 'Old failure' }), cluster(3, { status: 'regressed', title: 'Came back' })],
    fixed: ['deadbeef00000001', 'deadbeef00000002'],
    flaky: ['a › flaky'],
    failingTests: [],
    report: { markdown: '/x/report.md', json: '/x/report.json' },
    ...over,
  };
}

const cycle: CycleRecord = { loopId: 'mg3k9x2a-5f1c0e9b', n: 3, commit: 'fedcba9876543210', startedAt: '2025-01-01T10:10:00.000Z', totals, stages: {} };

function allText(m: SlackMessage): string {
  return JSON.stringify(m);
}

/** Every per-block limit Slack enforces, plus our totals. */
function expectWithinLimits(m: SlackMessage): void {
  expect(m.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(m.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackChars);
  expect(textSize(m.blocks)).toBeLessThanOrEqual(SLACK_LIMITS.totalChars);
  for (const b of m.blocks) {
    if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerChars);
    if (b.type === 'section') {
      expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionChars);
      expect(b.text.text.length).toBeGreaterThan(0);
      for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldChars);
    }
    if (b.type === 'context') for (const e of b.elements) expect(e.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionChars);
    if (b.type === 'actions') for (const e of b.elements) expect(e.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonTextChars);
  }
}

function sections(m: SlackMessage): string[] {
  return m.blocks.filter((b): b is Extract<SlackBlock, { type: 'section' }> => b.type === 'section').map((b) => b.text.text);
}

describe('loopStartedMessage', () => {
  it('names the environment, the actor and links to the loop', () => {
    const m = loopStartedMessage(loop(), { baseUrl: BASE });
    expectWithinLimits(m);
    expect(m.blocks[0]).toMatchObject({ type: 'header', text: { text: '▶️ Loop started on payments' } });
    const s = allText(m);
    expect(s).toContain('API token `ci-bot`');
    expect(s).toContain('https://greenloop.example.com/v1/loops/mg3k9x2a-5f1c0e9b');
    expect(m.text).toContain('Loop started on payments by API token `ci-bot`');
    expect(loopStartedMessage(loop({ startedBy: { kind: 'schedule', name: 'nightly' } }), { baseUrl: BASE }).text).toContain('schedule `nightly`');
  });
});

describe('cycleFinishedMessage', () => {
  it('shows counts with percentages, new and fixed clusters, and the report link', () => {
    const previous = analyze({ clusters: [cluster(9, { fingerprint: 'deadbeef00000001', title: 'Login answered 401' })] });
    const m = cycleFinishedMessage({ loop: loop(), cycle, analyze: analyze(), previous }, { baseUrl: BASE });
    expectWithinLimits(m);
    expect(m.blocks[0]).toMatchObject({ type: 'header', text: { text: '🔴 payments · cycle 3: 12 failing' } });
    const [summary, fresh, fixed] = sections(m);
    expect(summary).toBe('*Passed* 120 (90.2%) · *Failed* 12 (9%) · *Skipped* 1 (0.8%) — 133 tests in 1m 20s');
    expect(fresh).toContain('*New failures (2)*');
    expect(fresh).toContain('Came back');
    expect(fresh).toContain('_regressed_');
    expect(fresh).toContain('`POST /orders → 500`');
    expect(fresh).not.toContain('Old failure');
    expect(fixed).toContain('*Fixed (2)*');
    expect(fixed).toContain('*Login answered 401*');
    expect(fixed).toContain('`deadbeef0000`');
    expect(allText(m)).toContain('1 cluster still failing · 1 flaky test');
    const actions = m.blocks.find((b) => b.type === 'actions');
    expect(actions).toMatchObject({ elements: [{ url: 'https://greenloop.example.com/v1/loops/mg3k9x2a-5f1c0e9b/cycles/3/report' }, {}] });
    expect(m.text).toContain('120 passed, 12 failed, 1 skipped (90.2% passing); 2 new, 2 fixed');
    expect(m.text).toContain('<https://greenloop.example.com/v1/loops/mg3k9x2a-5f1c0e9b/cycles/3/report|report>');
  });

  it('flags a run that may not be real', () => {
    const m = cycleFinishedMessage(
      { loop: loop(), cycle, analyze: analyze({ green: true, realness: { real: false, reasons: ['only 3 tests ran (was 133)'] } }) },
      { baseUrl: BASE },
    );
    expect(m.blocks[0]).toMatchObject({ text: { text: '⚠️ payments · cycle 3: green' } });
    expect(sections(m)[1]).toContain('*This run may not be real*');
    expect(sections(m)[1]).toContain('• only 3 tests ran (was 133)');
    expect(m.text).toContain('run may not be real');
  });

  it('stays within Slack limits with 200 clusters, saying how many were left out', () => {
    const clusters = Array.from({ length: 200 }, (_, i) => cluster(i, { title: `${'🔥'.repeat(40)} <!channel> failure ${i} ${'y'.repeat(400)}` }));
    const fixed = Array.from({ length: 200 }, (_, i) => `f${i}`.padEnd(16, '0'));
    const realness = { real: false, reasons: Array.from({ length: 50 }, (_, i) => `reason ${i} ${'z'.repeat(300)}`) };
    const m = cycleFinishedMessage({ loop: loop({ environment: 'e'.repeat(300) }), cycle, analyze: analyze({ clusters, fixed, realness }) }, { baseUrl: BASE });
    expectWithinLimits(m);
    const s = allText(m);
    expect(s).toMatch(/…and 1\d\d more/);
    expect(s).not.toContain('<!channel>');
    expect(s).toContain('&lt;!channel&gt;');
    // No half surrogate pairs from truncating emoji.
    expect(s).not.toMatch(/\\ud83d(?!\\udd25)/i);
  });

  it('works without an analyze result', () => {
    const m = cycleFinishedMessage({ loop: loop(), cycle: { ...cycle, totals: undefined } as unknown as CycleRecord }, { baseUrl: BASE });
    expectWithinLimits(m);
    expect(sections(m)[0]).toBe('No test totals were recorded for this cycle.');
  });

  it('redacts tokens in free text', () => {
    const c = cluster(1, { title: `GET /me rejected Authorization: Bearer ${JWT} and token=abc123secret` });
    const m = cycleFinishedMessage({ loop: loop(), cycle, analyze: analyze({ clusters: [c] }) }, { baseUrl: BASE });
    const s = allText(m);
    expect(s).not.toContain(JWT);
    expect(s).not.toContain('abc123secret');
    expect(s).toContain('Bearer [redacted]');
    expect(s).toContain('token=[redacted]');
  });
});

describe('loopFinishedMessage', () => {
  it('announces green', () => {
    const m = loopFinishedMessage(
      { loop: loop({ state: 'green', stop: { rule: 'green', message: 'all green' }, finishedAt: '2025-01-01T10:42:01.000Z', latest: totals }) },
      { baseUrl: BASE },
    );
    expectWithinLimits(m);
    expect(m.blocks[0]).toMatchObject({ text: { text: '✅ payments is green' } });
    expect(sections(m)[0]).toBe('The suite on *payments* is green after 3 cycles in 42m 0s.');
    expect(allText(m)).toContain('/v1/loops/mg3k9x2a-5f1c0e9b/cycles/3/report');
  });

  it('announces a stop with its rule, message and clusters (titles from the last analysis)', () => {
    const stop = {
      rule: 'no-progress' as const,
      message: 'The failing set has not shrunk for 3 cycles; a person should look at the clusters below.',
      clusters: ['00000001aaaaaaaa', 'ffffffffffffffff'],
    };
    const m = loopFinishedMessage({ loop: loop({ state: 'stopped', stop }), lastAnalyze: analyze() }, { baseUrl: BASE });
    expectWithinLimits(m);
    expect(m.blocks[0]).toMatchObject({ text: { text: '🛑 payments loop stopped: no-progress' } });
    const [why, involved] = sections(m);
    expect(why).toContain('*no-progress* after 3 cycles');
    expect(why).toContain('has not shrunk for 3 cycles');
    expect(involved).toContain('*Clusters involved (2)*');
    expect(involved).toContain('POST /orders answers 500 when the cart is empty — case 1');
    expect(involved).toContain('`ffffffffffff`');
    expect(m.text).toContain('payments loop stopped (no-progress) after 3 cycles');
  });

  it('lists the clusters left to a person, with the reason, by title when the analysis has it', () => {
    const stop = { rule: 'no-progress' as const, message: 'no progress', clusters: ['00000001aaaaaaaa'] };
    const m = loopFinishedMessage(
      {
        loop: loop({ state: 'stopped', stop }),
        lastAnalyze: analyze(),
        leftToAPerson: [
          { fingerprint: '00000001aaaaaaaa', reason: 'needs a person: 3 attempts did not fix it' },
          { fingerprint: 'beefbeefbeefbeef', reason: 'needs a person: config' },
        ],
      },
      { baseUrl: BASE },
    );
    expectWithinLimits(m);
    const left = sections(m).find((x) => x.startsWith('*Left to a person (2)*'));
    expect(left).toContain('POST /orders answers 500 when the cart is empty — case 1');
    expect(left).toContain('3 attempts did not fix it');
    expect(left).toContain('`beefbeefbeef` — needs a person: config');
    expect(m.text).toContain('2 clusters left to a person.');
    // A green loop has nothing left over, whatever an earlier cycle skipped.
    const green = loopFinishedMessage(
      { loop: loop({ state: 'green', stop: { rule: 'green', message: 'all green' } }), leftToAPerson: [{ fingerprint: 'x', reason: 'needs a person: y' }] },
      { baseUrl: BASE },
    );
    expect(allText(green)).not.toContain('Left to a person');
  });

  it('stays within limits when a stop names 200 clusters with a huge message', () => {
    const clusters = Array.from({ length: 200 }, (_, i) => cluster(i));
    const stop = { rule: 'oscillation' as const, message: `m ${'x'.repeat(10_000)}`, clusters: clusters.map((c) => c.fingerprint) };
    const m = loopFinishedMessage(
      { loop: loop({ state: 'stopped', stop, notices: ['slack disabled'] }), lastAnalyze: analyze({ clusters }) },
      { baseUrl: BASE },
    );
    expectWithinLimits(m);
    expect(allText(m)).toMatch(/…and 1\d\d more/);
  });
});

describe('limits', () => {
  it('fitSlackLimits clamps any message', () => {
    const blocks: SlackBlock[] = [
      { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(500) } },
      ...Array.from(
        { length: 80 },
        (): SlackBlock => ({ type: 'section', text: { type: 'mrkdwn', text: `<https://x.example/${'a'.repeat(100)}|link> ${'&amp;'.repeat(1000)}` } }),
      ),
    ];
    const m = fitSlackLimits({ text: 't'.repeat(50_000), blocks });
    expectWithinLimits(m);
    expect(m.blocks[0]).toMatchObject({ type: 'header' });
  });

  it('bulletList never exceeds its budget', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `• item ${i} ${'w'.repeat(i % 90)}`);
    for (const maxChars of [50, 300, 1000, 2500]) {
      const out = bulletList(lines, { maxItems: 15, maxChars });
      expect(out.length).toBeLessThanOrEqual(maxChars);
      expect(out).toMatch(/…and \d+ more$/);
    }
    expect(bulletList(['a', 'b'], { maxItems: 5, maxChars: 100 })).toBe('a\nb');
  });

  it('truncate does not split surrogate pairs', () => {
    const t = truncate('😀😀😀😀', 4);
    expect(t).toBe('😀…');
  });
});
