import type { LoopState } from '@greenloop/core';
import type { CliEnv } from './cli-env.ts';
import type { ApiClient } from './client.ts';
import type { Paint } from './render.ts';

/** Exit codes a CI job can rely on; documented in `greenloop --help`. */
export const EXIT = { ok: 0, error: 1, notGreen: 2, cancelled: 3, interrupted: 130 } as const;

/** The exit code for a finished loop: 0 green, 2 stopped (not green), 3 cancelled, 1 failed (an error). */
export function exitCodeFor(state: LoopState): number {
  switch (state) {
    case 'green':
      return EXIT.ok;
    case 'stopped':
      return EXIT.notGreen;
    case 'cancelled':
      return EXIT.cancelled;
    default:
      return EXIT.error;
  }
}

/** A mistake in how the command was called: printed with the usage line, exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What every command gets: where to write, the CLI's settings, an API client, colors. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: CliEnv;
  /** The raw process environment, for `up` and `demo`, which start servers in this process. */
  processEnv: Readonly<Record<string, string | undefined>>;
  api: ApiClient;
  paint: Paint;
  /** stdout is a terminal (render reports) rather than a pipe (print them raw). */
  isTTY: boolean;
  /** Aborted on SIGINT so long waits stop cleanly. */
  signal: AbortSignal;
}
