import { redact } from '@greenloop/core';

/**
 * Whether a fix's candidate still shows its cluster's failure: each of the cluster's tests, as the cycle
 * saw it fail, against the same test run on the candidate. A test that passes, or fails with a different
 * failure (the fix got past the bug and the test now reaches the next one, a bug hidden behind it), counts
 * as the cluster's failure gone; a test that fails as it did before means the fix did not hold.
 */

/** A test of the cluster, as the cycle's analysis recorded it (clusters/<fingerprint>.json). */
export interface ClusterTest {
  classname: string;
  name: string;
  file?: string;
  /** The failure message of the cycle's run (redacted). */
  message: string;
}

/** The same test in the candidate's run. */
export interface CandidateTest {
  classname: string;
  name: string;
  status: 'passed' | 'failed' | 'error' | 'skipped';
  message?: string;
}

export interface ProofTest {
  test: string;
  /** passed; fails-again (the cluster's failure); fails-differently; not-run (missing or skipped). */
  result: 'passed' | 'fails-again' | 'fails-differently' | 'not-run';
  message?: string;
}

export interface ProofVerdict {
  /** false: some test fails as before, the fix is rejected. */
  proven: boolean;
  /** None of the cluster's tests ran against the candidate: nothing proven either way. */
  inconclusive: boolean;
  tests: ProofTest[];
  /** One line for the report and the fixer's next prompt. */
  summary: string;
}

/** The gate a proof records in FixResult.gates. */
export const PROVE_GATE = 'proven-on-deploy';

const key = (t: { classname: string; name: string }) => `${t.classname}\u0000${t.name}`;

/**
 * A failure message with what changes from run to run taken out (ports, ids, times, durations), so the
 * same failure on another deploy compares equal. Status codes (3 digits) stay: they are the failure.
 */
export function failureShape(message: string): string {
  return redact(message)
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z?/g, 'T')
    .replace(/\b[0-9a-f]{8,}\b/gi, 'H')
    .replace(/\d+(\.\d+)?\s?(ms|s)\b/g, 'D')
    .replace(/\d{4,}/g, 'N')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 400);
}

export function judgeProof(cluster: readonly ClusterTest[], candidate: readonly CandidateTest[]): ProofVerdict {
  const ran = new Map(candidate.map((t) => [key(t), t]));
  const tests: ProofTest[] = cluster.map((c) => {
    const t = ran.get(key(c));
    const test = c.classname ? `${c.classname} › ${c.name}` : c.name;
    if (!t || t.status === 'skipped') return { test, result: 'not-run' };
    if (t.status === 'passed') return { test, result: 'passed' };
    const message = redact(t.message ?? '');
    return { test, result: failureShape(message) === failureShape(c.message) ? 'fails-again' : 'fails-differently', message };
  });
  const again = tests.filter((t) => t.result === 'fails-again');
  const inconclusive = tests.every((t) => t.result === 'not-run');
  const count = (r: ProofTest['result']) => tests.filter((t) => t.result === r).length;
  let summary: string;
  if (again.length > 0) {
    summary = `${again.length} of ${tests.length} test(s) of the cluster still fail the same way on the deployed fix: ${again
      .slice(0, 3)
      .map((t) => `${t.test}: ${oneLine(t.message ?? '')}`)
      .join('; ')}`;
  } else if (inconclusive) {
    summary = `none of the cluster's ${tests.length} test(s) ran against the deployed fix (check tests.rerun's selection); not proven either way`;
  } else {
    const parts = [`${count('passed')} passed`];
    if (count('fails-differently')) parts.push(`${count('fails-differently')} got past the cluster's failure and now fail differently`);
    if (count('not-run')) parts.push(`${count('not-run')} did not run`);
    summary = `the cluster's failure is gone on the deployed fix: ${parts.join(', ')} of ${tests.length} test(s)`;
  }
  return { proven: again.length === 0, inconclusive, tests, summary };
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 159)}…` : flat;
}
