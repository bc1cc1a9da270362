import type { ClusterSummary, LogEntry, TestCase, TestStatus, TestTotals, TriageClass } from '@greenloop/core';

/** A testcase as read from a JUnit file, with where it came from and what the runner said about retries. */
export interface ParsedTestCase extends TestCase {
  /** `<testsuite>` names from the outermost in, as nested in the file (empty for a bare `<testcase>`). */
  suitePath: string[];
  /** The JUnit file and the line its `<testcase>` starts on. */
  source: { file: string; line: number };
  /** The enclosing suite's `timestamp` attribute, when the runner wrote one. */
  timestamp?: string;
  /** The testcase's own `timestamp` attribute (rare; lets logs be matched by the test's time window). */
  startedAt?: string;
  /** Earlier failed attempts the runner reported (Surefire `flakyFailure`/`rerunFailure`, or a rerun greenloop ran). */
  attempts?: FailedAttempt[];
}

/** One failed attempt of a test that was retried. */
export interface FailedAttempt {
  kind: 'flakyFailure' | 'flakyError' | 'rerunFailure' | 'rerunError' | 'first-run';
  message?: string;
  type?: string;
  details?: string;
}

/** An HTTP exchange named by a failure message or a server log line. `path` is a route shape (`/api/agents/:id`). */
export interface EndpointRef {
  method?: string;
  path: string;
  status?: number;
}

/** Machine-readable facts pulled from failure text. */
export interface FailureSignals {
  httpStatuses: number[];
  wsCloseCodes: number[];
  /** Network errno names (ECONNREFUSED, ETIMEDOUT...). */
  errnos: string[];
  timeout: boolean;
}

/** A parsed stack frame. `file` is as printed (URL or path), `fn` without `async `/`new `. */
export interface StackFrame {
  fn?: string;
  file: string;
  line?: number;
  /** Runtime or framework code (node:internal, java.base, junit...). */
  internal: boolean;
  /** Third-party code (node_modules, site-packages, vendor). */
  vendor: boolean;
  /** A test file (the suite's own code). */
  test: boolean;
}

/** A server log line tied to a failed test, and how it was tied. */
export interface CorrelatedLog {
  entry: LogEntry;
  /** test = the x-greenloop-test header, trace = traceparent trace id, route = same route in the run window, window = the test's time window, request = a request the recording proxy saw the test make. */
  match: 'test' | 'trace' | 'route' | 'window' | 'request';
}

/** Everything greenloop worked out about one failed test. */
export interface FailureAnalysis {
  test: ParsedTestCase;
  errorType?: string;
  triage: TriageClass;
  signals: FailureSignals;
  endpoints: EndpointRef[];
  frames: StackFrame[];
  logs: CorrelatedLog[];
  fingerprint: string;
  /** The human-readable string the fingerprint hashes (for debugging why two failures merged). */
  fingerprintKey: string;
}

/** A cluster as greenloop keeps it in memory: the core summary plus its evidence. */
export interface Cluster extends ClusterSummary {
  errorType?: string;
  failures: FailureAnalysis[];
  /** Tests of this fingerprint that failed, then passed on a rerun: reported, not sent to a fixer. */
  flakyTests: string[];
  /** Whether the cluster goes to a fixer (false when every test in it is flaky, or its triage class is routed to a person). */
  dispatch: boolean;
  /** Why `dispatch` is false. */
  holdReason?: string;
  /** Consecutive cycles this fingerprint has been failing, this one included. */
  cyclesFailing: number;
  firstSeenCycle: number;
}

/** Per-test statuses of one cycle, keyed by test id. */
export type TestStatusMap = Record<string, TestStatus>;

/** What greenloop remembers of an earlier cycle of the same loop. */
export interface PreviousCycle {
  n: number;
  commit: string;
  totals: TestTotals;
  clusters: ClusterSummary[];
  /** Per-test statuses, for category trends and for telling "fixed" from "not run". */
  testStatuses?: Record<string, TestStatus>;
  /** Fingerprint → the fix commit integrated after that cycle. */
  fixedBy?: Record<string, string>;
}

/** Totals plus the flaky count greenloop reports beside them. */
export interface CycleTotals extends TestTotals {
  errors: number;
  flaky: number;
}
