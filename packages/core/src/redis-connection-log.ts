import type { Redis } from 'ioredis';
import type { Logger } from './logger.ts';

/** Error codes and messages of a connection that went away (as opposed to a command that failed). */
const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|connect ETIMEDOUT|Socket closed/i;

export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return CONNECTION_ERROR.test(`${typeof code === 'string' ? code : ''} ${err.message}`);
}

/**
 * One log line per change of Redis reachability for the whole process, however many connections it
 * holds (a worker has about twenty: its own, a duplicate per BullMQ worker and their blocking ones, the
 * cancel subscriber): `lost` at the first connection error, `still-down` at most every `repeatMs` while
 * it lasts, `reconnected` (with the outage's length and the errors folded into it) when a connection is
 * ready again. Errors of connections that reconnect a little later than the first are folded in too.
 * Every watched client has an `error` listener, so ioredis never prints "Unhandled error event" stacks.
 */
export class RedisConnectionLog {
  readonly #log: Logger;
  readonly #repeatMs: number;
  readonly #graceMs: number;
  #down: { since: number; lastLine: number; suppressed: number } | undefined;
  #upAt = 0;

  constructor(log: Logger, opts: { repeatMs?: number; graceMs?: number } = {}) {
    this.#log = log;
    this.#repeatMs = opts.repeatMs ?? 60_000;
    this.#graceMs = opts.graceMs ?? 5000;
  }

  /** Listens to a client, and to every client duplicated from it (BullMQ duplicates what it is given). */
  watch(redis: Redis, source: string): Redis {
    redis.on('error', (err: Error) => this.error(source, err));
    redis.on('ready', () => this.ready(source));
    const duplicate = redis.duplicate.bind(redis);
    redis.duplicate = (...args: Parameters<Redis['duplicate']>) => this.watch(duplicate(...args), source);
    return redis;
  }

  error(source: string, err: Error): void {
    const now = Date.now();
    if (!this.#down) {
      if (now - this.#upAt < this.#graceMs) return;
      this.#down = { since: now, lastLine: now, suppressed: 0 };
      this.#log.warn({ redis: 'lost', source, err: describe(err) }, 'redis connection lost');
      return;
    }
    if (now - this.#down.lastLine >= this.#repeatMs) {
      this.#log.warn(
        { redis: 'still-down', source, err: describe(err), downMs: now - this.#down.since, suppressed: this.#down.suppressed },
        'redis still unreachable',
      );
      this.#down.lastLine = now;
      this.#down.suppressed = 0;
      return;
    }
    this.#down.suppressed++;
  }

  ready(source: string): void {
    if (!this.#down) return;
    const now = Date.now();
    this.#log.info({ redis: 'reconnected', source, downMs: now - this.#down.since, suppressed: this.#down.suppressed }, 'redis reconnected');
    this.#down = undefined;
    this.#upAt = now;
  }
}

function describe(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err.message.slice(0, 200);
}
