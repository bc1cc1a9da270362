import type { LoopRecord } from '@greenloop/core';
import type { FetchedSource, Mirrors } from './mirror.ts';
import { resolveCommit } from './repo.ts';

/**
 * Which repository a loop's git work happens in: its project's mirror on this worker (a loop with a
 * `source`), or the installation's own repository (GREENLOOP_REPO: laptop and demo mode, as before).
 */
export interface LoopRepositories {
  /**
   * The loop's repository for a job on this worker. `commit`, when given, must be in it: a mirror that
   * lacks it is fetched first (the loop began on another worker).
   */
  repoFor(loop: Pick<LoopRecord, 'id' | 'source'>, commit?: string): Promise<string>;
  /** When a loop begins: its repository, fetched first for a project, and the commit it starts at. */
  begin(loop: Pick<LoopRecord, 'id' | 'source'>): Promise<FetchedSource>;
  /** The loop ended: its mirror may be evicted from this worker. */
  release(loopId: string): void;
}

export function loopRepositories(installationRepo: string, mirrors: Mirrors): LoopRepositories {
  return {
    repoFor: async (loop, commit) => (loop.source ? await mirrors.open(loop.source, loop.id, commit) : installationRepo),
    begin: async (loop) =>
      loop.source ? await mirrors.fetch(loop.source, loop.id) : { repo: installationRepo, base: await resolveCommit(installationRepo, 'HEAD') },
    release: (loopId) => mirrors.release(loopId),
  };
}
