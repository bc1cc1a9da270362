import { type EnvironmentConfig, GreenloopError, type Logger, type Redis, type ServiceConfig } from '@greenloop/core';
import { LocalProvider } from './deploy/local.ts';
import type { DeployProvider } from './deploy/types.ts';
import { LocalLogSource } from './logs/local.ts';
import type { LogSource } from './logs/types.ts';

/** Picks the deploy provider for a service; the only place that knows the concrete classes. */
export function createDeployProviders(opts: { processEnv: Readonly<Record<string, string | undefined>>; redis: Redis; log: Logger }) {
  const local = new LocalProvider({ pathVar: opts.processEnv.PATH ?? '/usr/bin:/bin', homeVar: opts.processEnv.HOME ?? '/tmp' });
  return (service: ServiceConfig): DeployProvider => {
    switch (service.deploy.provider) {
      case 'local':
        return local;
      default:
        throw new GreenloopError('PROVIDER_UNAVAILABLE', `deploy provider ${service.deploy.provider} is not wired yet`);
    }
  };
}

/** Picks the log source for an environment. */
export function createLogSources(_opts: { redis: Redis; prefix: string }) {
  const local = new LocalLogSource();
  return (env: EnvironmentConfig): LogSource => {
    switch (env.logs.provider) {
      case 'local':
        return local;
      default:
        throw new GreenloopError('PROVIDER_UNAVAILABLE', `log source ${env.logs.provider} is not wired yet`);
    }
  };
}
