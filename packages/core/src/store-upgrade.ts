import type { Redis } from 'ioredis';
import type { CycleRecord, LoopRecord, StageName, StageRecord } from './domain.ts';
import { STAGES } from './domain.ts';
import type { Logger } from './logger.ts';
import { cycleField, LOOP_FIELD, type LoopStore, NOTICE_FIELD_PREFIX, stageField } from './store.ts';

/** The record layout this code writes: 2 = one hash per loop (see LoopStore). */
export const STORE_LAYOUT = 2;

/**
 * Moves loops recorded by greenloop before layout 2 (a string per loop, cycle and stage record, notices
 * in a list) into the hash per loop that LoopStore reads now, so `status`, the dashboard and reports keep
 * working across the upgrade. Run by the API and the worker at start; once every loop is moved it only
 * reads one key. Two processes upgrading at once are safe: each loop moves in a WATCHed transaction, and
 * a loop the other process moved first is skipped. Returns how many loops it moved.
 */
export async function upgradeStore(store: LoopStore, log?: Logger): Promise<number> {
  const layoutKey = store.key('layout');
  if (Number(await store.redis.get(layoutKey)) >= STORE_LAYOUT) return 0;
  // A connection of its own: WATCH is per connection, and the shared one carries other transactions.
  const redis = store.redis.duplicate({ enableOfflineQueue: true });
  try {
    let moved = 0;
    for (const id of await redis.zrange(store.key('loops'), 0, -1)) {
      if (await moveLoop(store, redis, id)) moved++;
    }
    await redis.set(layoutKey, String(STORE_LAYOUT));
    if (moved) log?.info({ moved }, 'moved loop records to the hash-per-loop layout');
    return moved;
  } finally {
    redis.disconnect();
  }
}

async function moveLoop(store: LoopStore, redis: Redis, id: string): Promise<boolean> {
  const loopKey = store.key('loop', id);
  for (let attempt = 0; attempt < 3; attempt++) {
    await redis.watch(loopKey);
    if ((await redis.type(loopKey)) !== 'string') {
      await redis.unwatch();
      return false;
    }
    // The other process may move it between TYPE and GET: then GET fails, and the next look skips it.
    const raw = await redis.get(loopKey).catch(() => null);
    if (raw === null) {
      await redis.unwatch();
      continue;
    }
    const loop = JSON.parse(raw) as LoopRecord;
    const oldKeys = [loopKey, store.key('loop', id, 'notices')];
    const notices = await redis.lrange(store.key('loop', id, 'notices'), 0, -1);
    const tx = redis.multi().del(loopKey);
    const { notices: _n, ...record } = loop;
    tx.hset(loopKey, LOOP_FIELD, JSON.stringify(record));
    notices.forEach((message, i) => {
      tx.hset(loopKey, `${NOTICE_FIELD_PREFIX}${String(i).padStart(15, '0')}:upgrade`, message);
    });
    for (let n = 1; n <= loop.cycle; n++) {
      const cycleKey = store.key('loop', id, 'cycle', n);
      const stageKeys = STAGES.map((s) => store.key('loop', id, 'cycle', n, 'stage', s));
      const [cycleRaw, ...stageRaws] = await redis.mget(cycleKey, ...stageKeys);
      oldKeys.push(cycleKey, ...stageKeys);
      if (cycleRaw) {
        const { stages: _s, failingTests, ...cycle } = JSON.parse(cycleRaw) as CycleRecord;
        tx.hset(loopKey, cycleField(n), JSON.stringify({ ...cycle, hasReport: cycle.report !== undefined }));
        if (failingTests) tx.set(store.key('loop', id, 'failing', n), JSON.stringify(failingTests));
      }
      stageRaws.forEach((s, i) => {
        if (!s) return;
        const stage = STAGES[i] as StageName;
        const { result, ...summary } = JSON.parse(s) as StageRecord;
        tx.hset(loopKey, stageField(n, stage), JSON.stringify(summary));
        if (result !== undefined) tx.set(store.key('loop', id, 'result', n, stage), JSON.stringify(result));
      });
    }
    // The loop key was deleted first in this transaction and now holds the hash; drop the others.
    tx.del(...oldKeys.slice(1));
    if (await tx.exec()) return true;
    // Another process changed the loop meanwhile (or moved it): look again.
  }
  throw new Error(`could not move loop ${id} to the new record layout: it kept changing`);
}
