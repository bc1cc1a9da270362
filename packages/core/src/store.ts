import type { Redis } from 'ioredis';
import type { CycleRecord, LoopEvent, LoopRecord, LoopState, StageName, StageRecord } from './domain.ts';
import { STAGES } from './domain.ts';

/**
 * Loop, cycle and stage records plus the event streams, in Redis under one prefix.
 *
 * Ownership keeps writes race-free without locks: the loop controller alone writes loop and cycle
 * records; each stage processor alone writes its own stage record. Cancel is a separate key (written by
 * the API) plus a pub/sub message so running stages abort at once.
 */
export class LoopStore {
  readonly redis: Redis;
  readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  key(...parts: (string | number)[]): string {
    return [this.prefix, ...parts].join(':');
  }

  get cancelChannel(): string {
    return this.key('cancel');
  }

  // ---- loops ---------------------------------------------------------------------------------------

  async createLoop(loop: LoopRecord): Promise<void> {
    await this.redis.multi().set(this.key('loop', loop.id), JSON.stringify(loop)).zadd(this.key('loops'), Date.parse(loop.createdAt), loop.id).exec();
  }

  async getLoop(id: string): Promise<LoopRecord | undefined> {
    // One round trip, no transaction: the notices list is append-only.
    const res = await this.redis
      .pipeline()
      .get(this.key('loop', id))
      .lrange(this.key('loop', id, 'notices'), 0, 49)
      .exec();
    const failed = res?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    const raw = res?.[0]?.[1] as string | null | undefined;
    if (!raw) return undefined;
    const loop = JSON.parse(raw) as LoopRecord;
    const notices = (res?.[1]?.[1] as string[] | undefined) ?? [];
    if (notices.length) loop.notices = notices;
    return loop;
  }

  async saveLoop(loop: LoopRecord): Promise<void> {
    const { notices: _notices, ...rest } = loop;
    await this.redis.set(this.key('loop', loop.id), JSON.stringify(rest));
  }

  /**
   * Things a person should know about a loop that do not change its course (a disabled Slack webhook).
   * Kept beside the loop record because they come from other jobs than the controller, its only writer.
   */
  async addNotice(loopId: string, message: string): Promise<void> {
    await this.redis.rpush(this.key('loop', loopId, 'notices'), message);
  }

  /** Newest first. `cursor` is the createdAt (ms) of the last item of the previous page. */
  async listLoops(opts: { environment?: string; state?: LoopState; limit: number; cursor?: number }): Promise<{ loops: LoopRecord[]; nextCursor?: number }> {
    const loops: LoopRecord[] = [];
    let max = opts.cursor === undefined ? '+inf' : `(${opts.cursor}`;
    let lastScore: number | undefined;
    // Page through the index in batches until the filtered page is full or the index is exhausted.
    for (;;) {
      const batch = await this.redis.zrevrangebyscore(this.key('loops'), max, '-inf', 'WITHSCORES', 'LIMIT', 0, 200);
      if (batch.length === 0) break;
      const ids: string[] = [];
      const scores: number[] = [];
      for (let i = 0; i < batch.length; i += 2) {
        ids.push(batch[i] as string);
        scores.push(Number(batch[i + 1]));
      }
      const raws = await this.redis.mget(ids.map((id) => this.key('loop', id)));
      for (let i = 0; i < raws.length; i++) {
        const raw = raws[i];
        lastScore = scores[i];
        if (!raw) continue;
        const loop = JSON.parse(raw) as LoopRecord;
        if (opts.environment && loop.environment !== opts.environment) continue;
        if (opts.state && loop.state !== opts.state) continue;
        loops.push(loop);
        if (loops.length === opts.limit) return { loops, nextCursor: scores[i] as number };
      }
      if (batch.length < 400) break;
      max = `(${lastScore}`;
    }
    return { loops };
  }

  // ---- one active loop per environment --------------------------------------------------------------

  /** Claims the environment for a loop. Returns the id of the loop already holding it, if any. */
  async claimEnvironment(environment: string, loopId: string): Promise<string | undefined> {
    const ok = await this.redis.set(this.key('active', environment), loopId, 'NX');
    if (ok === 'OK') return undefined;
    return (await this.redis.get(this.key('active', environment))) ?? undefined;
  }

  async activeLoop(environment: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('active', environment))) ?? undefined;
  }

  /** Releases the claim only if this loop still holds it. */
  async releaseEnvironment(environment: string, loopId: string): Promise<void> {
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      this.key('active', environment),
      loopId,
    );
  }

  // ---- cycles and stages ------------------------------------------------------------------------------

  async saveCycle(cycle: CycleRecord): Promise<void> {
    const { stages: _stages, ...rest } = cycle;
    await this.redis.set(this.key('loop', cycle.loopId, 'cycle', cycle.n), JSON.stringify(rest));
  }

  async getCycle(loopId: string, n: number): Promise<CycleRecord | undefined> {
    const keys = [this.key('loop', loopId, 'cycle', n), ...STAGES.map((s) => this.key('loop', loopId, 'cycle', n, 'stage', s))];
    const [raw, ...stageRaws] = await this.redis.mget(keys);
    if (!raw) return undefined;
    const cycle = { ...(JSON.parse(raw) as Omit<CycleRecord, 'stages'>), stages: {} } as CycleRecord;
    stageRaws.forEach((s, i) => {
      if (s) cycle.stages[STAGES[i] as StageName] = JSON.parse(s) as StageRecord;
    });
    return cycle;
  }

  async listCycles(loopId: string, upTo: number): Promise<CycleRecord[]> {
    const out: CycleRecord[] = [];
    for (let n = 1; n <= upTo; n++) {
      const c = await this.getCycle(loopId, n);
      if (c) out.push(c);
    }
    return out;
  }

  async getStage<R = unknown>(loopId: string, n: number, stage: StageName): Promise<StageRecord<R> | undefined> {
    const raw = await this.redis.get(this.key('loop', loopId, 'cycle', n, 'stage', stage));
    return raw ? (JSON.parse(raw) as StageRecord<R>) : undefined;
  }

  async saveStage(loopId: string, n: number, record: StageRecord): Promise<void> {
    await this.redis.set(this.key('loop', loopId, 'cycle', n, 'stage', record.stage), JSON.stringify(record));
  }

  /** Small per-cycle scratch values (e.g. the pid of a running test process), for idempotent retries. */
  async setMarker(loopId: string, n: number, name: string, value: string): Promise<void> {
    await this.redis.set(this.key('loop', loopId, 'cycle', n, 'marker', name), value, 'EX', 7 * 86400);
  }

  async getMarker(loopId: string, n: number, name: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('loop', loopId, 'cycle', n, 'marker', name))) ?? undefined;
  }

  // ---- cancel ------------------------------------------------------------------------------------------

  async requestCancel(loopId: string): Promise<void> {
    await this.redis.set(this.key('loop', loopId, 'cancel'), '1');
    await this.redis.publish(this.cancelChannel, loopId);
  }

  async isCancelRequested(loopId: string): Promise<boolean> {
    return (await this.redis.exists(this.key('loop', loopId, 'cancel'))) === 1;
  }

  // ---- events ------------------------------------------------------------------------------------------

  /** Appends to the loop's stream and the all-loops stream (both capped). Returns the loop stream id. */
  async emit(event: Omit<LoopEvent, 'id' | 'time'> & { time?: string }): Promise<string> {
    const full: LoopEvent = { ...event, time: event.time ?? new Date().toISOString() };
    const body = JSON.stringify(full);
    const res = await this.redis
      .multi()
      .xadd(this.key('events', event.loopId), 'MAXLEN', '~', '5000', '*', 'e', body)
      .xadd(this.key('events'), 'MAXLEN', '~', '20000', '*', 'e', body)
      .exec();
    return String(res?.[0]?.[1] ?? '');
  }

  /**
   * Events after `afterId` ("0" for all). With `blockMs`, waits up to that long for new ones; use a
   * dedicated connection for blocking reads.
   */
  async readEvents(loopId: string | undefined, afterId: string, opts: { blockMs?: number; count?: number; redis?: Redis } = {}): Promise<LoopEvent[]> {
    const key = loopId ? this.key('events', loopId) : this.key('events');
    const conn = opts.redis ?? this.redis;
    const count = opts.count ?? 500;
    const res = (
      opts.blockMs !== undefined
        ? await conn.xread('COUNT', count, 'BLOCK', opts.blockMs, 'STREAMS', key, afterId)
        : await conn.xread('COUNT', count, 'STREAMS', key, afterId)
    ) as [string, [string, string[]][]][] | null;
    if (!res) return [];
    const entries = res[0]?.[1] ?? [];
    return entries.map(([id, fields]) => ({ ...(JSON.parse(fields[1] as string) as LoopEvent), id }));
  }

  /** Deletes every key under this prefix (tests). */
  async clearAll(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await this.redis.del(...keys);
    } while (cursor !== '0');
  }
}
