import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ArtifactStore, type Logger, type LoopRecord, type LoopStore, TERMINAL_STATES } from '@greenloop/core';
import { gitExec } from './git/repo.ts';
import { loopPaths } from './paths.ts';

/** Days a finished loop is kept when nothing else is configured (GREENLOOP_RETENTION_DAYS). */
export const DEFAULT_RETENTION_DAYS = 30;

export interface RetentionOptions {
  store: LoopStore;
  /** The user's repository (greenloop's branches live there). */
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
 * hash, results, fix outcomes, cancel flag, event stream, notification markers, its place in the loop
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
    report.loops.push(await pruneLoop(opts, loop, finishedAt, dryRun));
  }
  report.emptyDirs = await removeEmptyDirs([join(opts.home, 'worktrees'), join(opts.home, 'artifacts')], dryRun);
  if (!dryRun && report.loops.length) await gitExec(opts.repo, ['worktree', 'prune']).catch(() => undefined);
  opts.log?.info({ dryRun, loops: report.loops.length, emptyDirs: report.emptyDirs.length }, 'retention pass done');
  return report;
}

async function pruneLoop(opts: RetentionOptions, loop: LoopRecord, finishedAt: string, dryRun: boolean): Promise<PrunedLoop> {
  const { store } = opts;
  const keys = await loopKeys(store, loop.id);
  let redisBytes = 0;
  for (const k of keys) redisBytes += Number((await store.redis.call('MEMORY', 'USAGE', k)) ?? 0);
  const paths = loopPaths(opts.home, loop.id);
  const artifactBytes = await du(paths.artifacts);
  const pushed = await wasPushed(store, loop);
  // A remote store's copy goes before the Redis keys, like the local files: a crashed pass finds the loop again.
  const remote = opts.artifacts && opts.artifacts.kind !== 'local' ? await opts.artifacts.deleteLoop(loop.id, { dryRun }) : undefined;
  const refs = (
    await gitExec(opts.repo, ['for-each-ref', '--format=%(refname:short)', `refs/heads/greenloop-fix/${loop.id}/`, `refs/heads/greenloop/${loop.id}`]).catch(
      () => '',
    )
  )
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const loopBranch = `greenloop/${loop.id}`;
  const branches = refs.filter((b) => !(pushed && b === loopBranch));
  if (!dryRun) {
    if (branches.length)
      await gitExec(opts.repo, ['branch', '-D', ...branches]).catch((err: unknown) =>
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

async function du(path: string): Promise<number> {
  let total = 0;
  const entries = await readdir(path, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  return total;
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
