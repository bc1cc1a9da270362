import type { LogEntry } from '@greenloop/core';
import { readRecord } from './log-entry.ts';
import { type Severity, worse } from './log-severity.ts';
import type { LogTime } from './log-time.ts';
import { parseLogfmt } from './logfmt.ts';
import { CONTINUATION, readPlainLine, TRACE_START } from './plain-text.ts';

/**
 * A service's log output (JSON lines, logfmt, plain text, or a mix, as one process writes stdout and
 * stderr into one file) as LogEntries, in file order. Multi-line stack traces (Python tracebacks, Java
 * `\tat …` / `Caused by:`, Node `    at …`, Go `goroutine N [running]:` panics) stay with the entry they
 * belong to and take its severity. A line whose time can't be read is never dropped: it keeps its place,
 * takes the previous entry's time (the next one's when it comes first) and is flagged `timeUnknown`.
 */

/** What reading a log said about the log itself: the numbers `doctor` and the cycle report show. */
export interface LogReadStats {
  /** Non-blank lines read. */
  lines: number;
  entries: number;
  /** Entries whose own time was read. */
  timeRead: number;
  /** Entries with no readable time of their own (kept in order, given a neighbour's time). */
  timeUnknown: number;
  /** Entries whose time named no zone and was read as UTC. */
  zoneAssumed: number;
}

export interface ReadLogOptions {
  service: string;
  /** The year for syslog lines, and the reference for "in the future". */
  referenceMs?: number;
  /** The time given to entries when no line of the log has a readable time. */
  fallbackTime: string;
}

interface Draft {
  entry: Omit<LogEntry, 'time'>;
  time: LogTime | undefined;
  /** Plain-text entries take continuation lines; JSON entries are complete on their line. */
  plain: boolean;
  lines: number;
}

const MAX_MESSAGE = 8000;
const MAX_LINES = 200;

type Block = 'python' | 'go' | 'java' | undefined;

function readJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function severityOfTraceStart(line: string): Severity {
  return /^(?:panic: |fatal error: )/.test(line) ? 'CRITICAL' : 'ERROR';
}

function blockOf(line: string): Block {
  if (line.startsWith('Traceback (most recent call last):')) return 'python';
  if (/^(?:panic: |fatal error: |goroutine \d+ \[)/.test(line)) return 'go';
  if (/^(?:Exception in thread |(?:[\w$]+\.)+[\w$]*(?:Exception|Error|Throwable)\b)/.test(line)) return 'java';
  return undefined;
}

function append(d: Draft, line: string): void {
  d.lines++;
  if (d.lines > MAX_LINES || d.entry.message.length >= MAX_MESSAGE) return;
  d.entry.message = `${d.entry.message}\n${line}`.slice(0, MAX_MESSAGE);
}

/** Reads a whole log text into entries and the numbers about it. */
export function readLogText(text: string, opts: ReadLogOptions): { entries: LogEntry[]; stats: LogReadStats } {
  const referenceMs = opts.referenceMs ?? Date.now();
  const drafts: Draft[] = [];
  let cur: Draft | undefined;
  let block: Block;
  let lines = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    lines++;
    const json = readJson(line.trim());
    if (json) {
      const r = readRecord(json, opts.service, referenceMs);
      cur = { entry: r.entry, time: r.time, plain: false, lines: 1 };
      drafts.push(cur);
      block = undefined;
      continue;
    }
    const plain = readPlainLine(line, referenceMs);
    if (!plain.time && cur?.plain) {
      const indented = /^\s/.test(line);
      if (block === 'go' || block === 'java') {
        if (block === 'go' || indented || CONTINUATION.test(line)) {
          append(cur, line);
          continue;
        }
      } else if (block === 'python') {
        append(cur, line);
        // The first unindented line that is not a chaining header is the exception itself: the end.
        if (!indented && !CONTINUATION.test(line)) block = undefined;
        continue;
      }
      const startsBlock = blockOf(line);
      const javaAfterError = startsBlock === 'java' && cur.lines === 1 && (cur.entry.severity === 'ERROR' || cur.entry.severity === 'CRITICAL');
      if (CONTINUATION.test(line) || javaAfterError) {
        append(cur, line);
        if (startsBlock) {
          block = startsBlock;
          if (cur.entry.severity === 'DEFAULT') cur.entry.severity = 'ERROR';
        }
        continue;
      }
    }
    const logfmt = plain.time ? undefined : parseLogfmt(line);
    if (logfmt) {
      const r = readRecord(logfmt, opts.service, referenceMs);
      cur = { entry: r.entry, time: r.time, plain: true, lines: 1 };
      drafts.push(cur);
      block = undefined;
      continue;
    }
    const traceStart = TRACE_START.test(line);
    let severity: Severity = plain.severity ?? (/\b(?:ERROR|FATAL|CRITICAL)\b|\bpanic\b|\bexception\b/i.test(line) ? 'ERROR' : 'DEFAULT');
    if (traceStart) severity = worse(severity, severityOfTraceStart(line));
    const entry: Omit<LogEntry, 'time'> = { severity, service: opts.service, message: line.slice(0, MAX_MESSAGE) };
    if (plain.httpRequest) entry.httpRequest = plain.httpRequest;
    if (plain.probe) entry.probe = true;
    cur = { entry, time: plain.time, plain: true, lines: 1 };
    drafts.push(cur);
    block = traceStart ? blockOf(line) : undefined;
  }
  return finish(drafts, lines, opts.fallbackTime);
}

// Entries without a time of their own take the previous entry's (the first timed one's when none came
// before); when nothing in the log has a time, the fallback.
function finish(drafts: Draft[], lines: number, fallbackTime: string): { entries: LogEntry[]; stats: LogReadStats } {
  const stats: LogReadStats = { lines, entries: drafts.length, timeRead: 0, timeUnknown: 0, zoneAssumed: 0 };
  const firstTimed = drafts.find((d) => d.time)?.time;
  let last = firstTimed ? new Date(firstTimed.ms).toISOString() : fallbackTime;
  const entries: LogEntry[] = [];
  for (const d of drafts) {
    // The draft becomes the entry in place: copying 100k entries was a third of the read time.
    const entry: LogEntry = Object.assign(d.entry, { time: last });
    if (d.time) {
      entry.time = last = new Date(d.time.ms).toISOString();
      stats.timeRead++;
      if (d.time.zoneAssumed) stats.zoneAssumed++;
    } else {
      stats.timeUnknown++;
      entry.timeUnknown = true;
    }
    entries.push(entry);
  }
  return { entries, stats };
}

/** Sums per-file stats. */
export function addStats(a: LogReadStats, b: LogReadStats): LogReadStats {
  return {
    lines: a.lines + b.lines,
    entries: a.entries + b.entries,
    timeRead: a.timeRead + b.timeRead,
    timeUnknown: a.timeUnknown + b.timeUnknown,
    zoneAssumed: a.zoneAssumed + b.zoneAssumed,
  };
}

/** "3 of 120 entries had no readable time (kept in order with the previous entry's time); 40 times had no zone (read as UTC)". */
export function describeStats(s: LogReadStats): string {
  const parts = [`${s.entries} entries from ${s.lines} lines, ${s.timeRead} with a readable time`];
  if (s.timeUnknown > 0) parts.push(`${s.timeUnknown} without a readable time (kept in order, given the previous entry's time)`);
  if (s.zoneAssumed > 0) parts.push(`${s.zoneAssumed} times named no zone and were read as UTC`);
  return parts.join('; ');
}
