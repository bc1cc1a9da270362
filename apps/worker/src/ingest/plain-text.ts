import type { LogEntry } from '@greenloop/core';
import { readSeverity, type Severity } from './log-severity.ts';
import { type LogTime, readLeadingTime } from './log-time.ts';

/**
 * One plain-text log line: a leading timestamp (ISO, Python logging, Go log, syslog with or without its
 * priority, klog; optionally in brackets), or an access log's or Ruby Logger's bracketed time
 * (`[02/Dec/2026:13:49:42 +0000]`, `E, [2026-12-02T13:49:42.326 #1]`); a level word near the start; and a request's method, path and status from common log format (`"GET /x HTTP/1.1" 500`),
 * arrows (`GET /x -> 500`), logfmt (`method=GET path=/x status=500`) or `GET /x 500` (morgan, gin).
 */

export interface PlainLine {
  time: LogTime | undefined;
  severity: Severity | undefined;
  httpRequest: LogEntry['httpRequest'];
  /** The line contains greenloop's probe user agent. */
  probe: boolean;
}

const METHOD = '(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT)';
const CLF_REQUEST = new RegExp(`"${METHOD} (\\S+) HTTP/[\\d.]+" (\\d{3})\\b`);
const ARROW_REQUEST = new RegExp(`\\b${METHOD} (/\\S*) (?:->|=>|→) (\\d{3})\\b`);
const BARE_REQUEST = new RegExp(`\\b${METHOD} (/\\S*)(?: HTTP/[\\d.]+)? (\\d{3})\\b`);
const LEVEL_WORD = /(?:^|[\s[(|:-])(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|FATAL|CRITICAL|CRIT|PANIC)(?=[\s\]):|,-]|$)/;
const BRACKET_TIME = /\[(\d{2}\/[A-Z][a-z]{2}\/\d{4}[: ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?: [+-]\d{4})?)\]/;

const KEY_PATTERNS = new Map<string, RegExp>();

// Compiled once per key: this runs for every plain line of every log.
function logfmtValue(text: string, keys: readonly string[]): string | undefined {
  if (!text.includes('=')) return undefined;
  for (const k of keys) {
    let re = KEY_PATTERNS.get(k);
    if (!re) {
      re = new RegExp(`(?:^|\\s)${k.replace('.', '\\.')}=(?:"([^"]*)"|(\\S+))`);
      KEY_PATTERNS.set(k, re);
    }
    const m = re.exec(text);
    const v = m?.[1] ?? m?.[2];
    if (v) return v;
  }
  return undefined;
}

const METHOD_ONLY = new RegExp(`^${METHOD}$`);

/** A request's method, path and status in a line of text, in any of the shapes above. */
export function readRequestLine(text: string): LogEntry['httpRequest'] {
  for (const re of [CLF_REQUEST, ARROW_REQUEST, BARE_REQUEST]) {
    const m = re.exec(text);
    if (m?.[1] && m[2] && m[3]) return { method: m[1], path: m[2].split(/[?#]/)[0] || '/', status: Number(m[3]) };
  }
  const method = logfmtValue(text, ['method', 'http.method', 'verb']);
  const path = logfmtValue(text, ['path', 'uri', 'url', 'http.target', 'route']);
  const status = logfmtValue(text, ['status', 'status_code', 'statusCode', 'http.status_code', 'code']);
  if (path?.startsWith('/') && (method || status)) {
    const out: NonNullable<LogEntry['httpRequest']> = { path: path.split(/[?#]/)[0] || '/' };
    if (method && METHOD_ONLY.test(method.toUpperCase())) out.method = method.toUpperCase();
    if (status && /^\d{3}$/.test(status)) out.status = Number(status);
    return out;
  }
  return undefined;
}

/** A syslog priority (`<11>`), with the RFC 5424 version after it (`<11>1 `): what a syslog formatter writes first. */
const SYSLOG_PRI = /^<(\d{1,3})>(?:1 )?/;
/** Syslog severities 0–7 (the priority's low three bits). */
const SYSLOG_SEVERITY: readonly Severity[] = ['CRITICAL', 'CRITICAL', 'CRITICAL', 'ERROR', 'WARNING', 'INFO', 'INFO', 'DEBUG'];

/** Ruby's Logger: `E, [2026-12-02T12:50:11.690123 #42] ERROR -- app: boom` (the level word follows). */
const RUBY_LOGGER = /^[DIWEFAU], \[(\S+) #\d+\]/;
/** glog / klog (Kubernetes and many Go services): `E1202 12:50:11.690123   42 server.go:12] boom`, no year. */
const KLOG = /^([IWEF])(\d{2})(\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\s+\d+ \S+:\d+\] /;
const KLOG_SEVERITY: Record<string, Severity> = { I: 'INFO', W: 'WARNING', E: 'ERROR', F: 'CRITICAL' };

/** A klog time in the reference year, or the year before when that would put it in the future (as for syslog). */
function klogTime(m: RegExpExecArray, referenceMs: number): LogTime | undefined {
  const year = new Date(referenceMs).getUTCFullYear();
  for (const y of [year, year - 1]) {
    const t = readLeadingTime(`${y}-${m[2]}-${m[3]} ${m[4]}`, referenceMs);
    if (t && t.ms <= referenceMs + 86_400_000) return { ms: t.ms, zoneAssumed: true };
  }
  return undefined;
}

/** Reads what a plain line says about itself. `referenceMs` gives syslog and klog lines their year. */
export function readPlainLine(line: string, referenceMs: number = Date.now()): PlainLine {
  const pri = SYSLOG_PRI.exec(line);
  const text = pri ? line.slice(pri[0].length) : line;
  const lead = text.startsWith('[') ? readLeadingTime(text.slice(1), referenceMs) : readLeadingTime(text, referenceMs);
  let time: LogTime | undefined = lead ? (lead.zoneAssumed ? { ms: lead.ms, zoneAssumed: true } : { ms: lead.ms }) : undefined;
  let rest = lead ? text.slice(lead.length + (text.startsWith('[') ? 1 : 0)) : text;
  const klog = time ? undefined : KLOG.exec(text);
  if (klog) time = klogTime(klog, referenceMs);
  if (!time) {
    const bracket = BRACKET_TIME.exec(text) ?? RUBY_LOGGER.exec(text);
    const t = bracket?.[1] ? readLeadingTime(bracket[1], referenceMs) : undefined;
    if (t) time = t.zoneAssumed ? { ms: t.ms, zoneAssumed: true } : { ms: t.ms };
  }
  const logfmtLevel = logfmtValue(text, ['level', 'lvl', 'severity']);
  const word = LEVEL_WORD.exec(rest.slice(0, 80));
  const severity =
    (klog ? KLOG_SEVERITY[klog[1] as string] : undefined) ??
    readSeverity(logfmtLevel) ??
    readSeverity(word?.[1]) ??
    (pri ? SYSLOG_SEVERITY[Number(pri[1]) % 8] : undefined);
  rest = rest.trim();
  return { time, severity, httpRequest: readRequestLine(text), probe: text.includes('greenloop-probe') };
}

/** Lines that begin a stack trace (or an uncaught error) with no timestamp of their own. */
export const TRACE_START =
  /^(?:Traceback \(most recent call last\):|panic: |fatal error: |goroutine \d+ \[[^\]]+\]:|Exception in thread |Uncaught |(?:[\w$]+\.)*[\w$]*(?:Error|Exception|Throwable)(?::|$))/;

/** Lines that continue an entry: indented frames and the headers between chained traces. */
export const CONTINUATION =
  /^(?:\s+\S|Caused by: |Suppressed: |\.\.\. \d+ more|During handling of the above exception|The above exception was the direct cause|Traceback \(most recent call last\):|goroutine \d+ \[[^\]]+\]:|created by |exit status \d+)/;
