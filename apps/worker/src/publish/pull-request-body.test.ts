// The pull request body rendered by a real GFM renderer (micromark + its GitHub extension, autolink
// literals included): hostile test names and reasons must come out as text, never as links, images,
// HTML, mentions or issue references; the body stays within GitHub's limit.
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { describe, expect, it } from 'vitest';
import { GITHUB_BODY_LIMIT } from './github.ts';
import type { LoopEvidence } from './loop-evidence.ts';
import { inlineText } from './markdown-safe.ts';
import { laterLoopComment, markedLoop, pullRequestBody, pullRequestTitle } from './pull-request-body.ts';

const GH = { host: 'GitHub', chars: GITHUB_BODY_LIMIT };
const render = (md: string) => micromark(md, { extensions: [gfm()], htmlExtensions: [gfmHtml()] });

const HOSTILE = [
  '[click me](https://evil.example/phish)',
  '![x](https://evil.example/pixel.png)',
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '@acme/security-team please look',
  'see #1 and GH-2 and acme/shop#3',
  'visit https://evil.example/a or www.evil.example',
  'mail me: someone@evil.example',
  '&lt;b&gt; entity',
  '| pipe | in | cell |',
  '`code` **bold** _em_ ~~strike~~',
  '<https://evil.example/autolink>',
  '[ref]: https://evil.example/ref',
];

function evidence(overrides: Partial<LoopEvidence> = {}): LoopEvidence {
  return {
    loopId: 'loop-abc123',
    environment: 'staging',
    state: 'stopped',
    stop: { rule: 'no-progress', message: 'the same 1 cluster failed 3 cycles in a row' },
    branch: 'greenloop/loop-abc123',
    baseCommit: 'a'.repeat(40),
    headCommit: 'b'.repeat(40),
    cycles: [
      { n: 1, commit: 'a'.repeat(40), totals: { total: 10, passed: 6, failed: 4, skipped: 0, durationMs: 1000 }, green: false, real: true, clusters: 2 },
      { n: 2, commit: 'b'.repeat(40), totals: { total: 10, passed: 8, failed: 1, skipped: 1, durationMs: 1000 }, green: false, real: true, clusters: 1 },
    ],
    fixes: [{ fingerprint: 'f1f1f1f1', title: 'GET /price returns 404', cycle: 1, commit: 'c'.repeat(40), stillFailing: false }],
    leftToPerson: [
      { fingerprint: 'e2e2e2e2e2e2e2', title: 'token rejected', triage: 'auth-rejected', tests: ['auth › rejects'], reason: 'skipTriage: auth-rejected' },
    ],
    realness: { real: true, reasons: [] },
    ...overrides,
  };
}

describe('pull request body', () => {
  it('renders hostile test names, titles and reasons as plain text under GFM', () => {
    const e = evidence({
      leftToPerson: HOSTILE.map((h, i) => ({ fingerprint: `dead${i}beef`, title: h, triage: 'assertion', tests: [h, `${h} (2)`], reason: h })),
      fixes: HOSTILE.map((h, i) => ({ fingerprint: `f${i}`, title: h, cycle: 1, commit: 'c'.repeat(40), stillFailing: i % 2 === 0 })),
      stop: { rule: 'no-progress', message: HOSTILE.join(' ') },
    });
    const html = render(pullRequestBody(e, {}, GH));
    expect(html).not.toMatch(/<a\s/);
    expect(html).not.toMatch(/<img/);
    expect(html).not.toMatch(/<script/);
    expect(html).not.toMatch(/<strong>bold|<em>em|<del>strike|<code>code/);
    // GitHub links @mentions, #123 / GH-123 references, bare URLs and emails after rendering: each is broken by a zero-width space.
    const text = html.replace(/<[^>]+>/g, '');
    expect(text).not.toMatch(/@[A-Za-z0-9]/);
    expect(text).not.toMatch(/#\d|GH-\d/);
    expect(text).not.toMatch(/https?:\/\/|www\./);
    // The words are all still there for a person to read.
    expect(text).toContain('@\u200bacme/security-team please look');
    expect(text).toContain('click me');
  });

  it('leaves the table intact when a cell holds pipes and newlines', () => {
    const html = render(
      pullRequestBody(evidence({ fixes: [{ fingerprint: 'f', title: 'a | b\n| c', cycle: 2, commit: 'd'.repeat(40), stillFailing: true }] }), {}, GH),
    );
    const fixedTable = html.split('<h3>Fixed (1)</h3>')[1]?.split('</table>')[0] ?? '';
    expect(fixedTable.match(/<td>/g)?.length).toBe(4);
    expect(fixedTable).toContain('a | b | c');
  });

  it('shows the pass rate of every cycle (passed of executed), fixes with commits, what is left, and the realness verdict', () => {
    const md = pullRequestBody(evidence(), { publicUrl: 'https://gl.example/' }, GH);
    expect(md).toContain('| 1 | `aaaaaaa` | 6/10 | 4 | 60.0% | 2 | yes | [cycle 1](https://gl.example/v1/loops/loop-abc123/cycles/1/report) |');
    expect(md).toContain('| 2 | `bbbbbbb` | 8/9 | 1 | 88.9% | 1 | yes | [cycle 2](https://gl.example/v1/loops/loop-abc123/cycles/2/report) |');
    expect(md).toContain('| GET /price returns 404 | 1 | `ccccccc` | passing |');
    expect(md).toMatch(/- \*\*token rejected\*\* \(auth-rejected, `e2e2e2e2e2e2`\): skipTriage: auth-rejected/);
    expect(md).toContain('Real: the last analyzed run (cycle 2)');
    expect(md).toContain('The suite is not green yet');
    expect(markedLoop(md, 'body')).toBe('loop-abc123');
    expect(pullRequestTitle(evidence())).toBe('greenloop: fixes for staging (no-progress after 2 cycles, 1 left to a person)');
    expect(pullRequestTitle(evidence({ state: 'green', leftToPerson: [] }))).toBe('greenloop: fixes for staging (green after 2 cycles)');
  });

  it('names the CLI command instead of links when greenloop has no public URL', () => {
    const md = pullRequestBody(evidence(), {}, GH);
    expect(md).not.toContain('http');
    expect(md).toContain('`greenloop report loop-abc123 2`');
  });

  it('says a run was not real, with the reasons', () => {
    const md = pullRequestBody(evidence({ realness: { real: false, reasons: ['0 tests collected', 'no request reached the services'] } }), {}, GH);
    expect(md).toContain('**Not real**');
    expect(md).toContain('- 0 tests collected');
  });

  it('includes AI spend when the records carry it, and nothing about it otherwise', () => {
    const cycles = evidence().cycles.map((c, i) => (i === 0 ? { ...c, spend: { usd: 0.4, inputTokens: 12000, outputTokens: 3400 } } : c));
    const md = pullRequestBody(evidence({ cycles, spend: { usd: 1.234, inputTokens: 120000, outputTokens: 30000 } }), {}, GH);
    expect(md).toContain('$1.23, 120,000 input + 30,000 output tokens for the whole loop.');
    expect(md).toContain('| AI spend |');
    expect(md).toContain('| $0.40, 12,000 input + 3,400 output tokens |');
    expect(pullRequestBody(evidence(), {}, GH)).not.toMatch(/spend/i);
  });

  it('stays within GitHub’s limit, cut at a line, pointing at the full report', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({
      fingerprint: `fp${i}`,
      title: `cluster ${i} ${'x'.repeat(150)}`,
      triage: 'assertion',
      tests: Array.from({ length: 12 }, (_, j) => `test ${i}.${j} ${'y'.repeat(150)}`),
      reason: 'z'.repeat(400),
    }));
    const md = pullRequestBody(evidence({ leftToPerson: many }), { publicUrl: 'https://gl.example' }, GH);
    expect(md.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT);
    expect(md.length).toBeGreaterThan(GITHUB_BODY_LIMIT - 2000);
    expect(md).toMatch(
      /…cut to fit GitHub's 65,536-character limit; the full evidence: \[the last report \\\(cycle 2\\\)\]\(https:\/\/gl\.example\/v1\/loops\/loop-abc123\/cycles\/2\/report\)\.$/,
    );
    // The cut is between lines: the line before the footer is a whole one.
    const lines = md.split('\n');
    expect(lines[lines.length - 4]).toMatch(/^(- \*\*cluster| {2}- 12 test\(s\))/);
    const comment = laterLoopComment(evidence({ leftToPerson: many }), {}, GH);
    expect(comment.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT);
    expect(markedLoop(comment, 'comment')).toBe('loop-abc123');
  });

  it('redacts secrets in free text before escaping it', () => {
    expect(inlineText('failed with token ghp_0123456789abcdefghijABCDEFGHIJ012345')).not.toContain('ghp_0123456789');
  });
});
