import {
  type ArtifactStore,
  type DeployedService,
  type Env,
  type EnvironmentConfig,
  type GreenloopConfig,
  getEnvironment,
  type Logger,
  type LoopStore,
  type Queues,
} from '@greenloop/core';
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
  /** greenloop.yaml of the target repository: parsed once, re-read when the file changes. */
  config: () => Promise<GreenloopConfig>;
  deployProvider(service: EnvironmentConfig['services'][number]): DeployProvider;
  /** Stops what a deploy started, from its record alone (no config needed: it may have changed since). */
  stopDeployed(deployed: DeployedService): Promise<void>;
  logSource(env: EnvironmentConfig): LogSource;
  /** Where evidence is published when a stage ends (GREENLOOP_ARTIFACTS); the API reads it from there. */
  artifacts: ArtifactStore;
}

/** The named environment of greenloop.yaml; edits to the file apply from the next step on. */
export async function loadEnvironment(ctx: WorkerContext, name: string): Promise<{ config: GreenloopConfig; environment: EnvironmentConfig }> {
  const config = await ctx.config();
  return { config, environment: getEnvironment(config, name) };
}
