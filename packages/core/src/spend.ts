import { z } from 'zod';

/**
 * What AI fixers cost: US dollars and tokens as the agent CLIs report them. The same shape sits on each
 * fix result, each cycle record and the loop record; every field is optional because agents report
 * different things (Codex reports tokens only, a plain script nothing at all).
 */
export const SpendSchema = z.object({
  usd: z.number().nonnegative().optional(),
  /** Every input token the model read, cached or not (Claude's cache reads and writes included). */
  inputTokens: z.number().int().nonnegative().optional(),
  outputTokens: z.number().int().nonnegative().optional(),
});
export type Spend = z.infer<typeof SpendSchema>;

/** A cap in `fixer.budget`: dollars, tokens (input + output), or both; reaching either one is reaching the cap. */
export interface BudgetCap {
  usd?: number;
  tokens?: number;
}

// Dollar sums are kept to a millionth of a cent: enough for any price, and 0.1 + 0.2 stays 0.3.
const roundUsd = (v: number) => Math.round(v * 1e8) / 1e8;

/** The sum of two spends; a field is present when either has it. `undefined` when both are. */
export function addSpend(a: Spend | undefined, b: Spend | undefined): Spend | undefined {
  if (!a) return b && { ...b };
  if (!b) return { ...a };
  const out: Spend = {};
  if (a.usd !== undefined || b.usd !== undefined) out.usd = roundUsd((a.usd ?? 0) + (b.usd ?? 0));
  if (a.inputTokens !== undefined || b.inputTokens !== undefined) out.inputTokens = (a.inputTokens ?? 0) + (b.inputTokens ?? 0);
  if (a.outputTokens !== undefined || b.outputTokens !== undefined) out.outputTokens = (a.outputTokens ?? 0) + (b.outputTokens ?? 0);
  return out;
}

export function sumSpend(spends: Iterable<Spend | undefined>): Spend | undefined {
  let total: Spend | undefined;
  for (const s of spends) total = addSpend(total, s);
  return total;
}

/** The larger of each field: the most one run has cost, field by field. */
export function maxSpend(a: Spend | undefined, b: Spend | undefined): Spend | undefined {
  if (!a) return b && { ...b };
  if (!b) return { ...a };
  const pick = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.max(x, y));
  return dropUndefined({ usd: pick(a.usd, b.usd), inputTokens: pick(a.inputTokens, b.inputTokens), outputTokens: pick(a.outputTokens, b.outputTokens) });
}

/** `s` times `k` (k runs of it, or a share of it); tokens rounded up to whole ones. */
export function scaleSpend(s: Spend | undefined, k: number): Spend | undefined {
  if (!s) return undefined;
  return dropUndefined({
    usd: s.usd === undefined ? undefined : roundUsd(s.usd * k),
    inputTokens: s.inputTokens === undefined ? undefined : Math.ceil(s.inputTokens * k),
    outputTokens: s.outputTokens === undefined ? undefined : Math.ceil(s.outputTokens * k),
  });
}

/** Input plus output tokens, what a `tokens` cap counts; `undefined` when neither was reported. */
export function spendTokens(s: Spend | undefined): number | undefined {
  if (s?.inputTokens === undefined && s?.outputTokens === undefined) return undefined;
  return (s.inputTokens ?? 0) + (s.outputTokens ?? 0);
}

export function isEmptySpend(s: Spend | undefined): boolean {
  return !s || (s.usd === undefined && s.inputTokens === undefined && s.outputTokens === undefined);
}

export function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

/** "$0.42, 12,345 input + 2,345 output tokens"; "no usage reported" for nothing. The one spend formatter. */
export function formatSpend(s: Spend | undefined): string {
  if (isEmptySpend(s) || !s) return 'no usage reported';
  const parts: string[] = [];
  if (s.usd !== undefined) parts.push(formatUsd(s.usd));
  if (s.inputTokens !== undefined || s.outputTokens !== undefined) {
    parts.push(`${(s.inputTokens ?? 0).toLocaleString('en-US')} input + ${(s.outputTokens ?? 0).toLocaleString('en-US')} output tokens`);
  }
  return parts.join(', ');
}

/**
 * Whether `spent`, plus `next` (what the next run could cost) when given, reaches a cap: a sentence naming
 * the spend and the cap, or `undefined` while within it. With `next`, going past the cap counts
 * (`spent + next > cap`); without it, reaching the cap does (`spent >= cap`): there is nothing left.
 */
export function budgetOverrun(spent: Spend | undefined, cap: BudgetCap, next?: Spend, nextLabel = 'the next run'): string | undefined {
  const usd = spent?.usd ?? 0;
  const tokens = spendTokens(spent) ?? 0;
  if (cap.usd !== undefined) {
    if (usd >= cap.usd) return `spent ${formatUsd(usd)} of a ${formatUsd(cap.usd)} cap`;
    if (next?.usd !== undefined && next.usd > 0 && usd + next.usd > cap.usd) {
      return `spent ${formatUsd(usd)} of a ${formatUsd(cap.usd)} cap, and ${nextLabel} could cost ${formatUsd(next.usd)}`;
    }
  }
  if (cap.tokens !== undefined) {
    const fmt = (n: number) => n.toLocaleString('en-US');
    if (tokens >= cap.tokens) return `spent ${fmt(tokens)} tokens of a ${fmt(cap.tokens)}-token cap`;
    const nextTokens = spendTokens(next);
    if (nextTokens !== undefined && nextTokens > 0 && tokens + nextTokens > cap.tokens) {
      return `spent ${fmt(tokens)} tokens of a ${fmt(cap.tokens)}-token cap, and ${nextLabel} could use ${fmt(nextTokens)} tokens`;
    }
  }
  return undefined;
}

/** What is left of a cap after `spent` (never below zero); the tighter of two caps where both are given. */
export function remainingBudget(cap: BudgetCap | undefined, spent: Spend | undefined): BudgetCap | undefined {
  if (!cap) return undefined;
  const out: BudgetCap = {};
  if (cap.usd !== undefined) out.usd = Math.max(0, roundUsd(cap.usd - (spent?.usd ?? 0)));
  if (cap.tokens !== undefined) out.tokens = Math.max(0, cap.tokens - (spendTokens(spent) ?? 0));
  return out;
}

export function tighterBudget(a: BudgetCap | undefined, b: BudgetCap | undefined): BudgetCap | undefined {
  if (!a) return b;
  if (!b) return a;
  const min = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
  const out: BudgetCap = {};
  const usd = min(a.usd, b.usd);
  const tokens = min(a.tokens, b.tokens);
  if (usd !== undefined) out.usd = usd;
  if (tokens !== undefined) out.tokens = tokens;
  return out;
}

function dropUndefined(s: { usd?: number | undefined; inputTokens?: number | undefined; outputTokens?: number | undefined }): Spend {
  const out: Spend = {};
  if (s.usd !== undefined) out.usd = s.usd;
  if (s.inputTokens !== undefined) out.inputTokens = s.inputTokens;
  if (s.outputTokens !== undefined) out.outputTokens = s.outputTokens;
  return out;
}
