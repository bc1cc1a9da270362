import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { STORE_LAYOUT, upgradeStore } from './store-upgrade.ts';
import { ANALYZED, testRedis } from './testing.ts';

let t: ReturnType<typeof testRedis>;
beforeEach(() => {
  t = testRedis();
});
afterEach(async () => {
  await t.cleanup();
});

const now = '2026-11-20T10:00:00.000Z';

/** What greenloop wrote before layout 2: a string per record, notices in a list. */
async function writeOldLoop(id: string): Promise<void> {
  const k = (...p: (string | number)[]) => [t.prefix, ...p].join(':');
  const loop = { id, environment: 'staging', state: 'stopped', createdAt: now, startedBy: { kind: 'api', name: 'x' }, cycle: 2 };
  await t.redis.set(k('loop', id), JSON.stringify(loop));
  await t.redis.zadd(k('loops'), Date.parse(now), id);
  await t.redis.rpush(k('loop', id, 'notices'), 'first notice', 'second notice');
  await t.redis.set(
    k('loop', id, 'cycle', 1),
    JSON.stringify({ loopId: id, n: 1, commit: 'c1', startedAt: now, failingTests: ['a > b'], report: { markdown: '/r.md', json: '/r.json' } }),
  );
  await t.redis.set(
    k('loop', id, 'cycle', 1, 'stage', 'analyze'),
    JSON.stringify({ stage: 'analyze', status: 'succeeded', startedAt: now, attempts: 1, result: ANALYZED }),
  );
  await t.redis.set(k('loop', id, 'cycle', 2), JSON.stringify({ loopId: id, n: 2, commit: 'c2', startedAt: now }));
  await t.redis.set(k('loop', id, 'cycle', 2, 'stage', 'deploy'), JSON.stringify({ stage: 'deploy', status: 'failed', startedAt: now, attempts: 2 }));
}

describe('upgradeStore', () => {
  test('moves old loops so every reader finds them, once, leaving no old keys behind', async () => {
    await writeOldLoop('old-loop-1');
    await writeOldLoop('old-loop-2');
    // A loop already in the new layout is left as it is.
    await t.store.createLoop({ id: 'new-loop-1', environment: 'staging', state: 'running', createdAt: now, startedBy: { kind: 'api', name: 'y' }, cycle: 0 });

    expect(await upgradeStore(t.store)).toBe(2);
    expect(await t.redis.get(`${t.prefix}:layout`)).toBe(String(STORE_LAYOUT));

    const loop = await t.store.getLoop('old-loop-1');
    expect(loop).toMatchObject({ id: 'old-loop-1', state: 'stopped', cycle: 2, notices: ['first notice', 'second notice'] });
    const c1 = await t.store.getCycle('old-loop-1', 1);
    expect(c1).toMatchObject({ n: 1, commit: 'c1', failingTests: ['a > b'], report: { markdown: '/r.md' } });
    expect(c1?.stages.analyze).toMatchObject({ status: 'succeeded', result: ANALYZED });
    expect(c1).not.toHaveProperty('hasReport');
    expect((await t.store.getStage('old-loop-1', 2, 'deploy'))?.status).toBe('failed');
    expect((await t.store.listLoops({ limit: 10 })).loops.map((l) => l.id).sort()).toEqual(['new-loop-1', 'old-loop-1', 'old-loop-2']);
    const fields = await t.store.getLoopFields('old-loop-2');
    expect(JSON.parse(fields?.['cycle:1'] as string)).toMatchObject({ hasReport: true });

    const left = await t.redis.keys(`${t.prefix}:loop:old-loop-1:cycle:*`);
    expect(left).toEqual([]);
    expect(await t.redis.exists(`${t.prefix}:loop:old-loop-1:notices`)).toBe(0);

    // Nothing left to do, and the layout marker makes the next start a single read.
    expect(await upgradeStore(t.store)).toBe(0);
    await t.redis.del(`${t.prefix}:layout`);
    expect(await upgradeStore(t.store)).toBe(0);
  });

  test('two processes upgrading at once move each loop exactly once', async () => {
    for (let i = 0; i < 20; i++) await writeOldLoop(`race-loop-${i}`);
    const [a, b] = await Promise.all([upgradeStore(t.store), upgradeStore(t.store)]);
    expect(a + b).toBe(20);
    for (let i = 0; i < 20; i++) expect((await t.store.getLoop(`race-loop-${i}`))?.notices).toEqual(['first notice', 'second notice']);
  });
});
