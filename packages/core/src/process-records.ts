import { readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** What a recorded process group is for. */
export const PROCESS_KINDS = ['service', 'test', 'rerun', 'fixer', 'verify', 'build', 'deploy-command'] as const;
export type ProcessKind = (typeof PROCESS_KINDS)[number];

/**
 * The variable every recorded child carries: `<prefix>/<loop>/<cycle>/<stage>/<attempt>`. It is inherited
 * by whatever the child starts, including daemons that leave its process group and session (`setsid`), so
 * a /proc scan finds what no pid record can.
 */
export const PROCESS_TAG_VAR = 'GREENLOOP_PROC';

/** A process identity that survives pid reuse: the pid with its start time (clock ticks since boot). */
export interface ProcessIdentity {
  host: string;
  pid: number;
  start: number;
}

/** One spawned process group, written the moment it exists and removed when it ends. */
export interface ProcessRecord {
  loopId: string;
  cycle: number;
  /** The stage (or `fix:<fingerprint>` for one fixer) whose attempt started it. */
  stage: string;
  /** The attempt that started it; a later attempt ends what earlier ones left. */
  attempt: string;
  kind: ProcessKind;
  pid: number;
  pgid: number;
  sid: number;
  /** From /proc/<pid>/stat, so a reused pid is never taken for this process. */
  start: number;
  host: string;
  /** The worker process that owns it. */
  worker: ProcessIdentity;
  at: string;
}

export interface ProcStat {
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  start: number;
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); field n is f[n - 3].
  return { state: f[0] ?? '?', ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), start: Number(f[19]) };
}

const HOST = hostname();
let self: ProcessIdentity | undefined;

/** This process as an owner of process records. */
export function currentWorker(): ProcessIdentity {
  self ??= { host: HOST, pid: process.pid, start: procStat(process.pid)?.start ?? 0 };
  return self;
}

/**
 * Whether the owner is still running. On this host /proc answers for certain (pid and start time, not a
 * zombie). Another host's worker cannot be checked from here and counts as alive: its processes are out of
 * reach anyway, and killing what a live worker owns is the one thing never to do.
 */
export function ownerAlive(owner: ProcessIdentity): boolean {
  if (owner.host !== HOST) return true;
  const st = procStat(owner.pid);
  return st !== undefined && st.start === owner.start && st.state !== 'Z';
}

const procsKey = (prefix: string, loopId: string) => `${prefix}:loop:${loopId}:procs`;
const field = (pid: number, start: number) => `${pid}.${start}`;
/** Records outlive a crashed loop for this long at most. */
const RECORD_TTL_S = 14 * 86400;

export function processTag(prefix: string, o: { loopId: string; cycle: number; stage: string; attempt: string }): string {
  return `${prefix}/${o.loopId}/${o.cycle}/${o.stage}/${o.attempt}`;
}

/**
 * Records the process groups one stage attempt spawns. `spawned` runs right after spawn (before the
 * caller awaits anything else); the tag in `env()` catches what escapes before or despite the record.
 */
export class ProcessRecorder {
  readonly redis: Redis;
  readonly prefix: string;
  readonly owner: { loopId: string; cycle: number; stage: string; attempt: string };

  constructor(redis: Redis, prefix: string, owner: { loopId: string; cycle: number; stage: string; attempt: string }) {
    this.redis = redis;
    this.prefix = prefix;
    this.owner = owner;
  }

  get tag(): string {
    return processTag(this.prefix, this.owner);
  }

  /** Variables to add to every child's environment. */
  env(): Record<string, string> {
    return { [PROCESS_TAG_VAR]: this.tag };
  }

  /** Records a just-spawned child (its own process group and session: spawned `detached`). */
  async spawned(pid: number, kind: ProcessKind): Promise<ProcessRecord> {
    const st = procStat(pid);
    const rec: ProcessRecord = {
      ...this.owner,
      kind,
      pid,
      pgid: st?.pgid ?? pid,
      sid: st?.sid ?? pid,
      start: st?.start ?? 0,
      host: HOST,
      worker: currentWorker(),
      at: new Date().toISOString(),
    };
    const key = procsKey(this.prefix, this.owner.loopId);
    await this.redis.multi().hset(key, field(pid, rec.start), JSON.stringify(rec)).expire(key, RECORD_TTL_S).exec();
    return rec;
  }

  /**
   * Ends what is left of a finished child's group and session (stragglers), then drops its record. With
   * `tagged`, also every process carrying this attempt's tag (daemons it `setsid`-ed): only for children
   * an attempt runs one at a time (test run, fixer, verify), never for services started side by side.
   */
  async release(rec: ProcessRecord, opts: { tagged?: boolean } = {}): Promise<void> {
    await killAll(findProcesses([rec], (tag) => opts.tagged === true && tag === this.tag));
    await this.redis.hdel(procsKey(this.prefix, this.owner.loopId), field(rec.pid, rec.start));
  }

  /**
   * An `onSpawn` hook for runCommand and its `release`, for one child of the given kind. `tagged: false`
   * for children that run beside others of the same attempt (a deploy's build and deploy commands).
   */
  track(kind: ProcessKind, opts: { tagged?: boolean } = {}): { onSpawn: (pid: number) => Promise<void>; release: () => Promise<void> } {
    let rec: ProcessRecord | undefined;
    return {
      onSpawn: async (pid) => {
        rec = await this.spawned(pid, kind);
      },
      release: async () => {
        if (rec) await this.release(rec, { tagged: opts.tagged ?? true });
      },
    };
  }

  /**
   * Ends every process group earlier attempts of this stage (same loop, cycle and stage) left, by
   * record and by tag. Callers decide first that those attempts are over (owner dead or given up on).
   * Returns how many processes were signalled.
   */
  async endEarlierAttempts(): Promise<number> {
    const { loopId, cycle, stage, attempt } = this.owner;
    const stagePrefix = `${processTag(this.prefix, { loopId, cycle, stage, attempt: '' })}`;
    return await endRecorded(
      this.redis,
      this.prefix,
      loopId,
      (r) => r.cycle === cycle && r.stage === stage && r.attempt !== attempt,
      (tag) => tag.startsWith(stagePrefix) && tag !== this.tag,
    );
  }
}

/** A ProcessIdentity as stored (owners of process records and of stage attempts). */
export const ProcessIdentitySchema = z.object({ host: z.string(), pid: z.number().int().positive(), start: z.number() }) satisfies z.ZodType<ProcessIdentity>;
const ProcessRecordSchema = z.object({
  loopId: z.string(),
  cycle: z.number().int(),
  stage: z.string(),
  attempt: z.string(),
  kind: z.enum(PROCESS_KINDS),
  pid: z.number().int().positive(),
  pgid: z.number().int().positive(),
  sid: z.number().int().positive(),
  start: z.number(),
  host: z.string(),
  worker: ProcessIdentitySchema,
  at: z.string(),
}) satisfies z.ZodType<ProcessRecord>;

/**
 * The loop's process records, parsed. One that does not match the schema (another greenloop version, an
 * edit by hand) is left out rather than acted on: a pid is signalled only on a record that says exactly
 * what it is, never by guess. What it started still carries the loop's tag, which the sweeps end.
 */
export async function listProcessRecords(redis: Redis, prefix: string, loopId: string): Promise<ProcessRecord[]> {
  const all = await redis.hgetall(procsKey(prefix, loopId));
  return Object.values(all).flatMap((v) => {
    const parsed = ProcessRecordSchema.safeParse(parseJson(v));
    return parsed.success ? [parsed.data] : [];
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Ends every process of a loop: each recorded group (and its session), and every process on this host
 * whose environment carries the loop's tag (daemons that left both). For the loop's end (finish and
 * teardown): nothing the loop started may outlive it. Returns how many processes were signalled.
 */
export async function endLoopProcesses(redis: Redis, prefix: string, loopId: string): Promise<number> {
  const loopTag = `${prefix}/${loopId}/`;
  const n = await endRecorded(
    redis,
    prefix,
    loopId,
    () => true,
    (tag) => tag.startsWith(loopTag),
  );
  await redis.del(procsKey(prefix, loopId));
  return n;
}

async function endRecorded(
  redis: Redis,
  prefix: string,
  loopId: string,
  pick: (r: ProcessRecord) => boolean,
  pickTag: (tag: string) => boolean,
): Promise<number> {
  const records = (await listProcessRecords(redis, prefix, loopId)).filter(pick);
  const mine = records.filter((r) => r.host === HOST);
  const victims = findProcesses(mine, pickTag);
  await killAll(victims);
  if (mine.length) await redis.hdel(procsKey(prefix, loopId), ...mine.map((r) => field(r.pid, r.start)));
  return victims.length;
}

/** Every live process on this host that belongs to one of the records (group or session) or has a picked tag. */
export function findProcesses(records: readonly ProcessRecord[], pickTag: (tag: string) => boolean): number[] {
  const me = currentWorker();
  const mySt = procStat(me.pid);
  const out: number[] = [];
  for (const name of safeReaddir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 1 || pid === me.pid) continue;
    const st = procStat(pid);
    if (!st || st.state === 'Z') continue;
    // Never our own group or session (a worker started in the foreground shares its terminal's).
    if (mySt && (st.pgid === mySt.pgid || st.sid === mySt.sid)) continue;
    // Members of a recorded group or session started no earlier than its leader. The kernel reuses a
    // group or session id only once all its members are gone, and records are ended promptly, so the
    // numbers alone are trusted here; the tag check needs no such trust.
    const inRecord = records.some((r) => (st.pgid === r.pgid || st.sid === r.sid) && st.start >= r.start);
    if (inRecord || tagMatches(pid, pickTag)) out.push(pid);
  }
  return out;
}

function tagMatches(pid: number, pickTag: (tag: string) => boolean): boolean {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return false;
  }
  const at = env.indexOf(`${PROCESS_TAG_VAR}=`);
  if (at !== 0 && (at < 0 || env[at - 1] !== '\0')) return false;
  const end = env.indexOf('\0', at);
  return pickTag(env.slice(at + PROCESS_TAG_VAR.length + 1, end < 0 ? undefined : end));
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, up to 2 s to exit, then SIGKILL for what is left. */
async function killAll(pids: readonly number[]): Promise<void> {
  if (pids.length === 0) return;
  const starts = new Map(pids.map((p) => [p, procStat(p)?.start]));
  const same = (p: number) => {
    const st = procStat(p);
    return st !== undefined && st.state !== 'Z' && st.start === starts.get(p);
  };
  for (const p of pids) signal(p, 'SIGTERM');
  for (let i = 0; i < 100 && pids.some(same); i++) await sleep(20);
  for (const p of pids) if (same(p)) signal(p, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {}
}
