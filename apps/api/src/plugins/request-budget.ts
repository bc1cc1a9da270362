/**
 * Fixed-window request budgets per key (a token, a client address), kept in this process. Used for the
 * per-token rate limit and for failed authentications per address. A plain Map rather than
 * @fastify/rate-limit, which cost about 7 µs per request on GET /v1/loops/:id here (some 15% of that
 * route's time; its throughput on status polls is a goal). Budgets are per API process; see README
 * "Limits".
 */
export class RequestBudget {
  readonly max: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(opts: { max: number; windowMs: number; maxKeys?: number }) {
    this.max = opts.max;
    this.windowMs = opts.windowMs;
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  /** Counts one request against the key; returns the seconds to wait if that went over its budget. */
  take(key: string, now = Date.now()): number | undefined {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (!w && this.windows.size >= this.maxKeys) this.sweep(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return w.count > this.max ? secondsUntil(w.resetAt, now) : undefined;
  }

  /** The seconds to wait if the key's budget is already spent, without counting a request. */
  spent(key: string, now = Date.now()): number | undefined {
    const w = this.windows.get(key);
    return w && w.resetAt > now && w.count >= this.max ? secondsUntil(w.resetAt, now) : undefined;
  }

  /** Drops finished windows; if every key is still live (a flood of distinct keys), starts over. */
  private sweep(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
    if (this.windows.size >= this.maxKeys) this.windows.clear();
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}
