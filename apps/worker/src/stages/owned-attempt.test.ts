import { spawn } from 'node:child_process';
import { createLogger, currentWorker, GreenloopError, listProcessRecords, ProcessRecorder, procStat } from '@greenloop/core';
import { testRedis } from '@greenloop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runOwnedAttempt } from './owned-attempt.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z';
};

describe('runOwnedAttempt', () => {
  const t = testRedis();
  const log = createLogger('test', 'silent');
  const base = (loopId: string) => ({
    redis: t.redis,
    prefix: t.prefix,
    loopId,
    cycle: 1,
    stage: 'test',
    maxWaitMs: 30_000,
    signal: new AbortController().signal,
    log,
    pollMs: 50,
    output: z.string(),
  });
  afterAll(() => t.cleanup());

  it('a retry while a live worker still runs the stage waits and adopts its result: nothing runs twice, nothing is killed', async () => {
    let release!: (v: string) => void;
    const running = new Promise<string>((r) => {
      release = r;
    });
    let childPid = 0;
    const first = runOwnedAttempt(base('W1'), async (procs) => {
      const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', ...procs.env() } });
      childPid = child.pid as number;
      await procs.spawned(childPid, 'test');
      const out = await running;
      child.kill('SIGKILL');
      return out;
    });
    await sleep(200);
    let retryRan = false;
    const retry = runOwnedAttempt(base('W1'), async () => {
      retryRan = true;
      return 'rerun';
    });
    await sleep(500);
    expect(alive(childPid)).toBe(true); // the lost-lock attempt's child keeps running
    release('suite result');
    expect(await first).toBe('suite result');
    expect(await retry).toBe('suite result');
    expect(retryRan).toBe(false);
  });

  it('a retry after the owner died ends what its attempt spawned (by record), then runs', async () => {
    // A dead worker: a process that existed and is gone (its identity cannot be alive again).
    const ghost = spawn('sleep', ['30'], { stdio: 'ignore' });
    await sleep(50);
    const deadWorker = { host: currentWorker().host, pid: ghost.pid as number, start: procStat(ghost.pid as number)?.start ?? 0 };
    ghost.kill('SIGKILL');
    await new Promise((r) => ghost.once('exit', r));

    const old = new ProcessRecorder(t.redis, t.prefix, { loopId: 'W2', cycle: 1, stage: 'test', attempt: 'crashed' });
    const leftover = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', ...old.env() } });
    leftover.unref();
    await old.spawned(leftover.pid as number, 'test');
    await t.redis.hset(
      `${t.prefix}:loop:W2:attempts`,
      '1:test',
      JSON.stringify({ attempt: 'crashed', worker: deadWorker, startedAt: new Date().toISOString() }),
    );
    const out = await runOwnedAttempt(base('W2'), async () => 'fresh run');
    expect(out).toBe('fresh run');
    await sleep(50);
    expect(alive(leftover.pid as number)).toBe(false);
    expect(await listProcessRecords(t.redis, t.prefix, 'W2')).toEqual([]);
  });

  it('a finished attempt’s output is adopted; a failed attempt leaves no claim behind', async () => {
    await expect(
      runOwnedAttempt(base('W3'), async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await t.redis.hget(`${t.prefix}:loop:W3:attempts`, '1:test')).toBeNull();
    expect(await runOwnedAttempt(base('W3'), async () => 'second')).toBe('second');
    let ran = false;
    const again = await runOwnedAttempt(base('W3'), async () => {
      ran = true;
      return 'third';
    });
    expect(again).toBe('second');
    expect(ran).toBe(false);
  });

  it('an earlier attempt’s output that does not match the stage’s schema is an error, not adopted as is', async () => {
    await t.redis.hset(
      `${t.prefix}:loop:W6:attempts`,
      '1:test',
      JSON.stringify({ attempt: 'older', worker: currentWorker(), startedAt: new Date().toISOString(), done: { output: { services: 'none' }, at: '' } }),
    );
    let ran = false;
    const adopted = runOwnedAttempt(base('W6'), async () => {
      ran = true;
      return 'ran again';
    });
    await expect(adopted).rejects.toMatchObject({
      code: 'STAGE_RECORD_INVALID',
      message: expect.stringMatching(/^the recorded attempt of test of loop W6 cycle 1 does not match its schema/),
    });
    expect(ran).toBe(false);
  });

  it('a retry waiting on an attempt that fails for good fails the same way, without running', async () => {
    let fail!: () => void;
    const gate = new Promise<void>((r) => {
      fail = r;
    });
    const first = runOwnedAttempt(base('W5'), async () => {
      await gate;
      throw new GreenloopError('TESTS_TIMED_OUT', 'the suite hung', { hint: 'raise the timeout' });
    });
    await sleep(200);
    let retryRan = false;
    const retry = runOwnedAttempt(base('W5'), async () => {
      retryRan = true;
      return 'second run';
    });
    await sleep(200);
    fail();
    await expect(first).rejects.toThrow('the suite hung');
    await expect(retry).rejects.toMatchObject({ code: 'TESTS_TIMED_OUT', message: 'the suite hung', hint: 'raise the timeout', retryable: false });
    expect(retryRan).toBe(false);
  });

  it('gives up on a live owner after maxWaitMs and ends its processes', async () => {
    const old = new ProcessRecorder(t.redis, t.prefix, { loopId: 'W4', cycle: 1, stage: 'test', attempt: 'stuck' });
    const leftover = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', ...old.env() } });
    leftover.unref();
    await old.spawned(leftover.pid as number, 'test');
    await t.redis.hset(
      `${t.prefix}:loop:W4:attempts`,
      '1:test',
      JSON.stringify({ attempt: 'stuck', worker: currentWorker(), startedAt: new Date().toISOString() }),
    );
    const started = Date.now();
    expect(await runOwnedAttempt({ ...base('W4'), maxWaitMs: 300 }, async () => 'took over')).toBe('took over');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    await sleep(50);
    expect(alive(leftover.pid as number)).toBe(false);
  });
});
