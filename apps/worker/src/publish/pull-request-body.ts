import { formatSpend } from '@greenloop/core';
import type { CycleEvidence, LoopEvidence } from './loop-evidence.ts';
import { codeSpan, inlineText, link } from './markdown-safe.ts';

/**
 * The pull request's title, body and later-loop comments, rendered from a loop's evidence. Untrusted
 * text goes through `inlineText`; everything else is greenloop's own (numbers, commit ids, URLs it built).
 */

/** Where the reports are: links under the API's public URL, or the CLI command when greenloop has no public URL. */
export interface ReportLinks {
  /** e.g. https://greenloop.example.com; links are `<base>/v1/loops/<id>/cycles/<n>/report`. */
  publicUrl?: string;
}

/** The host's limit on a body or comment, and its name for the cut notice. */
export interface BodyLimit {
  host: string;
  chars: number;
}

const MAX_TESTS_PER_CLUSTER = 10;
const MAX_ROWS = 200;

/** The marker that ties a body or comment to its loop, so a retried job finds what it wrote before. */
export function loopMarker(loopId: string, kind: 'body' | 'comment'): string {
  return `<!-- greenloop:${kind} loop=${loopId} -->`;
}

/** Reads the loop id from a body or comment greenloop wrote. */
export function markedLoop(text: string | null | undefined, kind: 'body' | 'comment'): string | undefined {
  return text?.match(new RegExp(`<!-- greenloop:${kind} loop=([a-z0-9-]+) -->`))?.[1];
}

export function pullRequestTitle(e: LoopEvidence): string {
  const cycles = `${e.cycles.length} cycle${e.cycles.length === 1 ? '' : 's'}`;
  const verdict = e.state === 'green' ? `green after ${cycles}` : `${e.stop?.rule ?? e.state} after ${cycles}, ${e.leftToPerson.length} left to a person`;
  // The title is plain text on GitHub (no markdown), and the environment name is a config name.
  return `greenloop: fixes for ${e.environment} (${verdict})`;
}

/** The body: the loop's evidence, within the host's limit (cut at a line with a pointer to the full reports). */
export function pullRequestBody(e: LoopEvidence, links: ReportLinks, limit: BodyLimit): string {
  return fit([loopMarker(e.loopId, 'body'), ...sections(e, links)], e, links, limit);
}

/** A comment for a later loop on a branch whose pull request an earlier loop opened: the same evidence. */
export function laterLoopComment(e: LoopEvidence, links: ReportLinks, limit: BodyLimit): string {
  return fit([loopMarker(e.loopId, 'comment'), `A later loop on this branch: ${codeSpan(e.loopId)}.`, '', ...sections(e, links)], e, links, limit);
}

function sections(e: LoopEvidence, links: ReportLinks): string[] {
  return [...heading(e), ...cycleTable(e, links), ...fixed(e), ...leftToPerson(e), ...realness(e), ...spend(e), ...reports(e, links)];
}

function heading(e: LoopEvidence): string[] {
  const lines = [
    e.state === 'green'
      ? `## ✅ ${inlineText(e.environment)} is green`
      : `## ⚠️ ${inlineText(e.environment)} is not green yet (${inlineText(e.stop?.rule ?? e.state)})`,
    '',
    `Loop ${codeSpan(e.loopId)} on ${inlineText(e.environment)}: ${e.cycles.length} cycle(s), ${e.fixes.length} fix(es) on ${codeSpan(e.branch)} (${codeSpan(short(e.baseCommit))} → ${codeSpan(short(e.headCommit))}).`,
  ];
  if (e.stop) lines.push('', `> ${inlineText(e.stop.message, 1000)}`);
  if (e.state !== 'green')
    lines.push(
      '',
      'The suite is not green yet (so this is a draft where the repository allows drafts): review the fixes below, and what is left to a person, before merging.',
    );
  return lines;
}

function cycleTable(e: LoopEvidence, links: ReportLinks): string[] {
  const withSpend = e.cycles.some((c) => c.spend);
  const header = ['cycle', 'commit', 'passed', 'failed', 'pass rate', 'clusters', 'real run', ...(withSpend ? ['AI spend'] : []), 'report'];
  const rows = e.cycles.map((c) => {
    const t = c.totals;
    const executed = t ? t.total - t.skipped : 0;
    return [
      String(c.n),
      codeSpan(short(c.commit)),
      t ? `${t.passed}/${executed}` : 'not run',
      t ? String(t.failed) : '–',
      t && executed > 0 ? `${((t.passed / executed) * 100).toFixed(1)}%` : 'n/a',
      String(c.clusters),
      c.real === undefined ? '–' : c.real ? 'yes' : '**no**',
      ...(withSpend ? [c.spend ? formatSpend(c.spend) : '–'] : []),
      reportRef(e.loopId, c, links),
    ];
  });
  return ['', '### Pass rate per cycle', '', row(header), row(header.map(() => '---')), ...rows.map(row)];
}

function fixed(e: LoopEvidence): string[] {
  if (e.fixes.length === 0) return ['', '### Fixed', '', 'No fix landed on the branch.'];
  const lines = ['', `### Fixed (${e.fixes.length})`, '', row(['cluster', 'cycle', 'commit', 'in the last run']), row(['---', '---', '---', '---'])];
  for (const f of e.fixes.slice(0, MAX_ROWS)) {
    lines.push(row([inlineText(f.title, 200), String(f.cycle), codeSpan(short(f.commit)), f.stillFailing ? '**still failing**' : 'passing']));
  }
  if (e.fixes.length > MAX_ROWS) lines.push('', `…and ${e.fixes.length - MAX_ROWS} more (see the reports).`);
  return lines;
}

function leftToPerson(e: LoopEvidence): string[] {
  if (e.leftToPerson.length === 0) return ['', '### Left to a person', '', 'Nothing: every failure cluster of the last run was fixed.'];
  const lines = ['', `### Left to a person (${e.leftToPerson.length})`, ''];
  for (const c of e.leftToPerson.slice(0, MAX_ROWS)) {
    const tests = c.tests.slice(0, MAX_TESTS_PER_CLUSTER).map((t) => inlineText(t, 200));
    const more = c.tests.length > MAX_TESTS_PER_CLUSTER ? ` and ${c.tests.length - MAX_TESTS_PER_CLUSTER} more` : '';
    lines.push(`- **${inlineText(c.title, 200)}** (${inlineText(c.triage)}, ${codeSpan(c.fingerprint.slice(0, 12))}): ${inlineText(c.reason, 500)}`);
    lines.push(`  - ${c.tests.length} test(s): ${tests.join(', ')}${more}`);
  }
  if (e.leftToPerson.length > MAX_ROWS) lines.push('', `…and ${e.leftToPerson.length - MAX_ROWS} more (see the last report).`);
  return lines;
}

function realness(e: LoopEvidence): string[] {
  const last = e.cycles.at(-1);
  if (!e.realness) return ['', '### Realness', '', 'No cycle was analyzed: there is no verdict on whether the suite really ran.'];
  if (e.realness.real)
    return [
      '',
      '### Realness',
      '',
      `Real: the last analyzed run${last ? ` (cycle ${last.n})` : ''} passed every realness check (tests collected and executed, not all skipped, not impossibly fast, requests seen by the services).`,
    ];
  return [
    '',
    '### Realness',
    '',
    '**Not real**: the last analyzed run cannot be trusted:',
    ...e.realness.reasons.slice(0, 20).map((r) => `- ${inlineText(r, 500)}`),
  ];
}

function spend(e: LoopEvidence): string[] {
  return e.spend ? ['', '### AI spend', '', `${formatSpend(e.spend)} for the whole loop.`] : [];
}

function reports(e: LoopEvidence, links: ReportLinks): string[] {
  if (links.publicUrl) return [];
  return ['', `Reports: ${codeSpan(`greenloop report ${e.loopId} <cycle>`)} (greenloop has no public URL configured for links).`];
}

function reportRef(loopId: string, c: CycleEvidence, links: ReportLinks): string {
  return links.publicUrl ? link(`cycle ${c.n}`, reportUrl(links.publicUrl, loopId, c.n)) : codeSpan(`greenloop report ${loopId} ${c.n}`);
}

function reportUrl(publicUrl: string, loopId: string, n: number): string {
  return `${publicUrl.replace(/\/+$/, '')}/v1/loops/${encodeURIComponent(loopId)}/cycles/${n}/report`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function short(commit: string): string {
  return commit ? commit.slice(0, 7) : 'unknown';
}

/**
 * Joins the lines; over `limit`, keeps whole lines up to the limit and ends with where the rest is.
 * Cutting only between lines keeps every kept line well-formed (no half code span or escape).
 */
function fit(lines: readonly string[], e: LoopEvidence, links: ReportLinks, { host, chars: limit }: BodyLimit): string {
  const full = lines.join('\n');
  if (full.length <= limit) return full;
  const last = e.cycles.at(-1);
  const where =
    links.publicUrl && last
      ? link(`the last report (cycle ${last.n})`, reportUrl(links.publicUrl, e.loopId, last.n))
      : codeSpan(`greenloop report ${e.loopId}`);
  const footer = `\n\n---\n…cut to fit ${host}'s ${limit.toLocaleString('en-US')}-character limit; the full evidence: ${where}.`;
  let size = 0;
  let kept = 0;
  for (const line of lines) {
    const add = line.length + (kept > 0 ? 1 : 0);
    if (size + add + footer.length > limit) break;
    size += add;
    kept++;
  }
  return `${lines.slice(0, kept).join('\n')}${footer}`;
}
