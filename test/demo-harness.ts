// Shared set-up for the end-to-end tests: a scratch copy of the demo service, an isolated prefix and
// home directory, and a cleanup that removes every key, queue and file the test made.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApi } from '@greenloop/api';
import {
  closeQueues,
  createLogger,
  createQueues,
  type Env,
  startLoop as enqueueLoop,
  type Logger,
  type LoopEvent,
  type LoopRecord,
  type LoopSource,
  LoopStore,
  type Queues,
  readEnv,
  TERMINAL_STATES,
} from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';

export interface Harness {
  dir: string;
  repo: string;
  env: Env;
  token: string;
  store: LoopStore;
  redisUrl: string;
  waitForEnd(loopId: string, timeoutMs: number): Promise<LoopRecord>;
  cleanup(): Promise<void>;
}

/**
 * Adds lines (indented for an environment's keys, 4 spaces) to the `demo` environment of a greenloop.yaml
 * text: at the end of its block, wherever it stands among the other environments.
 */
export function withDemoSettings(yaml: string, lines: string): string {
  const start = yaml.indexOf('\n  demo:\n');
  if (start < 0) throw new Error('no demo environment in this greenloop.yaml');
  const next = yaml.slice(start + 1).search(/\n {2}\S/);
  const end = next < 0 ? yaml.length : start + 1 + next + 1;
  const block = yaml.slice(0, end).replace(/\n*$/, '\n');
  return `${block}${lines.endsWith('\n') ? lines : `${lines}\n`}${end < yaml.length ? `\n${yaml.slice(end)}` : ''}`;
}

/**
 * Commits every tracked change in `repo` and returns the commit: a loop runs with greenloop.yaml as
 * committed at the commit it starts at, so a test that edits the file commits it before starting one.
 */
export function commitAll(repo: string, message: string): string {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', message], { cwd: repo });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
}

/**
 * A bare repository at `bare` (a project's "remote") holding what `fill` commits into a scratch working
 * copy, which is deleted after: the remote is all there is, as for a project greenloop clones. Its HEAD.
 */
export function bareRemote(bare: string, fill: (workdir: string) => void): string {
  const workdir = `${bare}.work`;
  fill(workdir);
  execFileSync('git', ['clone', '-q', '--bare', workdir, bare], { stdio: 'pipe' });
  rmSync(workdir, { recursive: true, force: true });
  return execFileSync('git', ['--git-dir', bare, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}

/** {@link withDemoSettings} on the file itself. */
export function addDemoSettings(file: string, lines: string): void {
  writeFileSync(file, withDemoSettings(readFileSync(file, 'utf8'), lines));
}

/**
 * greenloop's settings for one end-to-end test: the Redis the global setup started, a home under `dir`,
 * `repo` as the repository, and a key prefix and admin token of its own.
 */
export function isolatedEnv(dir: string, repo: string, overrides: Record<string, string> = {}): { env: Env; redisUrl: string; token: string; prefix: string } {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set (vitest global setup starts Redis)');
  const token = `test-admin-token-${Math.random().toString(36).slice(2)}`;
  const prefix = `gle2e-${Math.random().toString(36).slice(2, 10)}`;
  const env = readEnv({
    REDIS_URL: redisUrl,
    GREENLOOP_HOME: join(dir, 'home'),
    GREENLOOP_REPO: repo,
    GREENLOOP_PREFIX: prefix,
    GREENLOOP_API_TOKEN: token,
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...overrides,
  });
  return { env, redisUrl, token, prefix };
}

/** Waits (up to `timeoutMs`) until loop `loopId` has ended; its record. */
export async function waitForEnd(store: LoopStore, loopId: string, timeoutMs: number): Promise<LoopRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const loop = await store.getLoop(loopId);
    // Done means the verdict is recorded and the teardown finished (the environment is released).
    if (loop && TERMINAL_STATES.includes(loop.state) && (await store.activeLoop(loop.environment)) !== loopId) return loop;
    if (Date.now() > deadline) throw new Error(`loop ${loopId} did not finish within ${timeoutMs}ms: ${JSON.stringify(loop)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function demoHarness(overrides: Record<string, string> = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-e2e-'));
  const repo = join(dir, 'repo');
  createDemoRepo(repo);
  const { env, redisUrl, token, prefix } = isolatedEnv(dir, repo, overrides);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  return {
    dir,
    repo,
    env,
    token,
    store,
    redisUrl,
    waitForEnd: (loopId, timeoutMs) => waitForEnd(store, loopId, timeoutMs),
    async cleanup() {
      await store.clearAll();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A worker and an API in this process on the harness's settings, and a loop started the way a client does. */
export interface Stack {
  apiUrl: string;
  /** The admin token's header. */
  auth: { authorization: string };
  /** POST /v1/loops for `environment`; the new loop's id (throws, saying why, unless the API answers 202). */
  startLoop(environment: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a worker (with `processEnv` as the environment its commands may pass on) and an API for `h`.
 * Close it before `h.cleanup()`.
 */
export async function startStack(
  h: Harness,
  processEnv: Readonly<Record<string, string | undefined>> = { ...process.env },
  log: Logger = createLogger('e2e', 'warn'),
): Promise<Stack> {
  const worker = await startWorker(h.env, log, h.redisUrl, processEnv);
  const api = await startApi(h.env, log, h.redisUrl);
  const auth = { authorization: `Bearer ${h.token}` };
  return {
    apiUrl: api.url,
    auth,
    async startLoop(environment) {
      const res = await fetch(`${api.url}/v1/loops`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ environment }),
      });
      if (res.status !== 202) throw new Error(`POST /v1/loops {environment: ${environment}} answered ${res.status}, not 202: ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
    async close() {
      await api.close();
      await worker.close();
    },
  };
}

/** Starts a loop straight through the queues, as the CLI does (no API); its id. `source`: a project loop's. */
export async function startLoopDirect(store: LoopStore, prefix: string, environment: string, actorName: string, source?: LoopSource): Promise<string> {
  const queues = createQueues(store.redis, prefix);
  try {
    const out = await enqueueLoop({ store, queues }, { environment, actor: { kind: 'cli', name: actorName }, ...(source ? { source } : {}) });
    if (out.kind !== 'created') throw new Error(`loop not created: ${out.kind}`);
    return out.loop.id;
  } finally {
    await closeQueues(queues);
  }
}

const WORKER_MAIN = fileURLToPath(new URL('../apps/worker/src/main.ts', import.meta.url));

/**
 * Spawns one worker process (apps/worker/src/main.ts) with exactly `env` (nothing inherited). With `label`
 * its output (the log goes to stdout) is copied to this process's stderr under that label; without, only
 * its stderr is. `within` is the argv of a command to run it inside (bubblewrap, see worker-machines.ts),
 * which gets a pipe as fd 3.
 */
export function spawnWorker(opts: {
  env: Record<string, string | undefined>;
  cwd?: string;
  nodeFlags?: readonly string[];
  within?: readonly string[];
  label?: string;
}): ChildProcess {
  const node = [process.execPath, ...(opts.nodeFlags ?? []), WORKER_MAIN];
  const [command, ...args] = opts.within?.length ? [...opts.within, ...node] : node;
  const child = spawn(command as string, args, {
    env: opts.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    stdio: ['ignore', opts.label ? 'pipe' : 'ignore', opts.label ? 'pipe' : 'inherit', ...(opts.within ? (['pipe'] as const) : [])],
  });
  for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => process.stderr.write(`  [${opts.label}] ${d}`));
  return child;
}

/** Worker processes (apps/worker/src/main.ts) on one set of greenloop settings, for tests that kill -9 one. */
export interface WorkerProcesses {
  start(): ChildProcess;
  /** SIGKILLs every one still running. */
  killAll(): void;
}

export function workerProcesses(settings: {
  redisUrl: string;
  home: string;
  repo: string;
  prefix: string;
  logLevel: string;
  /** More GREENLOOP_* settings, e.g. a short lock duration so a dead worker's jobs stall quickly. */
  extra?: Record<string, string>;
}): WorkerProcesses {
  const children: ChildProcess[] = [];
  return {
    start() {
      const child = spawnWorker({
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          REDIS_URL: settings.redisUrl,
          GREENLOOP_HOME: settings.home,
          GREENLOOP_REPO: settings.repo,
          GREENLOOP_PREFIX: settings.prefix,
          ...settings.extra,
          LOG_LEVEL: settings.logLevel,
        },
      });
      children.push(child);
      return child;
    },
    killAll() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    },
  };
}

/** Waits (up to `timeoutMs`) for the first event of loop `id` that `match` accepts; undefined if none came. */
export async function waitForEvent(store: LoopStore, id: string, match: (e: LoopEvent) => boolean, timeoutMs: number): Promise<LoopEvent | undefined> {
  let cursor = '0';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const events: LoopEvent[] = await store.readEvents(id, cursor, { blockMs: 500 });
    for (const e of events) {
      cursor = e.id ?? cursor;
      if (match(e)) return e;
    }
  }
  return undefined;
}

/**
 * A real worker in this process on the harness's Redis and repository, and queues to add jobs with: for
 * tests that drive single jobs (a final failure, a replayed controller) rather than whole loops.
 */
export async function inProcessWorker(
  h: Harness,
  processEnv: Readonly<Record<string, string | undefined>> = { PATH: process.env.PATH, HOME: process.env.HOME },
): Promise<{ queues: Queues; close: () => Promise<void> }> {
  const worker = await startWorker(h.env, createLogger('test', 'silent'), h.redisUrl, processEnv);
  const queues = createQueues(h.store.redis, h.env.GREENLOOP_PREFIX);
  return {
    queues,
    close: async () => {
      await worker.close();
      await closeQueues(queues);
    },
  };
}
