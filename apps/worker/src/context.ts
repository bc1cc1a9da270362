import {
  type ArtifactStore,
  CONFIG_FILE,
  ConfigError,
  type DeployedService,
  type Env,
  type EnvironmentConfig,
  type GreenloopConfig,
  getEnvironment,
  type Logger,
  type LoopRecord,
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
  /**
   * greenloop.yaml of the repository's working tree: parsed once, re-read when the file changes. For what
   * concerns the worker as a whole (slots, schedules) and loops that have not started.
   */
  config: () => Promise<GreenloopConfig>;
  /** greenloop.yaml as committed at `commit`: what a loop runs with (see {@link loadEnvironment}). */
  configAt: (commit: string) => Promise<GreenloopConfig>;
  deployProvider(service: EnvironmentConfig['services'][number]): DeployProvider;
  /** Stops what a deploy started, from its record alone (no config needed: it may have changed since). */
  stopDeployed(deployed: DeployedService): Promise<void>;
  logSource(env: EnvironmentConfig): LogSource;
  /** Where evidence is published when a stage ends (GREENLOOP_ARTIFACTS); the API reads it from there. */
  artifacts: ArtifactStore;
}

/**
 * The loop's environment from greenloop.yaml at the loop's base commit, so every step of a loop runs
 * with one configuration: edits to the working tree apply to loops started after them, and a fixer's
 * commits on the loop branch never change it. A loop that has not started yet (no base commit) reads
 * the working tree's.
 */
export async function loadEnvironment(
  ctx: WorkerContext,
  loop: Pick<LoopRecord, 'environment' | 'baseCommit'>,
): Promise<{ config: GreenloopConfig; environment: EnvironmentConfig }> {
  if (!loop.baseCommit) {
    const config = await ctx.config();
    return { config, environment: getEnvironment(config, loop.environment) };
  }
  const config = await ctx.configAt(loop.baseCommit);
  try {
    return { config, environment: getEnvironment(config, loop.environment) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      `${CONFIG_FILE} at commit ${loop.baseCommit.slice(0, 12)}: ${err.message}`,
      [],
      'a loop runs with the configuration of the commit it starts at',
    );
  }
}
