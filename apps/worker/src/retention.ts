import { existsSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ArtifactStore, type Logger, type LoopRecord, type LoopStore, TERMINAL_STATES } from '@greenloop/core';
import { du } from './disk-usage.ts';
import { mirrorPath } from './git/mirror.ts';
import { gitExec } from './git/repo.ts';
import { loopPaths } from './paths.ts';

/** Days a finished loop is kept when nothing else is configured (GREENLOOP_RETENTION_DAYS). */
export const DEFAULT_RETENTION_DAYS = 30;

export interface RetentionOptions {
  store: LoopStore;
  /** The installation's repository (the branches of loops without a project live there; a project's in its mirror). */
  repo: string;
  /** greenloop's home (artifacts and worktrees). */
  home: string;
  retentionMs: number;
  /** The artifact store evidence was published to; its copy of the loop is deleted too (unless local: the artifacts directory is). */
  artifacts?: ArtifactStore;
  dryRun?: boolean;
  now?: number;
  log?: Logger;
}

export interface PrunedLoop {
  id: string;
  state: LoopRecord['state'];
  finishedAt: string;
  redisKeys: number;
  redisBytes: number;
  artifactBytes: number;
  /** Objects (and their bytes) deleted from a remote artifact store (GREENLOOP_ARTIFACTS=gcs). */
  storeObjects?: number;
  storeBytes?: number;
  branches: string[];
  /** The loop branch, kept because a cycle pushed it: it is the reviewable result on the remote too. */
  keptBranch?: string;
}

export interface RetentionReport {
  dryRun: boolean;
  cutoff: string;
  loops: PrunedLoop[];
  emptyDirs: string[];
}

/**
 * Removes what finished loops older than the retention leave behind: every Redis key of the loop (its
 * hash, results, fix outcomes, cancel flag, event stream, notification records, its place in the loop
 * index), its artifacts directory (and its objects in a remote artifact store), its `greenloop-fix/<loop>/*` branches and `greenloop/<loop>` (unless
 * pushed), and empty worktree and artifact directories. A loop whose teardown is still pending is left to
 * its controller. With `dryRun`, reports what it would remove and removes nothing.
 */
export async function pruneFinishedLoops(opts: RetentionOptions): Promise<RetentionReport> {
  const now = opts.now ?? Date.now();
  const cutoff = now - opts.retentionMs;
  const dryRun = opts.dryRun ?? false;
  const { store } = opts;
  const report: RetentionReport = { dryRun, cutoff: new Date(cutoff).toISOString(), loops: [], emptyDirs: [] };
  const pruned = new Set<string>();
  // Loops are indexed by creation time: one finished before the cutoff was created before it too.
  const ids = await store.redis.zrangebyscore(store.key('loops'), '-inf', cutoff);
  for (const id of ids) {
    const loop = await store.getLoop(id);
    if (!loop) {
      if (!dryRun) await store.redis.zrem(store.key('loops'), id);
      continue;
    }
    if (!TERMINAL_STATES.includes(loop.state) || loop.teardown === 'pending') continue;
    const finishedAt = loop.finishedAt ?? loop.createdAt;
    if (Date.parse(finishedAt) > cutoff) continue;
    const repo = loopRepo(opts, loop);
    if (repo) pruned.add(repo);
    report.loops.push(await pruneLoop(opts, loop, repo, finishedAt, dryRun));
  }
  report.emptyDirs = await removeEmptyDirs([join(opts.home, 'worktrees'), join(opts.home, 'artifacts')], dryRun);
  if (!dryRun) for (const repo of pruned) await gitExec(repo, ['worktree', 'prune']).catch(() => undefined);
  opts.log?.info({ dryRun, loops: report.loops.length, emptyDirs: report.emptyDirs.length }, 'retention pass done');
  return report;
}

/** Where the loop's branches are: its project's mirror on this machine (if it still has one), or the installation's repository. */
function loopRepo(opts: RetentionOptions, loop: LoopRecord): string | undefined {
  if (!loop.source) return opts.repo;
  const mirror = mirrorPath(opts.home, loop.source.project);
  return existsSync(mirror) ? mirror : undefined;
}

async function pruneLoop(opts: RetentionOptions, loop: LoopRecord, repo: string | undefined, finishedAt: string, dryRun: boolean): Promise<PrunedLoop> {
  const { store } = opts;
  const keys = await loopKeys(store, loop.id);
  let redisBytes = 0;
  for (const k of keys) redisBytes += Number((await store.redis.call('MEMORY', 'USAGE', k)) ?? 0);
  const paths = loopPaths(opts.home, loop.id);
  const artifactBytes = await du(paths.artifacts);
  // A project loop's branches are in this worker's mirror only: the remote keeps what was pushed.
  const pushed = !loop.source && (await wasPushed(store, loop));
  // A remote store's copy goes before the Redis keys, like the local files: a crashed pass finds the loop again.
  const remote = opts.artifacts && opts.artifacts.kind !== 'local' ? await opts.artifacts.deleteLoop(loop.id, { dryRun }) : undefined;
  const refs = (
    repo
      ? await gitExec(repo, ['for-each-ref', '--format=%(refname:short)', `refs/heads/greenloop-fix/${loop.id}/`, `refs/heads/greenloop/${loop.id}`]).catch(
          () => '',
        )
      : ''
  )
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const loopBranch = `greenloop/${loop.id}`;
  const branches = refs.filter((b) => !(pushed && b === loopBranch));
  if (!dryRun) {
    if (repo && branches.length)
      await gitExec(repo, ['branch', '-D', ...branches]).catch((err: unknown) =>
        opts.log?.warn({ loopId: loop.id, err: String(err) }, 'could not delete branches'),
      );
    await rm(paths.artifacts, { recursive: true, force: true });
    await rm(paths.worktrees, { recursive: true, force: true });
    // Redis last: until here, a pass that crashed can find the loop again and finish the job.
    if (keys.length) await store.redis.unlink(...keys);
    await store.redis.zrem(store.key('loops'), loop.id);
  }
  return {
    id: loop.id,
    state: loop.state,
    finishedAt,
    redisKeys: keys.length,
    redisBytes,
    artifactBytes,
    ...(remote ? { storeObjects: remote.objects, storeBytes: remote.bytes } : {}),
    branches,
    ...(pushed && refs.includes(loopBranch) ? { keptBranch: loopBranch } : {}),
  };
}

/** Every Redis key that belongs to one loop. */
export async function loopKeys(store: LoopStore, loopId: string): Promise<string[]> {
  const keys = new Set<string>();
  for (const pattern of [store.key('loop', loopId), `${store.key('loop', loopId)}:*`, store.key('events', loopId), `${store.key('notify')}:*:${loopId}:*`]) {
    let cursor = '0';
    do {
      const [next, found] = await store.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const k of found) keys.add(k);
    } while (cursor !== '0');
  }
  return [...keys].sort();
}

async function wasPushed(store: LoopStore, loop: LoopRecord): Promise<boolean> {
  for (let n = 1; n <= loop.cycle; n++) {
    const integrate = await store.getStage(loop.id, n, 'integrate').catch(() => undefined);
    if (integrate?.result?.pushed) return true;
  }
  return false;
}

/** Empty directories directly under `roots` (a loop whose checkouts were removed leaves one). */
async function removeEmptyDirs(roots: string[], dryRun: boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const root of roots) {
    const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const dir = join(root, e.name);
      if ((await readdir(dir).catch(() => ['?'])).length > 0) continue;
      if (!dryRun) await rmdir(dir).catch(() => undefined);
      removed.push(dir);
    }
  }
  return removed;
}
