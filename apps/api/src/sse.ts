import { once } from 'node:events';
import type { LoopEvent, LoopStore } from '@greenloop/core';
import { waitReady } from '@greenloop/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from './errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    eventStreams: { options: SseOptions; slots: StreamSlots };
  }
}

export interface SseOptions {
  /** A comment line is sent after this long without events, so proxies keep the connection open. */
  heartbeatMs: number;
  /** Open streams per API process; each holds its own Redis connection. */
  maxClients: number;
  /** Open streams per token (per API process), so one viewer cannot take every slot. */
  maxPerToken: number;
}

/**
 * Counts open streams so one process cannot be made to open unbounded Redis connections, and ends them
 * all when the app closes (an endless stream would otherwise keep `close()` waiting for the client).
 */
export class StreamSlots {
  readonly limit: number;
  readonly perToken: number;
  open = 0;
  private readonly byToken = new Map<string, number>();
  private readonly enders = new Set<() => void>();

  constructor(limit: number, perToken = 10) {
    this.limit = limit;
    this.perToken = perToken;
  }

  /** Takes a slot for `token` (a token id); throws 429 when the token holds its share, 503 when all are taken. */
  acquire(token: string): void {
    const mine = this.byToken.get(token) ?? 0;
    if (mine >= this.perToken) throw apiError('TOO_MANY_STREAMS_FOR_TOKEN', { limit: this.perToken });
    if (this.open >= this.limit) throw apiError('TOO_MANY_STREAMS', { limit: this.limit });
    this.open++;
    this.byToken.set(token, mine + 1);
  }

  release(token: string): void {
    this.open = Math.max(0, this.open - 1);
    const mine = (this.byToken.get(token) ?? 1) - 1;
    if (mine > 0) this.byToken.set(token, mine);
    else this.byToken.delete(token);
  }

  /** Registers how to end one stream; returns the unregister function. */
  track(end: () => void): () => void {
    this.enders.add(end);
    return () => this.enders.delete(end);
  }

  endAll(): void {
    for (const end of this.enders) end();
  }
}

/** The resume point: Last-Event-ID header (what EventSource sends on reconnect) or ?lastEventId=. */
export function lastEventIdOf(request: FastifyRequest<{ Querystring: { lastEventId?: string } }>): string | undefined {
  const header = request.headers['last-event-id'];
  const value = (Array.isArray(header) ? header[0] : header) ?? request.query.lastEventId;
  if (value === undefined || value === '') return undefined;
  if (!/^(0|[0-9]{1,15}-[0-9]{1,10})$/.test(value)) {
    throw apiError('VALIDATION', {
      message: `Last-Event-ID: ${JSON.stringify(value.slice(0, 64))} is not an event id (expected "<ms>-<seq>" as sent in the stream's id: lines)`,
    });
  }
  return value;
}

function frame(e: LoopEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** The Redis client name of an event stream's connection. */
export function sseConnectionName(prefix: string): string {
  return `${prefix}:event-stream`;
}

/**
 * Streams a loop's events (or every loop's) as Server-Sent Events from the Redis stream, starting after
 * `afterId`. Each client gets its own duplicated Redis connection for the blocking XREAD: a blocked
 * connection cannot serve anyone else. The stream ends when the client goes, or (per-loop streams)
 * after `loop.finished`, or when `isFinished` says the loop is over and nothing more is coming.
 */
export async function streamEvents(opts: {
  request: FastifyRequest;
  reply: FastifyReply;
  store: LoopStore;
  loopId?: string;
  afterId: string;
  sse: SseOptions;
  slots: StreamSlots;
  isFinished?: () => Promise<boolean>;
}): Promise<void> {
  const { request, reply, store, loopId, sse, slots } = opts;
  // HEAD: the headers a GET would get, no stream (fastify's automatic HEAD route would otherwise hang).
  if (request.method === 'HEAD') {
    reply.code(200).header('cache-control', 'no-cache, no-transform').type('text/event-stream; charset=utf-8').send();
    return;
  }
  const holder = request.principal?.id ?? `ip:${request.ip}`;
  slots.acquire(holder);
  // Named for the install, so `CLIENT LIST` shows which connections are event streams (and tests on a
  // shared Redis can count their own).
  const conn = store.redis.duplicate({ connectionName: sseConnectionName(store.prefix) });
  conn.on('error', (err) => request.log.debug({ err, reqId: request.id }, 'event stream redis connection error'));
  try {
    await waitReady(conn, 'event stream connection', 5000);
  } catch (err) {
    conn.disconnect();
    slots.release(holder);
    throw err;
  }

  reply.hijack();
  const res = reply.raw;
  let closed = false;
  const onClose = () => {
    closed = true;
    // Rejects the pending blocking XREAD at once instead of waiting out the block timeout.
    conn.disconnect();
  };
  res.on('close', onClose);
  const untrack = slots.track(() => {
    onClose();
    if (!res.writableEnded) res.end();
  });
  res.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const write = async (chunk: string) => {
    // Respect backpressure: a slow client must not make us buffer the whole stream in memory.
    if (!res.write(chunk) && !closed) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };

  let last = opts.afterId;
  try {
    await write('retry: 3000\n\n');
    // The first read does not block, so a finished loop whose events were all seen ends at once.
    let block = false;
    // The worker records the final state a moment before it appends loop.finished: a finished loop gets one
    // short last wait, so the closing event is not lost to that race.
    let grace = false;
    while (!closed) {
      const blockMs = grace ? 1000 : sse.heartbeatMs;
      const events = await store.readEvents(loopId, last, block ? { blockMs, redis: conn, count: 200 } : { redis: conn, count: 200 });
      if (closed) break;
      if (events.length === 0) {
        if (opts.isFinished && (await opts.isFinished())) {
          if (grace || !loopId) break;
          grace = true;
          block = true;
          continue;
        }
        if (block) await write(': keep-alive\n\n');
        block = true;
        continue;
      }
      let finished = false;
      for (const e of events) {
        await write(frame(e));
        last = e.id ?? last;
        if (loopId && e.type === 'loop.finished') finished = true;
      }
      if (finished) break;
    }
  } catch (err) {
    if (!closed) request.log.warn({ err, loopId, reqId: request.id }, 'event stream ended with an error');
  } finally {
    res.off('close', onClose);
    untrack();
    conn.disconnect();
    slots.release(holder);
    if (!res.writableEnded) res.end();
  }
}
