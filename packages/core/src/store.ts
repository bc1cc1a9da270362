import type { Redis } from 'ioredis';
import type { CycleRecord, LoopEvent, LoopRecord, LoopState, StageName, StageRecord } from './domain.ts';
import { STAGES } from './domain.ts';
import { type ClaimOutcome, EnvironmentClaims } from './environment-claim.ts';
import { GreenloopError } from './errors.ts';
import { redact, redactDeep } from './redact.ts';
import { type FixResult, FixResultSchema } from './stage-results.ts';
import { parseStageRecord, putStageRecord, type StageResult } from './stages.ts';

/**
 * Every record of a loop as stored: the loop's hash (see LoopStore), field → JSON. What GET /v1/loops/:id
 * needs, read in one command; the API can forward the strings without rebuilding the records.
 */
export type LoopFields = Record<string, string>;

/** Field names of a loop's hash. */
export const LOOP_FIELD = 'loop';
export const cycleField = (n: number | string) => `cycle:${n}`;
export const stageField = (n: number | string, stage: StageName) => `stage:${n}:${stage}`;
export const NOTICE_FIELD_PREFIX = 'notice:';

// KEYS: loop hash, result key. ARGV: stage field, record JSON, has result (0/1), result JSON, writer's worker ('' = any).
const SAVE_STAGE = `
if ARGV[5] ~= '' then
  local loop = redis.call('hget', KEYS[1], 'loop')
  if loop and cjson.decode(loop).worker ~= ARGV[5] then return 0 end
end
local cur = redis.call('hget', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).status ~= 'running' then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then redis.call('set', KEYS[2], ARGV[4]) else redis.call('del', KEYS[2]) end
return 1
`;

/** The values of a pipeline or transaction, or the first error it reported. */
export function pipelineValues(res: [Error | null, unknown][] | null): unknown[] {
  if (!res) throw new Error('redis transaction aborted');
  return res.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** The loop record of a loop's hash, with its notices (oldest first, at most the newest 50). */
export function loopFromFields(fields: LoopFields): LoopRecord {
  const loop = JSON.parse(fields[LOOP_FIELD] as string) as LoopRecord;
  const notices = noticesOf(fields);
  if (notices.length) loop.notices = notices;
  return loop;
}

/** A loop hash's notices, oldest first, at most the newest 50. */
export function noticesOf(fields: LoopFields): string[] {
  const names = Object.keys(fields).filter((f) => f.startsWith(NOTICE_FIELD_PREFIX));
  if (names.length === 0) return [];
  return names
    .sort()
    .slice(-50)
    .map((f) => fields[f] as string);
}

/** Cycle number → that cycle's records from a loop's hash: the cycle (JSON) and its stages (name → JSON). */
export function cyclesOf(fields: LoopFields): Map<number, { cycle: string; stages: Map<StageName, string> }> {
  const out = new Map<number, { cycle: string; stages: Map<StageName, string> }>();
  const entry = (n: number) => {
    let e = out.get(n);
    if (!e) {
      e = { cycle: '', stages: new Map() };
      out.set(n, e);
    }
    return e;
  };
  for (const field in fields) {
    if (field.startsWith('cycle:')) entry(Number(field.slice(6))).cycle = fields[field] as string;
    else if (field.startsWith('stage:')) {
      const colon = field.indexOf(':', 6);
      entry(Number(field.slice(6, colon))).stages.set(field.slice(colon + 1) as StageName, fields[field] as string);
    }
  }
  for (const [n, e] of out) if (!e.cycle) out.delete(n);
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/**
 * Loop, cycle and stage records plus the event streams, in Redis under one prefix.
 *
 * A loop's records share one hash, `loop:<id>`, so everything a status view shows is a single HGETALL
 * (status views are polled by dashboards, CLIs and CI jobs, and each extra command costs the API
 * throughput):
 *   loop                 the loop record (without notices)
 *   cycle:<n>            a cycle record (without its stages and failing tests, with hasReport)
 *   stage:<n>:<stage>    a stage record (without its result)
 *   notice:<time>:<rand> a notice
 * Stage results, which can be large (an analyze result carries every cluster and dossier), live apart
 * under `loop:<id>:result:<n>:<stage>`, as do the failing test lists (`loop:<id>:failing:<n>`), and
 * are read only by who needs them. Each field is stored as the loop view shows it, so the API can
 * answer with the stored strings (see loopViewJson in the API).
 *
 * Ownership keeps writes race-free without locks: each field has one writer. The loop controller alone
 * writes the loop and cycle fields; each stage processor alone writes its own stage field and result;
 * notices are added, never rewritten. Cancel is a separate key (written by the API) plus a pub/sub
 * message so running stages abort at once.
 */
export class LoopStore {
  readonly redis: Redis;
  readonly prefix: string;
  /** Connection for hot read paths (the loop view); the API passes an auto-pipelining, tracked one. */
  readonly reads: Redis;

  readonly claims: EnvironmentClaims;

  constructor(redis: Redis, prefix: string, opts: { reads?: Redis; claimLeaseMs?: number } = {}) {
    this.redis = redis;
    this.prefix = prefix;
    this.reads = opts.reads ?? redis;
    this.claims = new EnvironmentClaims(redis, (...parts) => this.key(...parts), opts.claimLeaseMs);
  }

  key(...parts: (string | number)[]): string {
    return [this.prefix, ...parts].join(':');
  }

  get cancelChannel(): string {
    return this.key('cancel');
  }

  // ---- loops ---------------------------------------------------------------------------------------

  async createLoop(loop: LoopRecord): Promise<void> {
    const { notices: _notices, ...rest } = loop;
    pipelineValues(
      await this.redis
        .multi()
        .hset(this.key('loop', loop.id), LOOP_FIELD, JSON.stringify(rest))
        .zadd(this.key('loops'), Date.parse(loop.createdAt), loop.id)
        .exec(),
    );
  }

  /** Every field of the loop's hash in one command, or undefined when there is no such loop. */
  async getLoopFields(id: string): Promise<LoopFields | undefined> {
    const fields = await this.reads.hgetall(this.key('loop', id));
    return fields[LOOP_FIELD] === undefined ? undefined : fields;
  }

  async getLoop(id: string): Promise<LoopRecord | undefined> {
    const fields = await this.getLoopFields(id);
    return fields && loopFromFields(fields);
  }

  /** Loop records (without notices) by id, in order; missing ones are left out. */
  async getLoops(ids: string[]): Promise<LoopRecord[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.key('loop', id), LOOP_FIELD);
    const raws = pipelineValues(await pipeline.exec()) as (string | null)[];
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as LoopRecord);
  }

  async saveLoop(loop: LoopRecord): Promise<void> {
    const { notices: _notices, ...rest } = loop;
    await this.redis.hset(this.key('loop', loop.id), LOOP_FIELD, JSON.stringify(rest));
  }

  /**
   * Things a person should know about a loop that do not change its course (a disabled Slack webhook).
   * They come from other jobs than the controller, so each is a field of its own: no read-modify-write.
   */
  async addNotice(loopId: string, message: string): Promise<void> {
    const field = `${NOTICE_FIELD_PREFIX}${String(Date.now()).padStart(15, '0')}:${Math.random().toString(36).slice(2, 8)}`;
    await this.redis.hset(this.key('loop', loopId), field, redact(message));
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
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hget(this.key('loop', id), LOOP_FIELD);
      const raws = pipelineValues(await pipeline.exec()) as (string | null)[];
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

  // ---- one active loop per environment (see environment-claim.ts) ------------------------------------

  /** Claims the environment for a loop, atomically: takes it, or says which loop holds it. */
  async claimEnvironment(environment: string, loopId: string): Promise<ClaimOutcome> {
    return await this.claims.claim(environment, loopId);
  }

  /** Extends a live loop's lease (or takes the environment back if nobody holds it). */
  async renewClaim(environment: string, loopId: string): Promise<ClaimOutcome> {
    return await this.claims.renew(environment, loopId);
  }

  async activeLoop(environment: string): Promise<string | undefined> {
    return await this.claims.holder(environment);
  }

  /** Releases the claim only if this loop still holds it. */
  async releaseEnvironment(environment: string, loopId: string): Promise<void> {
    await this.claims.release(environment, loopId);
  }

  // ---- cycles and stages ------------------------------------------------------------------------------

  /**
   * Stored as the loop view shows it: without stages, without the failing test list (it can be long;
   * it has a key of its own), with `hasReport`.
   */
  async saveCycle(cycle: CycleRecord): Promise<void> {
    const { stages: _stages, failingTests, ...rest } = cycle;
    const summary = { ...rest, hasReport: rest.report !== undefined };
    const tx = this.redis.multi().hset(this.key('loop', cycle.loopId), cycleField(cycle.n), JSON.stringify(summary));
    if (failingTests === undefined) tx.del(this.failingKey(cycle.loopId, cycle.n));
    else tx.set(this.failingKey(cycle.loopId, cycle.n), JSON.stringify(failingTests));
    pipelineValues(await tx.exec());
  }

  /** A cycle with its stage records, results included, each parsed against the stage table. */
  async getCycle(loopId: string, n: number): Promise<CycleRecord | undefined> {
    const res = await this.redis
      .pipeline()
      .hmget(this.key('loop', loopId), cycleField(n), ...STAGES.map((s) => stageField(n, s)))
      .mget(this.failingKey(loopId, n), ...STAGES.map((s) => this.resultKey(loopId, n, s)))
      .exec();
    const [[raw, ...stageRaws], [failing, ...resultRaws]] = pipelineValues(res) as [(string | null)[], (string | null)[]];
    if (!raw) return undefined;
    const { hasReport: _hasReport, ...stored } = JSON.parse(raw) as Omit<CycleRecord, 'stages'> & { hasReport?: boolean };
    const cycle: CycleRecord = { ...stored, stages: {} };
    if (failing) cycle.failingTests = JSON.parse(failing) as string[];
    const put = <S extends StageName>(stage: S, record: string | null | undefined, result: string | null | undefined) => {
      if (record) putStageRecord(cycle.stages, stage, this.parseStage(loopId, n, stage, record, result));
    };
    STAGES.forEach((stage, i) => {
      put(stage, stageRaws[i], resultRaws[i]);
    });
    return cycle;
  }

  /** A stage record with its result, parsed and typed by the stage table; an invalid record throws. */
  async getStage<S extends StageName>(loopId: string, n: number, stage: S): Promise<StageRecord<StageResult<S>> | undefined> {
    const res = await this.redis
      .pipeline()
      .hget(this.key('loop', loopId), stageField(n, stage))
      .get(this.resultKey(loopId, n, stage))
      .exec();
    const [raw, result] = pipelineValues(res) as [string | null, string | null];
    return raw ? this.parseStage(loopId, n, stage, raw, result) : undefined;
  }

  private parseStage<S extends StageName>(loopId: string, n: number, stage: S, raw: string, result: string | null | undefined): StageRecord<StageResult<S>> {
    return parseStageRecord(stage, `loop ${loopId} cycle ${n}`, JSON.parse(raw), result ? JSON.parse(result) : undefined);
  }

  /**
   * Writes a stage record unless a terminal one is already stored: the first final word on a stage
   * stands, so an attempt that outlived its loop (a lost lock, a closed stage) cannot rewrite it. With
   * `worker` (separate disks), only while the loop is pinned to that worker: a worker taken for dead whose
   * job still ran cannot write into the cycle another worker redeploys. Returns whether the record was written.
   */
  async saveStage(loopId: string, n: number, record: StageRecord, opts: { worker?: string } = {}): Promise<boolean> {
    const { result, ...summary } = record;
    const written = await this.redis.eval(
      SAVE_STAGE,
      2,
      this.key('loop', loopId),
      this.resultKey(loopId, n, record.stage),
      stageField(n, record.stage),
      JSON.stringify(summary),
      result === undefined ? '0' : '1',
      result === undefined ? '' : JSON.stringify(result),
      opts.worker ?? '',
    );
    return written === 1;
  }

  private resultKey(loopId: string, n: number, stage: StageName): string {
    return this.key('loop', loopId, 'result', n, stage);
  }

  private failingKey(loopId: string, n: number): string {
    return this.key('loop', loopId, 'failing', n);
  }

  /**
   * Starts cycle `cycle.n` over: its stage records and results, failing tests and fix outcomes are
   * dropped and the cycle record is replaced (GREENLOOP_WORKER_DISKS=separate: the worker that ran it is
   * gone with its evidence, so the cycle is redeployed on another). Only the controller calls it.
   */
  async resetCycle(cycle: CycleRecord): Promise<void> {
    const { loopId, n } = cycle;
    const outcomes: string[] = [];
    for (const kind of ['fix-outcome', 'redo-outcome']) {
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.key('loop', loopId, kind, n, '*'), 'COUNT', 200);
        cursor = next;
        outcomes.push(...keys);
      } while (cursor !== '0');
    }
    const tx = this.redis
      .multi()
      .hdel(this.key('loop', loopId), ...STAGES.map((s) => stageField(n, s)))
      .del(...STAGES.map((s) => this.resultKey(loopId, n, s)), ...outcomes);
    pipelineValues(await tx.exec());
    await this.saveCycle(cycle);
  }

  /** One fixer's outcome for one cluster of a cycle; written by that cluster's `stage.fix` job only. */
  async putFixOutcome(loopId: string, n: number, outcome: FixResult): Promise<void> {
    await this.redis.set(this.fixOutcomeKey(loopId, n, outcome.fingerprint), JSON.stringify(FixResultSchema.parse(outcome)));
  }

  /** The recorded outcome of a cluster's fixer, parsed; undefined while none is recorded. */
  async getFixOutcome(loopId: string, n: number, fingerprint: string): Promise<FixResult | undefined> {
    const [raw, legacy] = await this.redis.mget(
      this.fixOutcomeKey(loopId, n, fingerprint),
      // Written as a "marker" before fix outcomes had a key of their own (loops running across the upgrade).
      this.key('loop', loopId, 'cycle', n, 'marker', `fix:${fingerprint}`),
    );
    return parseFixOutcome(raw ?? legacy, `the fix outcome of ${fingerprint} in loop ${loopId} cycle ${n}`);
  }

  private fixOutcomeKey(loopId: string, n: number, fingerprint: string): string {
    return this.key('loop', loopId, 'fix-outcome', n, fingerprint);
  }

  /**
   * The outcome of re-doing an accepted fix whose pick conflicted (integrate's re-do), kept apart from
   * the fixer's first outcome, which the integrate stage still reads; a retried integrate replays it.
   */
  async putRedoOutcome(loopId: string, n: number, outcome: FixResult): Promise<void> {
    await this.redis.set(this.key('loop', loopId, 'redo-outcome', n, outcome.fingerprint), JSON.stringify(FixResultSchema.parse(outcome)));
  }

  async getRedoOutcome(loopId: string, n: number, fingerprint: string): Promise<FixResult | undefined> {
    const [raw, legacy] = await this.redis.mget(
      this.key('loop', loopId, 'redo-outcome', n, fingerprint),
      // Written as a "marker" before re-done fixes had a key of their own (loops running across the upgrade).
      this.key('loop', loopId, 'cycle', n, 'marker', `redo:${fingerprint}`),
    );
    return parseFixOutcome(raw ?? legacy, `the re-done fix outcome of ${fingerprint} in loop ${loopId} cycle ${n}`);
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
    // Events reach every viewer's SSE stream: the one redactor sits here, where they leave the worker.
    const full: LoopEvent = redactDeep({ ...event, time: event.time ?? new Date().toISOString() });
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

/** A stored fix outcome, parsed; an outcome that does not match the schema is an error, not a cast. */
function parseFixOutcome(text: string | null | undefined, what: string): FixResult | undefined {
  if (!text) return undefined;
  const parsed = FixResultSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new GreenloopError('STAGE_RECORD_INVALID', `${what} does not match its schema`);
  return parsed.data;
}
