import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, type ResolvedRedis, resolveRedis } from './redis.ts';
import { RedisConnectionLog } from './redis-connection-log.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis connection logging under an outage (real redis-server)', () => {
  const home = mkdtempSync(join(tmpdir(), 'gl-connlog-'));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  const log = pino({ level: 'info' }, sink);
  let server: ResolvedRedis | undefined;
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('one JSON line per state change (lost → reconnected) across many connections and their duplicates', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const start = () => resolveRedis({ home, log: pino({ level: 'silent' }), pathVar: process.env.PATH, port });
    server = await start();
    const connLog = new RedisConnectionLog(log, { repeatMs: 60_000, graceMs: 2000 });
    const root = connLog.watch(new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 }), 'root');
    clients.push(root, root.duplicate(), root.duplicate());
    const dupOfDup = (clients[1] as Redis).duplicate();
    clients.push(dupOfDup);
    await Promise.all(clients.map((c) => (c.status === 'ready' ? undefined : new Promise((r) => c.once('ready', r)))));
    expect(lines).toHaveLength(0);

    await server.stop();
    await sleep(2500); // ~25 reconnect attempts per connection, each an error event
    server = await start();
    await Promise.all(clients.map((c) => (c.status === 'ready' ? undefined : new Promise((r) => c.once('ready', r)))));
    await sleep(300);

    const states = lines.map((l) => l.redis);
    expect(states).toEqual(['lost', 'reconnected']);
    expect(lines[1]).toMatchObject({ redis: 'reconnected', msg: 'redis reconnected' });
    expect(lines[1]?.suppressed as number).toBeGreaterThan(10);
    expect(lines[1]?.downMs as number).toBeGreaterThan(2000);
    // ioredis prints "[ioredis] Unhandled error event" stacks only for clients without an error listener.
    for (const c of clients) expect(c.listenerCount('error')).toBeGreaterThan(0);
    expect(await root.ping()).toBe('PONG');
  });
});
