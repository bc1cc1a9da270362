// One chaos trial: a scratch copy of the demo service, its own key prefix and GREENLOOP_HOME, workers as
// separate processes, one loop, one injected fault, then the checks the table reports.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cancelLoop,
  closeQueues,
  createQueues,
  type LoopEvent,
  type LoopRecord,
  LoopStore,
  procStat,
  Redis,
  type StopRule,
  startLoop,
  TERMINAL_STATES,
} from '@greenloop/core';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import type { ChaosRedis } from './redis-server.ts';

const WORKER_MAIN = fileURLToPath(new URL('../apps/worker/src/main.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The demo's environment a trial runs unless it names another (TrialOptions.environment). */
const DEMO_ENVIRONMENT = 'demo';

export interface TrialResult {
  fault: string;
  /** The loop's verdict was the expected one (green; cancelled for cancel trials; the stop rule a fault expects). */
  ok: boolean;
  duplicateDeploys: number;
  orphans: number;
  lostRecords: number;
  stuckClaims: number;
  notes: string[];
  durationMs: number;
}

export interface TrialOptions {
  fault: string;
  redis: ChaosRedis;
  /** The demo environment the loop runs on (`demo` unless the fault needs another, e.g. `demo-prove`). */
  environment?: string;
  /** BullMQ lock and stalled-check interval of the workers ("3s"/"1s" by default; undefined = greenloop defaults). */
  lock?: { duration: string; stalled: string } | 'default';
  /** Changes to the demo repository before the loop starts (committed). */
  prepareRepo?: (repo: string) => void;
  expect?: 'green' | 'cancelled' | { stopped: StopRule };
  /** How long the environment may stay claimed after the verdict (longer when Redis is down during the teardown). */
  releaseWithinMs?: number;
  timeoutMs?: number;
  /** Problems the fault itself can see once every loop ended (e.g. a suite that ran twice); any fails the trial. */
  check?: (t: Trial) => string[] | Promise<string[]>;
  /** Keep the trial directory (for a failing trial's evidence). */
  keep?: boolean;
  log?: (line: string) => void;
}

/** What a fault sees of a running trial. */
export class Trial {
  readonly dir: string;
  readonly repo: string;
  readonly home: string;
  readonly prefix: string;
  readonly environment: string;
  readonly store: LoopStore;
  readonly opts: TrialOptions;
  readonly workers: ChildProcess[] = [];
  readonly notes: string[] = [];
  loopId = '';
  /** Extra loops a fault started (e.g. triggers during teardown): checked like the first. */
  readonly extraLoops: string[] = [];
  /** Duplicate deploys the fault itself observed (e.g. several loops running at once). */
  duplicateDeploys = 0;
  /** Cycles whose deploy a fault interrupted (a redeploy there is a retry, not a duplicate). */
  readonly interruptedDeploys = new Set<number>();
  /** A worker that exited on its own (not killed by the trial): greenloop did not even start. */
  workerFailure: string | undefined;
  finished = false;
  #events: LoopEvent[] = [];
  #cursor = '0';
  #workerSeq = 0;

  constructor(opts: TrialOptions) {
    this.opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), `greenloop-chaos-${opts.fault.replace(/[^a-z0-9]+/gi, '-')}-`));
    this.repo = join(this.dir, 'repo');
    this.home = join(this.dir, 'home');
    this.prefix = `glchaos-${Math.random().toString(36).slice(2, 10)}`;
    this.environment = opts.environment ?? DEMO_ENVIRONMENT;
    this.store = new LoopStore(new Redis(opts.redis.url, { maxRetriesPerRequest: null }), this.prefix);
    this.store.redis.on('error', () => {});
  }

  log(line: string): void {
    this.opts.log?.(`[${this.opts.fault}] ${line}`);
  }

  startWorker(): ChildProcess {
    const lock = this.opts.lock ?? { duration: '3s', stalled: '1s' };
    const n = ++this.#workerSeq;
    mkdirSync(this.dir, { recursive: true });
    const out = openSync(join(this.dir, `worker-${n}.log`), 'a');
    const child = spawn(process.execPath, [WORKER_MAIN], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL: this.opts.redis.url,
        GREENLOOP_HOME: this.home,
        GREENLOOP_REPO: this.repo,
        GREENLOOP_PREFIX: this.prefix,
        ...(lock === 'default' ? {} : { GREENLOOP_LOCK_DURATION: lock.duration, GREENLOOP_STALLED_INTERVAL: lock.stalled }),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', out, out],
    });
    this.workers.push(child);
    child.once('exit', (code, signal) => {
      if (code !== null && code !== 0) this.workerFailure = `worker ${n} exited with code ${code} (see ${join(this.dir, `worker-${n}.log`)})`;
      else if (signal && signal !== 'SIGKILL' && signal !== 'SIGTERM') this.workerFailure = `worker ${n} died of ${signal}`;
    });
    return child;
  }

  /** kill -9 of every live worker, then a fresh one (what a crash and a restart by a supervisor look like). */
  async crashWorker(): Promise<void> {
    for (const w of this.workers) {
      if (w.exitCode === null && w.signalCode === null) {
        const exited = new Promise((r) => w.once('exit', r));
        w.kill('SIGKILL');
        await exited;
      }
    }
    this.startWorker();
  }

  /** The loop's events so far, read on from the last call (tolerates a Redis outage). */
  async poll(blockMs = 200): Promise<LoopEvent[]> {
    try {
      const events = await this.store.readEvents(this.loopId, this.#cursor, { blockMs });
      for (const e of events) this.#cursor = e.id ?? this.#cursor;
      this.#events.push(...events);
      return events;
    } catch {
      await sleep(blockMs);
      return [];
    }
  }

  /** Waits for the first event matching `pred` (from now on), or undefined at the timeout. */
  async waitFor(pred: (e: LoopEvent) => boolean, timeoutMs: number): Promise<LoopEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const e of await this.poll()) if (pred(e)) return e;
    }
    return undefined;
  }

  async cancel(): Promise<void> {
    await cancelLoop(this.store, this.loopId);
  }

  async trigger(): Promise<string | undefined> {
    const queues = createQueues(this.store.redis, this.prefix);
    try {
      const out = await startLoop({ store: this.store, queues }, { environment: this.environment, actor: { kind: 'cli', name: 'chaos' } });
      return out.kind === 'created' ? out.loop.id : undefined;
    } finally {
      await closeQueues(queues);
    }
  }

  get events(): readonly LoopEvent[] {
    return this.#events;
  }
}

function git(repo: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=chaos', '-c', 'user.email=chaos@greenloop.local', ...args], { cwd: repo, stdio: 'pipe' });
}

/** Commits whatever `edit` changes in the demo repository. */
export function commitRepo(repo: string, message: string, edit: () => void): void {
  edit();
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', message);
}

/** Writes a file in the repo (relative path) and commits it. */
export function addFile(repo: string, path: string, text: string): void {
  commitRepo(repo, `chaos: ${path}`, () => writeFileSync(join(repo, path), text));
}

/**
 * Runs one trial: the loop starts, `inject` runs alongside it, then the trial waits for every loop to end
 * and checks verdict, deploys, processes, records and claims.
 */
/** The trial in progress, for `abortCurrentTrial` (Ctrl-C must not leave workers and services behind). */
let current: Trial | undefined;

/** Kills what the running trial started (workers, services, suites, fixers): for a signal handler. */
export function abortCurrentTrial(): void {
  if (!current) return;
  for (const w of current.workers) if (w.exitCode === null) w.kill('SIGKILL');
  for (const o of findOrphans(current.dir)) killQuietly(o.pid);
}

export async function runTrial(opts: TrialOptions, inject: (t: Trial) => Promise<void>): Promise<TrialResult> {
  const started = Date.now();
  const t = new Trial(opts);
  current = t;
  const result: TrialResult = { fault: opts.fault, ok: false, duplicateDeploys: 0, orphans: 0, lostRecords: 0, stuckClaims: 0, notes: t.notes, durationMs: 0 };
  try {
    createDemoRepo(t.repo);
    opts.prepareRepo?.(t.repo);
    t.startWorker();
    const id = await t.trigger();
    if (!id) throw new Error('the trial loop was not created');
    t.loopId = id;
    t.log(`loop ${id}`);
    await Promise.race([inject(t), untilWorkerFails(t)]);
    const timeoutMs = opts.timeoutMs ?? 240_000;
    const loops = [id, ...t.extraLoops];
    const ended = new Map<string, LoopRecord | undefined>();
    for (const loopId of loops) ended.set(loopId, await waitForVerdict(t, loopId, timeoutMs));
    if (t.workerFailure) t.notes.push(t.workerFailure);
    const first = ended.get(id);
    const expected = opts.expect ?? 'green';
    result.ok = typeof expected === 'string' ? first?.state === expected : first?.state === 'stopped' && first.stop?.rule === expected.stopped;
    if (!result.ok) t.notes.push(`verdict ${first?.state ?? 'none'}${first?.stop ? ` (${first.stop.rule}: ${first.stop.message})` : ''}`);
    const problems = (await opts.check?.(t)) ?? [];
    if (problems.length) {
      result.ok = false;
      t.notes.push(...problems);
    }
    for (const loopId of loops) {
      if (!(await claimReleased(t.store, t.environment, loopId, opts.releaseWithinMs ?? 60_000))) {
        result.stuckClaims++;
        const l = await t.store.getLoop(loopId).catch(() => undefined);
        t.notes.push(`claim of ${loopId} still held (loop ${l?.state ?? '?'}, teardown ${l?.teardown ?? '?'})`);
      }
      const loop = ended.get(loopId);
      if (!loop) {
        result.lostRecords++;
        t.notes.push(`loop ${loopId} has no verdict`);
        continue;
      }
      result.lostRecords += await lostRecords(t, loop);
      result.duplicateDeploys += duplicateDeploys(t, loop);
    }
    result.duplicateDeploys += t.duplicateDeploys;
    await stopWorkers(t);
    await sleep(1000);
    const orphans = findOrphans(t.dir);
    result.orphans = orphans.length;
    if (orphans.length) t.notes.push(`orphans: ${orphans.map((o) => `${o.pid} ${o.cmdline}`).join('; ')}`);
    for (const o of orphans) killQuietly(o.pid);
  } catch (err) {
    t.notes.push(`trial error: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await stopWorkers(t);
    for (const o of findOrphans(t.dir)) killQuietly(o.pid);
    try {
      await t.store.clearAll();
    } catch {}
    t.store.redis.disconnect();
    const clean = result.ok && !result.duplicateDeploys && !result.orphans && !result.lostRecords && !result.stuckClaims;
    if (!opts.keep && clean) rmSync(t.dir, { recursive: true, force: true });
    else t.notes.push(`evidence kept in ${t.dir}`);
    result.durationMs = Date.now() - started;
    current = undefined;
    t.finished = true;
  }
  return result;
}

async function untilWorkerFails(t: Trial): Promise<void> {
  while (!t.workerFailure && !t.finished) await sleep(500);
}

async function waitForVerdict(t: Trial, loopId: string, timeoutMs: number): Promise<LoopRecord | undefined> {
  const { store } = t;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !t.workerFailure) {
    try {
      const loop = await store.getLoop(loopId);
      if (loop && TERMINAL_STATES.includes(loop.state)) return loop;
    } catch {}
    await sleep(300);
  }
  return undefined;
}

async function claimReleased(store: LoopStore, environment: string, loopId: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await store.activeLoop(environment)) !== loopId) return true;
    } catch {}
    await sleep(300);
  }
  return false;
}

/** Records a finished loop must have: every cycle, its stage records terminal, a report once analyzed. */
async function lostRecords(t: Trial, loop: LoopRecord): Promise<number> {
  let lost = 0;
  for (let n = 1; n <= loop.cycle; n++) {
    const cycle = await t.store.getCycle(loop.id, n);
    if (!cycle) {
      lost++;
      t.notes.push(`${loop.id}: cycle ${n} record missing`);
      continue;
    }
    for (const [name, rec] of Object.entries(cycle.stages)) {
      if (rec && rec.status === 'running') {
        lost++;
        t.notes.push(`${loop.id}: cycle ${n} ${name} still running after the loop ended`);
      }
    }
    const finishedEarlier = n < loop.cycle;
    for (const name of ['deploy', 'test', 'analyze'] as const) {
      if (finishedEarlier && cycle.stages[name]?.status !== 'succeeded') {
        lost++;
        t.notes.push(`${loop.id}: cycle ${n} ${name} is ${cycle.stages[name]?.status ?? 'missing'}`);
      }
    }
    if (cycle.stages.analyze?.status === 'succeeded' && !cycle.report) {
      lost++;
      t.notes.push(`${loop.id}: cycle ${n} report missing`);
    }
  }
  return lost;
}

/**
 * Service starts per cycle, from the services' own log ("listening" once per start). More than one in a
 * cycle whose deploy no fault interrupted means the cycle was deployed twice.
 */
function duplicateDeploys(t: Trial, loop: LoopRecord): number {
  let dup = 0;
  for (let n = 1; n <= loop.cycle; n++) {
    const dir = join(t.home, 'artifacts', loop.id, `cycle-${n}`, 'deploy');
    let starts = 0;
    for (const f of safeReaddir(dir)) {
      if (!f.endsWith('.log')) continue;
      starts += readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"listening"')).length;
    }
    const allowed = t.interruptedDeploys.has(n) ? 2 : 1;
    if (starts > allowed) {
      dup += starts - allowed;
      t.notes.push(`${loop.id}: cycle ${n} services started ${starts} times`);
    }
  }
  return dup;
}

async function stopWorkers(t: Trial): Promise<void> {
  for (const w of t.workers) {
    if (w.exitCode !== null || w.signalCode !== null) continue;
    const exited = new Promise((r) => w.once('exit', r));
    w.kill('SIGTERM');
    const timer = setTimeout(() => w.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

/** Live processes (not zombies) whose cwd, command line or environment points into the trial's directory. */
export function findOrphans(dir: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of safeReaddir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const st = procStat(pid);
    if (!st || st.state === 'Z') continue;
    let cwd = '';
    let cmdline = '';
    let environ = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {}
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
    } catch {}
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {}
    if (cwd.startsWith(dir) || cmdline.includes(dir) || environ.includes(dir)) out.push({ pid, cmdline: cmdline.slice(0, 120) });
  }
  return out;
}
