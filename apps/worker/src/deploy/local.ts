import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type DeployedService, freePort, GreenloopError, type Logger, renderArgv, renderEnv } from '@greenloop/core';
import { groupAlive, isAlive, killGroup } from '../process/run-command.ts';
import { confine } from '../process/sandbox.ts';
import { waitHealthy } from './health.ts';
import { deployValues } from './placeholder-values.ts';
import type { DeployProvider, DeployRequest } from './types.ts';

/** The last `bytes` of a file, for error messages. */
export function tail(file: string, bytes = 2000): string {
  try {
    const size = statSync(file).size;
    const buf = readFileSync(file);
    return buf.subarray(Math.max(0, size - bytes)).toString('utf8');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The embedded default: runs each service as a child process from the cycle's worktree, on a free port
 * (PORT), with its output captured to a log file the local log source reads. Processes are detached in
 * their own group and survive a worker crash, so a retried test stage still finds them; the pid is in the
 * deploy record and the next cycle (or the loop's end) stops them.
 */
export class LocalProvider implements DeployProvider {
  readonly pathVar: string;
  readonly homeVar: string;

  constructor(opts: { pathVar: string; homeVar: string }) {
    this.pathVar = opts.pathVar;
    this.homeVar = opts.homeVar;
  }

  async deploy(req: DeployRequest): Promise<DeployedService> {
    const cfg = req.service.deploy;
    if (cfg.provider !== 'local') throw new GreenloopError('DEPLOY_PROVIDER_MISMATCH', `service ${req.service.name} is not a local service`);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logFile = join(req.cycleDir, 'deploy', `${req.service.name}.log`);
    const values = deployValues(req);
    const cwd = resolve(req.worktree, cfg.cwd);
    const env = {
      PATH: this.pathVar,
      HOME: this.homeVar,
      ...renderEnv(cfg.env, values),
      PORT: String(port),
      GREENLOOP_COMMIT: req.commit,
      ...req.processes?.env(),
    };
    // Sandboxed (process/sandbox.ts): writable only the cycle's checkout, network host; it outlives a
    // worker restart as before, and its pid stays the group to kill.
    const spec = { kind: 'service', argv: renderArgv(cfg.command, values), cwd, env, network: 'host', writable: [req.worktree], outliveParent: true } as const;
    const confined = await confine(spec, req.sandbox ?? { mode: 'off', hide: [] }).catch((err: unknown) => {
      throw new GreenloopError('DEPLOY_NOT_READY', `could not start ${req.service.name}: ${err instanceof Error ? err.message : String(err)}`, {
        hint: `check deploy.command of service ${req.service.name} and sandbox in greenloop.yaml`,
      });
    });
    if (confined.warning) req.log.warn({ service: req.service.name }, confined.warning);
    const [program, ...args] = confined.argv;
    const fd = openSync(logFile, 'a');
    const child = spawn(program as string, args, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    // Recorded before anything is awaited: a worker killed while the service starts leaves a record.
    const recorded = child.pid !== undefined ? req.processes?.spawned(child.pid, 'service') : undefined;
    closeSync(fd);
    const spawnError = await new Promise<Error | undefined>((r) => {
      child.once('error', r);
      child.once('spawn', () => r(undefined));
    });
    if (spawnError || child.pid === undefined) {
      throw new GreenloopError('DEPLOY_NOT_READY', `could not start ${req.service.name}: ${spawnError?.message ?? 'no pid'}`, {
        hint: `check deploy.command of service ${req.service.name} in greenloop.yaml`,
      });
    }
    child.unref();
    const pid = child.pid;
    const rec = await recorded;
    let exit: string | undefined;
    child.once('exit', (code, sig) => {
      exit = sig ? `signal ${sig}` : `exit code ${code}`;
    });

    try {
      await waitHealthy({
        url,
        service: req.service.name,
        path: req.service.healthPath,
        timeoutMs: cfg.readyTimeout,
        signal: req.signal,
        progress: req.progress,
        gone: () => (exit ? `exited (${exit})` : undefined),
      });
    } catch (err) {
      killGroup(pid);
      if (rec) await req.processes?.release(rec);
      if (err instanceof GreenloopError && err.code === 'DEPLOY_NOT_READY') {
        throw new GreenloopError(err.code, err.message, {
          details: { ...err.details, logFile, logTail: tail(logFile) },
          hint: `the service was stopped and no test ran against it; see ${logFile}`,
        });
      }
      throw err;
    }
    return {
      service: req.service.name,
      provider: 'local',
      url,
      revision: `local-${req.commit.slice(0, 7)}-${pid}`,
      readyAt: new Date().toISOString(),
      pid,
      logFile,
      worktree: req.worktree,
      sandboxed: confined.sandboxed,
      ...(confined.sandboxed ? {} : { sandboxNote: confined.warning ?? 'sandbox: off in greenloop.yaml' }),
    };
  }

  async stop(deployed: DeployedService, log: Logger): Promise<void> {
    const pid = deployed.pid;
    if (!pid || !isAlive(pid)) return;
    killGroup(pid, 'SIGTERM');
    // The group, not only its leader: a sandboxed service's leader (bwrap) exits before the service does.
    for (let i = 0; i < 250 && (isAlive(pid) || groupAlive(pid)); i++) await sleep(20);
    if (isAlive(pid) || groupAlive(pid)) killGroup(pid, 'SIGKILL');
    log.debug({ service: deployed.service, pid }, 'stopped local service');
  }
}
