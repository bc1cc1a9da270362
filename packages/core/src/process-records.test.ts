import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { currentWorker, endLoopProcesses, listProcessRecords, ownerAlive, PROCESS_TAG_VAR, ProcessRecorder, procStat } from './process-records.ts';
import { testRedis } from './testing.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z';
};

/** Pids of processes whose environment carries `tag` (what a /proc scan for orphans would find). */
function tagged(tag: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`${PROCESS_TAG_VAR}=${tag}`) && alive(Number(name))) out.push(Number(name));
    } catch {}
  }
  return out;
}

/** A detached shell (own group and session) with a child in its group and a `setsid` daemon outside it. */
function spawnFamily(env: Record<string, string>): number {
  const child = spawn('sh', ['-c', 'sleep 300 & setsid sleep 301 & sleep 302'], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  child.unref();
  return child.pid as number;
}

describe('process records', () => {
  const t = testRedis();
  afterAll(() => t.cleanup());

  it('records a group at spawn and ends it, its session and its setsid daemons at the loop’s end', async () => {
    const procs = new ProcessRecorder(t.redis, t.prefix, { loopId: 'L1', cycle: 1, stage: 'test', attempt: 'a1' });
    const pid = spawnFamily(procs.env());
    const rec = await procs.spawned(pid, 'test');
    expect(rec).toMatchObject({ pid, pgid: pid, sid: pid, kind: 'test', worker: currentWorker() });
    expect(rec.start).toBeGreaterThan(0);
    await sleep(300);
    const family = tagged(procs.tag);
    expect(family.length).toBe(4); // sh, two sleeps in its group, the setsid daemon
    expect(await listProcessRecords(t.redis, t.prefix, 'L1')).toHaveLength(1);

    const ended = await endLoopProcesses(t.redis, t.prefix, 'L1');
    expect(ended).toBe(4);
    await sleep(100);
    expect(family.filter(alive)).toEqual([]);
    expect(await listProcessRecords(t.redis, t.prefix, 'L1')).toEqual([]);
  });

  it('a later attempt ends only what earlier attempts of the same stage and cycle left', async () => {
    const old = new ProcessRecorder(t.redis, t.prefix, { loopId: 'L2', cycle: 2, stage: 'deploy', attempt: 'old' });
    const otherCycle = new ProcessRecorder(t.redis, t.prefix, { loopId: 'L2', cycle: 1, stage: 'deploy', attempt: 'x' });
    const oldPid = spawnFamily(old.env());
    const keepPid = spawnFamily(otherCycle.env());
    await old.spawned(oldPid, 'service');
    await otherCycle.spawned(keepPid, 'service');
    await sleep(300);
    const oldFamily = tagged(old.tag);
    const retry = new ProcessRecorder(t.redis, t.prefix, { loopId: 'L2', cycle: 2, stage: 'deploy', attempt: 'new' });
    expect(await retry.endEarlierAttempts()).toBe(4);
    await sleep(100);
    expect(oldFamily.filter(alive)).toEqual([]);
    expect(alive(keepPid)).toBe(true);
    expect((await listProcessRecords(t.redis, t.prefix, 'L2')).map((r) => r.attempt)).toEqual(['x']);
    await endLoopProcesses(t.redis, t.prefix, 'L2');
    expect(alive(keepPid)).toBe(false);
  });

  it('release ends a finished child’s stragglers and drops its record', async () => {
    const procs = new ProcessRecorder(t.redis, t.prefix, { loopId: 'L3', cycle: 1, stage: 'fix:abc', attempt: 'a' });
    const tracked = procs.track('fixer');
    const pid = spawnFamily(procs.env());
    await tracked.onSpawn(pid);
    await sleep(300);
    const family = tagged(procs.tag);
    expect(family.length).toBe(4);
    await tracked.release();
    await sleep(100);
    expect(family.filter(alive)).toEqual([]);
    expect(await listProcessRecords(t.redis, t.prefix, 'L3')).toEqual([]);
  });

  it('a record that does not match the schema is never acted on (no pid signalled by guess)', async () => {
    const procs = new ProcessRecorder(t.redis, t.prefix, { loopId: 'L4', cycle: 1, stage: 'test', attempt: 'a' });
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const rec = await procs.spawned(child.pid as number, 'test');
    // A damaged copy (group and session 0, the ids of kernel threads) and a garbled one: both left out.
    await t.redis.hset(`${t.prefix}:loop:L4:procs`, 'damaged', JSON.stringify({ ...rec, pgid: 0, sid: 0 }));
    await t.redis.hset(`${t.prefix}:loop:L4:procs`, 'garbled', '{"pid": 1');
    expect(await listProcessRecords(t.redis, t.prefix, 'L4')).toEqual([rec]);
    expect(await endLoopProcesses(t.redis, t.prefix, 'L4')).toBeGreaterThanOrEqual(1);
    await sleep(100);
    expect(alive(child.pid as number)).toBe(false);
    expect(alive(process.pid)).toBe(true);
  });

  it('knows a live owner from a dead one by pid and start time', async () => {
    expect(ownerAlive(currentWorker())).toBe(true);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await sleep(50);
    const identity = { host: currentWorker().host, pid: child.pid as number, start: procStat(child.pid as number)?.start ?? -1 };
    expect(ownerAlive(identity)).toBe(true);
    expect(ownerAlive({ ...identity, start: identity.start - 1 })).toBe(false); // the pid, reused by someone else
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(ownerAlive(identity)).toBe(false);
    expect(ownerAlive({ ...identity, host: 'another-host' })).toBe(true); // unreachable, so never ended from here
  });
});
