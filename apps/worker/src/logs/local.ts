import { open } from 'node:fs/promises';
import type { LogEntry } from '@greenloop/core';
import type { LogPull, LogQuery, LogSource } from './types.ts';

const SEVERITY: Record<string, LogEntry['severity']> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  notice: 'INFO',
  warn: 'WARNING',
  warning: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
  critical: 'CRITICAL',
  '10': 'DEBUG',
  '20': 'DEBUG',
  '30': 'INFO',
  '40': 'WARNING',
  '50': 'ERROR',
  '60': 'CRITICAL',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Reads a JSON log line (pino, bunyan, or the demo's shape) or a plain line into a LogEntry. */
export function parseLogLine(line: string, service: string, fallbackTime: string): LogEntry | undefined {
  const text = line.trim();
  if (!text) return undefined;
  if (text.startsWith('{')) {
    try {
      const j = JSON.parse(text) as Record<string, unknown>;
      const t = j.time ?? j.timestamp ?? j.ts;
      const time = typeof t === 'number' ? new Date(t).toISOString() : (str(t) ?? fallbackTime);
      const level = String(j.level ?? j.severity ?? 'info').toLowerCase();
      const req = (j.httpRequest ?? j.req ?? {}) as Record<string, unknown>;
      const method = str(j.method) ?? str(req.method) ?? str(req.requestMethod);
      const path = str(j.path) ?? str(j.url) ?? str(req.url) ?? str(req.requestUrl);
      const statusRaw = j.status ?? j.statusCode ?? req.status;
      const status = typeof statusRaw === 'number' ? statusRaw : undefined;
      const err = j.err as Record<string, unknown> | undefined;
      const message = str(j.msg) ?? str(j.message) ?? (err ? `${str(err.type) ?? 'Error'}: ${str(err.message) ?? ''}` : text.slice(0, 500));
      const entry: LogEntry = { time, severity: SEVERITY[level] ?? 'DEFAULT', service, message, json: j };
      if (method || path || status !== undefined) {
        entry.httpRequest = { ...(method ? { method } : {}), ...(path ? { path } : {}), ...(status !== undefined ? { status } : {}) };
        const latency = j.durationMs ?? j.responseTime;
        if (typeof latency === 'number') entry.httpRequest.latencyMs = latency;
      }
      const runId = str(j.runId);
      const test = str(j.test);
      const trace = str(j.traceparent)?.split('-')[1] ?? str(j.trace);
      if (runId) entry.runId = runId;
      if (test) entry.test = test;
      if (trace) entry.trace = trace;
      return entry;
    } catch {
      // not JSON after all: a plain line
    }
  }
  const sev = /\b(ERROR|FATAL|CRITICAL)\b/i.test(text) ? 'ERROR' : /\bWARN(ING)?\b/i.test(text) ? 'WARNING' : 'DEFAULT';
  return { time: fallbackTime, severity: sev, service, message: text.slice(0, 4000) };
}

/**
 * The local log source: the files the local deploy provider captured. JSON lines are filtered to the
 * test window (widened by 2s for clock skew); plain lines have no time, so they are kept in file order,
 * stamped with the window's end. Capped per service so a chatty service cannot exhaust memory.
 */
export class LocalLogSource implements LogSource {
  readonly maxEntries: number;
  readonly maxBytes: number;

  constructor(opts: { maxEntries?: number; maxBytes?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? 5000;
    this.maxBytes = opts.maxBytes ?? 20_000_000;
  }

  async pull(q: LogQuery): Promise<LogPull> {
    const from = Date.parse(q.from) - 2000;
    const to = Date.parse(q.to) + 2000;
    const entries: LogEntry[] = [];
    let truncated = false;
    const files: string[] = [];
    for (const svc of q.services) {
      if (!svc.logFile) continue;
      files.push(svc.logFile);
      const fh = await open(svc.logFile, 'r').catch(() => undefined);
      if (!fh) continue;
      try {
        const size = (await fh.stat()).size;
        const start = Math.max(0, size - this.maxBytes);
        if (start > 0) truncated = true;
        const buf = Buffer.alloc(size - start);
        await fh.read(buf, 0, buf.length, start);
        for (const line of buf.toString('utf8').split('\n')) {
          const e = parseLogLine(line, svc.service, q.to);
          if (!e) continue;
          const t = Date.parse(e.time);
          if (e.json && (t < from || t > to)) continue;
          if (!e.revision) e.revision = svc.revision;
          entries.push(e);
        }
      } finally {
        await fh.close();
      }
    }
    if (entries.length > this.maxEntries) {
      truncated = true;
      // Keep errors first, then the latest lines.
      entries.sort((a, b) => Number(b.severity === 'ERROR' || b.severity === 'CRITICAL') - Number(a.severity === 'ERROR' || a.severity === 'CRITICAL'));
      entries.length = this.maxEntries;
      entries.sort((a, b) => a.time.localeCompare(b.time));
    }
    const failing = new Map<string, { method?: string; path: string; status: number; count: number }>();
    for (const e of entries) {
      const h = e.httpRequest;
      if (!h?.path || h.status === undefined || h.status < 400) continue;
      const key = `${h.method ?? ''} ${h.path} ${h.status}`;
      const row = failing.get(key) ?? { ...(h.method ? { method: h.method } : {}), path: h.path, status: h.status, count: 0 };
      row.count++;
      failing.set(key, row);
    }
    return {
      entries,
      truncated,
      failingRequests: [...failing.values()],
      query: `local log files: ${files.join(', ') || '(none)'}; window ${q.from} – ${q.to}`,
    };
  }
}
