import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

/** greenloop's version, from packages/core/package.json: what a worker reports in the registry. */
export const GREENLOOP_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** A job a worker is running right now. */
export interface WorkerJob {
  queue: string;
  id: string;
  name: string;
  /** The loop it belongs to, when the payload names one. */
  loopId?: string;
  startedAt: string;
}

/** One live worker process as the registry holds it (rewritten on every heartbeat). */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: string;
  lastSeen: string;
  /** Parallel jobs per queue this process takes. */
  capacity: Record<string, number>;
  jobs: WorkerJob[];
  /** Where it publishes evidence (`local:/…`, `gs://bucket/prefix/`). */
  artifacts: string;
  /**
   * Features of the record layout this worker understands (e.g. `projects`: LoopRecord.source). Absent in
   * entries of workers older than the field: the API refuses work they would get wrong while one is live.
   */
  capabilities?: string[];
}

/** Heartbeat period; an entry lives three of them, so a worker that died drops out within ~45 s. Jobs starting and ending are written at once. */
export const WORKER_HEARTBEAT_MS = 15_000;

const indexKey = (prefix: string) => `${prefix}:workers`;
const entryKey = (prefix: string, id: string) => `${prefix}:worker:${id}`;

export interface WorkerRegistration {
  readonly id: string;
  jobStarted(job: WorkerJob): void;
  jobEnded(queue: string, id: string): void;
  /** Writes the entry now (also done every heartbeat). */
  beat(): Promise<void>;
  /** Removes the entry (graceful shutdown); a crashed worker's entry expires instead. */
  stop(): Promise<void>;
}

/**
 * Registers this worker process in Redis (`<prefix>:worker:<id>`, a JSON entry with a TTL of three
 * heartbeats, indexed in `<prefix>:workers`) and keeps it fresh: version, capacity and the jobs it runs.
 * The API lists the registry at /v1/workers and in /metrics; nothing schedules work by it (BullMQ does).
 */
export function registerWorker(
  redis: Redis,
  prefix: string,
  info: Pick<WorkerInfo, 'capacity' | 'artifacts'> & { id?: string; version?: string; capabilities?: string[] },
  heartbeatMs = WORKER_HEARTBEAT_MS,
): WorkerRegistration {
  const id = info.id ?? newWorkerId();
  const startedAt = new Date().toISOString();
  const jobs = new Map<string, WorkerJob>();
  const entry = (): WorkerInfo => ({
    id,
    host: hostname(),
    pid: process.pid,
    version: info.version ?? GREENLOOP_VERSION,
    startedAt,
    lastSeen: new Date().toISOString(),
    capacity: info.capacity,
    jobs: [...jobs.values()],
    artifacts: info.artifacts,
    capabilities: info.capabilities ?? [],
  });
  let stopped = false;
  const beat = async () => {
    if (stopped) return;
    await redis
      .multi()
      .set(entryKey(prefix, id), JSON.stringify(entry()), 'PX', heartbeatMs * 3)
      .zadd(indexKey(prefix), Date.now(), id)
      .exec();
  };
  const timer = setInterval(() => void beat().catch(() => undefined), heartbeatMs);
  timer.unref();
  void beat().catch(() => undefined);
  // A job starting or ending is written within half a second (one write for a burst), not at the next beat.
  let soon: NodeJS.Timeout | undefined;
  const beatSoon = () => {
    soon ??= setTimeout(() => {
      soon = undefined;
      void beat().catch(() => undefined);
    }, 500).unref();
  };
  return {
    id,
    jobStarted: (job) => {
      jobs.set(`${job.queue}:${job.id}`, job);
      beatSoon();
    },
    jobEnded: (queue, jobId) => {
      jobs.delete(`${queue}:${jobId}`);
      beatSoon();
    },
    beat,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      if (soon) clearTimeout(soon);
      await redis.multi().del(entryKey(prefix, id)).zrem(indexKey(prefix), id).exec();
    },
  };
}

/** A new worker's registry id: host, pid and start time (never reused, so neither is its pinned queues' name). */
export function newWorkerId(): string {
  return `${hostname()}-${process.pid}-${Date.now().toString(36)}`;
}

/** Whether `id` is registered: its entry expires three heartbeats after its last one, and is removed on shutdown. */
export async function isWorkerLive(redis: Redis, prefix: string, id: string): Promise<boolean> {
  return (await redis.exists(entryKey(prefix, id))) === 1;
}

/** The live workers, oldest first; entries whose TTL ran out (a worker that died) are dropped from the index. */
export async function listWorkers(redis: Redis, prefix: string): Promise<WorkerInfo[]> {
  const ids = await redis.zrange(indexKey(prefix), 0, -1);
  if (!ids.length) return [];
  const raw = await redis.mget(ids.map((id) => entryKey(prefix, id)));
  const gone = ids.filter((_, i) => raw[i] === null);
  if (gone.length) await redis.zrem(indexKey(prefix), ...gone);
  const out: WorkerInfo[] = [];
  for (const r of raw) {
    if (r === null || r === undefined) continue;
    try {
      out.push(JSON.parse(r) as WorkerInfo);
    } catch {
      // A malformed entry (someone else's key) is skipped, not served.
    }
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
