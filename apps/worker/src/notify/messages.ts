import type { Actor, AnalyzeResult, ClusterSummary, CycleRecord, LoopRecord, TestTotals } from '@greenloop/core';
import { escapeMrkdwn, safeInline, truncate } from './mrkdwn.ts';

/**
 * Pure builders of Slack Block Kit messages. Everything comes from records (never config or env), free
 * text is redacted and escaped, and every message is clamped to Slack's limits so a loop with hundreds
 * of failure clusters still produces a message Slack accepts.
 */

/** A Block Kit text object. */
export interface SlackText {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}

/** A link button; greenloop never asks Slack to call back, so buttons only carry URLs. */
export interface SlackButton {
  type: 'button';
  text: SlackText;
  url: string;
  action_id: string;
}

/** The subset of Block Kit blocks greenloop sends. */
export type SlackBlock =
  | { type: 'header'; text: SlackText }
  | { type: 'section'; text: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'divider' }
  | { type: 'actions'; elements: SlackButton[] };

/** An incoming-webhook payload: `text` is the fallback shown in notifications and old clients. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Slack's documented Block Kit limits, plus our own caps on the fallback and the whole message. */
export const SLACK_LIMITS = {
  blocks: 50,
  headerChars: 150,
  sectionChars: 3000,
  fieldChars: 2000,
  fields: 10,
  contextElements: 10,
  buttonTextChars: 75,
  urlChars: 3000,
  /** Top-level text is accepted up to 40k, but a notification preview only needs a sentence or two. */
  fallbackChars: 3000,
  /** Sum of all text in a message; keeps payloads far below what Slack renders comfortably. */
  totalChars: 12_000,
} as const;

/** Where the message's links point: the API's public base URL. */
export interface MessageContext {
  baseUrl: string;
}

/** The loop's API resource. */
export function loopUrl(baseUrl: string, loopId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v1/loops/${encodeURIComponent(loopId)}`;
}

/** A cycle's rendered report. */
export function reportUrl(baseUrl: string, loopId: string, cycle: number): string {
  return `${loopUrl(baseUrl, loopId)}/cycles/${cycle}/report`;
}

// ---- builders ---------------------------------------------------------------------------------------

/** "Loop started on <env>", who started it and a link to the loop. */
export function loopStartedMessage(loop: LoopRecord, ctx: MessageContext): SlackMessage {
  const env = safeInline(loop.environment, 80);
  const who = actorText(loop.startedBy);
  const url = loopUrl(ctx.baseUrl, loop.id);
  const fields: SlackText[] = [md(`*Environment*\n${env}`), md(`*Started by*\n${who}`)];
  if (loop.baseCommit) fields.push(md(`*Base commit*\n\`${shortSha(loop.baseCommit)}\``));
  if (loop.branch) fields.push(md(`*Fix branch*\n\`${safeInline(loop.branch, 120)}\``));
  const blocks: SlackBlock[] = [
    header(`▶️ Loop started on ${plain(loop.environment)}`),
    { type: 'section', text: md(`A greenloop run started on *${env}*: deploy → test → analyze → fix until the suite is green.`), fields },
    ...linkBlocks([['Open loop', url]]),
    context([`loop \`${safeInline(loop.id, 80)}\``]),
  ];
  return fitSlackLimits({ text: `Loop started on ${env} by ${who}: ${linkText(url, loop.id)}`, blocks });
}

/** Input of {@link cycleFinishedMessage}. */
export interface CycleFinishedInput {
  loop: LoopRecord;
  cycle: CycleRecord;
  /** The cycle's analyze result; without it only totals are shown. */
  analyze?: AnalyzeResult;
  /** The previous cycle's analyze result, used to name the clusters that are fixed now. */
  previous?: AnalyzeResult;
}

/** Counts with percentages, new and fixed clusters, realness flags and a link to the report. */
export function cycleFinishedMessage(input: CycleFinishedInput, ctx: MessageContext): SlackMessage {
  const { loop, cycle, analyze, previous } = input;
  const env = safeInline(loop.environment, 80);
  const totals = analyze?.totals ?? cycle.totals;
  const green = analyze?.green ?? cycle.green ?? false;
  const report = reportUrl(ctx.baseUrl, loop.id, cycle.n);
  const clusters = analyze?.clusters ?? [];
  const fresh = clusters.filter((c) => c.status !== 'persisting');
  const persisting = clusters.length - fresh.length;
  const fixed = analyze?.fixed ?? [];
  const real = analyze?.realness.real ?? true;

  const icon = !real ? '⚠️' : green ? '🟢' : '🔴';
  const verdict = green ? 'green' : totals ? `${totals.failed} failing` : 'finished';
  const blocks: SlackBlock[] = [header(`${icon} ${plain(loop.environment)} · cycle ${cycle.n}: ${verdict}`)];

  blocks.push({ type: 'section', text: md(totals ? totalsLine(totals) : 'No test totals were recorded for this cycle.') });

  if (analyze && !real) {
    const reasons = bulletList(
      analyze.realness.reasons.map((r) => `• ${safeInline(r, 300)}`),
      { maxItems: 10, maxChars: 1200 },
    );
    blocks.push({ type: 'section', text: md(`⚠️ *This run may not be real* — check it before trusting the result.\n${reasons}`) });
  }
  if (fresh.length > 0) {
    blocks.push({ type: 'section', text: md(`*New failures (${fresh.length})*\n${bulletList(fresh.map(clusterLine), { maxItems: 15, maxChars: 2500 })}`) });
  }
  if (fixed.length > 0) {
    const titles = titleIndex(previous);
    const lines = fixed.map((fp) => `• ${titles.get(fp) ?? `\`${safeInline(fp.slice(0, 12), 12)}\``}`);
    blocks.push({ type: 'section', text: md(`*Fixed (${fixed.length})*\n${bulletList(lines, { maxItems: 15, maxChars: 2000 })}`) });
  }
  const notes: string[] = [];
  if (persisting > 0) notes.push(`${persisting} cluster${s(persisting)} still failing`);
  if (analyze && analyze.flaky.length > 0) notes.push(`${analyze.flaky.length} flaky test${s(analyze.flaky.length)}`);
  notes.push(`commit \`${shortSha(cycle.commit)}\``);
  blocks.push(context([notes.join(' · ')]));
  blocks.push(
    ...linkBlocks([
      ['Open report', report],
      ['Open loop', loopUrl(ctx.baseUrl, loop.id)],
    ]),
  );

  const summary = totals
    ? `${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped (${pct(totals.passed, totals.total)} passing)`
    : 'no totals';
  const text = `${env} cycle ${cycle.n} ${green ? 'is green' : 'finished'}: ${summary}; ${fresh.length} new, ${fixed.length} fixed${real ? '' : '; run may not be real'}. Report: ${linkText(report, 'report')}`;
  return fitSlackLimits({ text, blocks });
}

/** Input of {@link loopFinishedMessage}. */
export interface LoopFinishedInput {
  loop: LoopRecord;
  /** The last cycle's analyze result, used to name the clusters a stop rule mentions. */
  lastAnalyze?: AnalyzeResult;
  /** Clusters still failing that greenloop stopped sending to fixers, and why ("needs a person: …"). */
  leftToAPerson?: { fingerprint: string; reason: string }[];
}

/** Green, or stopped with the stop rule, its message and the clusters involved. */
export function loopFinishedMessage(input: LoopFinishedInput, ctx: MessageContext): SlackMessage {
  const { loop, lastAnalyze } = input;
  const env = safeInline(loop.environment, 80);
  const url = loopUrl(ctx.baseUrl, loop.id);
  const green = loop.state === 'green' || loop.stop?.rule === 'green';
  const cycles = `${loop.cycle} cycle${s(loop.cycle)}`;
  const took = loop.startedAt && loop.finishedAt ? ` in ${formatDuration(Date.parse(loop.finishedAt) - Date.parse(loop.startedAt))}` : '';

  const blocks: SlackBlock[] = [];
  let text: string;
  if (green) {
    blocks.push(header(`✅ ${plain(loop.environment)} is green`));
    blocks.push({ type: 'section', text: md(`The suite on *${env}* is green after ${cycles}${took}.`) });
    text = `${env} is green after ${cycles}${took}: ${linkText(url, loop.id)}`;
  } else {
    const rule = loop.stop?.rule ?? loop.state;
    const icon = loop.state === 'cancelled' ? '⏹️' : loop.state === 'failed' ? '❌' : '🛑';
    blocks.push(header(`${icon} ${plain(loop.environment)} loop ${loop.state}: ${rule}`));
    const why = loop.stop ? safeInline(loop.stop.message, 1500) : 'No stop reason was recorded.';
    blocks.push({ type: 'section', text: md(`*${escapeMrkdwn(rule)}* after ${cycles}${took}\n${why}`) });
    const involved = loop.stop?.clusters ?? [];
    if (involved.length > 0) {
      const byFp = new Map((lastAnalyze?.clusters ?? []).map((c) => [c.fingerprint, c]));
      const lines = involved.map((fp) => {
        const c = byFp.get(fp);
        return c ? clusterLine(c) : `• \`${safeInline(fp.slice(0, 12), 12)}\``;
      });
      blocks.push({ type: 'section', text: md(`*Clusters involved (${involved.length})*\n${bulletList(lines, { maxItems: 15, maxChars: 2500 })}`) });
    }
    text = `${env} loop ${loop.state} (${rule}) after ${cycles}: ${loop.stop ? safeInline(loop.stop.message, 300) : ''} ${linkText(url, loop.id)}`;
  }
  const left = green ? [] : (input.leftToAPerson ?? []);
  if (left.length > 0) {
    const titles = titleIndex(lastAnalyze);
    const lines = left.map((l) => `• ${titles.get(l.fingerprint) ?? `\`${safeInline(l.fingerprint.slice(0, 12), 12)}\``} — ${safeInline(l.reason, 200)}`);
    blocks.push({ type: 'section', text: md(`*Left to a person (${left.length})*\n${bulletList(lines, { maxItems: 10, maxChars: 2500 })}`) });
    text += ` ${left.length} cluster${s(left.length)} left to a person.`;
  }
  if (loop.latest) blocks.push({ type: 'section', text: md(totalsLine(loop.latest)) });
  const notes = [`loop \`${safeInline(loop.id, 80)}\``];
  if (loop.branch) notes.push(`branch \`${safeInline(loop.branch, 120)}\``);
  if (loop.commit) notes.push(`commit \`${shortSha(loop.commit)}\``);
  if (loop.notices && loop.notices.length > 0) notes.push(`${loop.notices.length} notice${s(loop.notices.length)}`);
  blocks.push(context([notes.join(' · ')]));
  const links: [string, string][] = [['Open loop', url]];
  if (loop.cycle > 0) links.push(['Last report', reportUrl(ctx.baseUrl, loop.id, loop.cycle)]);
  blocks.push(...linkBlocks(links));
  return fitSlackLimits({ text, blocks });
}

// ---- limits -----------------------------------------------------------------------------------------

/**
 * Clamps a message to Slack's limits: at most 50 blocks, headers ≤ 150, sections ≤ 3000, fields ≤ 10 of
 * ≤ 2000, the fallback ≤ 3000 and the total text within budget. Builders already stay inside these;
 * this is the guarantee that a message is never rejected for its size.
 */
export function fitSlackLimits(msg: SlackMessage): SlackMessage {
  const L = SLACK_LIMITS;
  let blocks = msg.blocks.map((b): SlackBlock => {
    switch (b.type) {
      case 'header':
        return { type: 'header', text: { ...b.text, text: cut(b.text.text, L.headerChars) || '-' } };
      case 'section': {
        const out: SlackBlock = { type: 'section', text: { ...b.text, text: cut(b.text.text, L.sectionChars) || '-' } };
        if (b.fields && b.fields.length > 0) out.fields = b.fields.slice(0, L.fields).map((f) => ({ ...f, text: cut(f.text, L.fieldChars) || '-' }));
        return out;
      }
      case 'context':
        return { type: 'context', elements: b.elements.slice(0, L.contextElements).map((e) => ({ ...e, text: cut(e.text, L.sectionChars) || '-' })) };
      case 'actions':
        return {
          type: 'actions',
          elements: b.elements
            .filter((e) => e.url.length <= L.urlChars)
            .slice(0, 25)
            .map((e) => ({ ...e, text: { ...e.text, text: cut(e.text.text, L.buttonTextChars) } })),
        };
      default:
        return b;
    }
  });
  blocks = blocks.filter((b) => b.type !== 'actions' || b.elements.length > 0);
  if (blocks.length > L.blocks) {
    const dropped = blocks.length - (L.blocks - 1);
    blocks = [...blocks.slice(0, L.blocks - 1), context([`…and ${dropped} more block${s(dropped)}`])];
  }
  // Over the total budget: keep the leading blocks (header and summary) and trim from the end.
  while (blocks.length > 1 && textSize(blocks) > L.totalChars) blocks.pop();
  return { text: cut(msg.text, L.fallbackChars) || '-', blocks };
}

/** Characters of text in a set of blocks (what {@link SLACK_LIMITS.totalChars} bounds). */
export function textSize(blocks: readonly SlackBlock[]): number {
  let n = 0;
  for (const b of blocks) {
    if (b.type === 'header') n += b.text.text.length;
    else if (b.type === 'section') n += b.text.text.length + (b.fields ?? []).reduce((a, f) => a + f.text.length, 0);
    else if (b.type === 'context') n += b.elements.reduce((a, e) => a + e.text.length, 0);
    else if (b.type === 'actions') n += b.elements.reduce((a, e) => a + e.text.text.length + e.url.length, 0);
  }
  return n;
}

/**
 * Joins lines up to `maxItems` and `maxChars`, ending with "…and N more" when some are left out. The
 * room for that last line is reserved up front so the result never exceeds `maxChars`.
 */
export function bulletList(lines: readonly string[], opts: { maxItems: number; maxChars: number }): string {
  const out: string[] = [];
  let size = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const rest = lines.length - i - 1;
    const reserve = rest > 0 ? `\n…and ${lines.length} more`.length : 0;
    if (out.length >= opts.maxItems || size + line.length + 1 + reserve > opts.maxChars) break;
    out.push(line);
    size += line.length + 1;
  }
  const more = lines.length - out.length;
  if (more > 0) out.push(`…and ${more} more`);
  return out.join('\n');
}

// ---- pieces -----------------------------------------------------------------------------------------

function clusterLine(c: ClusterSummary): string {
  const parts = [`*${safeInline(c.title, 150)}*`, escapeMrkdwn(c.triage), `${c.tests.length} test${s(c.tests.length)}`];
  const ep = c.endpoints[0];
  if (ep) parts.push(`\`${safeInline(`${ep.method ? `${ep.method} ` : ''}${ep.path}${ep.status ? ` → ${ep.status}` : ''}`, 80).replace(/`/g, "'")}\``);
  if (c.status === 'regressed') parts.push('_regressed_');
  return `• ${parts.join(' · ')}`;
}

function titleIndex(analyze: AnalyzeResult | undefined): Map<string, string> {
  return new Map((analyze?.clusters ?? []).map((c) => [c.fingerprint, `*${safeInline(c.title, 150)}*`]));
}

function totalsLine(t: TestTotals): string {
  const counts = [
    `*Passed* ${t.passed} (${pct(t.passed, t.total)})`,
    `*Failed* ${t.failed} (${pct(t.failed, t.total)})`,
    `*Skipped* ${t.skipped} (${pct(t.skipped, t.total)})`,
  ];
  return `${counts.join(' · ')} — ${t.total} test${s(t.total)} in ${formatDuration(t.durationMs)}`;
}

function actorText(actor: Actor): string {
  const kind = actor.kind === 'api' ? 'API token' : actor.kind === 'schedule' ? 'schedule' : 'CLI';
  return `${kind} \`${safeInline(actor.name, 80).replace(/`/g, "'")}\``;
}

/** Link buttons when the URL is usable; Slack rejects the whole message for one malformed button URL. */
function linkBlocks(links: [label: string, url: string][]): SlackBlock[] {
  const usable = links.filter(([, url]) => isHttpUrl(url) && url.length <= SLACK_LIMITS.urlChars);
  if (usable.length === 0) return [];
  return [
    {
      type: 'actions',
      elements: usable.map(([label, url], i) => ({
        type: 'button',
        text: { type: 'plain_text', text: label, emoji: true },
        url,
        action_id: `greenloop-link-${i}`,
      })),
    },
  ];
}

function linkText(url: string, label: string): string {
  return isHttpUrl(url) ? `<${url}|${escapeMrkdwn(label).replace(/\|/g, '¦')}>` : escapeMrkdwn(label);
}

function isHttpUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function header(text: string): SlackBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, SLACK_LIMITS.headerChars), emoji: true } };
}

function context(texts: string[]): SlackBlock {
  return { type: 'context', elements: texts.map(md) };
}

function md(text: string): SlackText {
  return { type: 'mrkdwn', text };
}

/** Plain-text blocks render literally, so they need redaction but no escaping. */
function plain(text: string): string {
  return safeInline(text, 100).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function shortSha(sha: string): string {
  return safeInline(sha.slice(0, 10), 10).replace(/`/g, "'");
}

function pct(part: number, total: number): string {
  if (total <= 0) return '0%';
  return `${((part / total) * 100).toFixed(1).replace(/\.0$/, '')}%`;
}

function s(n: number): string {
  return n === 1 ? '' : 's';
}

/** Human duration: "850ms", "42s", "3m 5s", "2h 10m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const sec = Math.round(ms / 1000);
  if (sec < 60) return `${sec}s`;
  const min = Math.floor(sec / 60);
  if (min < 60) return `${min}m ${sec % 60}s`;
  return `${Math.floor(min / 60)}h ${min % 60}m`;
}

/**
 * Truncation for already-formatted mrkdwn: never leaves half an HTML entity ("&am") or an unclosed
 * link ("<https://…") behind, which Slack would render as garbage.
 */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let t = truncate(text, max).slice(0, -1);
  t = t.replace(/&[a-z]{0,4}$/, '');
  const open = t.lastIndexOf('<');
  if (open > t.lastIndexOf('>')) t = t.slice(0, open);
  return `${t}…`;
}
