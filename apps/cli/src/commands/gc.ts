import { createArtifactStore, createLogger, LoopStore, Redis, readEnv, resolveRedis } from '@greenloop/core';
import { EXIT, type Io, UsageError } from '../io.ts';

/**
 * `greenloop gc [--dry-run]`: the worker's retention pass, by hand, against the install the server
 * settings name (REDIS_URL, GREENLOOP_HOME, GREENLOOP_REPO, GREENLOOP_PREFIX, GREENLOOP_RETENTION_DAYS,
 * GREENLOOP_ARTIFACTS: a bucket's objects of the loop go too).
 * Prints what it removed (or, with --dry-run, would remove).
 */
export async function gcCommand(io: Io, args: string[], flags: { json: boolean; dryRun: boolean }): Promise<number> {
  if (args.length) throw new UsageError('usage: greenloop gc [--dry-run] [--json]');
  const env = readEnv(io.processEnv);
  const log = createLogger('greenloop', 'warn');
  const { pruneFinishedLoops } = await import('@greenloop/worker');
  const resolved = await resolveRedis({ ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}), home: env.home, log, pathVar: io.processEnv.PATH });
  const redis = new Redis(resolved.url, { maxRetriesPerRequest: 1 });
  const artifacts = await createArtifactStore(env);
  try {
    const report = await pruneFinishedLoops({
      store: new LoopStore(redis, env.GREENLOOP_PREFIX),
      artifacts,
      repo: env.repo,
      home: env.home,
      retentionMs: env.GREENLOOP_RETENTION_DAYS * 86_400_000,
      dryRun: flags.dryRun,
    });
    if (flags.json) {
      io.out(JSON.stringify(report, null, 2));
      return EXIT.ok;
    }
    const p = io.paint;
    const verb = report.dryRun ? 'would remove' : 'removed';
    io.out(`${p.bold('greenloop gc')}${report.dryRun ? ' (dry run)' : ''}: loops finished before ${report.cutoff} (${env.GREENLOOP_RETENTION_DAYS} days)`);
    for (const l of report.loops) {
      io.out(
        `  ${l.id}  ${l.state}  ${verb} ${l.redisKeys} Redis keys (${kb(l.redisBytes)}), ${kb(l.artifactBytes)} of artifacts${l.storeObjects !== undefined ? `, ${l.storeObjects} object(s) (${kb(l.storeBytes ?? 0)}) in ${artifacts.location}` : ''}, ${l.branches.length} branch(es)${l.keptBranch ? `; kept ${l.keptBranch} (pushed)` : ''}`,
      );
    }
    for (const d of report.emptyDirs) io.out(`  ${verb} empty directory ${d}`);
    if (!report.loops.length && !report.emptyDirs.length) io.out(p.dim('  nothing to remove'));
    return EXIT.ok;
  } finally {
    await artifacts.close();
    redis.disconnect();
    await resolved.stop();
  }
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
