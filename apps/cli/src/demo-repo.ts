import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The bundled demo target (a service with seeded bugs, its e2e suite and greenloop.yaml). */
export const DEMO_SOURCE = fileURLToPath(new URL('../../../examples/demo-service', import.meta.url));

/**
 * Copies the demo service into a fresh scratch git repository at `dir` (replacing any earlier one), so
 * the demo loop's commits never touch greenloop's own repository. Returns the initial commit.
 */
export function createDemoRepo(dir: string): string {
  if (!existsSync(DEMO_SOURCE)) throw new Error(`demo source missing at ${DEMO_SOURCE}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(DEMO_SOURCE, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=greenloop demo', '-c', 'user.email=demo@greenloop.local', ...args], { cwd: dir, stdio: 'pipe' })
      .toString()
      .trim();
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'demo service with seeded bugs');
  return git('rev-parse', 'HEAD');
}
