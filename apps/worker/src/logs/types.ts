import type { DeployedService, LogEntry } from '@greenloop/core';
import type { LogReadStats } from '../ingest/log-lines.ts';

export interface LogQuery {
  services: DeployedService[];
  /** The test window (ISO); sources may widen it by a few seconds for clock skew. */
  from: string;
  to: string;
  /** The test run id the suite passed to the services (x-greenloop-run-id). */
  runId: string;
  signal?: AbortSignal;
}

export interface LogPull {
  entries: LogEntry[];
  /** Entries dropped by the source's caps (page size, pages, entries per cycle). */
  truncated: boolean;
  /** Failing requests seen (status >= 400), from request logs where the source has them. */
  failingRequests: { method?: string; path: string; status: number; count: number }[];
  /** Human-readable description of what was queried (the Cloud Logging filter, the files read). */
  query: string;
  /** How the lines were read (sources that parse text: how many had a readable time), for the report and `doctor`. */
  stats?: LogReadStats;
}

/** Pulls server-side logs for a cycle's test window: local log files or Cloud Logging. */
export interface LogSource {
  pull(query: LogQuery): Promise<LogPull>;
}
