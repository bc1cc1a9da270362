/**
 * A short-lived cache of serialized GET /v1/loops/:id answers. Status views are polled (dashboards, CLI
 * loops, CI jobs), many clients ask for the same running loop, and each answer costs two Redis round
 * trips; on a loaded box that round trip, not our code, bounds throughput. Entries live `activeMs` for
 * loops still moving and `finishedMs` for finished ones (only notices can still change), and are dropped
 * at once when this process changes the loop (cancel). Changes made by workers show within the TTL;
 * the event stream is the live channel.
 */
export class LoopViewCache {
  readonly activeMs: number;
  readonly finishedMs: number;
  readonly max: number;
  private readonly entries = new Map<string, { json: string; expires: number }>();

  constructor(opts: { activeMs: number; finishedMs: number; max?: number }) {
    this.activeMs = opts.activeMs;
    this.finishedMs = opts.finishedMs;
    this.max = opts.max ?? 2000;
  }

  get(id: string, now = Date.now()): string | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(id);
      return undefined;
    }
    return e.json;
  }

  set(id: string, json: string, finished: boolean, now = Date.now()): void {
    const ttl = finished ? this.finishedMs : this.activeMs;
    if (ttl <= 0) return;
    // Oldest first (Map keeps insertion order): drop one to stay bounded.
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(id, { json, expires: now + ttl });
  }

  delete(id: string): void {
    this.entries.delete(id);
  }
}
