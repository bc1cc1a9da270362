// End-to-end (long): a project loop on a worker that has no checkout of the project. GREENLOOP_REPO is an
// empty directory; the project's code comes from a local bare "remote", fetched into the worker's mirror.
// The demo goes green through the normal demo fixer, greenloop.yaml is read from the remote's commit
// under the environment's short name, and the loop branch — and nothing else — is pushed to the remote.
// A project whose remote cannot be fetched ends at once with a reason and frees its environment.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, LoopStore } from '@greenloop/core';
import { type RunningWorker, startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoRepo } from '../apps/cli/src/demo-repo.ts';
import { isolatedEnv, startLoopDirect, waitForEnd } from './demo-harness.ts';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

describe('e2e: a project loop works in the worker’s mirror of its remote', () => {
  let dir: string;
  let remote: string;
  let checkout: string;
  let redis: Redis;
  let store: LoopStore;
  let prefix: string;
  let home: string;
  let worker: RunningWorker | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'greenloop-e2e-project-'));
    // The user's repository lives on a "server": the worker only ever sees the bare remote's URL.
    const work = join(dir, 'user-work');
    createDemoRepo(work);
    remote = join(dir, 'remotes', 'shop.git');
    git(dir, 'clone', '-q', '--bare', work, remote);
    rmSync(work, { recursive: true, force: true });
    // What the worker would have used before projects: an empty directory, no repository at all.
    checkout = join(dir, 'not-a-checkout');
    mkdirSync(checkout);
    const settings = isolatedEnv(dir, checkout);
    prefix = settings.prefix;
    home = settings.env.home;
    redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: null });
    store = new LoopStore(redis, prefix);
    worker = await startWorker(settings.env, createLogger('e2e', 'silent'), settings.redisUrl, { ...process.env });
  });
  afterAll(async () => {
    await worker?.close();
    await store?.clearAll();
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('goes green and pushes greenloop/<loop> to the remote, leaving main and the worker’s GREENLOOP_REPO untouched', { timeout: 240_000 }, async () => {
    const main = git(remote, 'rev-parse', 'refs/heads/main');
    const id = await startLoopDirect(store, prefix, 'shop/demo', 'project-e2e', { project: 'shop', remote, baseBranch: 'main' });

    const loop = await waitForEnd(store, id, 230_000);
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
    const pushed = events.find((e) => e.type === 'notice' && e.message === `pushed greenloop/${id} to ${remote}`);
    expect(pushed, events.map((e) => e.message).join('\n')).toBeDefined();
    expect((await store.getLoop(id))?.notices?.some((n) => n.includes(`pushed greenloop/${id}`))).toBe(true);
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
