// End-to-end (long): a project loop on a worker that has no checkout of the project. GREENLOOP_REPO is an
// empty directory; the project's code comes from a bare "remote" served over smart HTTP with a token,
// fetched into the worker's mirror. The demo goes green through the normal demo fixer, greenloop.yaml is
// read from the remote's commit under the environment's short name, and the loop branch — and nothing
// else — is pushed to the remote. The token is never in any process's argv, a log line, an event or a
// file under greenloop's home. A project whose remote cannot be fetched ends at once with a reason and
// frees its environment.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopStore } from '@greenloop/core';
import { type RunningWorker, startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { type GitHttpServer, gitHttpServer, memoryLogger } from '../apps/worker/src/fix/testing.ts';
import { isolatedEnv, startLoopDirect, waitForEnd } from './demo-harness.ts';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
const TOKEN = `ghs_project-e2e-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

/** Samples every process's argv until stopped: what any local user could have read from the process list. */
function sampleArgv(): { stop: () => Promise<Set<string>> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          seen.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
        } catch {}
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    // Idempotent: stopped when the loop ends, whether or not it ended well.
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

describe('e2e: a project loop works in the worker’s mirror of its remote', () => {
  let dir: string;
  let remote: string;
  let checkout: string;
  let redis: Redis;
  let store: LoopStore;
  let prefix: string;
  let home: string;
  let worker: RunningWorker | undefined;
  let server: GitHttpServer;
  let logLines: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'greenloop-e2e-project-'));
    // The user's repository lives on a "server": the worker only ever sees the bare remote's URL.
    const work = join(dir, 'user-work');
    createDemoRepo(work);
    remote = join(dir, 'remotes', 'shop.git');
    git(dir, 'clone', '-q', '--bare', work, remote);
    rmSync(work, { recursive: true, force: true });
    // Each request held a little, so the argv sampler sees git's processes while they talk to it.
    server = await gitHttpServer(join(dir, 'remotes'), TOKEN, { delayMs: 60 });
    // What the worker would have used before projects: an empty directory, no repository at all.
    checkout = join(dir, 'not-a-checkout');
    mkdirSync(checkout);
    const settings = isolatedEnv(dir, checkout);
    prefix = settings.prefix;
    home = settings.env.home;
    redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: null });
    store = new LoopStore(redis, prefix);
    const { log, lines } = memoryLogger();
    logLines = lines;
    worker = await startWorker(settings.env, log, settings.redisUrl, { ...process.env, SHOP_GIT_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await worker?.close();
    await server?.close();
    await store?.clearAll();
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('goes green and pushes greenloop/<loop> to the remote, leaving main and the worker’s GREENLOOP_REPO untouched', { timeout: 240_000 }, async () => {
    const main = git(remote, 'rev-parse', 'refs/heads/main');
    const url = `${server.url}/shop.git`;
    const argv = sampleArgv();
    const id = await startLoopDirect(store, prefix, 'shop/demo', 'project-e2e', {
      project: 'shop',
      remote: url,
      baseBranch: 'main',
      credentialsSecret: 'SHOP_GIT_TOKEN',
    });

    const loop = await waitForEnd(store, id, 230_000).finally(() => argv.stop());
    const seen = await argv.stop();
    expect(loop.stop, JSON.stringify(loop.stop)).toMatchObject({ rule: 'green' });
    expect(loop.cycle).toBeGreaterThanOrEqual(2);
    expect(loop.baseCommit).toBe(main);

    // The branch on the remote is the loop's result; main did not move; no fix branch left the worker.
    expect(git(remote, 'rev-parse', `refs/heads/greenloop/${id}`)).toBe(loop.commit);
    expect(git(remote, 'rev-parse', 'refs/heads/main')).toBe(main);
    expect(git(remote, 'for-each-ref', '--format=%(refname)', 'refs/heads/').split('\n').sort()).toEqual(
      [`refs/heads/greenloop/${id}`, 'refs/heads/main'].sort(),
    );
    expect(Number(git(remote, 'rev-list', '--count', `main..greenloop/${id}`))).toBeGreaterThanOrEqual(1);

    // The work happened in the worker's mirror; its GREENLOOP_REPO was never needed.
    const mirror = join(home, 'mirrors', 'shop.git');
    expect(git(mirror, 'rev-parse', `refs/heads/greenloop/${id}`)).toBe(loop.commit);
    expect(readdirSync(checkout)).toEqual([]);

    const events = await store.readEvents(id, '0');
    const pushed = events.find((e) => e.type === 'notice' && e.message === `pushed greenloop/${id} to ${url}`);
    expect(pushed, events.map((e) => e.message).join('\n')).toBeDefined();
    expect((await store.getLoop(id))?.notices?.some((n) => n.includes(`pushed greenloop/${id}`))).toBe(true);

    // The token: sent as a header on every request (fetch and push), and nowhere a person or process could read it.
    expect(server.requests.some((r) => r.url.includes('git-receive-pack'))).toBe(true);
    for (const r of server.requests) expect(r.authorization).toBe(`Bearer ${TOKEN}`);
    const gitSeen = [...seen].filter((a) => a.includes(url));
    expect(gitSeen.length, 'git was seen talking to the remote').toBeGreaterThan(0);
    for (const a of seen) expect(a).not.toContain(TOKEN);
    expect(logLines.join('\n')).toContain('project mirror fetched');
    expect(logLines.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
    expect(JSON.stringify(await store.getLoop(id))).not.toContain(TOKEN);
    // grep exits 1 when no file under greenloop's home (mirror, worktrees, artifacts) holds it.
    expect(() => execFileSync('grep', ['-rlF', TOKEN, home])).toThrow();
  });

  it('ends a loop whose remote cannot be fetched with source-unavailable, and frees its environment', { timeout: 60_000 }, async () => {
    const gone = join(dir, 'remotes', 'gone.git');
    const id = await startLoopDirect(store, prefix, 'gone/demo', 'unreachable', { project: 'gone', remote: gone, baseBranch: 'main' });
    const loop = await waitForEnd(store, id, 50_000);
    expect(loop.state).toBe('failed');
    expect(loop.stop?.rule).toBe('source-unavailable');
    expect(loop.stop?.message).toMatch(/^SOURCE_FETCH_FAILED: could not fetch .*gone\.git \(project gone\): /);
    expect(loop.stop?.message).toContain("check the project's remote URL");
    expect(await store.activeLoop('gone/demo')).toBeUndefined();
    // No stage ran, no remote appeared.
    expect(await store.getStage(id, 1, 'deploy')).toBeUndefined();
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(join(home, 'mirrors', 'gone.git'))).toBe(false);
    // The environment takes the next loop at once.
    const next = await startLoopDirect(store, prefix, 'gone/demo', 'unreachable-again', { project: 'gone', remote: gone, baseBranch: 'main' });
    expect((await waitForEnd(store, next, 50_000)).stop?.rule).toBe('source-unavailable');
  });
});
