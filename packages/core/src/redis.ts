import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { GreenloopError } from './errors.ts';
import type { Logger } from './logger.ts';

export { Redis };

/**
 * Producers (the API) fail fast instead of queueing commands while Redis is away; workers wait forever
 * (`maxRetriesPerRequest: null`), as BullMQ requires for blocking connections. Readers are producers
 * whose commands auto-pipeline: everything issued in one event-loop turn (the reads of every request
 * being served) goes out in one write, which is what lets the API serve status polls at close to a
 * hello-world's rate. Only for reads: BullMQ is not known to work with it, and a queued command can be
 * overtaken by a transaction issued after it.
 */
export function createRedis(url: string, role: 'producer' | 'reader' | 'worker'): Redis {
  const opts: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, ...(role === 'reader' ? { enableAutoPipelining: true } : {}) };
  return new Redis(url, { ...opts, lazyConnect: false });
}

/** Resolves once the connection is ready, or rejects with a message that says what to do. */
export async function waitReady(redis: Redis, url: string, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new GreenloopError('REDIS_UNREACHABLE', `Redis at ${redactUrl(url)} did not answer within ${timeoutMs}ms`, {
          retryable: true,
          hint: 'check REDIS_URL, or unset it to let greenloop start its own redis-server',
        }),
      );
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** Redis URLs may carry a password; this is what may be logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.username) u.username = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

async function pings(url: string, timeoutMs = 500): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

function findOnPath(bin: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, bin);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface ResolvedRedis {
  url: string;
  /** "env" (REDIS_URL), "local" (something answered on 6379) or "embedded" (we started it). */
  source: 'env' | 'local' | 'embedded';
  stop(): Promise<void>;
}

export const REDIS_INSTALL_HINT =
  'install Redis 7 (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`), or run `docker compose up -d redis`, or set REDIS_URL to a Redis you have';

/**
 * The embedded default: REDIS_URL if set; else a Redis already answering on 127.0.0.1:6379; else a
 * `redis-server` child process with AOF on and `noeviction` (BullMQ loses jobs under eviction), data in
 * `<home>/redis`, a password only greenloop knows (`<home>/redis/password`, 0600, passed in a 0600
 * config file rather than argv, which any process of the user can read), stopped by `stop()`.
 */
export async function resolveRedis(opts: { redisUrl?: string; home: string; log: Logger; pathVar?: string; port?: number }): Promise<ResolvedRedis> {
  if (opts.redisUrl) return { url: opts.redisUrl, source: 'env', stop: async () => {} };
  const localUrl = 'redis://127.0.0.1:6379';
  // Whether that one needs a password is checkRedisAuth's to say, once, wherever the URL came from.
  if (opts.port === undefined && (await pings(localUrl))) return { url: localUrl, source: 'local', stop: async () => {} };

  const bin = findOnPath('redis-server', opts.pathVar);
  if (!bin) throw new GreenloopError('REDIS_MISSING', 'no Redis answers on 127.0.0.1:6379 and no redis-server binary is on PATH', { hint: REDIS_INSTALL_HINT });

  const port = opts.port ?? (await freePort());
  const dir = join(opts.home, 'redis');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = embeddedRedisPassword(dir);
  const conf = join(dir, 'redis.conf');
  writeFileSync(conf, `requirepass ${password}\n`, { mode: 0o600 });
  chmodSync(conf, 0o600);
  const args = [
    conf,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--maxmemory-policy',
    'noeviction',
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const url = `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await pings(url, 300))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new GreenloopError('REDIS_START_FAILED', `redis-server did not start on port ${port}; see ${join(dir, 'redis.log')}`, { hint: REDIS_INSTALL_HINT });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  opts.log.info({ port, dir }, 'started embedded redis-server');
  return {
    url,
    source: 'embedded',
    stop: async () => {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/** The embedded Redis's password: kept in `<dir>/password` (0600) so restarts of greenloop reuse it. */
function embeddedRedisPassword(dir: string): string {
  const file = join(dir, 'password');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 32) return kept;
  } catch {}
  const password = randomBytes(24).toString('hex');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return password;
}

/**
 * What the Redis at `url` does for a client that sends no password: `open` (it runs commands, so any
 * process that can connect — a sandboxed test suite or service on the host network included — can
 * write greenloop's records), `protected` (it answers NOAUTH), or `unreachable`. Asks with a bare PING
 * on a connection of its own, whatever credentials `url` carries.
 */
export async function redisAuthState(url: string, timeoutMs = 2000): Promise<'open' | 'protected' | 'unreachable'> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'unreachable';
  }
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(u.port || 6379);
  return await new Promise((done) => {
    const sock = u.protocol === 'rediss:' ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
    const finish = (state: 'open' | 'protected' | 'unreachable') => {
      clearTimeout(timer);
      sock.destroy();
      done(state);
    };
    const timer = setTimeout(() => finish('unreachable'), timeoutMs);
    sock.once(u.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => sock.write('PING\r\n'));
    sock.once('data', (d: Buffer) => finish(d.toString('latin1').startsWith('+PONG') ? 'open' : 'protected'));
    sock.once('error', () => finish('unreachable'));
  });
}

/** `GREENLOOP_REDIS_AUTH`: what a process does on finding its Redis open (`warn`, the default, or `require`: refuse to start). */
export type RedisAuthPolicy = 'warn' | 'require';

export const OPEN_REDIS_FIX =
  'give Redis a password (requirepass, or ACL users) and put it in REDIS_URL (redis://:PASSWORD@host:6379), or unset REDIS_URL and stop the Redis on 127.0.0.1:6379 so greenloop starts its own with a generated password';

/**
 * Start-up check of the API and the worker: a Redis that runs commands without a password lets every
 * local process write loop records and queue jobs (tokens stay safe: their records are MACs under the
 * token secret). Logs one loud structured warning (`event: "redis.unauthenticated"`), or refuses to
 * start under `GREENLOOP_REDIS_AUTH=require`.
 */
export async function checkRedisAuth(url: string, log: Logger | undefined, policy: RedisAuthPolicy): Promise<'open' | 'protected' | 'unreachable'> {
  const state = await redisAuthState(url);
  if (state !== 'open') return state;
  const what = `Redis at ${redactUrl(url)} runs commands without a password: every process on this host that can connect to it — including a sandboxed test suite or local service, which share the host network — can rewrite greenloop's loops and queue jobs`;
  if (policy === 'require')
    throw new GreenloopError('REDIS_UNAUTHENTICATED', `${what}; refusing to start (GREENLOOP_REDIS_AUTH=require)`, { hint: OPEN_REDIS_FIX });
  log?.warn({ event: 'redis.unauthenticated', redis: redactUrl(url), fix: OPEN_REDIS_FIX }, `SECURITY: ${what}. Fix: ${OPEN_REDIS_FIX}`);
  return state;
}
