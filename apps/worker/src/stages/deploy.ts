import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DeployedService,
  type DeployResult,
  GreenloopError,
  type LoopRecord,
  type ProcessRecorder,
  type ServiceConfig,
  stageOutputSchema,
} from '@greenloop/core';
import { cycleRanHere } from '../affinity/pinning.ts';
import { loadEnvironment, type WorkerContext } from '../context.ts';
import { waitHealthy } from '../deploy/health.ts';
import { deployInOrder } from '../deploy/order.ts';
import type { DeployRequest } from '../deploy/types.ts';
import { addDetachedWorktree, removeWorktree } from '../git/repo.ts';
import { loopPaths } from '../paths.ts';
import { sandboxSettings } from '../process/sandbox.ts';
import { runOwnedAttempt } from './owned-attempt.ts';
import type { StageOutput, StageRun } from './run-stage.ts';

async function requireLoop(ctx: WorkerContext, loopId: string): Promise<LoopRecord> {
  const loop = await ctx.store.getLoop(loopId);
  if (!loop) throw new GreenloopError('LOOP_NOT_FOUND', `loop ${loopId} does not exist`);
  return loop;
}

/**
 * Deploy: a worktree at the cycle's commit, every service redeployed in dependency order (independent
 * ones in parallel; `{{url.<service>}}` filled from those already up), each proven ready before the stage
 * succeeds. The previous cycle's local processes are stopped first: fixed ports in a service's own config
 * would collide otherwise, and nothing tests against the old instance anyway. The cost is no overlap —
 * a failed deploy leaves no instance running, and the cycle stops.
 */
export async function deployStage(ctx: WorkerContext, run: StageRun): Promise<StageOutput<DeployResult>> {
  // A retry adopts a deploy still owned by a live worker (or finished), and ends by record what a dead
  // worker's attempt started, healthy or not — so a cycle is deployed once and nothing is left running.
  return await runOwnedAttempt(
    {
      redis: ctx.store.redis,
      prefix: ctx.store.prefix,
      loopId: run.loopId,
      cycle: run.cycle,
      stage: 'deploy',
      maxWaitMs: DEPLOY_ATTEMPT_WAIT_MS,
      output: stageOutputSchema('deploy'),
      signal: run.signal,
      log: ctx.log,
    },
    (procs) => runDeploy(ctx, run, procs),
  );
}

/** How long a retry waits for a live worker's deploy attempt before ending it (builds can be slow). */
const DEPLOY_ATTEMPT_WAIT_MS = 30 * 60_000;

async function runDeploy(ctx: WorkerContext, run: StageRun, procs: ProcessRecorder): Promise<StageOutput<DeployResult>> {
  const loop = await requireLoop(ctx, run.loopId);
  const cycle = await ctx.store.getCycle(run.loopId, run.cycle);
  if (!cycle) throw new GreenloopError('CYCLE_NOT_FOUND', `cycle ${run.cycle} of loop ${run.loopId} does not exist`);
  const { environment } = await loadEnvironment(ctx, loop);
  const paths = loopPaths(ctx.env.home, loop.id);
  const cycleDir = paths.cycleDir(run.cycle);
  await mkdir(join(cycleDir, 'deploy'), { recursive: true });

  const worktree = paths.deployWorktree(run.cycle);
  const repo = await ctx.repos.repoFor(loop, cycle.commit);
  await addDetachedWorktree(repo, worktree, cycle.commit);
  // Separate disks: a previous cycle another worker ran (it was lost since) left its services on its own machine.
  const previous =
    run.cycle > 1 && (await cycleRanHere(ctx, loop.id, run.cycle - 1))
      ? ((await ctx.store.getStage(loop.id, run.cycle - 1, 'deploy'))?.result?.services ?? [])
      : [];

  await stopServices(ctx, previous);
  const deployed: DeployedService[] = [];
  const outcome = await deployInOrder<DeployedService>(environment.services, async (service, ready) => {
    run.progress(`deploying ${service.name} (${service.deploy.provider}) at ${cycle.commit.slice(0, 7)}`);
    const prev = previous.find((p) => p.service === service.name);
    const urls = Object.fromEntries([...ready].map(([name, d]) => [name, d.url]));
    const d = await deployAndCheck(
      ctx,
      service,
      {
        loopId: loop.id,
        cycle: run.cycle,
        commit: cycle.commit,
        service,
        worktree,
        cycleDir,
        urls,
        processes: procs,
        sandbox: sandboxSettings(environment.sandbox, { home: ctx.env.home, repo: ctx.env.repo, userHome: ctx.processEnv.HOME }),
        ...(prev ? { previous: prev } : {}),
        signal: run.signal,
        log: ctx.log.child({ loopId: loop.id, cycle: run.cycle, service: service.name }),
        progress: (m) => run.progress(m),
      },
      run,
    );
    deployed.push(d);
    return d;
  });
  if (outcome.failure) {
    // Nothing of a half-deployed cycle keeps running; dependants of the failed service never started.
    await stopServices(ctx, deployed);
    for (const n of outcome.notStarted) run.progress(`${n.service} not deployed: ${n.reason}`);
    throw outcome.failure.error;
  }

  if (run.cycle > 1) await removeWorktree(repo, paths.deployWorktree(run.cycle - 1));
  return {
    result: { services: deployed },
    summary: deployed.map((d) => `${d.service} ${d.revision} at ${d.url}${d.sandboxed === false ? ` (UNSANDBOXED: ${d.sandboxNote})` : ''}`).join('; '),
  };
}

/**
 * Providers prove their own readiness (a ready revision, a healthy local process); a remote service is
 * then also health-checked over HTTP, as a person would. A private Cloud Run service answering 401/403
 * counts as up: greenloop holds no ID token for it, and the suite will tell.
 */
async function deployAndCheck(ctx: WorkerContext, service: ServiceConfig, req: DeployRequest, run: StageRun): Promise<DeployedService> {
  const deployed = await ctx.deployProvider(service).deploy(req);
  if (service.deploy.provider !== 'local') {
    await waitHealthy({
      url: deployed.url,
      service: service.name,
      path: service.healthPath,
      timeoutMs: 120_000,
      signal: run.signal,
      progress: run.progress,
      acceptAuthRequired: true,
    });
  }
  return deployed;
}

/**
 * Stops what was deployed (local processes; remote providers have nothing to stop), in reverse of the
 * order they became ready: dependants before what they depend on.
 */
export async function stopServices(ctx: Pick<WorkerContext, 'stopDeployed'>, deployed: readonly DeployedService[]): Promise<void> {
  for (const d of [...deployed].reverse()) await ctx.stopDeployed(d);
}

export { requireLoop };
