import { z } from 'zod';
import { TRIAGE_CLASSES } from './config/schema.ts';
import { SpendSchema } from './spend.ts';

/**
 * What each stage records as its result, as zod schemas: the one definition of these shapes. Records
 * are parsed with them when read (see the stage table in stages.ts), so a record written by an older
 * greenloop or damaged by hand is a clear error instead of a silently wrong value.
 */

export const TestTotalsSchema = z.object({
  total: z.number(),
  passed: z.number(),
  failed: z.number(),
  skipped: z.number(),
  durationMs: z.number(),
});
export type TestTotals = z.infer<typeof TestTotalsSchema>;

// ---- deploy ---------------------------------------------------------------------------------------

export const DeployedServiceSchema = z.object({
  service: z.string(),
  provider: z.enum(['local', 'cloud-run', 'command']),
  url: z.string(),
  /** Cloud Run revision name, or "local-<pid>" for the local provider. */
  revision: z.string(),
  readyAt: z.string(),
  /** local provider: the process group to stop, and where its output goes. */
  pid: z.number().int().optional(),
  logFile: z.string().optional(),
  worktree: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  /** Whether the local process, or the deploy/build command (command, cloud-run build), ran inside the sandbox (bubblewrap). */
  sandboxed: z.boolean().optional(),
  /** Why it ran unsandboxed (sandbox: off, or bwrap unusable under sandbox: auto). */
  sandboxNote: z.string().optional(),
});
export type DeployedService = z.infer<typeof DeployedServiceSchema>;

export const DeployResultSchema = z.object({ services: z.array(DeployedServiceSchema) });
export type DeployResult = z.infer<typeof DeployResultSchema>;

// ---- test -----------------------------------------------------------------------------------------

export const ShardSummarySchema = z.object({
  shard: z.number().int(),
  /** finished: the process exited (whatever its tests did); timed-out: killed at tests.timeout, partial results kept; crashed: no result. */
  status: z.enum(['finished', 'timed-out', 'crashed']),
  dir: z.string(),
  /** The files greenloop gave it ({{shardFiles}}), previously failing ones first. */
  files: z.array(z.string()).optional(),
  exitCode: z.number().int().nullable().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  durationMs: z.number().optional(),
  truncatedBytes: z.number().optional(),
  sandboxed: z.boolean().optional(),
  junitFiles: z.array(z.string()),
  /** Why it crashed or timed out. */
  reason: z.string().optional(),
});
export type ShardSummary = z.infer<typeof ShardSummarySchema>;

export const TestRunResultSchema = z.object({
  runId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  junitFiles: z.array(z.string()),
  stdoutFile: z.string(),
  stderrFile: z.string(),
  /** Bytes dropped because output exceeded tests.outputLimit. */
  truncatedBytes: z.number(),
  /** JUnit files of the rerun of failed tests (tests.rerun), for flake labelling. */
  rerunJunitFiles: z.array(z.string()).optional(),
  /** Whether the suite ran inside the sandbox (bubblewrap); false: it had greenloop's own access. */
  sandboxed: z.boolean().optional(),
  /** Why the suite ran unsandboxed (sandbox: off, or bwrap unusable under sandbox: auto). */
  sandboxNote: z.string().optional(),
  /** Tests (or files, when no test of theirs was ever seen) the suite was expected to run but did not: it timed out or a shard crashed. */
  notRun: z.array(z.string()).optional(),
  /** The shards of a sharded suite (tests.shards), each with its own evidence directory. */
  shards: z.array(ShardSummarySchema).optional(),
});
export type TestRunResult = z.infer<typeof TestRunResultSchema>;

// ---- analyze --------------------------------------------------------------------------------------

export const ClusterStatusSchema = z.enum(['new', 'persisting', 'regressed']);
export type ClusterStatus = z.infer<typeof ClusterStatusSchema>;

export const ClusterSummarySchema = z.object({
  fingerprint: z.string(),
  title: z.string(),
  triage: z.enum(TRIAGE_CLASSES),
  status: ClusterStatusSchema,
  tests: z.array(z.string()),
  sampleMessage: z.string(),
  endpoints: z.array(z.object({ method: z.string().optional(), path: z.string(), status: z.number().optional() })),
});
export type ClusterSummary = z.infer<typeof ClusterSummarySchema>;

export const RealnessSchema = z.object({ real: z.boolean(), reasons: z.array(z.string()) });
export type Realness = z.infer<typeof RealnessSchema>;

export const AnalyzeResultSchema = z.object({
  green: z.boolean(),
  totals: TestTotalsSchema,
  realness: RealnessSchema,
  clusters: z.array(ClusterSummarySchema),
  /** Fingerprints failing in the previous cycle that pass now. */
  fixed: z.array(z.string()),
  flaky: z.array(z.string()),
  failingTests: z.array(z.string()),
  report: z.object({ markdown: z.string(), json: z.string() }),
  /** Set when the run failed because of its environment, not the code (the evidence in words): the loop stops with rule `environment`. */
  environment: z.string().optional(),
});
export type AnalyzeResult = z.infer<typeof AnalyzeResultSchema>;

/** Each test's status in a cycle (test id → status): the analyze stage's `testStatusesFile`. */
export const TestStatusesSchema = z.record(z.string(), z.enum(['passed', 'failed', 'error', 'skipped']));

/** What the analyze stage stores: the analysis plus each cluster's files; per-test statuses go to a file. */
export const AnalyzeStageResultSchema = AnalyzeResultSchema.extend({
  clusterFiles: z.record(z.string(), z.object({ json: z.string(), markdown: z.string() })),
  testStatusesFile: z.string(),
});
export type AnalyzeStageResult = z.infer<typeof AnalyzeStageResultSchema>;

// ---- fix and integrate ----------------------------------------------------------------------------

export const FIX_OUTCOMES = ['accepted', 'rejected', 'no-change', 'failed', 'timed-out', 'skipped', 'cancelled'] as const;
export type FixOutcome = (typeof FIX_OUTCOMES)[number];

/** One fixer's outcome for one cluster (written by its `stage.fix` job). */
export const FixResultSchema = z.object({
  fingerprint: z.string(),
  outcome: z.enum(FIX_OUTCOMES),
  reason: z.string().optional(),
  branch: z.string().optional(),
  commit: z.string().optional(),
  diffStat: z.string().optional(),
  diffFile: z.string().optional(),
  logFile: z.string().optional(),
  attempts: z.number().int(),
  gates: z.array(z.object({ name: z.string(), passed: z.boolean(), reason: z.string().optional() })).optional(),
  /** Whether the fixer ran inside the sandbox (bubblewrap); false: it had greenloop's own access. */
  sandboxed: z.boolean().optional(),
  /** What the fixer reported it spent, summed over its attempts (only the numbers; never its output). */
  spend: SpendSchema.optional(),
  /** Why no (or only partial) spend is recorded: no usage found, or usage output greenloop could not read. */
  spendNote: z.string().optional(),
});
export type FixResult = z.infer<typeof FixResultSchema>;

/** The cycle's fix step: the plan and each fixer's outcome. */
export const FixStageResultSchema = z.object({
  planned: z.array(z.string()),
  skipped: z.array(z.object({ fingerprint: z.string(), reason: z.string() })),
  results: z.array(FixResultSchema),
});
export type FixStageResult = z.infer<typeof FixStageResultSchema>;

export const IntegrateResultSchema = z.object({
  commit: z.string(),
  applied: z.array(z.object({ fingerprint: z.string(), commit: z.string() })),
  dropped: z.array(z.object({ fingerprint: z.string(), reason: z.string() })),
  /** Fixes whose pick conflicted and whose fixer ran again on top of the integrated fixes, in this cycle. */
  redone: z
    .array(
      z.object({
        fingerprint: z.string(),
        conflict: z.string(),
        outcome: z.string(),
        attempts: z.number(),
        commit: z.string().optional(),
        spend: SpendSchema.optional(),
      }),
    )
    .optional(),
  pushed: z.boolean().optional(),
});
export type IntegrateResult = z.infer<typeof IntegrateResultSchema>;
