import { SpendSchema, TRIAGE_CLASSES } from '@greenloop/core';
import { z } from 'zod';

/**
 * The cycle report's JSON (`report.json`), version 1. The markdown report is rendered from exactly this
 * object, so everything the markdown claims is here with its evidence. Field notes are in docs/report-schema.md.
 */

const triage = z.enum(TRIAGE_CLASSES);
const endpoint = z.object({ method: z.string().optional(), path: z.string(), status: z.number().int().optional() });
const rate = z.number().min(0).max(1).nullable();

/** A test as the report lists it. */
export const ReportTestSchema = z.object({
  id: z.string(),
  name: z.string(),
  classname: z.string(),
  suite: z.string(),
  file: z.string().optional(),
  status: z.enum(['passed', 'failed', 'error', 'skipped']),
  durationMs: z.number(),
  message: z.string().optional(),
  /** JUnit file and line of the testcase. */
  source: z.string(),
});

/** A server log line tied to failing tests (redacted, capped). */
export const EvidenceLineSchema = z.object({
  time: z.string(),
  service: z.string(),
  severity: z.string(),
  message: z.string(),
  /** How the line was tied to the cluster's tests: test name header, trace id, same route in the run window, or time window. */
  match: z.enum(['test', 'trace', 'route', 'window', 'request']),
  test: z.string().optional(),
  method: z.string().optional(),
  path: z.string().optional(),
  status: z.number().int().optional(),
  revision: z.string().optional(),
});

/** A failure cluster in the report. */
export const ReportClusterSchema = z.object({
  fingerprint: z.string().regex(/^[0-9a-f]{12}$/),
  title: z.string(),
  triage,
  /** Versus earlier cycles of this loop. */
  status: z.enum(['new', 'persisting', 'regressed']),
  /** Whether a fixer gets it; false for flaky-only clusters and fixer.skipTriage classes. */
  dispatch: z.boolean(),
  holdReason: z.string().optional(),
  cyclesFailing: z.number().int().min(1),
  firstSeenCycle: z.number().int(),
  errorType: z.string().optional(),
  sampleMessage: z.string(),
  tests: z.array(ReportTestSchema),
  flakyTests: z.array(z.string()),
  endpoints: z.array(endpoint),
  evidence: z.array(EvidenceLineSchema),
  /** Correlated log lines in total (evidence shows the first few). */
  evidenceTotal: z.number().int(),
  /** The string the fingerprint hashes. */
  fingerprintKey: z.string(),
  dossier: z.string(),
});

/** The whole `report.json`. */
export const CycleReportSchema = z.object({
  schemaVersion: z.literal(1),
  generatedAt: z.string(),
  loopId: z.string(),
  cycle: z.number().int(),
  environment: z.string(),
  commit: z.string(),
  /** green: real and nothing failing; not-real: a realness check failed; failing: otherwise. */
  verdict: z.enum(['green', 'failing', 'not-real']),
  /**
   * Set when the run failed because of its environment, not the code (most tests could not reach the service,
   * or failed the same way): the evidence, what to check and how to opt out, in words. No fixer is dispatched.
   */
  environmentFailure: z.string().optional(),
  headline: z.string(),
  summary: z.object({
    total: z.number().int(),
    passed: z.number().int(),
    /** Failures and errors (errors are also counted separately). */
    failed: z.number().int(),
    errors: z.number().int(),
    skipped: z.number().int(),
    /** Passed only on a rerun; counted in passed. */
    flaky: z.number().int(),
    /** passed / (total − skipped). */
    passRate: rate,
    testTimeMs: z.number(),
    wallMs: z.number(),
    runId: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    timedOut: z.boolean(),
    truncatedOutputBytes: z.number().int(),
    junitFiles: z.array(z.object({ file: z.string(), tests: z.number().int(), bytes: z.number().int(), warnings: z.array(z.string()) })),
    /** Tests (or files) expected but without a result: the suite timed out or a shard crashed. */
    notRun: z.array(z.string()).optional(),
    /** A sharded suite's shards (tests.shards). */
    shards: z
      .array(
        z.object({
          shard: z.number().int(),
          status: z.enum(['finished', 'timed-out', 'crashed']),
          files: z.number().int().optional(),
          durationMs: z.number().optional(),
          exitCode: z.number().int().nullable().optional(),
          reason: z.string().optional(),
        }),
      )
      .optional(),
  }),
  services: z.array(
    z.object({
      service: z.string(),
      provider: z.string(),
      revision: z.string(),
      url: z.string(),
      readyAt: z.string(),
      logEntries: z.number().int(),
      errorEntries: z.number().int(),
      failingRequests: z.number().int(),
      serverErrors: z.number().int(),
      verdict: z.enum(['healthy', 'errors', 'no-traffic']),
      detail: z.string(),
    }),
  ),
  /**
   * Whether code from the loop's branch ran in the sandbox (bubblewrap): the suite, each service's process or
   * deploy/build command (null: not recorded, or nothing ran on this host); `unsandboxed` names what did not and why.
   * Optional: reports written before sandboxing have none.
   */
  sandbox: z
    .object({
      suite: z.boolean().nullable(),
      services: z.array(z.object({ service: z.string(), sandboxed: z.boolean().nullable(), note: z.string().optional() })),
      unsandboxed: z.array(z.string()),
      line: z.string(),
    })
    .optional(),
  realness: z.object({
    real: z.boolean(),
    reasons: z.array(z.string()),
    checks: z.array(z.object({ id: z.string(), label: z.string(), passed: z.boolean().nullable(), detail: z.string() })),
  }),
  changes: z.object({
    previousCycle: z.number().int().nullable(),
    new: z.array(z.string()),
    persisting: z.array(z.string()),
    regressed: z.array(z.string()),
    fixed: z.array(
      z.object({
        fingerprint: z.string(),
        title: z.string(),
        commit: z.string(),
        attributed: z.boolean(),
        tests: z.array(z.string()),
        flakyNow: z.array(z.string()),
      }),
    ),
    changed: z.array(z.object({ fingerprint: z.string(), title: z.string(), now: z.array(z.string()) })),
    notRun: z.array(z.object({ fingerprint: z.string(), title: z.string(), tests: z.array(z.string()) })),
  }),
  clusters: z.array(ReportClusterSchema),
  flaky: z.array(
    z.object({
      id: z.string(),
      fingerprint: z.string(),
      message: z.string().optional(),
      /** From the cross-loop flake history, when one is configured. */
      history: z.object({ flakes: z.number().int(), failures: z.number().int(), flakyLoops: z.number().int() }).optional(),
    }),
  ),
  /** Failing HTTP exchanges: from failure messages (tests) and from request logs (requests). */
  endpoints: z.array(
    z.object({
      method: z.string().optional(),
      path: z.string(),
      status: z.number().int().optional(),
      tests: z.number().int(),
      requests: z.number().int(),
      sources: z.array(z.enum(['test-output', 'server-log'])),
      clusters: z.array(z.string()),
    }),
  ),
  categories: z.array(
    z.object({
      name: z.string(),
      priority: z.number().int().nullable(),
      total: z.number().int(),
      passed: z.number().int(),
      failed: z.number().int(),
      skipped: z.number().int(),
      flaky: z.number().int(),
      passRate: rate,
      trend: z.array(z.object({ cycle: z.number().int(), passRate: rate })),
      passedTests: z.array(z.string()),
      passedOmitted: z.number().int(),
      failedTests: z.array(z.string()),
    }),
  ),
  nextActions: z.array(z.object({ kind: z.string(), text: z.string(), clusters: z.array(z.string()) })),
  logs: z.object({ query: z.string(), entries: z.number().int(), truncated: z.boolean(), runEntries: z.number().int(), requestEntries: z.number().int() }),
  evidenceFiles: z.object({ stdout: z.string(), stderr: z.string(), junit: z.array(z.string()) }),
  warnings: z.array(z.string()),
  /** What fixers reported spending, per cycle whose fixes this report lists (set after the fix step; see fix/outcomes-report.ts). */
  fixerSpend: z
    .array(
      z.object({
        cycle: z.number().int(),
        spend: SpendSchema.optional(),
        loop: SpendSchema.optional(),
        fixes: z.array(z.object({ fingerprint: z.string(), outcome: z.string(), spend: SpendSchema.optional(), note: z.string().optional() })),
      }),
    )
    .optional(),
});

/** The cycle report as JSON. */
export type CycleReport = z.infer<typeof CycleReportSchema>;
/** A cluster in `report.json`. */
export type ReportCluster = z.infer<typeof ReportClusterSchema>;
/** A test in `report.json`. */
export type ReportTest = z.infer<typeof ReportTestSchema>;
/** An evidence line in `report.json`. */
export type EvidenceLine = z.infer<typeof EvidenceLineSchema>;
