import { randomBytes } from 'node:crypto';
import type { Actor, LoopRecord, LoopSource } from './domain.ts';
import { TERMINAL_STATES } from './domain.ts';
import { addJob, type Queues } from './queues.ts';
import type { LoopStore } from './store.ts';

/** Time-sortable, URL-safe loop ids: "mg3k9x2a-5f1c0e9b". */
export function newLoopId(now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}

export type StartLoopOutcome =
  | { kind: 'created'; loop: LoopRecord; expiredClaim?: string }
  | { kind: 'existing'; loop: LoopRecord }
  | { kind: 'conflict'; activeLoopId: string };

/**
 * Starts a loop on an environment: the one path used by the API, schedules and the CLI.
 * - `idempotencyKey`: the same key returns the same loop (24h).
 * - One active loop per environment: an atomic claim (a lease the live loop renews), so simultaneous
 *   triggers give exactly one loop and the losers get the holder's id. A loop keeps its claim through
 *   its teardown; a claim nobody renews expires and the next trigger reports it.
 * The caller has already checked that the environment exists in greenloop.yaml, or, for a project's
 * `<project>/<environment>`, resolved the project into `source` (ProjectStore.loopSource).
 */
export async function startLoop(
  deps: { store: LoopStore; queues: Queues },
  req: { environment: string; actor: Actor; idempotencyKey?: string; source?: LoopSource },
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
  const claim = await store.claimEnvironment(req.environment, id);
  if (!claim.claimed) {
    if (req.idempotencyKey) await store.redis.del(store.key('idem', req.idempotencyKey));
    return { kind: 'conflict', activeLoopId: claim.holder };
  }
  const loop: LoopRecord = {
    id,
    environment: req.environment,
    ...(req.source ? { source: req.source } : {}),
    state: 'queued',
    createdAt: new Date().toISOString(),
    startedBy: req.actor,
    cycle: 0,
  };
  await store.createLoop(loop);
  await addJob(deps.queues, 'loop.run', { loopId: id }, { jobId: id });
  await store.emit({ type: 'loop.queued', loopId: id, message: `loop ${id} queued on ${req.environment} by ${req.actor.kind} ${req.actor.name}` });
  if (claim.expired) await reportExpiredClaim(store, claim.expired, id, req.environment);
  return { kind: 'created', loop, ...(claim.expired ? { expiredClaim: claim.expired } : {}) };
}

/** A loop whose claim lapsed (its controller was gone for a whole lease) is named on both loops. */
async function reportExpiredClaim(store: LoopStore, expired: string, next: string, environment: string): Promise<void> {
  const message = `previous loop ${expired}'s claim on ${environment} expired without being released; loop ${next} took the environment`;
  await store.addNotice(next, message);
  await store.emit({ type: 'notice', loopId: next, message, data: { expiredClaim: expired } });
  if (await store.getLoop(expired)) await store.addNotice(expired, message);
}

/** Asks a loop to stop. Running stages abort through the cancel channel; the controller records the stop. */
export async function cancelLoop(store: LoopStore, loopId: string): Promise<LoopRecord | undefined> {
  const loop = await store.getLoop(loopId);
  if (!loop || TERMINAL_STATES.includes(loop.state)) return loop;
  await store.requestCancel(loopId);
  await store.emit({ type: 'notice', loopId, message: 'cancel requested' });
  return loop;
}
