import { open } from 'node:fs/promises';
import type { LogEntry } from '@greenloop/core';
import { addStats, describeStats, type LogReadStats, readLogText } from '../ingest/log-lines.ts';
import type { LogPull, LogQuery, LogSource } from './types.ts';

const isError = (e: LogEntry) => e.severity === 'ERROR' || e.severity === 'CRITICAL';

/**
 * The local log source: the files the local deploy provider captured (each service's stdout and stderr),
 * read in any of the formats `ingest/` knows and filtered to the test window (widened by 2s for clock
 * skew). A file in which no line has a readable time is kept whole, in order. Capped per service so a
 * chatty service cannot exhaust memory.
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
    let stats: LogReadStats = { lines: 0, entries: 0, timeRead: 0, timeUnknown: 0, zoneAssumed: 0 };
    const files: string[] = [];
    for (const svc of q.services) {
      if (!svc.logFile) continue;
      files.push(svc.logFile);
      const fh = await open(svc.logFile, 'r').catch(() => undefined);
      if (!fh) continue;
      let text: string;
      try {
        const size = (await fh.stat()).size;
        const start = Math.max(0, size - this.maxBytes);
        if (start > 0) truncated = true;
        const buf = Buffer.alloc(size - start);
        await fh.read(buf, 0, buf.length, start);
        text = buf.toString('utf8');
      } finally {
        await fh.close();
      }
      const read = readLogText(text, { service: svc.service, fallbackTime: q.to, referenceMs: Date.parse(q.to) });
      stats = addStats(stats, read.stats);
      const timed = read.stats.timeRead > 0;
      for (const e of read.entries) {
        const t = Date.parse(e.time);
        if (timed && (t < from || t > to)) continue;
        if (!e.revision && svc.revision) e.revision = svc.revision;
        entries.push(e);
      }
    }
    if (entries.length > this.maxEntries) {
      truncated = true;
      // Keep errors first; a stable sort keeps file order among equal times.
      entries.sort((a, b) => Number(isError(b)) - Number(isError(a)));
      entries.length = this.maxEntries;
      entries.sort((a, b) => a.time.localeCompare(b.time));
    }
    const failing = new Map<string, { method?: string; path: string; status: number; count: number }>();
    for (const e of entries) {
      const h = e.httpRequest;
      if (e.probe || !h?.path || h.status === undefined || h.status < 400) continue;
      const key = `${h.method ?? ''} ${h.path} ${h.status}`;
      const row = failing.get(key) ?? { ...(h.method ? { method: h.method } : {}), path: h.path, status: h.status, count: 0 };
      row.count++;
      failing.set(key, row);
    }
    return {
      entries,
      truncated,
      failingRequests: [...failing.values()],
      query: `local log files: ${files.join(', ') || '(none)'}; window ${q.from} – ${q.to}; ${describeStats(stats)}`,
      stats,
    };
  }
}
