import type { DeployedService, Logger, ProcessRecorder, ServiceConfig } from '@greenloop/core';
import type { SandboxSettings } from '../process/sandbox.ts';

/** What every deploy provider gets for one service in one cycle. */
export interface DeployRequest {
  loopId: string;
  cycle: number;
  /** Full sha of the commit to deploy. */
  commit: string;
  service: ServiceConfig;
  /** A checkout of `commit` (git worktree) that providers may run or build from. */
  worktree: string;
  /** The cycle's artifact directory; providers write evidence (logs, build output) under it. */
  cycleDir: string;
  /** URLs of the services already ready this cycle (at least every one this service depends on), by name, for `{{url.<service>}}`. */
  urls?: Readonly<Record<string, string>>;
  /** Records what the provider spawns (local services, build and deploy commands) for the stage's attempt. */
  processes?: ProcessRecorder;
  /** How local services and build/deploy commands are sandboxed (`sandbox:` in greenloop.yaml); absent: not sandboxed. */
  sandbox?: SandboxSettings;
  /** What was deployed for this service in the previous cycle, if anything. */
  previous?: DeployedService;
  /**
   * Deploy a fix's candidate beside the cycle's deploy under this tag (fixer.proveOnDeploy): Cloud Run gives
   * the revision 0% traffic and tests use the tag's URL, whatever `deploy.candidate` says.
   */
  candidateTag?: string;
  signal: AbortSignal;
  log: Logger;
  /** Progress for people watching ("waiting for revision api-3f2a… to be ready, 20s"). */
  progress: (message: string) => void;
}

/**
 * A deploy provider redeploys one service and resolves only when the new version is proven ready
 * (health-checked / revision ready). Failure to become ready throws a non-retryable GreenloopError with
 * code DEPLOY_NOT_READY and the evidence in `details`; transient problems throw retryable errors.
 */
export interface DeployProvider {
  deploy(req: DeployRequest): Promise<DeployedService>;
  /** Stops what `deploy` started (local processes); providers with nothing to stop omit it. */
  stop?(deployed: DeployedService, log: Logger): Promise<void>;
  /** Candidate deploys (0% traffic under a tag): move all traffic to the revision once the suite is green. */
  promote?(deployed: DeployedService, opts: { signal?: AbortSignal }): Promise<DeployedService>;
  /** Removes a fix's candidate (`candidateTag`) for good: its tag leaves the traffic split and its revision is deleted. */
  withdraw?(deployed: DeployedService, opts: { signal?: AbortSignal }): Promise<void>;
  /** At the loop's end: removes the loop's fix candidates a dead worker left behind; returns what it removed. */
  sweepFixCandidates?(service: ServiceConfig, loop: { id: string; cycles: number }, opts: { signal?: AbortSignal }): Promise<string[]>;
}
