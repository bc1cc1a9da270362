import { join } from 'node:path';
import { type DeployedService, GreenloopError, renderArgv, renderEnv } from '@greenloop/core';
import { CloudRunApi, type CloudRunApiOptions, type CloudRunTarget, proveRevisionReady, runStep } from './cloud-run.ts';
import { deployValues } from './placeholder-values.ts';
import type { DeployProvider, DeployRequest } from './types.ts';

export interface CommandProviderOptions extends CloudRunApiOptions {
  /** Base environment of deploy commands (an allow-list built by the composition root); `deploy.env` is added on top. */
  env?: Readonly<Record<string, string>>;
  /** Max bytes of command output kept per stream. */
  outputLimit?: number;
  /** Use this API wrapper for the Cloud Run readiness check instead of creating one. */
  api?: CloudRunApi;
  /** How long the Cloud Run revision may take to be ready after the command exits (default 10 min). */
  readyTimeoutMs?: number;
}

/**
 * Runs the team's own deploy command (argv with `{{commit}}`, `{{shortCommit}}`, `{{service}}`,
 * `{{artifacts}}`) in the cycle's worktree, output kept under the cycle directory. With `cloudRun` set it
 * then proves the deploy with the same readiness check as the cloud-run provider (the latest created
 * revision must be ready and be the latest ready one) and returns that service's URL and revision;
 * otherwise it returns `url` from the config.
 */
export class CommandProvider implements DeployProvider {
  readonly env: Readonly<Record<string, string>>;
  readonly outputLimit: number | undefined;
  readonly readyTimeoutMs: number;
  private readonly apiOptions: CloudRunApiOptions;
  private api: CloudRunApi | undefined;
  private readonly ownsApi: boolean;

  constructor(opts: CommandProviderOptions = {}) {
    this.env = opts.env ?? {};
    this.outputLimit = opts.outputLimit;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 600_000;
    this.apiOptions = opts;
    this.api = opts.api;
    this.ownsApi = !opts.api;
  }

  // Created on first use: a command deploy without `cloudRun` never needs Google clients.
  private cloudRun(): CloudRunApi {
    this.api ??= new CloudRunApi(this.apiOptions);
    return this.api;
  }

  async deploy(req: DeployRequest): Promise<DeployedService> {
    const cfg = req.service.deploy;
    if (cfg.provider !== 'command') throw new GreenloopError('DEPLOY_PROVIDER_MISMATCH', `service ${req.service.name} is not a command service`);
    if (!cfg.cloudRun && !cfg.url) {
      throw new GreenloopError('DEPLOY_URL_MISSING', `service ${req.service.name} uses a deploy command but has neither deploy.url nor deploy.cloudRun`, {
        hint: 'set deploy.url to the URL tests should use, or deploy.cloudRun {project, region, service} so greenloop can prove the revision is ready and find its URL',
      });
    }
    const target: CloudRunTarget | undefined = cfg.cloudRun;
    const before = target ? await this.cloudRun().getService(target, { signal: req.signal }) : undefined;

    const values = { ...deployValues(req), artifacts: req.cycleDir };
    const argv = renderArgv(cfg.command, values);
    const ran = await runStep({
      step: 'deploy',
      argv,
      cwd: req.worktree,
      env: { ...this.env, ...renderEnv(cfg.env, values) },
      timeoutMs: cfg.timeout,
      dir: join(req.cycleDir, 'deploy', req.service.name),
      signal: req.signal,
      progress: req.progress,
      failCode: 'DEPLOY_COMMAND_FAILED',
      ...(this.outputLimit ? { outputLimit: this.outputLimit } : {}),
      ...(req.processes ? { processes: req.processes } : {}),
      // Sandboxed: the checkout and this cycle's directory ({{artifacts}}) writable, the cloud credentials readable.
      ...(req.sandbox ? { sandbox: req.sandbox, writable: [req.cycleDir] } : {}),
    });
    const evidence = { stdoutFile: ran.stdoutFile, stderrFile: ran.stderrFile, commandMs: ran.durationMs };
    const sandbox = { sandboxed: ran.sandboxed, ...(ran.sandboxNote ? { sandboxNote: ran.sandboxNote } : {}) };

    if (!target) {
      return {
        service: req.service.name,
        provider: 'command',
        url: cfg.url ?? '',
        revision: `command-${req.commit.slice(0, 7)}`,
        readyAt: new Date().toISOString(),
        details: evidence,
        ...sandbox,
      };
    }
    const ready = await proveRevisionReady(this.cloudRun(), target, {
      ...(before?.latestReadyRevision ? { previous: before.latestReadyRevision } : {}),
      deadline: Date.now() + this.readyTimeoutMs,
      signal: req.signal,
      progress: req.progress,
    });
    const newRevision = ready.revision !== before?.latestCreatedRevision;
    if (!newRevision) {
      req.log.warn({ service: target.service, revision: ready.revision }, 'the deploy command did not create a new Cloud Run revision');
      req.progress(`warning: the deploy command did not create a new revision of ${target.service}; ${ready.revision} is still the latest`);
    }
    return {
      service: req.service.name,
      provider: 'command',
      url: cfg.url ?? ready.url,
      revision: ready.revision,
      readyAt: new Date().toISOString(),
      details: {
        ...evidence,
        project: target.project,
        region: target.region,
        cloudRunService: target.service,
        serviceUrl: ready.state.uri,
        previousRevision: before?.latestReadyRevision,
        newRevision,
        ...(ready.logUri ? { logUri: ready.logUri } : {}),
      },
      ...sandbox,
    };
  }

  async close(): Promise<void> {
    if (this.ownsApi) await this.api?.close();
  }
}
