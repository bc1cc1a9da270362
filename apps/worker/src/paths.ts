import { join } from 'node:path';

/** Where a loop's evidence and scratch checkouts live under greenloop's home directory. */
export function loopPaths(home: string, loopId: string) {
  const artifacts = join(home, 'artifacts', loopId);
  const worktrees = join(home, 'worktrees', loopId);
  return {
    artifacts,
    worktrees,
    cycleDir: (n: number) => join(artifacts, `cycle-${n}`),
    deployWorktree: (n: number) => join(worktrees, `deploy-c${n}`),
    integrateWorktree: join(worktrees, 'integrate'),
    fixWorktrees: join(worktrees, 'fix'),
  };
}

/** GREENLOOP_URL_<NAME>: the env var a test suite reads a service's URL from ("web-api" → WEB_API). */
export function serviceUrlVar(service: string): string {
  return `GREENLOOP_URL_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
