import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addKnownSecrets, GreenloopError, type Logger, type LoopSource } from '@greenloop/core';
import { du } from '../disk-usage.ts';
import { displayRemote, type RemoteCredentials, remoteCredentials, remoteGitEnv, scrubCredentials } from './remote-auth.ts';
import { GIT_SAFE_ARGS, gitExec, resolveCommit, serialized } from './repo.ts';

const execFileAsync = promisify(execFile);

/**
 * Each worker's copy of the projects' remotes: one bare repository per project under
 * `<home>/mirrors/<project>.git`, fetched before a loop of the project begins. A project loop's branches,
 * worktrees and fixer clones are made from it, so a worker needs neither the user's checkout nor a disk
 * shared with other workers.
 *
 * The remote's branches are fetched to `refs/remotes/origin/*` (not `git clone --mirror`'s `refs/*`): a
 * pruning fetch then never deletes the `greenloop/<loop>` and `greenloop-fix/…` branches running loops
 * keep in `refs/heads`. No remote is written to the mirror's config: the URL comes from the loop (a
 * project's remote may change; a running loop keeps the one it started with).
 */

/** How long one fetch may take before it is a failure (a first fetch of a large repository is slow). */
const FETCH_TIMEOUT_MS = 15 * 60_000;
/** Written into a mirror each time a loop uses it: its mtime orders mirrors for eviction. */
const LAST_USED = 'greenloop-last-used';
/** A project name that can name a directory of its own (no separators, no leading dot); anything else is refused. */
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface MirrorOptions {
  /** greenloop's home: mirrors live in `<home>/mirrors`. */
  home: string;
  /** GREENLOOP_MIRRORS_MAX_MB in bytes. */
  maxBytes: number;
  /** The worker's environment, where `credentialsSecret` names a variable. */
  processEnv: Readonly<Record<string, string | undefined>>;
  log: Logger;
  /** Whether a loop is still running anywhere (a mirror it pinned here is released when it is not). */
  isRunning(loopId: string): Promise<boolean>;
}

/** A fetched mirror and the head of the remote's base branch in it. */
export interface FetchedSource {
  repo: string;
  base: string;
}

/** Where `project`'s mirror is under greenloop's `home` (whether or not this worker has it). */
export function mirrorPath(home: string, project: string): string {
  if (!PROJECT_NAME.test(project)) throw new GreenloopError('PROJECT_INVALID', `project name ${JSON.stringify(project)} cannot name a mirror directory`);
  return join(home, 'mirrors', `${project}.git`);
}

export class Mirrors {
  /** Loops of this worker using each mirror (by project): never evicted while one of them runs. */
  private readonly pins = new Map<string, Set<string>>();
  /**
   * Commits known to be in each mirror (by path) and when it was last marked used: a job's look-up of a
   * mirror that has its commit spawns no git (12 ms per call otherwise, measured by bench/mirror-bench.ts
   * on a loaded 2-core machine; every step of a project loop looks its repository up).
   */
  private readonly seen = new Map<string, { commits: Set<string>; touchedAt: number }>();

  private readonly opts: MirrorOptions;

  constructor(opts: MirrorOptions) {
    this.opts = opts;
  }

  get root(): string {
    return join(this.opts.home, 'mirrors');
  }

  /**
   * Before `loopId` begins: its project's mirror created if needed and fetched (one fetch at a time per
   * mirror), then the mirrors over the disk bound evicted. Throws SOURCE_FETCH_FAILED (not retried)
   * with git's reason, credentials scrubbed, when the remote cannot be fetched or has no base branch.
   */
  async fetch(source: LoopSource, loopId: string): Promise<FetchedSource> {
    const repo = this.pin(source.project, loopId);
    await this.fetchInto(repo, source);
    const base = await resolveCommit(repo, `refs/remotes/origin/${source.baseBranch}`).catch(() => {
      throw new GreenloopError(
        'SOURCE_FETCH_FAILED',
        `branch ${source.baseBranch} does not exist on ${displayRemote(source.remote)} (project ${source.project})`,
        {
          hint: "check the project's baseBranch",
        },
      );
    });
    this.remember(repo, base);
    await this.evict();
    return { repo, base };
  }

  /**
   * The mirror for a job of `loopId` on this worker: used as it is when it has `commit` (or no commit is
   * asked for), fetched first when this worker has no mirror yet or lacks the commit (begun on another
   * worker, or evicted since; a pushed loop branch comes with the fetch).
   */
  async open(source: LoopSource, loopId: string, commit?: string): Promise<string> {
    const repo = this.pin(source.project, loopId);
    const seen = this.seen.get(repo);
    if (seen && (!commit || seen.commits.has(commit))) {
      await this.markUsed(repo);
      return repo;
    }
    const has = async () => existsSync(join(repo, 'HEAD')) && (!commit || (await hasCommit(repo, commit)));
    if (!(await has())) {
      await this.fetchInto(repo, source);
      if (!(await has()))
        throw new GreenloopError(
          'SOURCE_COMMIT_MISSING',
          `commit ${commit?.slice(0, 12)} is not on ${displayRemote(source.remote)} nor in this worker's mirror`,
          {
            hint: "it was made on another worker: set loop.push so each cycle's commit reaches the project's remote",
          },
        );
    }
    this.remember(repo, commit);
    await this.markUsed(repo);
    return repo;
  }

  /** `loopId` no longer needs its mirror here (its teardown ran). */
  release(loopId: string): void {
    for (const [project, loops] of this.pins) {
      loops.delete(loopId);
      if (loops.size === 0) this.pins.delete(project);
    }
  }

  /**
   * Deletes least recently used mirrors until all fit in the bound, never one a running loop pinned.
   * Returns the projects whose mirrors were deleted.
   */
  async evict(): Promise<string[]> {
    return await serialized(`mirrors:${this.root}`, async () => {
      const names = (await readdir(this.root).catch(() => [] as string[])).filter((n) => n.endsWith('.git'));
      const mirrors = await Promise.all(
        names.map(async (name) => {
          const dir = join(this.root, name);
          const used = await stat(join(dir, LAST_USED)).then(
            (s) => s.mtimeMs,
            () => 0,
          );
          return { project: name.slice(0, -'.git'.length), dir, bytes: await du(dir), used };
        }),
      );
      let total = mirrors.reduce((sum, m) => sum + m.bytes, 0);
      const evicted: string[] = [];
      for (const m of mirrors.sort((a, b) => a.used - b.used)) {
        if (total <= this.opts.maxBytes) break;
        if (await this.inUse(m.project)) continue;
        await serialized(`mirror:${m.dir}`, async () => {
          // Pinned meanwhile (a loop began while sizes were counted): kept.
          if (this.pins.has(m.project)) return;
          this.seen.delete(m.dir);
          await rm(m.dir, { recursive: true, force: true });
          total -= m.bytes;
          evicted.push(m.project);
        });
      }
      if (evicted.length) this.opts.log.info({ evicted, bytes: total, maxBytes: this.opts.maxBytes }, 'evicted least recently used project mirrors');
      if (total > this.opts.maxBytes)
        this.opts.log.warn({ bytes: total, maxBytes: this.opts.maxBytes }, 'project mirrors in use exceed GREENLOOP_MIRRORS_MAX_MB');
      return evicted;
    });
  }

  private remember(repo: string, commit: string | undefined): void {
    const seen = this.seen.get(repo) ?? { commits: new Set<string>(), touchedAt: 0 };
    if (commit) seen.commits.add(commit);
    this.seen.set(repo, seen);
  }

  /** Marks the mirror used (its eviction order), at most once a minute: the order needs no finer grain. */
  private async markUsed(repo: string, now = Date.now()): Promise<void> {
    const seen = this.seen.get(repo);
    if (seen && now - seen.touchedAt < 60_000) return;
    if (seen) seen.touchedAt = now;
    await touch(repo);
  }

  private pin(project: string, loopId: string): string {
    const repo = mirrorPath(this.opts.home, project);
    const loops = this.pins.get(project) ?? new Set<string>();
    loops.add(loopId);
    this.pins.set(project, loops);
    return repo;
  }

  /** Whether a running loop pinned the project's mirror; pins of loops that ended (on any worker) are dropped. */
  private async inUse(project: string): Promise<boolean> {
    const loops = this.pins.get(project);
    if (!loops) return false;
    for (const id of [...loops]) if (!(await this.opts.isRunning(id))) loops.delete(id);
    if (loops.size === 0) this.pins.delete(project);
    return loops.size > 0;
  }

  private async fetchInto(repo: string, source: LoopSource): Promise<void> {
    let creds: RemoteCredentials;
    try {
      creds = remoteCredentials(source.remote, source.credentialsSecret, this.opts.processEnv);
    } catch (err) {
      throw fetchFailed(source, err instanceof Error ? err.message : String(err), (err as GreenloopError).hint);
    }
    // Known to the redactor before git runs: any message that echoes it is scrubbed on the way out.
    if (creds.token) addKnownSecrets([creds.token]);
    if (source.remote.startsWith('-')) throw fetchFailed(source, 'the remote starts with "-"');
    await serialized(`mirror:${repo}`, async () => {
      const created = !existsSync(join(repo, 'HEAD'));
      if (created) {
        await mkdir(repo, { recursive: true });
        await gitExec(repo, ['init', '-q', '--bare']);
      }
      const started = Date.now();
      const args = [
        ...GIT_SAFE_ARGS,
        // No automatic gc: fixer clones borrow this mirror's objects (alternates) while loops run.
        '-c',
        'gc.auto=0',
        '-C',
        repo,
        'fetch',
        '--quiet',
        '--prune',
        '--no-tags',
        '--no-write-fetch-head',
        '--',
        source.remote,
        '+refs/heads/*:refs/remotes/origin/*',
      ];
      try {
        await fetchRetryingRefLocks(args, remoteGitEnv(process.env, creds));
      } catch (err) {
        const e = err as { stderr?: string; message?: string; killed?: boolean };
        const detail = e.killed ? `no answer within ${FETCH_TIMEOUT_MS / 60_000} minutes` : (e.stderr || e.message || String(err)).trim();
        // A mirror that never received anything is not kept (an unreachable project leaves no directory behind).
        if (created) await rm(repo, { recursive: true, force: true });
        // git quotes the URL it was given: shown without any user:password part, like everywhere else.
        const shown = scrubCredentials(detail, creds).split(source.remote).join(displayRemote(source.remote));
        throw fetchFailed(source, shown.slice(-1000), hintFor(detail, source));
      }
      this.opts.log.info({ project: source.project, remote: displayRemote(source.remote), ms: Date.now() - started }, 'project mirror fetched');
      await touch(repo);
      const seen = this.seen.get(repo);
      if (seen) seen.touchedAt = Date.now();
    });
  }
}

// Another worker process on the same home fetching into the mirror at that moment ("cannot lock ref
// 'refs/remotes/origin/main'"): the lock above is per process, so that race is retried.
const REF_LOCK_RACE = /cannot lock ref|Unable to create .*\.lock|unable to update local ref/i;

async function fetchRetryingRefLocks(args: string[], env: Record<string, string | undefined>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await execFileAsync('git', args, { env, timeout: FETCH_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
      return;
    } catch (err) {
      if (attempt >= 3 || !REF_LOCK_RACE.test(String((err as { stderr?: unknown }).stderr ?? ''))) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

function fetchFailed(source: LoopSource, detail: string, hint?: string): GreenloopError {
  return new GreenloopError('SOURCE_FETCH_FAILED', `could not fetch ${displayRemote(source.remote)} (project ${source.project}): ${detail}`, {
    hint: hint ?? "check the project's remote and that this worker can reach it",
  });
}

function hintFor(stderr: string, source: LoopSource): string | undefined {
  if (/Authentication failed|401|403|Permission denied|could not read Username|terminal prompts disabled/i.test(stderr))
    return source.credentialsSecret
      ? `the remote refused the credentials in ${source.credentialsSecret}: check the token or key and its access to the repository`
      : 'the remote wants credentials: give the project a credentialsSecret and set that variable on every worker';
  if (/not found|does not appear to be a git repository|does not exist|Repository not found/i.test(stderr)) return "check the project's remote URL";
  return undefined;
}

async function hasCommit(repo: string, commit: string): Promise<boolean> {
  return await gitExec(repo, ['cat-file', '-e', `${commit}^{commit}`]).then(
    () => true,
    () => false,
  );
}

async function touch(repo: string): Promise<void> {
  await writeFile(join(repo, LAST_USED), `${new Date().toISOString()}\n`).catch(() => undefined);
}
