// A service that takes a few seconds to start, so a fault can land inside every attempt of a deploy.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commitRepo } from '../trial.ts';

/** Rewrites the demo service's start command to wait `seconds` before it starts. */
export function slowDeploy(seconds: number): (repo: string) => void {
  return (repo) =>
    commitRepo(repo, `chaos: a service that starts after ${seconds} s`, () => {
      const file = join(repo, 'greenloop.yaml');
      const yaml = readFileSync(file, 'utf8');
      const start = 'command: ["node", "src/server.js"]';
      if (!yaml.includes(start)) throw new Error('the demo greenloop.yaml no longer has the expected service command');
      writeFileSync(file, yaml.replace(start, `command: ["sh", "-c", "sleep ${seconds} && exec node src/server.js"]`));
    });
}
