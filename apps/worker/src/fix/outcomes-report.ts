import { appendFile, readFile } from 'node:fs/promises';
import type { FixStageResult, IntegrateResult } from '@greenloop/core';

/**
 * The "Fixes of cycle N" section of a cycle report: every fix that landed, was re-done after a conflict,
 * dropped, rejected, failed or left to a person, each with its own reason. Appended to that cycle's
 * report once integration is done, and to the next cycle's report by its analysis, so no outcome lives only
 * in a worker log.
 */

const cell = (s: string) =>
  s
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
    .slice(0, 600);

export function renderFixOutcomes(
  cycle: number,
  fix: FixStageResult | undefined,
  integrate: IntegrateResult | undefined,
  titles: Readonly<Record<string, string>> = {},
): string {
  const rows: [string, string, string][] = [];
  const name = (fp: string) => (titles[fp] ? `${titles[fp]} (\`${fp}\`)` : `\`${fp}\``);
  const applied = new Set(integrate?.applied.map((a) => a.fingerprint));
  const dropped = new Map(integrate?.dropped.map((d) => [d.fingerprint, d.reason]));
  const redone = new Map(integrate?.redone?.map((r) => [r.fingerprint, r]));
  for (const r of fix?.results ?? []) {
    const re = redone.get(r.fingerprint);
    if (r.outcome === 'accepted' && applied.has(r.fingerprint)) {
      rows.push([
        name(r.fingerprint),
        re ? 'applied, re-done after a conflict' : 'applied',
        re ? `${re.conflict}; its fixer ran again on top (${re.attempts} more attempt(s))` : '',
      ]);
    } else if (r.outcome === 'accepted' && dropped.has(r.fingerprint)) {
      rows.push([name(r.fingerprint), 'dropped at integration', dropped.get(r.fingerprint) as string]);
    } else if (r.outcome === 'accepted') {
      rows.push([name(r.fingerprint), integrate ? 'accepted, not integrated' : 'accepted, not integrated yet', '']);
    } else {
      rows.push([name(r.fingerprint), r.outcome, r.reason ?? '']);
    }
  }
  for (const s of fix?.skipped ?? []) rows.push([name(s.fingerprint), 'not dispatched', s.reason]);
  if (rows.length === 0) return '';
  return [
    '',
    `## Fixes of cycle ${cycle}`,
    '',
    '| Cluster | Outcome | Why |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    ...fixerSandboxLine(fix),
    '',
  ].join('\n');
}

/** Whether the fixers ran in bubblewrap (only `sandbox: off` runs them unsandboxed); nothing when not recorded. */
function fixerSandboxLine(fix: FixStageResult | undefined): string[] {
  const recorded = (fix?.results ?? []).filter((r) => r.sandboxed !== undefined);
  if (recorded.length === 0) return [];
  const open = recorded.filter((r) => r.sandboxed === false).map((r) => `\`${r.fingerprint}\``);
  return [
    '',
    open.length > 0
      ? `WARNING: the fixer(s) for ${open.join(', ')} ran unsandboxed (sandbox: off), with greenloop's own access to its home, the repository and its environment.`
      : "Sandbox: every fixer ran in bubblewrap (its own clone writable; greenloop's home, the repository and greenloop's environment out of reach).",
  ];
}

/** Appends the section to a report file once (a retried step does not repeat it; nothing to say, nothing added). */
export async function appendFixOutcomes(reportFile: string, section: string): Promise<void> {
  if (!section) return;
  const heading = section.split('\n').find((l) => l.startsWith('## ')) as string;
  const text = await readFile(reportFile, 'utf8').catch(() => '');
  if (!text.split('\n').includes(heading)) await appendFile(reportFile, section);
}
