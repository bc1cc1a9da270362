import { describeError, type Logger, type LoopStore, type Queues } from '@greenloop/core';

/** Controller job states in which its loop is alive (it runs, waits for children, or waits to run). */
const LIVE = new Set(['active', 'waiting', 'waiting-children', 'delayed', 'prioritized', 'wait']);

/**
 * Keeps the environment claims of live loops from expiring. Every few seconds, for each claimed
 * environment, the holder's controller job (job id = loop id) is looked up: if it is alive in BullMQ
 * the lease is renewed; if it failed, completed or vanished, the lease is left to expire, so a loop
 * nobody runs any more frees its environment within one lease instead of holding it forever.
 * Every worker runs one; renewing twice is harmless.
 */
export function startClaimHeartbeat(
  deps: {
    store: LoopStore;
    queues: Queues;
    log: Logger;
    /**
     * Separate disks: whether a loop whose controller has completed is still being torn down by its
     * worker (a `loop.teardown` job waiting for a slot there); its services run until then.
     */
    tearingDown?: (loopId: string) => Promise<boolean>;
  },
  intervalMs = deps.store.claims.leaseMs / 3,
): { stop(): Promise<void> } {
  const { store, queues, log } = deps;
  const claimKeyPrefix = `${store.prefix}:active:`;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    try {
      let cursor = '0';
      do {
        const [next, keys] = await store.redis.scan(cursor, 'MATCH', `${claimKeyPrefix}*`, 'COUNT', 200);
        cursor = next;
        for (const key of keys) {
          const environment = key.slice(claimKeyPrefix.length);
          const holder = await store.activeLoop(environment);
          if (!holder) continue;
          const state = await queues.loops.getJobState(holder);
          if (LIVE.has(state) || (await deps.tearingDown?.(holder))) await store.renewClaim(environment, holder);
        }
      } while (cursor !== '0');
    } catch (err) {
      // Redis away: the connection logger reports the outage; the next tick tries again.
      log.debug({ err: describeError(err) }, 'claim heartbeat skipped');
    }
  };
  const timer = setInterval(() => {
    running = running.then(tick);
  }, intervalMs);
  timer.unref();
  running = tick();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
