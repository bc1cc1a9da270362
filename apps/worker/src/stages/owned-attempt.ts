import { randomBytes } from 'node:crypto';
import { currentWorker, GreenloopError, isRetryable, type Logger, ownerAlive, ProcessIdentitySchema, ProcessRecorder, type Redis } from '@greenloop/core';
import { z } from 'zod';

/**
 * The attempt of a stage currently in flight, or the output of the one that finished, as stored. The
 * output is parsed apart, against the schema of the stage that wrote it (OwnedAttemptOptions.output).
 */
const AttemptRecordSchema = z.object({
  attempt: z.string(),
  worker: ProcessIdentitySchema,
  startedAt: z.string(),
  done: z.object({ output: z.unknown(), at: z.string() }).optional(),
  /** A permanent failure: a retry that waited for this attempt fails the same way instead of running again. */
  failed: z
    .object({ code: z.string(), message: z.string(), hint: z.string().optional(), details: z.record(z.string(), z.unknown()).optional(), at: z.string() })
    .optional(),
});
type AttemptRecord = z.output<typeof AttemptRecordSchema>;

export interface OwnedAttemptOptions<R> {
  redis: Redis;
  prefix: string;
  loopId: string;
  cycle: number;
  /** The stage, or `fix:<fingerprint>` for one fixer. */
  stage: string;
  /** How long to wait for a live owner's attempt before ending it anyway (its own timeout and then some). */
  maxWaitMs: number;
  signal: AbortSignal;
  log: Logger;
  /** Poll interval while waiting for a live owner (tests shorten it). */
  pollMs?: number;
  /** The schema of what the attempt returns: an adopted output is parsed with it (it may come from another greenloop version). */
  output: z.ZodType<R>;
}

const attemptsKey = (prefix: string, loopId: string) => `${prefix}:loop:${loopId}:attempts`;
const ATTEMPTS_TTL_S = 14 * 86400;

// Compare-and-set: only the attempt that holds the field may mark it done or clear it.
const SET_IF_MINE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).attempt ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one attempt of a stage so that a retry never kills, nor repeats, a run that is still owned:
 * - an earlier attempt that finished (its output kept here) is adopted: the retry returns that output,
 *   or fails with that attempt's permanent error;
 * - an earlier attempt whose worker is alive (it lost its BullMQ lock during a Redis outage but its child
 *   runs on) is waited for, then adopted — up to `maxWaitMs`, after which it is given up and ended;
 * - an earlier attempt whose worker is dead is ended by record (its process groups, sessions and tagged
 *   descendants), then this attempt runs.
 * `fn` gets the recorder its children are recorded with.
 */
export async function runOwnedAttempt<R>(opts: OwnedAttemptOptions<R>, fn: (procs: ProcessRecorder) => Promise<NoInfer<R>>): Promise<R> {
  const { redis, prefix, loopId, cycle, stage, log } = opts;
  const key = attemptsKey(prefix, loopId);
  const fieldName = `${cycle}:${stage}`;
  const attempt = randomBytes(6).toString('hex');
  const procs = new ProcessRecorder(redis, prefix, { loopId, cycle, stage, attempt });
  const waitUntil = Date.now() + opts.maxWaitMs;
  let announced = false;

  for (;;) {
    const earlier = readAttempt(await redis.hget(key, fieldName), `${stage} of loop ${loopId} cycle ${cycle}`);
    if (earlier?.done) {
      log.info({ loopId, cycle, stage, attempt: earlier.attempt }, 'adopting the result of an earlier attempt of this stage');
      return parseAdopted(opts.output, earlier.done.output, `${stage} of loop ${loopId} cycle ${cycle}`);
    }
    if (earlier?.failed) {
      const f = earlier.failed;
      throw new GreenloopError(f.code, f.message, { ...(f.hint ? { hint: f.hint } : {}), ...(f.details ? { details: f.details } : {}) });
    }
    if (!earlier || !ownerAlive(earlier.worker)) break;
    if (Date.now() > waitUntil) {
      log.warn({ loopId, cycle, stage, attempt: earlier.attempt, worker: earlier.worker }, 'giving up on an earlier attempt still owned by a live worker');
      break;
    }
    if (opts.signal.aborted) throw new GreenloopError('CANCELLED', `${stage} cancelled while an earlier attempt ran`, { retryable: true });
    if (!announced) {
      announced = true;
      log.info(
        { loopId, cycle, stage, attempt: earlier.attempt, worker: earlier.worker },
        'an earlier attempt is still running under a live worker; waiting for its result',
      );
    }
    await sleep(opts.pollMs ?? 500);
  }

  const ended = await procs.endEarlierAttempts();
  if (ended) log.warn({ loopId, cycle, stage, processes: ended }, 'ended the processes an earlier attempt of this stage left');

  const mine: AttemptRecord = { attempt, worker: currentWorker(), startedAt: new Date().toISOString() };
  await redis.multi().hset(key, fieldName, JSON.stringify(mine)).expire(key, ATTEMPTS_TTL_S).exec();
  let output: R;
  try {
    output = await fn(procs);
  } catch (err) {
    // A transient failure frees the stage for the next attempt; a permanent one is kept for a retry that
    // may be waiting on this attempt (it must not run the stage a second time).
    const failed: AttemptRecord | undefined =
      err instanceof GreenloopError && !isRetryable(err)
        ? {
            ...mine,
            failed: {
              code: err.code,
              message: err.message,
              ...(err.hint ? { hint: err.hint } : {}),
              ...(err.details ? { details: err.details } : {}),
              at: new Date().toISOString(),
            },
          }
        : undefined;
    await redis.eval(SET_IF_MINE, 1, key, fieldName, attempt, failed ? JSON.stringify(failed) : '').catch(() => undefined);
    throw err;
  }
  const done: AttemptRecord = { ...mine, done: { output, at: new Date().toISOString() } };
  await redis.eval(SET_IF_MINE, 1, key, fieldName, attempt, JSON.stringify(done));
  return output;
}

function readAttempt(raw: string | null, what: string): AttemptRecord | undefined {
  if (!raw) return undefined;
  const parsed = AttemptRecordSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw invalidAttempt(what, z.prettifyError(parsed.error));
  return parsed.data;
}

/** An earlier attempt's output, parsed: a value that does not match the stage's schema is an error, not a cast. */
function parseAdopted<R>(schema: z.ZodType<R>, output: unknown, what: string): R {
  const parsed = schema.safeParse(output);
  if (!parsed.success) throw invalidAttempt(what, z.prettifyError(parsed.error));
  return parsed.data;
}

function invalidAttempt(what: string, issues: string): GreenloopError {
  return new GreenloopError('STAGE_RECORD_INVALID', `the recorded attempt of ${what} does not match its schema: ${issues}`, {
    hint: 'the record was written by another greenloop version or edited by hand; rerun the loop',
  });
}

/**
 * Forgets every attempt record of cycle `cycle` (its worker is gone and the cycle runs again on another):
 * a record another machine's worker left counts as alive from here and would be waited for.
 */
export async function forgetAttempts(redis: Redis, prefix: string, loopId: string, cycle: number): Promise<void> {
  const key = attemptsKey(prefix, loopId);
  const fields = (await redis.hkeys(key)).filter((f) => f.startsWith(`${cycle}:`));
  if (fields.length) await redis.hdel(key, ...fields);
}
