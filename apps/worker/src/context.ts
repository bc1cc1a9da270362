import { join } from 'node:path';
import { type Env, type EnvironmentConfig, type GreenloopConfig, getEnvironment, type Logger, type LoopStore, loadConfig, type Queues } from '@greenloop/core';
import type { CancelRegistry } from './cancel.ts';
import type { DeployProvider } from './deploy/types.ts';
import type { LogSource } from './logs/types.ts';

/** Everything a processor needs, built once by the composition root (worker.ts). */
export interface WorkerContext {
  env: Env;
  /** The process environment, read once at start-up: the source for allow-listed child environments. */
  processEnv: Readonly<Record<string, string | undefined>>;
  log: Logger;
  store: LoopStore;
  queues: Queues;
  cancels: CancelRegistry;
  deployProvider(service: EnvironmentConfig['services'][number]): DeployProvider;
  logSource(env: EnvironmentConfig): LogSource;
}

/** greenloop.yaml from the target repository, read fresh for every job so edits apply to the next step. */
export async function loadEnvironment(ctx: WorkerContext, name: string): Promise<{ config: GreenloopConfig; environment: EnvironmentConfig }> {
  const config = await loadConfig(join(ctx.env.repo, 'greenloop.yaml'));
  return { config, environment: getEnvironment(config, name) };
}
