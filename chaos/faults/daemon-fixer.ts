// A fixer that leaves a daemon behind (`setsid sleep 1000 &`, its own session and group) and then fixes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commitRepo } from '../trial.ts';

/** Rewrites the demo's fixer command so every fixer run starts a setsid daemon first. */
export function daemonizingFixer(repo: string): void {
  commitRepo(repo, 'chaos: a fixer that daemonizes', () => {
    const file = join(repo, 'greenloop.yaml');
    const yaml = readFileSync(file, 'utf8');
    const fixer = 'command: ["node", "tools/demo-fixer.js", "{{clusterFile}}"]';
    if (!yaml.includes(fixer)) throw new Error('the demo greenloop.yaml no longer has the expected fixer command');
    writeFileSync(
      file,
      yaml.replace(fixer, 'command: ["sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 < /dev/null & exec node tools/demo-fixer.js \\"$0\\"", "{{clusterFile}}"]'),
    );
  });
}
