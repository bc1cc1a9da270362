import type { Redis } from 'ioredis';
import type { Logger } from './logger.ts';

const INVALIDATE_CHANNEL = '__redis__:invalidate';

export interface NearCacheOptions {
  /**
   * The connection the cached values are read through; tracking is switched on for it. The cache
   * opens one more connection like it to receive the invalidations, and closes it in stop().
   */
  reads: Redis;
  /** Entries kept (oldest dropped first). Default 10,000. */
  max?: number;
  /** Safety net: an entry is reloaded after this long even if no invalidation came. Default 60 s. */
  maxAgeMs?: number;
  log?: Logger;
}

interface Entry<T> {
  value: T;
  expires: number;
}

interface Load<T> {
  promise: Promise<T>;
  /** Set when the key changed while it was being read: the value must not be kept. */
  stale: boolean;
}

/**
 * Values derived from Redis keys, kept in this process and dropped the moment Redis says a key they
 * were read from changed: server-assisted client-side caching (CLIENT TRACKING, Redis 6+). Redis
 * remembers which keys the `reads` connection read and sends their names to the `invalidations`
 * connection when anything writes them, so a cached value is never older than that message (well
 * under a millisecond on one host) — unlike a TTL cache, which is stale by design.
 *
 * Whenever the two connections may have missed a message (either reconnected, tracking not yet on
 * again), nothing is cached and everything cached is dropped, so a gap can cost hits, never freshness.
 * A value read while its key was invalidated is handed out (it was current when read) but not kept.
 */
export class NearCache {
  private readonly reads: Redis;
  private readonly invalidations: Redis;
  private readonly max: number;
  private readonly maxAgeMs: number;
  private readonly log: Logger | undefined;
  private readonly entries = new Map<string, Entry<unknown>>();
  private readonly loads = new Map<string, Load<unknown>>();
  /** True only while tracking is on for `reads` and `invalidations` is subscribed. */
  private armed = false;
  /** Bumped whenever the connections may have missed messages; a load started before it is not kept. */
  private epoch = 0;
  /** Bumped by every arm() and disarm(): an arm() that finds it moved was overtaken by a reconnect. */
  private armSeq = 0;
  private arming: Promise<void> = Promise.resolve();
  /** The subscriber's client id, once it has subscribed on its current connection. */
  private subscriberId: number | undefined;
  private closed = false;
  private readonly onChange = () => this.disarm();
  private readonly onReady = () => void this.arm();
  private readonly onMessage = (_channel: Buffer, message: Buffer[] | null) => this.invalidate(message);

  constructor(opts: NearCacheOptions) {
    this.reads = opts.reads;
    // Its own subscription, redone by arm() after a reconnect (so not by ioredis as well).
    this.invalidations = opts.reads.duplicate({ autoResubscribe: false, enableAutoPipelining: false, lazyConnect: true });
    this.max = opts.max ?? 10_000;
    this.maxAgeMs = opts.maxAgeMs ?? 60_000;
    this.log = opts.log;
  }

  /**
   * Subscribes and switches tracking on; again by itself after either connection reconnects. If that
   * fails (a Redis before 6, a proxy that refuses CLIENT), the cache stays off and says so in the log:
   * every read then goes to Redis, which is slower but just as correct.
   */
  async start(): Promise<void> {
    this.invalidations.on('messageBuffer', this.onMessage);
    this.invalidations.on('close', () => {
      this.subscriberId = undefined;
    });
    this.invalidations.on('error', (err: Error) => this.log?.debug({ err: err.message }, 'near cache subscriber connection error'));
    for (const conn of [this.reads, this.invalidations]) {
      conn.on('close', this.onChange);
      conn.on('ready', this.onReady);
    }
    await this.invalidations.connect().catch(() => {});
    // Wait (a little) for the reads connection too, so the cache is on when start() returns; if it is
    // not ready by then, its 'ready' event switches the cache on later.
    if (this.reads.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 5000);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.reads.once('ready', done);
      });
    }
    await this.arm();
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.disarm();
    this.reads.off('close', this.onChange);
    this.reads.off('ready', this.onReady);
    // Never started: its connection was never opened.
    if (this.invalidations.status === 'wait') this.invalidations.disconnect();
    else await this.invalidations.quit().catch(() => this.invalidations.disconnect());
  }

  /** Whether values are being kept (tracking is on); for health and tests. */
  get active(): boolean {
    return this.armed;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached value for `key`, if there is a current one: lets a hot path answer without a promise.
   * `T` is the caller's word for what it stored under that key (one cache serves every kind of value,
   * since a read connection has one invalidation channel; keys are Redis keys, so they do not clash).
   */
  peek<T>(key: string, now = Date.now()): { value: T } | undefined {
    const hit = this.entries.get(key);
    return hit && hit.expires > now ? (hit as Entry<T>) : undefined;
  }

  /**
   * The value for `key`: cached, or from `load`, which must read `key` (and only keys whose changes
   * should drop it) through the `reads` connection. Concurrent misses share one load.
   */
  get<T>(key: string, load: () => Promise<T>, now = Date.now()): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return Promise.resolve(hit.value as T);
    const pending = this.loads.get(key);
    if (pending) return pending.promise as Promise<T>;
    if (!this.armed) return load();
    const epoch = this.epoch;
    const entry: Load<T> = { stale: false, promise: load() };
    this.loads.set(key, entry);
    const settle = () => {
      if (this.loads.get(key) === entry) this.loads.delete(key);
    };
    entry.promise.then((value) => {
      settle();
      if (entry.stale || epoch !== this.epoch || !this.armed) return;
      if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(key, { value, expires: Date.now() + this.maxAgeMs });
    }, settle);
    return entry.promise;
  }

  /** Drops a key now, for a change this process made and must not see undone by a late message (a revoked token). */
  forget(key: string): void {
    this.entries.delete(key);
    const pending = this.loads.get(key);
    if (pending) {
      pending.stale = true;
      this.loads.delete(key);
    }
  }

  private invalidate(keys: Buffer[] | null): void {
    // A null (or otherwise unexpected) message means "everything": FLUSHALL, or Redis dropping
    // tracked keys because its tracking table is full.
    if (!Array.isArray(keys)) {
      this.flush();
      return;
    }
    for (const k of keys) this.forget(k.toString());
  }

  private flush(): void {
    this.epoch++;
    this.entries.clear();
    for (const pending of this.loads.values()) pending.stale = true;
    this.loads.clear();
  }

  private disarm(): void {
    if (this.armed) this.log?.debug('near cache off until tracking is on again');
    this.armed = false;
    this.armSeq++;
    this.flush();
  }

  /** One arm() at a time: two at once would both subscribe, and the second's CLIENT ID would be refused. */
  private arm(): Promise<void> {
    this.arming = this.arming.then(() => this.armNow());
    return this.arming;
  }

  private async armNow(): Promise<void> {
    if (this.closed || this.reads.status !== 'ready' || this.invalidations.status !== 'ready') return;
    const seq = ++this.armSeq;
    try {
      if (this.subscriberId === undefined) {
        // The id first: SUBSCRIBE puts the connection in a mode where CLIENT ID is refused.
        const id = Number(await this.invalidations.client('ID'));
        await this.invalidations.subscribe(INVALIDATE_CHANNEL);
        this.subscriberId = id;
      }
      // Re-issuing it on a connection that already tracks just moves the redirect.
      await this.reads.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(this.subscriberId));
      // Another reconnect while this ran: that one's arm() decides.
      if (seq === this.armSeq && !this.closed) this.armed = true;
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'near cache: could not switch Redis client tracking on; serving every read from Redis');
    }
  }
}
