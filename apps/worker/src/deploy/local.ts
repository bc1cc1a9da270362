import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type DeployedService, GreenloopError, type Logger, freePort } from '@greenloop/core';
import { isAlive, killGroup } from '../process/run-command.ts';
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
    const fd = openSync(logFile, 'a');
    const [program, ...args] = cfg.command;
    const cwd = resolve(req.worktree, cfg.cwd);
    const child = spawn(program as string, args, {
      cwd,
      env: { PATH: this.pathVar, HOME: this.homeVar, ...cfg.env, PORT: String(port), GREENLOOP_COMMIT: req.commit },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
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
    let exit: string | undefined;
    child.once('exit', (code, sig) => {
      exit = sig ? `signal ${sig}` : `exit code ${code}`;
    });

    const healthUrl = `${url}${req.service.healthPath}`;
    const started = Date.now();
    let lastProgress = started;
    let lastError = 'no answer yet';
    for (;;) {
      if (req.signal.aborted) {
        killGroup(pid);
        throw new GreenloopError('CANCELLED', 'deploy cancelled');
      }
      if (exit) {
        throw new GreenloopError('DEPLOY_NOT_READY', `${req.service.name} exited (${exit}) before ${req.service.healthPath} answered`, {
          details: { logFile, logTail: tail(logFile) },
          hint: `see ${logFile}`,
        });
      }
      try {
        const res = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        if (res.ok) break;
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        lastError = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
      }
      const waited = Date.now() - started;
      if (waited > cfg.readyTimeout) {
        killGroup(pid);
        throw new GreenloopError('DEPLOY_NOT_READY', `${req.service.name} did not answer ${req.service.healthPath} with 2xx within ${Math.round(cfg.readyTimeout / 1000)}s (last: ${lastError})`, {
          details: { logFile, logTail: tail(logFile), healthUrl },
          hint: `the service was stopped and no test ran against it; see ${logFile}`,
        });
      }
      if (Date.now() - lastProgress > 2000) {
        lastProgress = Date.now();
        req.progress(`waiting for ${req.service.name} on ${healthUrl}: ${Math.round(waited / 1000)}s (${lastError})`);
      }
      // Poll fast at first (most services are up within a second), then back off.
      await sleep(Math.min(250, 10 + waited / 10));
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
    };
  }

  async stop(deployed: DeployedService, log: Logger): Promise<void> {
    const pid = deployed.pid;
    if (!pid || !isAlive(pid)) return;
    killGroup(pid, 'SIGTERM');
    for (let i = 0; i < 250 && isAlive(pid); i++) await sleep(20);
    if (isAlive(pid)) killGroup(pid, 'SIGKILL');
    log.debug({ service: deployed.service, pid }, 'stopped local service');
  }
}
