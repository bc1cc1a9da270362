import type { Spend } from './spend.ts';
import type { TestTotals } from './stage-results.ts';
import type { StageRecords } from './stages.ts';

export type {
  AnalyzeResult,
  AnalyzeStageResult,
  ClusterStatus,
  ClusterSummary,
  DeployedService,
  DeployResult,
  FixOutcome,
  FixResult,
  FixStageResult,
  IntegrateResult,
  Realness,
  ShardSummary,
  TestRunResult,
  TestTotals,
} from './stage-results.ts';

/** Domain records shared by the API and the worker. Stored as JSON in Redis (see store.ts). */

export const STAGES = ['deploy', 'test', 'analyze', 'fix', 'integrate'] as const;
export type StageName = (typeof STAGES)[number];

export const LOOP_STATES = ['queued', 'running', 'green', 'stopped', 'failed', 'cancelled'] as const;
export type LoopState = (typeof LOOP_STATES)[number];
export const TERMINAL_STATES: readonly LoopState[] = ['green', 'stopped', 'failed', 'cancelled'];

/** Why a loop ended. `green` is the only success. */
export const STOP_RULES = [
  'green',
  'max-cycles',
  'max-duration',
  'no-progress',
  'oscillation',
  'cancelled',
  'deploy-failed',
  'tests-failed-to-run',
  'not-real',
  'environment',
  'stage-error',
  'budget',
  /** greenloop.yaml at the loop's base commit is missing or invalid (CONFIG_INVALID). */
  'config-invalid',
  /** A project loop's remote could not be fetched (SOURCE_FETCH_FAILED: unreachable, credentials, unknown branch). */
  'source-unavailable',
] as const;
export type StopRule = (typeof STOP_RULES)[number];

export interface StopReason {
  rule: StopRule;
  /** One sentence a person can act on. */
  message: string;
  /** Cluster fingerprints involved, when the rule is about clusters. */
  clusters?: string[];
}

export interface Actor {
  kind: 'api' | 'schedule' | 'cli';
  /** Token name, schedule name or "demo". Never the token itself. */
  name: string;
}

/**
 * Where a project loop's code comes from, copied from the project record when the loop is created so a
 * later PATCH of the project never changes a running loop. Absent for the installation's own repository
 * (GREENLOOP_REPO, the laptop and demo mode), whose environments keep their short names.
 */
export interface LoopSource {
  project: string;
  /** https, ssh or (for tests and single machines) a local path / file:// URL of a bare repository. */
  remote: string;
  baseBranch: string;
  /** The *name* of the worker environment variable holding the remote's credentials; never the value. */
  credentialsSecret?: string;
}

export interface LoopRecord {
  id: string;
  /** `<environment>` of the installation's repository, or `<project>/<environment>` (see LoopSource). */
  environment: string;
  source?: LoopSource;
  state: LoopState;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  startedBy: Actor;
  /** The branch fixes are committed to: greenloop/<loop id>. */
  branch?: string;
  baseCommit?: string;
  /** The commit the current (or next) cycle deploys. */
  commit?: string;
  /** Current cycle number, 1-based; 0 before the first cycle. */
  cycle: number;
  /**
   * GREENLOOP_WORKER_DISKS=separate: the worker (registry id) every stage job of the loop runs on. Its
   * disk alone holds the loop's deploy worktree, evidence, dossiers, fix commits and local services, so no
   * other worker could run the next stage; the controller re-pins the loop when that worker is gone.
   */
  worker?: string;
  stage?: StageName;
  stop?: StopReason;
  /** Totals of the latest analyzed cycle. */
  latest?: TestTotals;
  /** What the loop's fixers reported spending so far (all cycles, re-done fixes included). */
  spend?: Spend;
  /** Messages about notifications (e.g. a disabled Slack webhook); never fails the loop. */
  notices?: string[];
  /**
   * Set with the verdict: `pending` until services are stopped, worktrees removed and the environment
   * released. A controller replayed on a terminal loop with teardown pending completes it.
   */
  teardown?: 'pending' | 'done';
}

export type StageStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface StageError {
  code: string;
  message: string;
  hint?: string;
  /** What the failure left as evidence (e.g. the test run's files when it timed out). */
  details?: Record<string, unknown>;
}

/** One stage of one cycle. Written only by the stage's processor; the key is loop + cycle + stage. */
export interface StageRecord<R = unknown> {
  stage: StageName;
  status: StageStatus;
  startedAt: string;
  finishedAt?: string;
  attempts: number;
  error?: StageError;
  /** One line for progress displays. */
  summary?: string;
  result?: R;
}

export interface CycleRecord {
  loopId: string;
  n: number;
  commit: string;
  startedAt: string;
  finishedAt?: string;
  /** GREENLOOP_WORKER_DISKS=separate: the worker this cycle's stages ran on (what it started is on its machine). */
  worker?: string;
  totals?: TestTotals;
  green?: boolean;
  failingTests?: string[];
  failingFingerprints?: string[];
  report?: { markdown: string; json: string };
  /** What this cycle's fixers reported spending (fix step and fixes re-done at integration). */
  spend?: Spend;
  stages: StageRecords;
}

// ---- stage results -------------------------------------------------------------------------------

export type TestStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface TestCase {
  /** Stable id: "<suite> › <classname> › <name>" (empty parts omitted). */
  id: string;
  suite: string;
  classname: string;
  name: string;
  file?: string;
  status: TestStatus;
  durationMs: number;
  /** Failure/error message attribute, or first line of the body. */
  message?: string;
  /** Failure type attribute (e.g. AssertionError). */
  type?: string;
  /** Failure body: stack trace, diff. Capped. */
  details?: string;
  systemOut?: string;
  systemErr?: string;
  flaky?: boolean;
}

/** A normalized log line from any log source (local files or Cloud Logging). */
export interface LogEntry {
  time: string;
  severity: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL' | 'DEFAULT';
  service: string;
  message: string;
  json?: Record<string, unknown>;
  httpRequest?: { method?: string; path?: string; status?: number; latencyMs?: number; userAgent?: string };
  trace?: string;
  /** greenloop correlation: x-greenloop-run-id and x-greenloop-test as logged by the service. */
  runId?: string;
  test?: string;
  revision?: string;
  /** The line had no readable time: `time` is the previous entry's (kept in order, never dropped). */
  timeUnknown?: boolean;
  /** A request from greenloop's own probes (user agent greenloop-probe/1): never counted as test traffic. */
  probe?: boolean;
}

/** Events on a loop's stream; SSE ids are the Redis stream ids, so clients resume with Last-Event-ID. */
export type LoopEventType =
  | 'loop.queued'
  | 'loop.started'
  | 'cycle.started'
  | 'stage.started'
  | 'stage.progress'
  | 'stage.finished'
  | 'cycle.finished'
  | 'loop.finished'
  | 'notice';

export interface LoopEvent {
  id?: string;
  type: LoopEventType;
  loopId: string;
  time: string;
  cycle?: number;
  stage?: StageName;
  message: string;
  data?: Record<string, unknown>;
}
