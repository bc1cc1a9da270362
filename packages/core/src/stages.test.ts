import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GreenloopError } from './errors.ts';
import { stageField } from './store.ts';
import { testRedis } from './testing.ts';

const now = new Date().toISOString();
const deployed = { service: 'api', provider: 'local', url: 'http://127.0.0.1:1', revision: 'local-1', readyAt: now, pid: 1 } as const;

describe('stage records typed by the stage table (real Redis)', () => {
  let t: ReturnType<typeof testRedis>;
  beforeEach(() => {
    t = testRedis();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('getStage parses the record and types the result by stage name', async () => {
    await t.store.saveStage('l1', 1, { stage: 'deploy', status: 'succeeded', startedAt: now, attempts: 1, result: { services: [deployed] } });
    const rec = await t.store.getStage('l1', 1, 'deploy');
    // Typed: no cast needed to reach the services.
    expect(rec?.result?.services[0]?.url).toBe('http://127.0.0.1:1');
  });

  it('a succeeded record whose result does not match the schema is a clear error, not a cast', async () => {
    await t.store.saveStage('l1', 1, { stage: 'deploy', status: 'succeeded', startedAt: now, attempts: 1, result: { services: [{ service: 'api' }] } });
    const err = await t.store.getStage('l1', 1, 'deploy').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GreenloopError);
    expect((err as GreenloopError).code).toBe('STAGE_RECORD_INVALID');
    expect((err as GreenloopError).message).toMatch(/deploy record of loop l1 cycle 1 .*provider/s);
  });

  it('a failed record keeps a result only if it matches (old records carried { details })', async () => {
    await t.store.saveStage('l1', 1, {
      stage: 'test',
      status: 'failed',
      startedAt: now,
      attempts: 2,
      error: { code: 'TESTS_TIMED_OUT', message: 'x' },
      result: { details: { stdoutFile: '/x' } },
    });
    const rec = await t.store.getStage('l1', 1, 'test');
    expect(rec).toMatchObject({ status: 'failed', error: { code: 'TESTS_TIMED_OUT' } });
    expect(rec?.result).toBeUndefined();
  });

  it('a record under another stage’s name is refused', async () => {
    await t.redis.hset(t.store.key('loop', 'l1'), stageField(1, 'analyze'), JSON.stringify({ stage: 'test', status: 'running', startedAt: now, attempts: 1 }));
    await expect(t.store.getStage('l1', 1, 'analyze')).rejects.toThrow(/analyze record .* stage is "test"/);
  });

  it('a terminal record is never rewritten: the first final word stands', async () => {
    const running = { stage: 'test', status: 'running', startedAt: now, attempts: 1 } as const;
    expect(await t.store.saveStage('l1', 1, running)).toBe(true);
    expect(await t.store.saveStage('l1', 1, { ...running, status: 'cancelled', summary: 'loop cancelled' })).toBe(true);
    expect(await t.store.saveStage('l1', 1, { ...running, status: 'succeeded', summary: 'late attempt' })).toBe(false);
    expect(await t.store.getStage('l1', 1, 'test')).toMatchObject({ status: 'cancelled', summary: 'loop cancelled' });
  });

  it('fix outcomes have their own named records, parsed on read', async () => {
    expect(await t.store.getFixOutcome('l1', 1, 'abcdef12')).toBeUndefined();
    await t.store.putFixOutcome('l1', 1, { fingerprint: 'abcdef12', outcome: 'accepted', attempts: 1, commit: 'c0ffee' });
    expect(await t.store.getFixOutcome('l1', 1, 'abcdef12')).toEqual({ fingerprint: 'abcdef12', outcome: 'accepted', attempts: 1, commit: 'c0ffee' });
    // An outcome recorded by the previous layout (a "marker") of a loop running across the upgrade.
    await t.redis.set(
      t.store.key('loop', 'l1', 'cycle', 1, 'marker', 'fix:0badf00d'),
      JSON.stringify({ fingerprint: '0badf00d', outcome: 'rejected', attempts: 2 }),
    );
    expect(await t.store.getFixOutcome('l1', 1, '0badf00d')).toMatchObject({ outcome: 'rejected' });
    await t.redis.set(t.store.key('loop', 'l1', 'fix-outcome', 1, 'deadbeef'), JSON.stringify({ fingerprint: 'deadbeef', outcome: 'maybe' }));
    await expect(t.store.getFixOutcome('l1', 1, 'deadbeef')).rejects.toThrow(/does not match its schema/);
  });

  it('re-done fix outcomes are kept apart from the fixer’s first outcome, parsed on read', async () => {
    await t.store.putFixOutcome('l1', 2, { fingerprint: 'abcdef12', outcome: 'accepted', attempts: 1, commit: 'c0ffee' });
    expect(await t.store.getRedoOutcome('l1', 2, 'abcdef12')).toBeUndefined();
    await t.store.putRedoOutcome('l1', 2, { fingerprint: 'abcdef12', outcome: 'accepted', attempts: 1, commit: 'beefed' });
    expect(await t.store.getRedoOutcome('l1', 2, 'abcdef12')).toMatchObject({ commit: 'beefed' });
    expect(await t.store.getFixOutcome('l1', 2, 'abcdef12')).toMatchObject({ commit: 'c0ffee' });
    // Recorded as a "marker" by the layout before (a loop running across the upgrade).
    await t.redis.set(
      t.store.key('loop', 'l1', 'cycle', 2, 'marker', 'redo:0badf00d'),
      JSON.stringify({ fingerprint: '0badf00d', outcome: 'skipped', attempts: 0 }),
    );
    expect(await t.store.getRedoOutcome('l1', 2, '0badf00d')).toMatchObject({ outcome: 'skipped' });
    await t.redis.set(t.store.key('loop', 'l1', 'redo-outcome', 2, 'deadbeef'), JSON.stringify({ fingerprint: 'deadbeef', outcome: 'maybe' }));
    await expect(t.store.getRedoOutcome('l1', 2, 'deadbeef')).rejects.toThrow(/does not match its schema/);
    expect(await t.store.getFixOutcome('l1', 2, 'deadbeef')).toBeUndefined();
  });
});
