import { readFile, writeFile } from 'node:fs/promises';
import { GreenloopError, type TestStatus, TestStatusesSchema } from '@greenloop/core';
import { z } from 'zod';

/**
 * The analyze stage's per-test statuses (its result's `testStatusesFile`): written once by that stage,
 * read by later cycles (history, tests not run). Parsed on read like every stage record: a file from
 * another greenloop version or edited by hand is an error, not a silently wrong history.
 */
export async function writeTestStatuses(file: string, statuses: Record<string, TestStatus>): Promise<void> {
  await writeFile(file, JSON.stringify(statuses));
}

/** The statuses in `file`, or undefined when it is missing (a cycle whose evidence was pruned). */
export async function readTestStatuses(file: string): Promise<Record<string, TestStatus> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = text.slice(0, 40);
  }
  const parsed = TestStatusesSchema.safeParse(data);
  if (!parsed.success) {
    throw new GreenloopError('STAGE_RECORD_INVALID', `the test statuses in ${file} do not match their schema: ${z.prettifyError(parsed.error)}`, {
      hint: 'the file was written by another greenloop version or edited by hand; rerun the loop',
    });
  }
  return parsed.data;
}
