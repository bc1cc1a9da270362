import type { LoopEvent, LoopRecord, Spend, TestTotals } from '@greenloop/core';
import { formatDuration, formatSpend, STAGES } from '@greenloop/core';

/** ANSI styling that turns into plain text when colors are off (pipes, CI logs, NO_COLOR). */
export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  underline(s: string): string;
}

export function painter(color: boolean): Paint {
  const wrap = (open: number, close: number) => (s: string) => (color ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39), underline: wrap(4, 24) };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC.
const ANSI = /\x1b\[[0-9;]*m/g;
/** The text without ANSI styling. */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Display width, ignoring ANSI codes (good enough for the ASCII and common symbols we print). */
export function visibleLength(s: string): number {
  return stripAnsi(s).length;
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - visibleLength(s)));
}

/** Aligned columns; the header row is dimmed. */
export function table(p: Paint, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [p.dim(line(header)), ...rows.map(line)].join('\n');
}

export function stateLabel(p: Paint, state: string): string {
  switch (state) {
    case 'green':
      return p.green(state);
    case 'stopped':
    case 'failed':
      return p.red(state);
    case 'cancelled':
      return p.yellow(state);
    default:
      return p.cyan(state);
  }
}

export function totalsLabel(p: Paint, t: TestTotals | undefined): string {
  if (!t) return p.dim('—');
  const parts = [p.green(`${t.passed} passed`)];
  if (t.failed) parts.push(p.red(`${t.failed} failed`));
  if (t.skipped) parts.push(p.yellow(`${t.skipped} skipped`));
  return `${parts.join(', ')} of ${t.total}`;
}

function ago(iso: string, now = Date.now()): string {
  const ms = now - Date.parse(iso);
  return Number.isFinite(ms) ? `${formatDuration(Math.max(0, ms))} ago` : iso;
}

export function loopsTable(p: Paint, loops: LoopRecord[], now = Date.now()): string {
  if (loops.length === 0) return p.dim('no loops yet');
  return table(
    p,
    ['LOOP', 'ENVIRONMENT', 'STATE', 'CYCLE', 'STAGE', 'TESTS', 'STARTED BY', 'CREATED'],
    loops.map((l) => [
      l.id,
      l.environment,
      stateLabel(p, l.state),
      String(l.cycle),
      l.stage ?? '',
      totalsLabel(p, l.latest),
      `${l.startedBy.kind}:${l.startedBy.name}`,
      ago(l.createdAt, now),
    ]),
  );
}

/** A cycle as GET /v1/loops/:id lists it. */
export interface CycleView {
  n: number;
  commit: string;
  startedAt: string;
  finishedAt?: string;
  totals?: TestTotals;
  green?: boolean;
  hasReport?: boolean;
  /** What the cycle's fixers reported spending. */
  spend?: Spend;
  stages?: Record<string, { status: string; summary?: string; error?: { message: string; hint?: string } }>;
}

/**
 * A cycle's result in words: green, untrusted (the analysis flagged the run as not real: a pass or fail
 * from it says nothing), failing, or still running. The analyze stage's summary says "NOT REAL" for an
 * untrusted run (stages/analyze.ts).
 */
export function cycleResult(p: Paint, c: CycleView): string {
  if (/\bNOT REAL\b/.test(c.stages?.analyze?.summary ?? '')) return p.yellow('untrusted');
  if (c.green === undefined) return p.dim('…');
  return c.green ? p.green('green') : p.red('failing');
}

/** Stages in pipeline order (deploy, test, analyze, fix, integrate), whatever order the record keeps them in. */
export function stagesInOrder<T>(stages: Record<string, T>): [string, T][] {
  const rank = (name: string) => {
    const i = (STAGES as readonly string[]).indexOf(name);
    return i < 0 ? STAGES.length : i;
  };
  return Object.entries(stages).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * What to look at after a loop that did not get green: its report when a cycle has one; otherwise (a
 * deploy that failed before any test ran) the failed stage's error and hint (which names the deploy log).
 */
export function nextSteps(p: Paint, loop: LoopView): string[] {
  const cycles = loop.cycles ?? [];
  if (cycles.some((c) => c.hasReport)) return [p.dim(`  latest report:  greenloop report ${loop.id}`)];
  const last = cycles.at(-1);
  const failed = last ? stagesInOrder(last.stages ?? {}).find(([, s]) => s.status === 'failed') : undefined;
  const out: string[] = [];
  if (failed) {
    const [name, s] = failed;
    out.push(`  ${name} failed in cycle ${last?.n}: ${s.error?.message ?? s.summary ?? 'no message'}`);
    if (s.error?.hint) out.push(`  ${s.error.hint}`);
    out.push(p.dim(`  the cycle stopped before its analysis, so there is no report; details:  greenloop status ${loop.id}`));
  } else out.push(p.dim(`  details:  greenloop status ${loop.id}`));
  return out;
}

/**
 * What of the latest cycle ran without the sandbox: the test and deploy stages mark it in their summaries
 * (`UNSANDBOXED: <why>`), as each cycle report does under its summary table.
 */
export function unsandboxed(cycle: CycleView | undefined): string[] {
  if (!cycle) return [];
  return stagesInOrder(cycle.stages ?? {})
    .filter(([, s]) => /\bUNSANDBOXED\b/.test(s.summary ?? ''))
    .map(([name, s]) => `cycle ${cycle.n} ${name} ran unsandboxed: ${s.summary}`);
}

/** GET /v1/loops/:id */
export type LoopView = LoopRecord & { cycles?: CycleView[] };

/** `greenloop status <loop>`: the loop, its stop reason and one line per cycle. */
export function loopDetail(p: Paint, loop: LoopView): string {
  const lines = [
    `${p.bold(`loop ${loop.id}`)}  ${stateLabel(p, loop.state)}`,
    `  environment  ${loop.environment}`,
    `  started by   ${loop.startedBy.kind}:${loop.startedBy.name}, ${loop.createdAt}`,
  ];
  if (loop.branch) lines.push(`  branch       ${loop.branch}${loop.commit ? ` at ${loop.commit.slice(0, 7)}` : ''}`);
  if (loop.finishedAt && loop.startedAt) lines.push(`  took         ${formatDuration(Date.parse(loop.finishedAt) - Date.parse(loop.startedAt))}`);
  if (!loop.finishedAt && loop.stage) lines.push(`  now          cycle ${loop.cycle} · ${loop.stage}`);
  if (loop.stop) lines.push(`  stopped      ${loop.stop.rule}: ${loop.stop.message}`);
  if (loop.spend) lines.push(`  AI spend     ${formatSpend(loop.spend)}`);
  for (const n of loop.notices ?? []) lines.push(`  ${p.yellow('notice')}       ${n}`);
  const cycles = loop.cycles ?? [];
  for (const w of unsandboxed(cycles.at(-1))) lines.push(`  ${p.yellow('warning')}      ${w}`);
  if (cycles.length) {
    lines.push('');
    // The SPEND column only once a fixer reported usage: most fixers (scripts) report none.
    const spendColumn = cycles.some((c) => c.spend);
    lines.push(
      table(
        p,
        ['CYCLE', 'COMMIT', 'RESULT', 'TESTS', ...(spendColumn ? ['SPEND'] : []), 'STAGES'],
        cycles.map((c) => [
          String(c.n),
          c.commit.slice(0, 7),
          cycleResult(p, c),
          totalsLabel(p, c.totals),
          ...(spendColumn ? [c.spend ? formatSpend(c.spend) : '-'] : []),
          stagesInOrder(c.stages ?? {})
            .map(([name, s]) => (s.status === 'succeeded' ? name : s.status === 'running' ? p.cyan(`${name}…`) : p.red(`${name}:${s.status}`)))
            .join(' '),
        ]),
      ),
    );
  }
  return lines.join('\n');
}

/** One progress line for `start --wait`, or undefined for events not worth a line. */
export function progressLine(p: Paint, e: LoopEvent, startedAt: number): string | undefined {
  const elapsed = Math.max(0, Date.parse(e.time) - startedAt);
  const clock = p.dim(`[${formatClock(elapsed)}]`);
  const where = e.cycle ? p.bold(`cycle ${e.cycle}${e.stage ? ` · ${e.stage}` : ''}`) : '';
  const prefix = where ? `${clock} ${where}` : clock;
  switch (e.type) {
    case 'stage.finished': {
      const status = (e.data as { status?: string } | undefined)?.status;
      return `${prefix}  ${status === 'succeeded' ? e.message : p.red(e.message)}`;
    }
    case 'cycle.finished': {
      const d = e.data as { totals?: TestTotals; green?: boolean; real?: boolean } | undefined;
      const counts = d?.totals ? `  ${totalsLabel(p, d.totals)}` : '';
      // A run the analysis could not trust: its counts say nothing about the code.
      const verdict = d?.green ? p.green(p.bold('green')) : d?.real === false ? p.yellow('untrusted (not a real run)') : p.red('not green');
      return `${prefix}  ${verdict}${counts}`;
    }
    case 'loop.finished': {
      const state = (e.data as { state?: string } | undefined)?.state ?? '';
      return `${clock} ${state === 'green' ? p.green(p.bold(e.message)) : state === 'cancelled' ? p.yellow(p.bold(e.message)) : p.red(p.bold(e.message))}`;
    }
    default:
      return `${prefix}  ${e.message}`;
  }
}

function formatClock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}

function inline(p: Paint, s: string): string {
  return s
    .replace(/`([^`]+)`/g, (_m, code: string) => p.cyan(code))
    .replace(/\*\*([^*]+)\*\*/g, (_m, b: string) => p.bold(b))
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, (_m, text: string, url: string) => `${text} ${p.dim(`(${url})`)}`);
}

/**
 * Markdown for a terminal: headings emphasised, tables aligned, code blocks indented, inline code and
 * bold styled. Not a full renderer; the reports greenloop writes use only these constructs.
 */
export function renderMarkdown(p: Paint, md: string, width = 100): string {
  const out: string[] = [];
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  let inCode = false;
  let tableRows: string[][] = [];
  const flushTable = () => {
    if (!tableRows.length) return;
    const [head, ...body] = tableRows;
    out.push(
      table(
        p,
        (head ?? []).map((h) => inline(p, h)),
        body.map((r) => r.map((c) => inline(p, c))),
      )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
    tableRows = [];
  };
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (line.startsWith('```')) {
      flushTable();
      inCode = !inCode;
      continue;
    }
    if (inCode) {
      out.push(p.dim(`    ${line}`));
      continue;
    }
    if (/^\s*\|.*\|\s*$/.test(line)) {
      const cells = line
        .trim()
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim());
      if (cells.every((c) => /^:?-{2,}:?$/.test(c))) continue;
      tableRows.push(cells);
      continue;
    }
    flushTable();
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h) {
      const level = (h[1] as string).length;
      const text = inline(p, h[2] as string);
      if (out.length && out.at(-1) !== '') out.push('');
      out.push(level === 1 ? p.bold(p.underline(text)) : level === 2 ? p.bold(text) : p.bold(p.dim(text)));
      continue;
    }
    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
    if (bullet) {
      out.push(`${bullet[1]}  • ${inline(p, bullet[2] as string)}`);
      continue;
    }
    if (/^(-{3,}|\*{3,})$/.test(line)) {
      out.push(p.dim('─'.repeat(Math.min(width, 60))));
      continue;
    }
    out.push(inline(p, line));
  }
  flushTable();
  return out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd();
}
