import type { LogEntry } from '@greenloop/core';

export type Severity = LogEntry['severity'];

/** Severity names across loggers (pino, bunyan, winston, Python logging, zap, slog, logrus, log4j, syslog, Cloud Logging). */
const BY_NAME: Record<string, Severity> = {
  trace: 'DEBUG',
  verbose: 'DEBUG',
  silly: 'DEBUG',
  debug: 'DEBUG',
  fine: 'DEBUG',
  finer: 'DEBUG',
  finest: 'DEBUG',
  info: 'INFO',
  information: 'INFO',
  notice: 'INFO',
  http: 'INFO',
  warn: 'WARNING',
  warning: 'WARNING',
  error: 'ERROR',
  err: 'ERROR',
  severe: 'ERROR',
  fatal: 'CRITICAL',
  critical: 'CRITICAL',
  crit: 'CRITICAL',
  panic: 'CRITICAL',
  dpanic: 'CRITICAL',
  alert: 'CRITICAL',
  emerg: 'CRITICAL',
  emergency: 'CRITICAL',
  default: 'DEFAULT',
};

/** Which numbering a numeric level follows: they disagree (30 is INFO for pino, WARNING for Python). */
export type LevelScale = 'pino' | 'python' | 'cloud-logging';

function byNumber(n: number, scale: LevelScale): Severity {
  if (scale === 'cloud-logging') {
    if (n >= 600) return 'CRITICAL';
    if (n >= 500) return 'ERROR';
    if (n >= 400) return 'WARNING';
    if (n >= 200) return 'INFO';
    if (n >= 100) return 'DEBUG';
    return 'DEFAULT';
  }
  if (scale === 'python') {
    if (n >= 50) return 'CRITICAL';
    if (n >= 40) return 'ERROR';
    if (n >= 30) return 'WARNING';
    if (n >= 20) return 'INFO';
    return n > 0 ? 'DEBUG' : 'DEFAULT';
  }
  // pino / bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
  if (n >= 60) return 'CRITICAL';
  if (n >= 50) return 'ERROR';
  if (n >= 40) return 'WARNING';
  if (n >= 30) return 'INFO';
  return n > 0 ? 'DEBUG' : 'DEFAULT';
}

/** A level as greenloop's severity; undefined when the value is not a level at all. */
export function readSeverity(value: unknown, scale: LevelScale = 'pino'): Severity | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? byNumber(value, scale) : undefined;
  if (typeof value !== 'string' || value === '') return undefined;
  const named = BY_NAME[value.trim().toLowerCase()];
  if (named) return named;
  if (/^\d+$/.test(value.trim())) return byNumber(Number(value), scale);
  return undefined;
}

/** The more severe of two severities. */
export function worse(a: Severity, b: Severity): Severity {
  const rank: Record<Severity, number> = { DEFAULT: 0, DEBUG: 1, INFO: 2, WARNING: 3, ERROR: 4, CRITICAL: 5 };
  return rank[b] > rank[a] ? b : a;
}
