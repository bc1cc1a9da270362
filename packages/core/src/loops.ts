import { randomBytes } from 'node:crypto';
import type { Actor, LoopRecord } from './domain.ts';
import { TERMINAL_STATES } from './domain.ts';
import { addJob, type Queues } from './queues.ts';
import type { LoopStore } from './store.ts';

/** Time-sortable, URL-safe loop ids: "mg3k9x2a-5f1c0e9b". */
export function newLoopId(now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}

export type StartLoopOutcome = { kind: 'created'; loop: LoopRecord } | { kind: 'existing'; loop: LoopRecord } | { kind: 'conflict'; activeLoopId: string };

/**
 * Starts a loop on an environment: the one path used by the API, schedules and the CLI.
 * - `idempotencyKey`: the same key returns the same loop (24h).
 * - One active loop per environment: a claim key set with NX, so two simultaneous triggers give
 *   exactly one loop; the loser gets the active loop's id. A claim left by a loop that already ended
 *   (a crash between finishing and releasing) is taken over.
 * The caller has already checked that the environment exists in greenloop.yaml.
 */
export async function startLoop(
  deps: { store: LoopStore; queues: Queues },
  req: { environment: string; actor: Actor; idempotencyKey?: string },
): Promise<StartLoopOutcome> {
  const { store } = deps;
  const id = newLoopId();
  if (req.idempotencyKey) {
    const key = store.key('idem', req.idempotencyKey);
    const ok = await store.redis.set(key, id, 'EX', 86_400, 'NX');
    if (ok !== 'OK') {
      const existingId = (await store.redis.get(key)) ?? id;
      // The first request may still be writing its record: wait briefly for it.
      for (let i = 0; i < 50; i++) {
        const loop = await store.getLoop(existingId);
        if (loop) return { kind: 'existing', loop };
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  let holder = await store.claimEnvironment(req.environment, id);
  if (holder) {
    const active = await store.getLoop(holder);
    if (active && !TERMINAL_STATES.includes(active.state)) {
      if (req.idempotencyKey) await store.redis.del(store.key('idem', req.idempotencyKey));
      return { kind: 'conflict', activeLoopId: holder };
    }
    await store.releaseEnvironment(req.environment, holder);
    holder = await store.claimEnvironment(req.environment, id);
    if (holder) return { kind: 'conflict', activeLoopId: holder };
  }
  const loop: LoopRecord = { id, environment: req.environment, state: 'queued', createdAt: new Date().toISOString(), startedBy: req.actor, cycle: 0 };
  await store.createLoop(loop);
  await addJob(deps.queues, 'loop.run', { loopId: id }, { jobId: id });
  await store.emit({ type: 'loop.queued', loopId: id, message: `loop ${id} queued on ${req.environment} by ${req.actor.kind} ${req.actor.name}` });
  return { kind: 'created', loop };
}

/** Asks a loop to stop. Running stages abort through the cancel channel; the controller records the stop. */
export async function cancelLoop(store: LoopStore, loopId: string): Promise<LoopRecord | undefined> {
  const loop = await store.getLoop(loopId);
  if (!loop || TERMINAL_STATES.includes(loop.state)) return loop;
  await store.requestCancel(loopId);
  await store.emit({ type: 'notice', loopId, message: 'cancel requested' });
  return loop;
}
