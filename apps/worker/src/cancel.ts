import type { Logger, LoopStore, Redis } from '@greenloop/core';

/**
 * Cancel travels as a Redis pub/sub message every worker listens to; each running stage registers an
 * AbortController under its loop id and the message aborts them all (child processes are killed by
 * runCommand). A stage that starts after the message sees the persisted cancel flag instead.
 */
export class CancelRegistry {
  readonly #controllers = new Map<string, Set<AbortController>>();
  readonly #sub: Redis;

  constructor(sub: Redis) {
    this.#sub = sub;
  }

  static async start(store: LoopStore, log: Logger): Promise<CancelRegistry> {
    const sub = store.redis.duplicate();
    const reg = new CancelRegistry(sub);
    await sub.subscribe(store.cancelChannel);
    sub.on('message', (_channel: string, loopId: string) => {
      const set = reg.#controllers.get(loopId);
      if (set?.size) log.info({ loopId, stages: set.size }, 'cancelling running stages');
      for (const c of set ?? []) c.abort(new Error('loop cancelled'));
    });
    return reg;
  }

  /** Runs `fn` with a signal that aborts when the loop is cancelled. */
  async run<T>(loopId: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const c = new AbortController();
    let set = this.#controllers.get(loopId);
    if (!set) {
      set = new Set();
      this.#controllers.set(loopId, set);
    }
    set.add(c);
    try {
      return await fn(c.signal);
    } finally {
      set.delete(c);
      if (set.size === 0) this.#controllers.delete(loopId);
    }
  }

  async close(): Promise<void> {
    for (const set of this.#controllers.values()) for (const c of set) c.abort(new Error('worker shutting down'));
    await this.#sub.quit().catch(() => this.#sub.disconnect());
  }
}
