import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ClusterSummary, FixerConfig } from '@greenloop/core';

/**
 * The prompt a fixer reads: the cluster's dossier (evidence written by the analyze stage), then the rules
 * its change is checked against, then why earlier attempts were rejected. The rules are spelled out
 * because the gates enforce them anyway: an agent that knows them wastes fewer attempts.
 */

export interface FixPromptInput {
  /** The dossier markdown, as given. */
  dossier: string;
  cluster: ClusterSummary;
  fixer: Pick<FixerConfig, 'protectedPaths' | 'verify'>;
  attempt: number;
  maxAttempts: number;
  /** Gate reasons from earlier attempts (earlier cycles first, then this cycle's). */
  previousAttempts: readonly { reason: string }[];
}

export function renderFixPrompt(input: FixPromptInput): string {
  const { cluster, fixer } = input;
  const parts = [input.dossier.trimEnd(), '', '---', '', '## What greenloop expects from this fix', ''];
  parts.push(
    `You are fixing failure cluster \`${cluster.fingerprint}\` ("${cluster.title}"), attempt ${input.attempt} of ${input.maxAttempts}.`,
    '',
    '- Fix the cause in the application code. Keep the change minimal and limited to this cluster; do not refactor or reformat unrelated code.',
    '- Do not edit, delete, skip or weaken tests: no deleted test files or test cases, no `.skip`/`.only`/`todo`/`xfail` markers, no removed or loosened assertions, no changed thresholds, timeouts or expected values in tests.',
  );
  if (fixer.protectedPaths.length > 0) {
    parts.push(`- Do not touch these protected paths (globs from the repository root): ${fixer.protectedPaths.map((p) => `\`${p}\``).join(', ')}.`);
  }
  if (fixer.verify) {
    parts.push(`- After you finish, greenloop runs \`${fixer.verify.join(' ')}\` in this worktree; it must pass.`);
  }
  parts.push('- You do not need to commit: greenloop commits the accepted change itself. A change that breaks these rules is rejected and thrown away.');
  if (input.previousAttempts.length > 0) {
    parts.push('', '## Earlier attempts were rejected', '', 'Do not repeat these mistakes:', '');
    input.previousAttempts.forEach((a, i) => {
      parts.push(`${i + 1}. ${a.reason}`);
    });
  }
  return `${parts.join('\n')}\n`;
}

/** Writes the prompt to `file` (creating its directory) and returns the path. */
export async function writeFixPrompt(file: string, input: FixPromptInput): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, renderFixPrompt(input));
  return file;
}
