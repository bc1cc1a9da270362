import type { Redis } from 'ioredis';
import type { Actor } from './domain.ts';

/** Everything the audit trail records. */
export const AUDIT_ACTIONS = [
  'loop.start',
  'loop.cancel',
  'schedule.create',
  'schedule.update',
  'schedule.delete',
  'token.create',
  'token.revoke',
  'project.create',
  'project.update',
  'project.delete',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One audit line: who did what to which target. Never holds a token or any other secret. */
export interface AuditEntry {
  /** Redis stream id: time-ordered and usable as a cursor. */
  id?: string;
  time: string;
  actor: Actor;
  action: AuditAction;
  /** Loop id, schedule id, token id or project name. */
  target: string;
  details?: Record<string, string | number | boolean>;
}

function auditKey(prefix: string): string {
  return `${prefix}:audit`;
}

/** Appends to `<prefix>:audit` (capped at about 100k entries). Returns the entry's id. */
export async function appendAudit(redis: Redis, prefix: string, entry: Omit<AuditEntry, 'id' | 'time'> & { time?: string }): Promise<string> {
  const full: AuditEntry = { ...entry, time: entry.time ?? new Date().toISOString() };
  return String(await redis.xadd(auditKey(prefix), 'MAXLEN', '~', '100000', '*', 'a', JSON.stringify(full)));
}

/**
 * Newest first. `before` is the id of the last entry of the previous page; the result's `nextCursor`
 * is set when there may be more.
 */
export async function readAudit(
  redis: Redis,
  prefix: string,
  opts: { limit: number; before?: string },
): Promise<{ entries: AuditEntry[]; nextCursor?: string }> {
  const max = opts.before ? `(${opts.before}` : '+';
  const rows = (await redis.xrevrange(auditKey(prefix), max, '-', 'COUNT', opts.limit)) as [string, string[]][];
  const entries = rows.map(([id, fields]) => ({ ...(JSON.parse(fields[1] as string) as AuditEntry), id }));
  const last = entries.at(-1);
  return entries.length === opts.limit && last?.id ? { entries, nextCursor: last.id } : { entries };
}
