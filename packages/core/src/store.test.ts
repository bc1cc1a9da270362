import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testRedis } from './testing.ts';

const now = new Date().toISOString();
const deployed = { service: 'api', provider: 'local', url: 'http://127.0.0.1:1', revision: 'local-1', readyAt: now, pid: 1 } as const;

describe('LoopStore.resetCycle (real Redis)', () => {
  let t: ReturnType<typeof testRedis>;
  beforeEach(() => {
    t = testRedis();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('drops one cycle’s stage records, results and fix outcomes and replaces its record; other cycles keep theirs', async () => {
    const { store } = t;
    for (const n of [1, 2]) {
      await store.saveCycle({ loopId: 'l1', n, commit: `c${n}`, startedAt: now, worker: 'w-dead', failingTests: ['t'], stages: {} });
      await store.saveStage('l1', n, { stage: 'deploy', status: 'succeeded', startedAt: now, attempts: 1, result: { services: [deployed] } });
      await store.putFixOutcome('l1', n, { fingerprint: 'abcdef12', outcome: 'accepted', commit: 'f'.repeat(40), attempts: 1 });
    }
    await store.resetCycle({ loopId: 'l1', n: 2, commit: 'c2', startedAt: now, worker: 'w-live', stages: {} });
    const reset = await store.getCycle('l1', 2);
    expect(reset).toEqual({ loopId: 'l1', n: 2, commit: 'c2', startedAt: now, worker: 'w-live', stages: {} });
    expect(await store.getFixOutcome('l1', 2, 'abcdef12')).toBeUndefined();
    // A final record is written again (the first final word stands only within one run of the cycle).
    expect(await store.saveStage('l1', 2, { stage: 'deploy', status: 'running', startedAt: now, attempts: 1 })).toBe(true);
    const kept = await store.getCycle('l1', 1);
    expect(kept).toMatchObject({ worker: 'w-dead', failingTests: ['t'], stages: { deploy: { status: 'succeeded' } } });
    expect(await store.getFixOutcome('l1', 1, 'abcdef12')).toMatchObject({ outcome: 'accepted' });
  });

  it('saveStage with a worker writes only while the loop is pinned to it', async () => {
    const { store } = t;
    await store.createLoop({ id: 'l2', environment: 'e', state: 'running', createdAt: now, startedBy: { kind: 'cli', name: 't' }, cycle: 1, worker: 'w-live' });
    const running = { stage: 'deploy', status: 'running', startedAt: now, attempts: 1 } as const;
    expect(await store.saveStage('l2', 1, running, { worker: 'w-dead' })).toBe(false);
    expect(await store.getStage('l2', 1, 'deploy')).toBeUndefined();
    expect(await store.saveStage('l2', 1, running, { worker: 'w-live' })).toBe(true);
  });
});
