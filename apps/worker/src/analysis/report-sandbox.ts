import type { DeployedService, TestRunResult } from '@greenloop/core';
import type { CycleReport } from './report-schema.ts';

/**
 * The report's sandbox line: whether the suite and each service's process (or deploy/build command) ran
 * in bubblewrap, and, when any did not, a WARNING naming what ran with greenloop's own access and why.
 * `sandbox: auto` on a host without bwrap runs tests and services unsandboxed, so every report says so.
 */
export function sandboxSummary(run: TestRunResult, services: readonly DeployedService[]): NonNullable<CycleReport['sandbox']> {
  const entries = services.map((s) => ({
    service: s.service,
    // A Cloud Run service without a build step runs no repository code on this host.
    sandboxed: s.sandboxed ?? null,
    ...(s.sandboxNote ? { note: s.sandboxNote } : {}),
  }));
  const suite = run.sandboxed ?? null;
  const open: string[] = [];
  if (suite === false) open.push(`the test suite (${run.sandboxNote ?? 'reason not recorded'})`);
  for (const s of entries) if (s.sandboxed === false) open.push(`service ${s.service} (${s.note ?? 'reason not recorded'})`);
  const inBox = [suite === true ? 'suite' : '', ...entries.filter((s) => s.sandboxed === true).map((s) => `service ${s.service}`)].filter(Boolean);
  let line: string;
  if (open.length > 0) {
    line = `WARNING: ran unsandboxed, with greenloop's own access to its home, the repository and its environment: ${open.join('; ')}.${
      inBox.length > 0 ? ` Sandboxed (bubblewrap): ${inBox.join(', ')}.` : ''
    }`;
  } else if (inBox.length > 0) {
    line = `Sandbox: ${inBox.join(', ')} ran in bubblewrap (no access to greenloop's home, the repository or greenloop's environment).`;
  } else {
    line = 'Sandbox: not recorded for this run (no local process ran code from the branch, or the run predates sandboxing).';
  }
  return { suite, services: entries, unsandboxed: open, line };
}
