import { type CycleRecord, formatSpend, isEmptySpend, type LoopRecord, type TestTotals } from '@greenloop/core';
import type { SlackBlock, SlackMessage } from './messages.ts';
import { fitSlackLimits, formatDuration, loopUrl } from './messages.ts';
import { escapeMrkdwn, safeInline } from './mrkdwn.ts';

/**
 * Messages of Slack's bot mode, one thread per loop: the parent (rewritten in place as the loop moves)
 * and the pieces greenloop adds to the thread replies (who is asked to look, what the cycle cost). The
 * replies' bodies are the cycle and loop messages of messages.ts.
 */

/** Input of {@link parentMessage}. */
export interface ParentInput {
  loop: LoopRecord;
  /** The loop's newest analyzed totals (the current cycle's when it has them). */
  totals?: TestTotals;
}

/** The loop at a glance: state, current cycle, pass rate, spend; the detail is in the thread below it. */
export function parentMessage(input: ParentInput, ctx: { baseUrl: string }): SlackMessage {
  const { loop, totals } = input;
  const env = safeInline(loop.environment, 80);
  const url = loopUrl(ctx.baseUrl, loop.id);
  const rate = totals ? passRate(totals) : undefined;
  const spent = spentText(loop);
  const headline = parentHeadline(loop, env);

  const fields = [`*State*\n${stateText(loop)}`, `*Cycle*\n${loop.cycle > 0 ? loop.cycle : '–'}`];
  fields.push(`*Pass rate*\n${rate ? `${rate} (${totals?.passed}/${totals?.total})` : 'no results yet'}`);
  if (spent) fields.push(`*AI spend*\n${spent}`);
  const blocks: SlackBlock[] = [{ type: 'section', text: md(headline), fields: fields.map(md) }];
  if (loop.stop && loop.state !== 'running') blocks.push({ type: 'section', text: md(safeInline(loop.stop.message, 1500)) });
  const notes = [`loop \`${safeInline(loop.id, 80)}\``, "each cycle's digest is in this thread"];
  if (loop.startedAt && loop.finishedAt) notes.push(`took ${formatDuration(Date.parse(loop.finishedAt) - Date.parse(loop.startedAt))}`);
  blocks.push({ type: 'context', elements: [md(notes.join(' · '))] });
  if (/^https?:\/\//.test(url)) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open loop', emoji: true }, url, action_id: 'greenloop-loop' }],
    });
  }
  const parts = [
    stateText(loop),
    loop.cycle > 0 ? `cycle ${loop.cycle}` : undefined,
    rate ? `${rate} passing` : undefined,
    spent ? `spent ${spent}` : undefined,
  ];
  return fitSlackLimits({ text: `greenloop ${env}: ${parts.filter(Boolean).join(' · ')}`, blocks });
}

function parentHeadline(loop: LoopRecord, env: string): string {
  switch (loop.state) {
    case 'green':
      return `✅ *${env}* is green`;
    case 'stopped':
      return `🛑 *${env}* loop stopped${loop.stop ? `: ${escapeMrkdwn(loop.stop.rule)}` : ''}`;
    case 'failed':
      return `❌ *${env}* loop failed`;
    case 'cancelled':
      return `⏹️ *${env}* loop cancelled`;
    default:
      return `🔄 *${env}* greenloop running`;
  }
}

function stateText(loop: LoopRecord): string {
  if (loop.state === 'running' && loop.stage) return `running (${escapeMrkdwn(loop.stage)})`;
  return escapeMrkdwn(loop.state);
}

/** "92.5%" of the tests that ran. */
export function passRate(t: TestTotals): string {
  if (t.total <= 0) return '0%';
  return `${((t.passed / t.total) * 100).toFixed(1).replace(/\.0$/, '')}%`;
}

/** "$1.23" (and tokens when reported) when the record carries AI spend; nothing without it. */
export function spentText(record: LoopRecord | CycleRecord): string | undefined {
  return isEmptySpend(record.spend) ? undefined : formatSpend(record.spend);
}

/**
 * Slack's mention syntax for configured ids: `<@U…>` for a user, `<!subteam^S…>` for a user group. The
 * ids are checked by the config schema, so nothing else can reach the message this way.
 */
export function mentionText(ids: readonly string[]): string {
  return ids
    .filter((id) => /^[UWS][A-Z0-9]{2,20}$/.test(id))
    .map((id) => (id.startsWith('S') ? `<!subteam^${id}>` : `<@${id}>`))
    .join(' ');
}

/** A reply with a call to the people mentioned (first block, and in the notification text) and the cycle's spend. */
export function withThreadExtras(msg: SlackMessage, extras: { mention?: string; why?: string; spent?: string }): SlackMessage {
  const blocks = [...msg.blocks];
  let text = msg.text;
  if (extras.mention && extras.why) {
    blocks.splice(1, 0, { type: 'section', text: md(`${extras.mention} ${extras.why}`) });
    text = `${extras.mention} ${extras.why} ${text}`;
  }
  if (extras.spent) blocks.push({ type: 'context', elements: [md(`AI spend this cycle: ${extras.spent}`)] });
  return fitSlackLimits({ text, blocks });
}

function md(text: string): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text };
}
