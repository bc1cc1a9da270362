// Shared set-up for the end-to-end tests: a scratch copy of the demo service, an isolated prefix and
// home directory, and a cleanup that removes every key, queue and file the test made.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Env, type LoopRecord, LoopStore, readEnv, TERMINAL_STATES } from '@greenloop/core';
import { Redis } from 'ioredis';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';

export interface Harness {
  dir: string;
  repo: string;
  env: Env;
  token: string;
  store: LoopStore;
  redisUrl: string;
  waitForEnd(loopId: string, timeoutMs: number): Promise<LoopRecord>;
  cleanup(): Promise<void>;
}

/**
 * greenloop's settings for one end-to-end test: the Redis the global setup started, a home under `dir`,
 * `repo` as the repository, and a key prefix and admin token of its own.
 */
/**
 * Adds lines (indented for an environment's keys, 4 spaces) to the `demo` environment of a greenloop.yaml
 * text: at the end of its block, wherever it stands among the other environments.
 */
export function withDemoSettings(yaml: string, lines: string): string {
  const start = yaml.indexOf('\n  demo:\n');
  if (start < 0) throw new Error('no demo environment in this greenloop.yaml');
  const next = yaml.slice(start + 1).search(/\n {2}\S/);
  const end = next < 0 ? yaml.length : start + 1 + next + 1;
  const block = yaml.slice(0, end).replace(/\n*$/, '\n');
  return `${block}${lines.endsWith('\n') ? lines : `${lines}\n`}${end < yaml.length ? `\n${yaml.slice(end)}` : ''}`;
}

/**
 * Commits every tracked change in `repo` and returns the commit: a loop runs with greenloop.yaml as
 * committed at the commit it starts at, so a test that edits the file commits it before starting one.
 */
export function commitAll(repo: string, message: string): string {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', message], { cwd: repo });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
}

/** {@link withDemoSettings} on the file itself. */
export function addDemoSettings(file: string, lines: string): void {
  writeFileSync(file, withDemoSettings(readFileSync(file, 'utf8'), lines));
}

export function isolatedEnv(dir: string, repo: string, overrides: Record<string, string> = {}): { env: Env; redisUrl: string; token: string; prefix: string } {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set (vitest global setup starts Redis)');
  const token = `test-admin-token-${Math.random().toString(36).slice(2)}`;
  const prefix = `gle2e-${Math.random().toString(36).slice(2, 10)}`;
  const env = readEnv({
    REDIS_URL: redisUrl,
    GREENLOOP_HOME: join(dir, 'home'),
    GREENLOOP_REPO: repo,
    GREENLOOP_PREFIX: prefix,
    GREENLOOP_API_TOKEN: token,
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...overrides,
  });
  return { env, redisUrl, token, prefix };
}

export function demoHarness(overrides: Record<string, string> = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-e2e-'));
  const repo = join(dir, 'repo');
  createDemoRepo(repo);
  const { env, redisUrl, token, prefix } = isolatedEnv(dir, repo, overrides);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new LoopStore(redis, prefix);
  return {
    dir,
    repo,
    env,
    token,
    store,
    redisUrl,
    async waitForEnd(loopId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const loop = await store.getLoop(loopId);
        // Done means the verdict is recorded and the teardown finished (the environment is released).
        if (loop && TERMINAL_STATES.includes(loop.state) && (await store.activeLoop(loop.environment)) !== loopId) return loop;
        if (Date.now() > deadline) throw new Error(`loop ${loopId} did not finish within ${timeoutMs}ms: ${JSON.stringify(loop)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async cleanup() {
      await store.clearAll();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
