import { type FixerConfig, type Spend, SpendSchema } from '@greenloop/core';
import { readFileTail } from '../process/file-tail.ts';

/**
 * What a fixer run cost, read from what the agent CLI reports about itself: only the numbers are kept.
 * The output is the fixer's (it may echo secrets it read), so nothing of it is ever copied into a record;
 * a note says what was wrong when usage was there but could not be read, never what it said.
 *
 * Recognised, in this order:
 * - `{{usageFile}}`: a JSON file `{"usd":…, "inputTokens":…, "outputTokens":…}` a wrapper script writes;
 * - Claude Code `-p --output-format json` (or `stream-json`): the `result` object's `total_cost_usd` and
 *   `usage` (`input_tokens` + `cache_creation_input_tokens` + `cache_read_input_tokens`, `output_tokens`);
 * - Codex `exec --json`: every `turn.completed` event's `usage` (`input_tokens` already counts
 *   `cached_input_tokens`), summed; no price, so `fixer.pricePerMillionTokens` gives dollars;
 * - Aider: `Tokens: 2.3k sent, 156 received. Cost: $0.01 message, $0.05 session.` lines: tokens summed
 *   over the messages, dollars from the last `session` figure (Aider's running total for the process).
 */

export type UsageSource = 'usage-file' | 'claude' | 'codex' | 'aider';

export interface UsageReading {
  spend?: Spend;
  source?: UsageSource;
  /** Why nothing (or not everything) could be recorded. Never contains the fixer's output. */
  note?: string;
}

/** Agents print their usage at the end; a run's output beyond this, from its end, is not searched. */
const OUTPUT_WINDOW_BYTES = 4 * 1024 * 1024;
const USAGE_FILE_MAX_BYTES = 64 * 1024;

/**
 * Reads a finished fixer run's usage: the usage file when the command has one (`usageFile`), else its
 * stdout, then its stderr. Missing files read as empty. Never throws.
 */
export async function readFixerUsage(opts: {
  usageFile?: string;
  stdoutFile: string;
  stderrFile: string;
  price?: FixerConfig['pricePerMillionTokens'];
}): Promise<UsageReading> {
  const notes: string[] = [];
  let reading: UsageReading = {};
  if (opts.usageFile) {
    reading = parseUsageFile(await readFileTail(opts.usageFile, USAGE_FILE_MAX_BYTES + 1), USAGE_FILE_MAX_BYTES);
    if (reading.note) notes.push(reading.note);
  }
  for (const file of [opts.stdoutFile, opts.stderrFile]) {
    if (reading.spend) break;
    reading = parseUsageText(await readFileTail(file, OUTPUT_WINDOW_BYTES));
    if (reading.note) notes.push(reading.note);
  }
  const out: UsageReading = { ...reading };
  delete out.note;
  if (out.spend) out.spend = withPrice(out.spend, opts.price);
  if (notes.length) out.note = [...new Set(notes)].join('; ');
  return out;
}

/** The `{{usageFile}}` contract: `{"usd": 0.12, "inputTokens": 1234, "outputTokens": 56}`, any subset. */
export function parseUsageFile(text: string | undefined, maxBytes = USAGE_FILE_MAX_BYTES): UsageReading {
  if (text === undefined) return { note: 'the fixer wrote no usage file ({{usageFile}})' };
  if (Buffer.byteLength(text) > maxBytes) return { note: `the usage file is over ${maxBytes / 1024} KB; not read` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { note: 'the usage file is not JSON; expected {"usd": …, "inputTokens": …, "outputTokens": …}' };
  }
  const parsed = SpendSchema.strict().safeParse(json);
  if (!parsed.success || !hasAny(parsed.data)) {
    return { note: 'the usage file is not {"usd": …, "inputTokens": …, "outputTokens": …} with non-negative numbers (whole numbers for tokens)' };
  }
  return { spend: parsed.data, source: 'usage-file' };
}

/** Usage from an agent's output, whichever of the known shapes it has. */
export function parseUsageText(raw: string | undefined): UsageReading {
  if (!raw) return {};
  const text = stripAnsi(raw);
  // The first format that yields numbers wins; a note only when none does (a Claude-looking line in
  // Codex's or Aider's output must not hide their usage).
  const readings = [claudeUsage(text), codexUsage(text), aiderUsage(text)].filter((r) => r !== undefined);
  return readings.find((r) => r.spend) ?? readings[0] ?? {};
}

// ---- Claude Code ----------------------------------------------------------------------------------

function claudeUsage(text: string): UsageReading | undefined {
  if (!text.includes('total_cost_usd') && !/"type"\s*:\s*"result"/.test(text)) return undefined;
  // --output-format json prints one object (with --verbose, an array of messages); stream-json one per line.
  const candidates: unknown[] = [];
  const whole = tryJson(text.trim());
  if (Array.isArray(whole)) candidates.push(...whole);
  else if (whole !== undefined) candidates.push(whole);
  else for (const line of text.split('\n')) if (line.includes('"result"') || line.includes('total_cost_usd')) candidates.push(tryJson(line.trim()));
  const result = candidates.filter(isRecord).findLast((o) => o.type === 'result' || 'total_cost_usd' in o);
  if (!result) return { note: 'the fixer printed a Claude Code result that is not valid JSON; no spend recorded' };
  const usage = isRecord(result.usage) ? result.usage : {};
  const usd = num(result.total_cost_usd) ?? num(result.cost_usd);
  const input = sumDefined(num(usage.input_tokens), num(usage.cache_creation_input_tokens), num(usage.cache_read_input_tokens));
  const spend = compact({ usd, inputTokens: int(input), outputTokens: int(num(usage.output_tokens)) });
  if (!hasAny(spend)) return { note: 'the fixer printed a Claude Code result without total_cost_usd or usage numbers; no spend recorded' };
  return { spend, source: 'claude' };
}

// ---- Codex ----------------------------------------------------------------------------------------

function codexUsage(text: string): UsageReading | undefined {
  if (!text.includes('turn.completed') && !text.includes('token_count')) return undefined;
  let input: number | undefined;
  let output: number | undefined;
  let cumulative: { input?: number; output?: number } | undefined;
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (!line.includes('turn.completed') && !line.includes('token_count')) continue;
    const event = tryJson(line.trim());
    if (!isRecord(event)) {
      unreadable++;
      continue;
    }
    if (event.type === 'turn.completed' && isRecord(event.usage)) {
      input = sumDefined(input, num(event.usage.input_tokens));
      output = sumDefined(output, num(event.usage.output_tokens));
    }
    // Older `exec --json` builds: token_count events carrying the session's running totals.
    const msg = isRecord(event.msg) ? event.msg : isRecord(event.payload) ? event.payload : undefined;
    const total = msg?.type === 'token_count' && isRecord(msg.info) && isRecord(msg.info.total_token_usage) ? msg.info.total_token_usage : undefined;
    if (total) cumulative = { input: num(total.input_tokens), output: num(total.output_tokens) };
  }
  if (input === undefined && output === undefined && cumulative) ({ input, output } = cumulative);
  const spend = compact({ inputTokens: int(input), outputTokens: int(output) });
  if (!hasAny(spend)) {
    return unreadable ? { note: 'the fixer printed Codex turn events that are not valid JSON; no spend recorded' } : undefined;
  }
  return { spend, source: 'codex' };
}

// ---- Aider ----------------------------------------------------------------------------------------

const AIDER_TOKENS = /Tokens: ([\d.,]+[kKmM]?) sent,(?: ([\d.,]+[kKmM]?) cache write,)?(?: ([\d.,]+[kKmM]?) cache hit,)? ([\d.,]+[kKmM]?) received\./g;
const AIDER_COST = /Cost: \$([\d.]+) message, \$([\d.]+) session\./g;

function aiderUsage(text: string): UsageReading | undefined {
  if (!text.includes('Tokens:') && !text.includes('Cost: $')) return undefined;
  let input: number | undefined;
  let output: number | undefined;
  let session: number | undefined;
  let garbled = false;
  for (const m of text.matchAll(AIDER_TOKENS)) {
    const [sent, received] = [aiderCount(m[1]), aiderCount(m[4])];
    if (sent === undefined || received === undefined) garbled = true;
    else {
      input = (input ?? 0) + sent;
      output = (output ?? 0) + received;
    }
  }
  for (const m of text.matchAll(AIDER_COST)) {
    const s = Number(m[2]);
    if (Number.isFinite(s)) session = s;
    else garbled = true;
  }
  const spend = compact({ usd: session, inputTokens: int(input), outputTokens: int(output) });
  if (!hasAny(spend)) return garbled ? { note: 'the fixer printed Aider usage lines greenloop could not read; no spend recorded' } : undefined;
  return { spend, source: 'aider' };
}

/** Aider's token counts: `156`, `2.3k`, `12k` (rounded by Aider), or `1,234` in older versions. */
function aiderCount(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^([\d.,]+)([kKmM]?)$/.exec(s);
  if (!m?.[1]) return undefined;
  const n = Number(m[1].replace(/,/g, ''));
  if (!Number.isFinite(n)) return undefined;
  const scale = m[2]?.toLowerCase() === 'k' ? 1_000 : m[2]?.toLowerCase() === 'm' ? 1_000_000 : 1;
  return Math.round(n * scale);
}

// ---- helpers --------------------------------------------------------------------------------------

/** Dollars from tokens at the configured price, when the agent reported tokens only. Cached input is priced as input (an upper bound). */
function withPrice(spend: Spend, price: FixerConfig['pricePerMillionTokens']): Spend {
  if (spend.usd !== undefined || !price || (spend.inputTokens === undefined && spend.outputTokens === undefined)) return spend;
  const usd = ((spend.inputTokens ?? 0) * price.input + (spend.outputTokens ?? 0) * price.output) / 1_000_000;
  return { ...spend, usd: Math.round(usd * 1e8) / 1e8 };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are control characters by definition.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
const stripAnsi = (s: string) => s.replace(ANSI, '');

function tryJson(s: string): unknown {
  if (!s.startsWith('{') && !s.startsWith('[')) return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
const int = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v));

function sumDefined(...values: (number | undefined)[]): number | undefined {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length ? present.reduce((a, b) => a + b, 0) : undefined;
}

function compact(s: { usd?: number | undefined; inputTokens?: number | undefined; outputTokens?: number | undefined }): Spend {
  const out: Spend = {};
  if (s.usd !== undefined) out.usd = s.usd;
  if (s.inputTokens !== undefined) out.inputTokens = s.inputTokens;
  if (s.outputTokens !== undefined) out.outputTokens = s.outputTokens;
  return out;
}

const hasAny = (s: Spend) => s.usd !== undefined || s.inputTokens !== undefined || s.outputTokens !== undefined;
