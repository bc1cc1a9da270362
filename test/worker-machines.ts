// Worker processes as if each ran on a machine of its own: its own directory (working directory, HOME and
// GREENLOOP_HOME), no GREENLOOP_REPO, and a mount namespace (bubblewrap) in which the other machines'
// directories do not exist. On one host a worker could otherwise open a path another worker recorded and
// pass where a second machine would fail. What they share is what machines share: Redis, the artifact
// store and the remotes (kept outside `root`), plus, because they run on one host, loopback and process ids
// (the `local` deploy provider's services are reachable and stoppable from every worker).
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnWorker } from './demo-harness.ts';

export interface WorkerMachine {
  readonly name: string;
  /** The machine's directory (working directory and HOME); `home` below it is its GREENLOOP_HOME. */
  readonly dir: string;
  readonly home: string;
  /** The worker's own pid (not bubblewrap's): what the worker registry lists and what kill -9 hits. */
  readonly pid: number;
  /** bubblewrap's process: its exit code is the worker's (128 + signal number when the worker was killed). */
  readonly process: ChildProcess;
  /** Resolves once the worker has exited, with that exit code. */
  readonly exited: Promise<number | null>;
}

export interface WorkerMachines {
  readonly machines: readonly WorkerMachine[];
  /** Starts a worker on a new machine `name` (a directory under root) and resolves once it has a pid. */
  start(name: string): Promise<WorkerMachine>;
  /** SIGTERM to every worker still running (they finish their jobs), SIGKILL to any still up after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Throws, saying what to install, unless bubblewrap can make a mount namespace here. */
function requireBubblewrap(): void {
  try {
    execFileSync('bwrap', ['--dev-bind', '/', '/', '--', 'true'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`worker machines need bubblewrap with unprivileged user namespaces (apt-get install bubblewrap): ${(err as Error).message}`);
  }
}

export function workerMachines(settings: {
  /** Parent of every machine's directory; hidden whole from each worker but for its own directory. */
  root: string;
  redisUrl: string;
  prefix: string;
  logLevel?: string;
  /** More settings for every worker, e.g. GREENLOOP_ARTIFACTS=gcs and its bucket. */
  extra?: Record<string, string>;
  nodeFlags?: readonly string[];
}): WorkerMachines {
  requireBubblewrap();
  const machines: WorkerMachine[] = [];
  return {
    machines,
    async start(name) {
      const dir = join(settings.root, name);
      const home = join(dir, 'home');
      mkdirSync(home, { recursive: true });
      const child = spawnWorker({
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          REDIS_URL: settings.redisUrl,
          GREENLOOP_HOME: home,
          GREENLOOP_PREFIX: settings.prefix,
          ...settings.extra,
          LOG_LEVEL: settings.logLevel ?? 'warn',
        },
        cwd: dir,
        nodeFlags: settings.nodeFlags ?? [],
        // --info-fd 3 reports the worker's pid; --die-with-parent takes the worker down with this process.
        within: ['bwrap', '--dev-bind', '/', '/', '--tmpfs', settings.root, '--bind', dir, dir, '--die-with-parent', '--info-fd', '3', '--'],
        label: name,
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const pid = await new Promise<number>((resolve, reject) => {
        let info = '';
        child.stdio[3]?.on('data', (d: Buffer) => {
          info += d.toString();
          const m = /"child-pid":\s*(\d+)/.exec(info);
          if (m) resolve(Number(m[1]));
        });
        void exited.then((code) => reject(new Error(`worker machine ${name}: bubblewrap exited (${code}) before starting the worker`)));
      });
      const machine: WorkerMachine = { name, dir, home, pid, process: child, exited };
      machines.push(machine);
      return machine;
    },
    async stop(graceMs = 15_000) {
      const running = machines.filter((m) => m.process.exitCode === null && m.process.signalCode === null);
      for (const m of running) signal(m.pid, 'SIGTERM');
      const kill = setTimeout(() => {
        for (const m of running) signal(m.pid, 'SIGKILL');
      }, graceMs);
      await Promise.all(running.map((m) => m.exited));
      clearTimeout(kill);
    },
  };
}

/** Sends `sig` to `pid`, ignoring a process that is already gone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already exited.
  }
}
