import { readFile, writeFile } from 'node:fs/promises';
import { text as streamText } from 'node:stream/consumers';
import { type ArtifactStore, GreenloopError, type TestStatus, TestStatusesSchema } from '@greenloop/core';
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
  return parseTestStatuses(text, file);
}

/**
 * Separate disks: the statuses of an earlier cycle that ran on a worker lost since, from the artifact store
 * (`file` was a path on that worker's disk, `<home>/artifacts/<loop>/<path in the store>`); undefined when
 * the store does not have it either.
 */
export async function readPublishedTestStatuses(artifacts: ArtifactStore, loopId: string, file: string): Promise<Record<string, TestStatus> | undefined> {
  const root = `/artifacts/${loopId}/`;
  const at = file.lastIndexOf(root);
  if (at < 0) return undefined;
  let body: string;
  try {
    body = await streamText(await artifacts.read(loopId, file.slice(at + root.length)));
  } catch {
    return undefined;
  }
  return parseTestStatuses(body, file);
}

function parseTestStatuses(text: string, file: string): Record<string, TestStatus> {
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
