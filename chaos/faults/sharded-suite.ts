// The demo's suite split into shards (tests.shards), each a `stage.test-shard` job of its own.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commitRepo } from '../trial.ts';

/** Rewrites the `demo` environment's suite to run its files in `shards` shards ({{shardFiles}}). */
export function shardedSuite(shards: number): (repo: string) => void {
  return (repo) =>
    commitRepo(repo, `chaos: the suite in ${shards} shards`, () => {
      const file = join(repo, 'greenloop.yaml');
      const yaml = readFileSync(file, 'utf8');
      // The first of each is the `demo` environment's (the others come after it in the file).
      const files = '          "e2e/*.test.js",\n';
      const timeout = '      timeout: 2m\n';
      if (!yaml.includes(files) || !yaml.includes(timeout)) throw new Error('the demo greenloop.yaml no longer has the expected suite');
      writeFileSync(
        file,
        yaml.replace(files, '          "{{shardFiles}}",\n').replace(timeout, `${timeout}      files: ["e2e/*.test.js"]\n      shards: ${shards}\n`),
      );
    });
}
