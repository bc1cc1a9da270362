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
import type { LoopAffinity } from './affinity/pinning.ts';
import type { CancelRegistry } from './cancel.ts';
import type { DeployProvider } from './deploy/types.ts';
import type { LoopRepositories } from './git/loop-repository.ts';
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
  /** greenloop.yaml as committed at `commit` of `repo`: what a loop runs with (see {@link loadEnvironment}). */
  configAt: (repo: string, commit: string) => Promise<GreenloopConfig>;
  /** The repository each loop's git work happens in (its project's mirror, or GREENLOOP_REPO). */
  repos: LoopRepositories;
  deployProvider(service: EnvironmentConfig['services'][number]): DeployProvider;
  /** Stops what a deploy started, from its record alone (no config needed: it may have changed since). */
  stopDeployed(deployed: DeployedService): Promise<void>;
  logSource(env: EnvironmentConfig): LogSource;
  /** Where evidence is published when a stage ends (GREENLOOP_ARTIFACTS); the API reads it from there. */
  artifacts: ArtifactStore;
  /** GREENLOOP_WORKER_DISKS=separate: loops run on the worker that began them (absent with a shared disk). */
  affinity?: LoopAffinity;
}

/**
 * The loop's environment from greenloop.yaml at the loop's base commit, so every step of a loop runs
 * with one configuration: edits to the working tree apply to loops started after them, and a fixer's
 * commits on the loop branch never change it. A loop that has not started yet (no base commit) reads
 * the working tree's.
 */
export async function loadEnvironment(
  ctx: WorkerContext,
  loop: Pick<LoopRecord, 'id' | 'environment' | 'baseCommit' | 'source'>,
): Promise<{ config: GreenloopConfig; environment: EnvironmentConfig }> {
  const name = configEnvironmentName(loop);
  if (!loop.baseCommit) {
    // A project's greenloop.yaml exists only at its commits; the working tree here is the installation's.
    if (loop.source) throw new ConfigError(`loop ${loop.id} of project ${loop.source.project} has no base commit yet: its configuration is not known`);
    const config = await ctx.config();
    return { config, environment: getEnvironment(config, name) };
  }
  const config = await ctx.configAt(await ctx.repos.repoFor(loop, loop.baseCommit), loop.baseCommit);
  try {
    return { config, environment: getEnvironment(config, name) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      `${CONFIG_FILE} at commit ${loop.baseCommit.slice(0, 12)}: ${err.message}`,
      [],
      'a loop runs with the configuration of the commit it starts at',
    );
  }
}

/**
 * The environment's name in greenloop.yaml: a project loop's `<project>/<environment>` without the
 * project (the file belongs to the project and names its environments alone).
 */
export function configEnvironmentName(loop: Pick<LoopRecord, 'environment' | 'source'>): string {
  const prefix = loop.source ? `${loop.source.project}/` : '';
  return prefix && loop.environment.startsWith(prefix) ? loop.environment.slice(prefix.length) : loop.environment;
}
