import type { CloudLoggingConfig, DeployedService, EnvironmentConfig, Logger, Redis, ServiceConfig } from '@greenloop/core';
import { CloudRunProvider } from './deploy/cloud-run.ts';
import { CommandProvider } from './deploy/command.ts';
import { LocalProvider } from './deploy/local.ts';
import type { DeployProvider } from './deploy/types.ts';
import { CloudLoggingSource } from './logs/cloud-logging.ts';
import { LocalLogSource } from './logs/local.ts';
import type { LogSource } from './logs/types.ts';

/** Environment variables build and deploy commands may see (credentials for gcloud/docker, nothing of greenloop's). */
const DEPLOY_ENV_ALLOW = ['PATH', 'HOME', 'CLOUDSDK_CONFIG', 'GOOGLE_APPLICATION_CREDENTIALS', 'DOCKER_CONFIG'];

function pick(source: Readonly<Record<string, string | undefined>>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = source[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/**
 * The composition root's adapter choices: the only place that knows the concrete deploy providers and
 * log sources. Google clients are created lazily, so a local-only install never loads credentials.
 */
export function createDeployProviders(opts: { processEnv: Readonly<Record<string, string | undefined>>; log: Logger }) {
  const local = new LocalProvider({ pathVar: opts.processEnv.PATH ?? '/usr/bin:/bin', homeVar: opts.processEnv.HOME ?? '/tmp' });
  const env = pick(opts.processEnv, DEPLOY_ENV_ALLOW);
  let cloudRun: CloudRunProvider | undefined;
  let command: CommandProvider | undefined;
  const forService = (service: ServiceConfig): DeployProvider => {
    switch (service.deploy.provider) {
      case 'local':
        return local;
      case 'cloud-run':
        cloudRun ??= new CloudRunProvider({ env, log: opts.log });
        return cloudRun;
      case 'command':
        command ??= new CommandProvider({ env, log: opts.log });
        return command;
    }
  };
  // Only local deploys leave processes behind; Cloud Run revisions stay deployed by design.
  const stop = async (d: DeployedService) => {
    if (d.provider === 'local') await local.stop(d, opts.log);
  };
  return { forService, stop };
}

export function createLogSources(opts: { redis: Redis; prefix: string; log: Logger }) {
  const local = new LocalLogSource();
  const cloud = new Map<string, CloudLoggingSource>();
  return (environment: EnvironmentConfig): LogSource => {
    const cfg = environment.logs;
    if (cfg.provider === 'local') return local;
    const key = JSON.stringify(cfg);
    let source = cloud.get(key);
    if (!source) {
      source = new CloudLoggingSource(cfg as CloudLoggingConfig, { redis: opts.redis, keyPrefix: opts.prefix, log: opts.log });
      cloud.set(key, source);
    }
    return source;
  };
}
