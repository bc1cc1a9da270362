import type { JobSchedulerJson } from 'bullmq';
import cronParser from 'cron-parser';
import { z } from 'zod';
import { appendAudit } from './audit.ts';
import { getEnvironment } from './config/load.ts';
import type { GreenloopConfig } from './config/schema.ts';
import { GreenloopError } from './errors.ts';
import { JobCatalog, type JobPayload } from './jobs.ts';
import { type StartLoopOutcome, startLoop } from './loops.ts';
import type { ProjectStore } from './projects.ts';
import type { Queues } from './queues.ts';
import type { LoopStore } from './store.ts';

/**
 * Schedules are BullMQ job schedulers on the `schedules` queue: each fires a `schedule.fire` job on its
 * cron pattern in its time zone; the worker turns that into startLoop with actor `{ kind: 'schedule' }`.
 * BullMQ keeps the scheduler in Redis, so schedules survive restarts of every process.
 */

/** Where a schedule came from: greenloop.yaml (re-synced at worker start) or the API. */
export type ScheduleSource = 'config' | 'api';

export interface ScheduleSpec {
  environment: string;
  /** Unique within the environment; the schedule id is `<environment>.<name>`. */
  name: string;
  cron: string;
  /** IANA time zone the cron pattern is read in. */
  timezone: string;
  source: ScheduleSource;
  /** Token name that created it (API schedules). */
  createdBy?: string;
}

export interface ScheduleInfo extends ScheduleSpec {
  id: string;
  /** The next fire time BullMQ has queued, if any. */
  next?: string;
  /** The next few fire times computed from the pattern. */
  nextRuns: string[];
}

/** Names follow greenloop.yaml's rule (lowercase, digits, dashes), so `.` can separate the id's parts. */
export const SCHEDULE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,48}$/;
const CRON_ALIASES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly']);

export function scheduleId(environment: string, name: string): string {
  return `${environment}.${name}`;
}

/** What the job scheduler's template carries; parsed on read so a foreign scheduler is skipped, not trusted. */
const TemplateData = z.object({
  environment: z.string(),
  schedule: z.string(),
  source: z.enum(['config', 'api']).default('api'),
  createdBy: z.string().optional(),
});

let zoneSet: Set<string> | undefined;

/** Whether `tz` is an IANA time zone this runtime knows (aliases such as "UTC" included). */
export function isValidTimeZone(tz: string): boolean {
  zoneSet ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (zoneSet.has(tz)) return true;
  // supportedValuesOf lists canonical zones only; "UTC" and links like "Europe/Kiev" are still valid.
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
}

/** Problems with a cron pattern and time zone, as lines a person can act on; empty when valid. */
export function validateSchedule(cron: string, timezone: string): string[] {
  const issues: string[] = [];
  if (!isValidTimeZone(timezone)) issues.push(`timezone: "${timezone}" is not an IANA time zone (e.g. "UTC", "Europe/Berlin", "America/New_York")`);
  const fields = cron.trim().split(/\s+/);
  if (cron.length > 120) issues.push('cron: longer than 120 characters');
  else if (!(fields.length === 5 || fields.length === 6 || (fields.length === 1 && CRON_ALIASES.has(fields[0] as string)))) {
    issues.push(
      `cron: expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or an alias like @daily; got ${fields.length} field(s)`,
    );
  } else if (issues.length === 0) {
    try {
      cronParser.parseExpression(cron, { tz: timezone });
    } catch (err) {
      issues.push(`cron: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return issues;
}

/** Throws SCHEDULE_INVALID (not retryable) listing the problems. */
export function assertValidSchedule(cron: string, timezone: string): void {
  const issues = validateSchedule(cron, timezone);
  if (issues.length) throw new GreenloopError('SCHEDULE_INVALID', `invalid schedule: ${issues.join('; ')}`, { details: { issues } });
}

/** The next `count` fire times after `from`, as ISO strings. */
export function nextRuns(cron: string, timezone: string, count = 3, from: Date = new Date()): string[] {
  const expr = cronParser.parseExpression(cron, { tz: timezone, currentDate: from });
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(expr.next().toISOString());
  return out;
}

function toInfo(s: JobSchedulerJson<unknown>): ScheduleInfo | undefined {
  const data = TemplateData.safeParse(s.template?.data);
  // BullMQ reports a job scheduler's id as `key` (`id` is only set for legacy repeatable jobs).
  const id = s.id ?? s.key;
  if (!data.success || !s.pattern || !id) return undefined;
  const timezone = s.tz ?? 'UTC';
  const info: ScheduleInfo = {
    id,
    environment: data.data.environment,
    name: data.data.schedule,
    cron: s.pattern,
    timezone,
    source: data.data.source,
    nextRuns: validateSchedule(s.pattern, timezone).length ? [] : nextRuns(s.pattern, timezone),
  };
  if (data.data.createdBy) info.createdBy = data.data.createdBy;
  if (s.next) info.next = new Date(s.next).toISOString();
  return info;
}

/** Creates or replaces a schedule. Validates first; throws SCHEDULE_INVALID. */
export async function upsertSchedule(queues: Queues, spec: ScheduleSpec): Promise<ScheduleInfo> {
  if (!SCHEDULE_NAME_PATTERN.test(spec.name))
    throw new GreenloopError('SCHEDULE_INVALID', `invalid schedule: name "${spec.name}" must match ${SCHEDULE_NAME_PATTERN.source}`);
  assertValidSchedule(spec.cron, spec.timezone);
  const id = scheduleId(spec.environment, spec.name);
  const data: z.input<typeof TemplateData> = { environment: spec.environment, schedule: spec.name, source: spec.source };
  if (spec.createdBy) data.createdBy = spec.createdBy;
  await queues.schedules.upsertJobScheduler(
    id,
    { pattern: spec.cron, tz: spec.timezone },
    {
      name: 'schedule.fire',
      data,
      opts: { ...JobCatalog['schedule.fire'].options, removeOnComplete: { age: 7 * 86400, count: 1000 }, removeOnFail: { age: 30 * 86400 } },
    },
  );
  const stored = await getSchedule(queues, id);
  if (!stored) throw new GreenloopError('SCHEDULE_LOST', `schedule ${id} was not found right after it was written`, { retryable: true });
  return stored;
}

export async function getSchedule(queues: Queues, id: string): Promise<ScheduleInfo | undefined> {
  const s = await queues.schedules.getJobScheduler(id);
  return s ? toInfo(s) : undefined;
}

/** Every schedule, sorted by id. */
export async function listSchedules(queues: Queues): Promise<ScheduleInfo[]> {
  const all = await queues.schedules.getJobSchedulers(0, -1, true);
  return all
    .map(toInfo)
    .filter((s): s is ScheduleInfo => s !== undefined)
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Returns whether a schedule was removed. */
export async function removeSchedule(queues: Queues, id: string): Promise<boolean> {
  return await queues.schedules.removeJobScheduler(id);
}

/**
 * Makes the schedules declared in greenloop.yaml (`environments.<env>.schedules`) exist as declared:
 * creates missing ones, updates changed ones, removes config schedules no longer declared. Schedules
 * created through the API are left alone unless the config declares the same id (the config wins).
 * Invalid declarations are reported in `invalid` (and leave any existing scheduler with that id alone).
 * Called by the worker at start-up; safe to call from several processes at once.
 */
export async function syncSchedulesFromConfig(
  queues: Queues,
  config: GreenloopConfig,
): Promise<{ upserted: string[]; removed: string[]; unchanged: string[]; invalid: { id: string; issues: string[] }[] }> {
  const existing = new Map((await listSchedules(queues)).map((s) => [s.id, s]));
  const declared = new Set<string>();
  const upserted: string[] = [];
  const unchanged: string[] = [];
  const invalid: { id: string; issues: string[] }[] = [];
  for (const [environment, env] of Object.entries(config.environments)) {
    for (const s of env.schedules) {
      const id = scheduleId(environment, s.name);
      declared.add(id);
      // One bad cron line in greenloop.yaml must not take the other schedules (or the worker) down.
      const issues = validateSchedule(s.cron, s.timezone);
      if (issues.length) {
        invalid.push({ id, issues });
        continue;
      }
      const cur = existing.get(id);
      if (cur && cur.source === 'config' && cur.cron === s.cron && cur.timezone === s.timezone) {
        unchanged.push(id);
        continue;
      }
      await upsertSchedule(queues, { environment, name: s.name, cron: s.cron, timezone: s.timezone, source: 'config' });
      upserted.push(id);
    }
  }
  const removed: string[] = [];
  for (const s of existing.values()) {
    if (s.source === 'config' && !declared.has(s.id)) {
      await removeSchedule(queues, s.id);
      removed.push(s.id);
    }
  }
  return { upserted, removed, unchanged, invalid };
}

/**
 * What a `schedule.fire` job does: starts a loop on the schedule's environment, recorded (and audited) as
 * started by the schedule. An environment of greenloop.yaml is checked against `config`; a project's
 * `<project>/<environment>` resolves the project (PROJECT_NOT_FOUND when it was removed since) and is
 * checked by its loop, which reads greenloop.yaml at its commit. A busy environment is a `conflict`.
 */
export async function fireSchedule(
  deps: { store: LoopStore; queues: Queues; projects: ProjectStore; config: () => Promise<GreenloopConfig> },
  { environment, schedule }: JobPayload<'schedule.fire'>,
): Promise<StartLoopOutcome> {
  const source = await deps.projects.loopSource(environment);
  if (!source) getEnvironment(await deps.config(), environment);
  const actor = { kind: 'schedule', name: schedule } as const;
  const out = await startLoop(deps, { environment, actor, ...(source ? { source } : {}) });
  if (out.kind === 'created') {
    await appendAudit(deps.store.redis, deps.store.prefix, { actor, action: 'loop.start', target: out.loop.id, details: { environment } });
  }
  return out;
}
