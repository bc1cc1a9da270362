import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { GreenloopError } from './errors.ts';
import { createLogger } from './logger.ts';
import { checkRedisAuth, freePort, type ResolvedRedis, redisAuthState, resolveRedis } from './redis.ts';
import { startOpenRedis } from './testing.ts';

/** The command lines of running processes that mention `needle` (what any process of the user can read). */
function cmdlinesWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(needle)) out.push(cmd);
    } catch {}
  }
  return out;
}

describe('embedded redis-server has a password only greenloop knows', () => {
  const home = mkdtempSync(join(tmpdir(), 'gl-redis-pw-'));
  let server: ResolvedRedis | undefined;
  afterAll(async () => {
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses clients without it; the URL carries it; it is in a 0600 file and in no command line', { timeout: 20_000 }, async () => {
    const port = await freePort();
    server = await resolveRedis({ home, log: pino({ level: 'silent' }), pathVar: process.env.PATH, port });
    expect(server.source).toBe('embedded');
    const password = readFileSync(join(home, 'redis', 'password'), 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(home, 'redis', 'password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'redis', 'redis.conf')).mode & 0o777).toBe(0o600);
    expect(new URL(server.url).password).toBe(password);

    // What a process that found the port would try: a plain command, no AUTH.
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => sock.write('SET minted 1\r\n'));
      sock.once('data', (d) => {
        resolve(d.toString());
        sock.destroy();
      });
      sock.once('error', reject);
    });
    expect(answer).toMatch(/^-NOAUTH/);

    const owner = new Redis(server.url, { maxRetriesPerRequest: 0 });
    expect(await owner.ping()).toBe('PONG');
    owner.disconnect();

    // redis-server retitles itself; what matters is that no command line anywhere shows the password.
    expect(cmdlinesWith(`:${port}`).length).toBeGreaterThan(0);
    expect(cmdlinesWith(password)).toEqual([]);

    // A restart keeps the password (the data directory is the same).
    await server.stop();
    server = await resolveRedis({ home, log: pino({ level: 'silent' }), pathVar: process.env.PATH, port });
    expect(new URL(server.url).password).toBe(password);
  });
});

describe('a Redis that runs commands without a password is found out at start-up', () => {
  const home = mkdtempSync(join(tmpdir(), 'gl-redis-open-'));
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('open, protected or unreachable; open is one loud structured warning, or a refusal under require', { timeout: 20_000 }, async () => {
    const server = await startOpenRedis();
    stops.push(async () => server.stop());
    const open = server.url;
    const embedded = await resolveRedis({ home, log: pino({ level: 'silent' }), pathVar: process.env.PATH, port: await freePort() });
    stops.push(() => embedded.stop());
    const closed = `redis://127.0.0.1:${await freePort()}`;

    expect(await redisAuthState(open)).toBe('open');
    expect(await redisAuthState(embedded.url)).toBe('protected');
    // A password in the URL does not hide an open Redis (it would accept the password and anyone else).
    expect(await redisAuthState(open.replace('redis://', 'redis://:some-password@'))).toBe('open');
    expect(await redisAuthState(closed)).toBe('unreachable');

    const lines: string[] = [];
    const log = createLogger(
      'redis-check',
      'info',
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString('utf8'));
          cb();
        },
      }),
    );
    expect(await checkRedisAuth(embedded.url, log, 'require')).toBe('protected');
    expect(lines).toEqual([]);
    expect(await checkRedisAuth(open, log, 'warn')).toBe('open');
    expect(lines).toHaveLength(1);
    const warning = JSON.parse(lines[0] ?? '{}') as { level: number; event: string; redis: string; fix: string; msg: string };
    expect(warning).toMatchObject({ level: 40, event: 'redis.unauthenticated', redis: `${open}` });
    expect(warning.msg).toMatch(/^SECURITY: Redis at .* runs commands without a password/);
    expect(warning.fix).toContain('requirepass');
    const refused = await checkRedisAuth(open, log, 'require').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GreenloopError);
    expect((refused as GreenloopError).code).toBe('REDIS_UNAUTHENTICATED');
  });
});
