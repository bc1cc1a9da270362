import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  addSpend,
  type BudgetCap,
  budgetOverrun,
  type ClusterSummary,
  describeError,
  type FixerConfig,
  type FixResult,
  GreenloopError,
  type Logger,
  maxSpend,
  type ProcessRecorder,
  placeholderNames,
  redact,
  renderArgv,
  type Spend,
} from '@greenloop/core';
import { cloneForFix, GIT_IDENTITY, gitExec, gitOnFiles, removeCheckout } from '../git/repo.ts';
import { readFileTail } from '../process/file-tail.ts';
import { type RunCommandOptions, type RunCommandResult, runCommand } from '../process/run-command.ts';
import type { SandboxSettings } from '../process/sandbox.ts';
import { PARSEABLE_DIFF_ARGS, parseDiff } from './diff.ts';
import { buildFixerEnv } from './fixer-env.ts';
import { diffGates, type GateRecord, rejectionReason } from './gates.ts';
import { writeFixPrompt } from './prompt.ts';
import { readFixerUsage } from './usage.ts';

/** Everything one fix job needs; the loop engine builds it from the cycle's records. */
export interface FixRequest {
  /** The target repository (main checkout; its working tree is never modified). */
  repo: string;
  /** The loop's current commit; the fix worktree starts here. */
  baseCommit: string;
  loopId: string;
  cycle: number;
  cluster: ClusterSummary;
  /** Markdown dossier (evidence); the fixer's prompt is this plus greenloop's rules and earlier reasons. */
  promptFile: string;
  /** JSON describing the cluster. */
  clusterFile: string;
  fixer: FixerConfig;
  /** The fixer's clone goes under here. */
  worktreeRoot: string;
  /** How fixer and verify commands are sandboxed (`sandbox:` in greenloop.yaml; fixers refuse to run unsandboxed under auto). */
  sandbox: SandboxSettings;
  /** Per-fix evidence: prompts, fixer and verify output, diffs, gates.json, result.json. */
  artifactDir: string;
  /** Source for the `fixer.passEnv` allow-list (PATH and HOME are always passed). */
  processEnv: Readonly<Record<string, string | undefined>>;
  /** Gate reasons from earlier attempts (earlier cycles), appended to the prompt. */
  previousAttempts?: { reason: string }[];
  /** Attempts allowed this cycle (from `planFixes`); defaults to `fixer.attemptsPerCycle`. */
  maxAttempts?: number;
  /** Variable names never passed to the fixer even if listed in passEnv (e.g. `loop.push.tokenEnv`). */
  secretEnv?: readonly string[];
  /** Records the fixer and verify process groups, so a retry or the loop's end can end them. */
  processes?: ProcessRecorder;
  /** What this fix may spend this cycle (from `fixer.budget`): no further attempt starts when the next one could pass it. */
  budget?: BudgetCap;
  /**
   * fixer.proveOnDeploy: proves an accepted attempt on a deployed candidate (fix/prove-on-deploy.ts). A
   * failed proof turns the attempt into a rejected one, retried while attempts remain.
   */
  prove?: (fix: FixResult, attempt: number, dir: string) => Promise<GateRecord>;
  signal: AbortSignal;
  log: Logger;
}

/**
 * The branch a fix is committed on. It is deliberately not under `greenloop/<loop>/`: the loop branch
 * `greenloop/<loop>` is a ref file, and git cannot also have refs below it ("cannot lock ref").
 */
export function fixBranchName(loopId: string, cycle: number, fingerprint: string): string {
  return `greenloop-fix/${loopId}/${cycle}/${fingerprint}`;
}

/**
 * Files coding agents leave in the repository root as a side effect (Aider's chat/input history and
 * tags cache). They are never part of a fix; without this they would be committed with it.
 */
const AGENT_SCRATCH = ['**/.aider*', '**/.aider*/**'];

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TAIL_BYTES = 2000;

/**
 * Runs one cluster's fixer in its own clone, inside the sandbox, and gates the result: non-empty diff, no protected path,
 * tests not deleted/skipped/weakened, verify command passes. An accepted change is committed on
 * `fixBranchName(...)` (one commit on top of `baseCommit`, whatever the fixer did with git itself).
 * A rejected attempt is retried with its reasons in the prompt while attempts remain. The worktree is
 * removed afterwards in every case; the branch stays. The result says whether the fixer was sandboxed. Calling it again for the same fix starts over.
 *
 * Placeholders in `fixer.command` and `fixer.verify`: `{{promptFile}}` (this attempt's prompt),
 * `{{promptDir}}` (its directory, for agents that must be granted read access to it), `{{clusterFile}}`,
 * `{{worktree}}`, `{{cluster}}` (fingerprint), `{{title}}`, `{{attempt}}`, `{{usageFile}}` (where a wrapper may write
 * the run's usage as JSON; see usage.ts). What each attempt reported spending is summed into `spend`.
 */
export async function runFix(req: FixRequest): Promise<FixResult> {
  const fingerprint = req.cluster.fingerprint;
  if (!SAFE_NAME.test(fingerprint) || !SAFE_NAME.test(req.loopId)) {
    throw new GreenloopError(
      'FIX_BAD_NAME',
      `refusing to fix cluster "${fingerprint}" of loop "${req.loopId}": names must be letters, digits, ".", "_" or "-"`,
    );
  }
  const branch = fixBranchName(req.loopId, req.cycle, fingerprint);
  const worktree = resolve(req.worktreeRoot, `fix-${req.loopId}-${req.cycle}-${fingerprint}`);
  const artifactDir = resolve(req.artifactDir);
  await mkdir(artifactDir, { recursive: true });
  const maxAttempts = Math.max(1, req.maxAttempts ?? req.fixer.attemptsPerCycle);
  const dossier = await readFile(req.promptFile, 'utf8');
  const reasons = [...(req.previousAttempts ?? [])];
  const log = req.log.child({ loopId: req.loopId, cycle: req.cycle, fingerprint });

  let result: FixResult = { fingerprint, outcome: 'cancelled', reason: 'cancelled before the fixer started', attempts: 0 };
  let spent: Spend | undefined;
  let costliest: Spend | undefined;
  const notes = new Set<string>();
  // Earlier attempts' failed proofs stay in the final result's gates: the report shows what was rejected on deploy.
  const deployRejections: GateRecord[] = [];
  try {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (req.signal.aborted) break;
      const ctx: AttemptContext = { req, branch, worktree, artifactDir, dossier, attempt, maxAttempts, reasons, log };
      result = await runAttempt(ctx);
      spent = addSpend(spent, result.spend);
      costliest = maxSpend(costliest, result.spend);
      if (result.spendNote) notes.add(result.spendNote);
      if (result.outcome === 'accepted' && req.prove) result = await proveAttempt(req, result, attempt, artifactDir, deployRejections);
      log.info({ attempt, outcome: result.outcome, reason: result.reason }, 'fix attempt finished');
      const retryable = result.outcome === 'rejected' || result.outcome === 'no-change';
      if (!retryable || attempt === maxAttempts) break;
      // Checked before the next attempt starts, with the costliest attempt so far as what it could cost.
      const overrun = req.budget && budgetOverrun(spent, req.budget, costliest);
      if (overrun) {
        result = { ...result, reason: `${result.reason ?? result.outcome}; not retried: fixer.budget: this fix ${overrun}` };
        break;
      }
      reasons.push({ reason: `attempt ${attempt}: ${result.reason ?? result.outcome}` });
    }
  } finally {
    await removeCheckout(req.repo, worktree).catch((err: unknown) => log.warn({ err: describeError(err), worktree }, 'could not remove the fix clone'));
    await rm(indexFileOf(worktree), { force: true });
  }
  delete result.spend;
  delete result.spendNote;
  if (spent) result.spend = spent;
  if (notes.size) result.spendNote = [...notes].join('; ');
  await writeFile(join(artifactDir, 'gates.json'), `${JSON.stringify(result.gates ?? [], null, 2)}\n`);
  await writeFile(join(artifactDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** An accepted attempt, deployed and tested (req.prove): still accepted, or rejected with the proof's evidence. */
async function proveAttempt(req: FixRequest, accepted: FixResult, attempt: number, artifactDir: string, earlier: GateRecord[]): Promise<FixResult> {
  const prove = req.prove;
  if (!prove) return accepted;
  const gate = await prove(accepted, attempt, join(artifactDir, `attempt-${attempt}`, 'prove'));
  const gates = [...earlier, ...(accepted.gates ?? []), gate];
  if (gate.passed) return { ...accepted, gates };
  earlier.push({ ...gate, name: `${gate.name} (attempt ${attempt})` });
  const { branch: _branch, commit: _commit, diffStat: _diffStat, ...rest } = accepted;
  return { ...rest, outcome: 'rejected', reason: gate.reason ?? 'rejected on deploy', gates };
}

interface AttemptContext {
  req: FixRequest;
  branch: string;
  worktree: string;
  artifactDir: string;
  dossier: string;
  attempt: number;
  maxAttempts: number;
  reasons: readonly { reason: string }[];
  log: Logger;
}

async function runAttempt(ctx: AttemptContext): Promise<FixResult> {
  const { req, worktree, attempt } = ctx;
  const fingerprint = req.cluster.fingerprint;
  const dir = join(ctx.artifactDir, `attempt-${attempt}`);
  await mkdir(dir, { recursive: true });
  const base: FixResult = { fingerprint, outcome: 'failed', attempts: attempt, logFile: join(dir, 'fixer.stdout.log') };

  // Every attempt starts from a fresh clone at the base: a rejected attempt's edits must not leak into the next.
  const borrowedObjects = await cloneForFix(req.repo, worktree, ctx.branch, req.baseCommit);
  const promptFile = await writeFixPrompt(join(dir, 'prompt.md'), {
    dossier: ctx.dossier,
    cluster: req.cluster,
    fixer: req.fixer,
    attempt,
    maxAttempts: ctx.maxAttempts,
    previousAttempts: ctx.reasons,
  });
  const files = { promptFile, clusterFile: resolve(req.clusterFile), worktree };
  // {{usageFile}}: in a directory of its own that only the fixer may write, outside its clone (never part of the diff).
  const usageFile = join(dir, 'usage', 'usage.json');
  const wantsUsageFile = req.fixer.command.some((arg) => placeholderNames(arg).includes('usageFile'));
  if (wantsUsageFile) await mkdir(join(dir, 'usage'), { recursive: true });
  // Writable: the clone (and the usage file's directory). Readable besides the system: this attempt's
  // prompt, the cluster file and the repository objects the clone borrows.
  const sandboxFor = (kind: 'fixer' | 'verify') => ({
    settings: req.sandbox,
    kind,
    network: req.fixer.network,
    writable: kind === 'fixer' && wantsUsageFile ? [worktree, join(dir, 'usage')] : [worktree],
    readable: [dir, files.clusterFile, ...borrowedObjects],
  });
  const values = { ...files, promptDir: dir, cluster: fingerprint, title: req.cluster.title, attempt: String(attempt), usageFile };
  const { env, refused, missing } = buildFixerEnv({
    fixer: req.fixer,
    processEnv: req.processEnv,
    files,
    ...(req.secretEnv ? { secretEnv: req.secretEnv } : {}),
  });
  if (refused.length) ctx.log.warn({ refused }, 'fixer.passEnv names greenloop variables; they are not passed');
  if (missing.length) ctx.log.warn({ missing }, 'fixer.passEnv names variables greenloop does not have');
  Object.assign(env, req.processes?.env());
  const tracked = req.processes?.track('fixer');

  let fixerPid: number | undefined;
  let run: RunCommandResult;
  try {
    run = await runCommand({
      argv: renderArgv(req.fixer.command, values),
      cwd: worktree,
      env,
      timeoutMs: req.fixer.timeout,
      stdoutFile: join(dir, 'fixer.stdout.log'),
      stderrFile: join(dir, 'fixer.stderr.log'),
      signal: req.signal,
      sandbox: sandboxFor('fixer'),
      onSpawn: async (pid) => {
        fixerPid = pid;
        await tracked?.onSpawn(pid);
      },
    });
  } catch (err) {
    if (err instanceof GreenloopError) return { ...base, sandboxed: false, reason: describeError(err) };
    throw err;
  } finally {
    // Whatever the fixer left running in its process group must not keep writing while the gates look.
    // Only the group is signalled: the leader's pid alone may already belong to another process.
    if (fixerPid !== undefined) killStragglers(fixerPid);
    await tracked?.release();
  }
  base.sandboxed = run.sandboxed;
  // A run that failed or timed out has spent money too: its usage is read whatever the outcome.
  const usage = await readFixerUsage({
    ...(wantsUsageFile ? { usageFile } : {}),
    stdoutFile: join(dir, 'fixer.stdout.log'),
    stderrFile: join(dir, 'fixer.stderr.log'),
    price: req.fixer.pricePerMillionTokens,
  });
  if (usage.spend) base.spend = usage.spend;
  const spendNote = usage.note ?? budgetBlindSpot(req.fixer, usage.spend);
  if (spendNote) base.spendNote = spendNote;
  const tail = () => outputTail(join(dir, 'fixer.stderr.log'), join(dir, 'fixer.stdout.log'));
  if (run.cancelled) return { ...base, outcome: 'cancelled', reason: 'cancelled while the fixer ran' };
  if (run.timedOut)
    return { ...base, outcome: 'timed-out', reason: `the fixer did not finish within ${seconds(req.fixer.timeout)} and was killed${await tail()}` };
  if (run.exitCode !== 0) {
    const how = run.exitCode === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with code ${run.exitCode}`;
    return { ...base, reason: `the fixer ${how}${await tail()}` };
  }

  // The fixer may have committed, switched branches or left changes uncommitted: compare trees, not HEADs.
  // Its files are read into the repository's objects through a private index; the clone's .git (config,
  // hooks, filters the fixer may have planted) is never consulted.
  const onFiles = gitOnFiles(req.repo, worktree, indexFileOf(worktree));
  await rm(indexFileOf(worktree), { force: true });
  await onFiles(['read-tree', req.baseCommit]);
  await onFiles(['add', '-A', '--', '.', ...AGENT_SCRATCH.map((p) => `:(exclude,glob)${p}`)]);
  const tree = (await onFiles(['write-tree'])).trim();
  const changes = parseDiff(await gitExec(req.repo, [...PARSEABLE_DIFF_ARGS, req.baseCommit, tree]));
  const gates = diffGates(changes, req.fixer.protectedPaths);
  if (changes.length === 0) {
    const empty = gates.filter((gate) => gate.name === 'diff-not-empty');
    return { ...base, outcome: 'no-change', reason: rejectionReason(empty) ?? 'no change', gates: empty };
  }
  const diffFile = join(dir, 'diff.patch');
  await writeFile(
    diffFile,
    await gitExec(req.repo, ['diff', '--binary', '--no-color', '--no-ext-diff', '--src-prefix=a/', '--dst-prefix=b/', req.baseCommit, tree]),
  );

  if (!gates.some((gate) => !gate.passed) && req.fixer.verify) {
    const verify = await runVerify(req, dir, worktree, env, values, sandboxFor('verify'));
    if (verify === 'cancelled') return { ...base, outcome: 'cancelled', reason: 'cancelled while the verify command ran', gates, diffFile };
    gates.push(verify);
  }
  const rejected = rejectionReason(gates);
  if (rejected) return { ...base, outcome: 'rejected', reason: rejected, gates, diffFile };

  const commit = await commitTree(ctx, tree);
  const finalDiff = join(ctx.artifactDir, 'diff.patch');
  await writeFile(finalDiff, await readFile(diffFile));
  const diffStat = (await gitExec(req.repo, ['diff', '--stat', '--no-color', req.baseCommit, commit])).trimEnd();
  await writeFile(join(ctx.artifactDir, 'diffstat.txt'), `${diffStat}\n`);
  return { ...base, outcome: 'accepted', branch: ctx.branch, commit, diffStat, diffFile: finalDiff, gates };
}

async function runVerify(
  req: FixRequest,
  dir: string,
  worktree: string,
  env: Record<string, string>,
  values: Record<string, string>,
  sandbox: RunCommandOptions['sandbox'],
): Promise<GateRecord | 'cancelled'> {
  const argv = req.fixer.verify ?? [];
  const stdoutFile = join(dir, 'verify.stdout.log');
  const stderrFile = join(dir, 'verify.stderr.log');
  let run: RunCommandResult;
  const tracked = req.processes?.track('verify');
  try {
    run = await runCommand({
      argv: renderArgv(argv, values),
      cwd: worktree,
      env,
      timeoutMs: req.fixer.verifyTimeout,
      stdoutFile,
      stderrFile,
      signal: req.signal,
      sandbox,
      ...(tracked ? { onSpawn: tracked.onSpawn } : {}),
    });
  } catch (err) {
    if (err instanceof GreenloopError) return { name: 'verify', passed: false, reason: describeError(err) };
    throw err;
  } finally {
    await tracked?.release();
  }
  if (run.cancelled) return 'cancelled';
  if (run.exitCode === 0 && !run.timedOut) return { name: 'verify', passed: true };
  const how = run.timedOut
    ? `did not finish within ${seconds(req.fixer.verifyTimeout)}`
    : run.exitCode === null
      ? `was killed by ${run.signal ?? 'a signal'}`
      : `exited with code ${run.exitCode}`;
  return { name: 'verify', passed: false, reason: `\`${argv.join(' ')}\` ${how}${await outputTail(stderrFile, stdoutFile)}` };
}

/** One commit with the fixer's tree on top of the base, named for the loop, cycle and cluster. */
async function commitTree(ctx: AttemptContext, tree: string): Promise<string> {
  const { req } = ctx;
  const c = req.cluster;
  const subject = `greenloop: fix ${oneLine(c.title, 60)}`;
  const shown = c.tests.slice(0, 20).map((t) => `- ${oneLine(t, 200)}`);
  if (c.tests.length > shown.length) shown.push(`- … and ${c.tests.length - shown.length} more`);
  const body = [`Cluster ${c.fingerprint} (${c.triage}, ${c.status}): ${oneLine(c.title, 200)}`, '', 'Failing tests:', ...shown].join('\n');
  const trailers = [
    `Greenloop-Loop: ${req.loopId}`,
    `Greenloop-Cycle: ${req.cycle}`,
    `Greenloop-Cluster: ${c.fingerprint}`,
    `Greenloop-Attempt: ${ctx.attempt}`,
  ].join('\n');
  const commit = (await gitExec(req.repo, [...GIT_IDENTITY, 'commit-tree', tree, '-p', req.baseCommit, '-m', subject, '-m', body, '-m', trailers])).trim();
  await gitExec(req.repo, ['update-ref', `refs/heads/${ctx.branch}`, commit]);
  return commit;
}

/** What a budget cannot count of this run's reported usage, if anything: said on the fix result. */
function budgetBlindSpot(fixer: FixRequest['fixer'], spend: Spend | undefined): string | undefined {
  if (!fixer.budget) return undefined;
  if (!spend) return 'fixer.budget is set but this run reported no usage, so the budget cannot count it';
  const usdCap = fixer.budget.perCluster?.usd !== undefined || fixer.budget.perLoop?.usd !== undefined;
  if (spend.usd === undefined && usdCap) return 'this run reported tokens but no price, so the usd budget cannot count it; set fixer.pricePerMillionTokens';
  return undefined;
}

/** The end of a command's output, for a reason a person (or the next attempt) can act on. */
async function outputTail(...files: string[]): Promise<string> {
  for (const file of files) {
    const text = ((await readFileTail(file, TAIL_BYTES)) ?? '').trim();
    // The tail becomes FixResult.reason: events, API views, logs and the next prompt. Redacted here, once.
    if (text) return `; output ends with:\n${redact(text)}`;
  }
  return '';
}

/** The private index greenloop reads a fixer's files through: beside the clone, outside its reach. */
function indexFileOf(clone: string): string {
  return `${clone}.index`;
}

function killStragglers(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {}
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 100) / 10}s`;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
