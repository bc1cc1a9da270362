import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { addSpend, type FixResult, type FixStageResult, formatSpend, type IntegrateResult, type Spend, sumSpend } from '@greenloop/core';
import { PROVE_GATE } from './prove-verdict.ts';

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
    .slice(0, 1200);

export function renderFixOutcomes(
  cycle: number,
  fix: FixStageResult | undefined,
  integrate: IntegrateResult | undefined,
  titles: Readonly<Record<string, string>> = {},
  /** What the loop's fixers spent up to and including this cycle, for the spend line. */
  loopSpend?: Spend,
): string {
  const rows: [string, string, string][] = [];
  const fingerprints: string[] = [];
  const name = (fp: string) => (titles[fp] ? `${titles[fp]} (\`${fp}\`)` : `\`${fp}\``);
  const applied = new Set(integrate?.applied.map((a) => a.fingerprint));
  const dropped = new Map(integrate?.dropped.map((d) => [d.fingerprint, d.reason]));
  const redone = new Map(integrate?.redone?.map((r) => [r.fingerprint, r]));
  for (const r of fix?.results ?? []) {
    fingerprints.push(r.fingerprint);
    const re = redone.get(r.fingerprint);
    const proof = deployProof(r);
    if (r.outcome === 'accepted' && applied.has(r.fingerprint)) {
      rows.push([
        name(r.fingerprint),
        `${re ? 'applied, re-done after a conflict' : 'applied'}${proof.outcome}`,
        [re ? `${re.conflict}; its fixer ran again on top (${re.attempts} more attempt(s))` : '', proof.why].filter(Boolean).join('; '),
      ]);
    } else if (r.outcome === 'accepted' && dropped.has(r.fingerprint)) {
      rows.push([name(r.fingerprint), 'dropped at integration', dropped.get(r.fingerprint) as string]);
    } else if (r.outcome === 'accepted') {
      rows.push([name(r.fingerprint), integrate ? 'accepted, not integrated' : 'accepted, not integrated yet', '']);
    } else if (r.outcome === 'rejected' && proof.rejected) {
      rows.push([name(r.fingerprint), 'rejected on deploy', proof.why]);
    } else {
      rows.push([name(r.fingerprint), r.outcome, r.reason ?? '']);
    }
  }
  for (const s of fix?.skipped ?? []) rows.push([name(s.fingerprint), 'not dispatched', s.reason]);
  if (rows.length === 0) return '';
  const spend = fixSpend(cycle, fix, integrate, loopSpend);
  // The Spend column appears once any fixer reported usage; loops whose fixers report none keep the three columns.
  const withSpend = spend.spend !== undefined;
  const spendCell = (i: number) => {
    const f = spend.fixes.find((x) => x.fingerprint === fingerprints[i]);
    return f?.spend ? formatSpend(f.spend) : (f?.note ?? '');
  };
  return [
    '',
    `## Fixes of cycle ${cycle}`,
    '',
    withSpend ? '| Cluster | Outcome | Why | Spend |' : '| Cluster | Outcome | Why |',
    withSpend ? '| --- | --- | --- | --- |' : '| --- | --- | --- |',
    ...rows.map((r, i) => `| ${(withSpend ? [...r, spendCell(i)] : r).map(cell).join(' | ')} |`),
    ...fixerSandboxLine(fix),
    ...(withSpend
      ? ['', `Fixer spend in cycle ${cycle}: ${formatSpend(spend.spend)}${spend.loop ? `; the loop so far: ${formatSpend(spend.loop)}` : ''}.`]
      : []),
    '',
  ].join('\n');
}

/** A cycle's fixer spend as report.json's `fixerSpend[]` entry has it (docs/report-schema.md). */
export interface FixSpendEntry {
  cycle: number;
  /** Everything this cycle's fixers reported (fix step and re-done fixes); absent when none reported. */
  spend?: Spend;
  /** The loop's fixers up to and including this cycle. */
  loop?: Spend;
  fixes: { fingerprint: string; outcome: string; spend?: Spend; note?: string }[];
}

export function fixSpend(cycle: number, fix: FixStageResult | undefined, integrate: IntegrateResult | undefined, loopSpend?: Spend): FixSpendEntry {
  const redone = new Map(integrate?.redone?.map((r) => [r.fingerprint, r]));
  const fixes = (fix?.results ?? []).map((r) => {
    const spend = addSpend(r.spend, redone.get(r.fingerprint)?.spend);
    return { fingerprint: r.fingerprint, outcome: r.outcome, ...(spend ? { spend } : {}), ...(r.spendNote ? { note: r.spendNote } : {}) };
  });
  const spend = sumSpend(fixes.map((f) => f.spend));
  return { cycle, ...(spend ? { spend } : {}), ...(loopSpend ? { loop: loopSpend } : {}), fixes };
}

/**
 * What fixer.proveOnDeploy found for a fix: its gates named `proven-on-deploy` (earlier attempts rejected on
 * deploy carry `(attempt n)`), in the order they ran. The last one decided.
 */
function deployProof(r: FixResult): { outcome: string; why: string; rejected: boolean } {
  const proofs = (r.gates ?? []).filter((g) => g.name.startsWith(PROVE_GATE));
  const last = proofs.at(-1);
  if (!last) return { outcome: '', why: '', rejected: false };
  const why = proofs
    .map((g) => {
      const attempt = /\((attempt \d+)\)$/.exec(g.name)?.[1];
      return attempt ? `${attempt}: ${g.reason ?? ''}` : `${proofs.length > 1 ? 'then ' : ''}${g.reason ?? ''}`;
    })
    .join('; ');
  const proven = last.passed && last.reason?.startsWith('proven');
  return { outcome: proven ? ', proven on deploy' : last.passed ? ', not proven on deploy' : '', why, rejected: !last.passed };
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

/**
 * The fix section in both forms of a cycle report: the markdown section appended once, and the cycle's
 * `fixerSpend[]` entry set in report.json (replaced, not repeated, when a step is retried).
 */
export async function appendFixSection(
  report: { markdown: string; json: string },
  cycle: number,
  fix: FixStageResult | undefined,
  integrate: IntegrateResult | undefined,
  titles: Readonly<Record<string, string>>,
  loopSpend?: Spend,
): Promise<void> {
  await appendFixOutcomes(report.markdown, renderFixOutcomes(cycle, fix, integrate, titles, loopSpend));
  if (!fix?.results.length) return;
  const text = await readFile(report.json, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const json = JSON.parse(text) as { fixerSpend?: FixSpendEntry[] };
  json.fixerSpend = [...(json.fixerSpend ?? []).filter((e) => e.cycle !== cycle), fixSpend(cycle, fix, integrate, loopSpend)].sort((a, b) => a.cycle - b.cycle);
  await writeFile(report.json, `${JSON.stringify(json, null, 2)}\n`);
}

/** Appends the section to a report file once (a retried step does not repeat it; nothing to say, nothing added). */
export async function appendFixOutcomes(reportFile: string, section: string): Promise<void> {
  if (!section) return;
  const heading = section.split('\n').find((l) => l.startsWith('## ')) as string;
  const text = await readFile(reportFile, 'utf8').catch(() => '');
  if (!text.split('\n').includes(heading)) await appendFile(reportFile, section);
}
